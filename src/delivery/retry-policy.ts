// The retry schedule. Pure: a function of (attempts made, schedule, now, random) with the clock and
// the randomness passed in, so tests are exact.
//
// Schedule semantics (the Tenovos schedule as DESIGN.md lists it; seed 001 only says "a retry
// schedule with exponential backoff"): `schedule[i]` is the delay in SECONDS before attempt
// i + 1. `schedule[0]` is 0: the first attempt is due as soon as an event is accepted and this
// module never reads it (HERALD_RETRY_SCHEDULE with another first entry is refused at start,
// src/config/index.ts). So the default
// `0,5,300,1800,7200,18000,36000,36000` means: attempt 1 at once, attempt 2 five seconds after
// attempt 1 failed, attempt 3 five minutes after attempt 2 failed, …, attempt 8 ten hours after
// attempt 7 failed, and after attempt 8 fails the delivery is failed (exhausted). The schedule's
// length is the maximum number of attempts.

/** The Tenovos schedule, in seconds: 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = Object.freeze([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);

/** Default jitter: ±10 % of a non-zero scheduled delay. */
export const DEFAULT_JITTER = 0.1;

/** A receiver's `Retry-After` can postpone an attempt by at most this much. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

export type RetryDecision = { readonly action: 'retry'; readonly at: number } | { readonly action: 'give_up' };

export interface NextAttemptInput {
  /** Attempts already made, including the one that just failed (1 after the first failure). */
  readonly attemptsMade: number;
  /** Delay in seconds before each attempt (see the module comment); length = maximum attempts. */
  readonly schedule: readonly number[];
  /** Current time, ms since the epoch. */
  readonly now: number;
  /** Uniform in [0, 1), like Math.random. 0.5 means "no jitter". */
  readonly random: () => number;
  /** The receiver's `Retry-After` (429 / 503), already parsed to ms; a floor for the delay. */
  readonly retryAfterMs?: number;
  /** Fraction of the scheduled delay to jitter by, in [0, 1]; default 0.1 (±10 %). */
  readonly jitter?: number;
}

/**
 * The longest a delivery waits between two of its attempts on this schedule: its longest step
 * jittered up, or a receiver's `Retry-After` up to its cap, whichever is longer (the default
 * schedule: 10 h + 10 % < 24 h, so 24 h).
 */
export function longestRetryWaitMs(schedule: readonly number[], jitter = DEFAULT_JITTER): number {
  const longestStep = Math.max(0, ...schedule.slice(1));
  return Math.max(Math.round(longestStep * 1000 * (1 + jitter)), MAX_RETRY_AFTER_MS);
}

/**
 * Parse a comma-separated list of non-negative delays in seconds
 * (`"0,5,300,1800,7200,18000,36000,36000"`). Whitespace around entries is ignored; decimals are
 * allowed. Throws an Error naming the first bad entry (1-based position and text).
 */
/** One step of the schedule at most: far beyond any retention, and inside every store's time type. */
export const MAX_RETRY_STEP_SECONDS = 30 * 24 * 3600;

export function parseRetrySchedule(value: string): number[] {
  if (value.trim() === '') throw new Error('retry schedule is empty: expected comma-separated delays in seconds');
  return value.split(',').map((raw, i) => {
    const entry = raw.trim();
    if (!/^\d+(\.\d+)?$/.test(entry)) {
      throw new Error(
        `retry schedule entry ${i + 1} ("${entry}") is not a non-negative number of seconds`,
      );
    }
    const seconds = Number(entry);
    if (seconds > MAX_RETRY_STEP_SECONDS) {
      throw new Error(`retry schedule entry ${i + 1} (${entry}) is longer than ${MAX_RETRY_STEP_SECONDS} seconds (30 days)`);
    }
    return seconds;
  });
}

/**
 * When to make the next attempt after `attemptsMade` attempts, or give up.
 *
 * - next delay = `schedule[attemptsMade]` seconds; none left → `give_up`.
 * - jitter: a non-zero delay d becomes d × (1 + jitter × (2 × random() − 1)), i.e. uniform in
 *   [d × (1 − jitter), d × (1 + jitter)); random() = 0.5 gives exactly d. A zero delay stays 0.
 *   The result is rounded to whole milliseconds and never negative.
 * - `retryAfterMs` (from 429 / 503) is a floor: delay = max(jittered delay, min(retryAfterMs,
 *   24 h)). The cap only limits how far a receiver can push us; a schedule step that is itself
 *   longer than 24 h is kept. Retry-After never grants extra attempts: with no step left the
 *   delivery still gives up.
 */
export function nextAttempt(input: NextAttemptInput): RetryDecision {
  const { attemptsMade, schedule, now, random } = input;
  if (!Number.isInteger(attemptsMade) || attemptsMade < 0) {
    throw new RangeError(`attemptsMade must be a non-negative integer, got ${attemptsMade}`);
  }
  const jitter = input.jitter ?? DEFAULT_JITTER;
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`jitter must be between 0 and 1, got ${jitter}`);
  if (attemptsMade >= schedule.length) return { action: 'give_up' };

  const scheduledSeconds = schedule[attemptsMade];
  if (!(scheduledSeconds >= 0) || !Number.isFinite(scheduledSeconds)) {
    throw new RangeError(`retry schedule entry ${attemptsMade + 1} is not a non-negative number: ${scheduledSeconds}`);
  }
  const scheduledMs = scheduledSeconds * 1000;
  let delay = scheduledMs;
  if (scheduledMs > 0 && jitter > 0) {
    const r = Math.min(Math.max(random(), 0), 1);
    delay = scheduledMs * (1 + jitter * (2 * r - 1));
  }
  delay = Math.max(0, Math.round(delay));

  const retryAfter = input.retryAfterMs;
  if (retryAfter !== undefined && retryAfter > 0 && !Number.isNaN(retryAfter)) {
    delay = Math.max(delay, Math.round(Math.min(retryAfter, MAX_RETRY_AFTER_MS)));
  }
  return { action: 'retry', at: now + delay };
}
