// Attempt counts and latency buckets per profile, kept in plain typed arrays: the dispatcher
// records several thousand attempts a second, and prom-client's labelled inc()/observe() allocate
// a label object, a hash string and a closure per call. The registry reads these at scrape time.
import type { AttemptOutcome } from '../delivery/dispatcher.js';

export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = ['succeeded', 'retry', 'failed'];

/** Webhook latency spans a fast local receiver (a few ms) to the 30 s timeout. */
export const ATTEMPT_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface ProfileTally {
  /** Attempts by outcome, indexed as ATTEMPT_OUTCOMES. */
  readonly outcomes: Float64Array;
  /** Non-cumulative: buckets[i] counts durations in (bounds[i-1], bounds[i]]; the last is +Inf. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

export class AttemptTally {
  private readonly byProfile = new Map<string, ProfileTally>();

  /** `profiles` are listed from the start, so their series exist at 0 before any attempt. */
  constructor(
    readonly bounds: readonly number[] = ATTEMPT_BUCKETS_SECONDS,
    profiles: readonly string[] = [],
  ) {
    for (const p of profiles) this.slot(p);
  }

  record(profile: string, outcome: AttemptOutcome, seconds: number): void {
    const t = this.byProfile.get(profile) ?? this.slot(profile);
    t.outcomes[outcome === 'succeeded' ? 0 : outcome === 'retry' ? 1 : 2]++;
    t.buckets[bucketIndex(this.bounds, seconds)]++;
    t.sum += seconds;
    t.count++;
  }

  count(profile: string, outcome: AttemptOutcome): number {
    return this.byProfile.get(profile)?.outcomes[ATTEMPT_OUTCOMES.indexOf(outcome)] ?? 0;
  }

  profiles(): IterableIterator<[string, ProfileTally]> {
    return this.byProfile.entries();
  }

  private slot(profile: string): ProfileTally {
    const t: ProfileTally = { outcomes: new Float64Array(ATTEMPT_OUTCOMES.length), buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
    this.byProfile.set(profile, t);
    return t;
  }
}

/** The first bucket whose upper bound holds `value` (Prometheus buckets are `le`, inclusive). */
export function bucketIndex(bounds: readonly number[], value: number): number {
  let i = 0;
  while (i < bounds.length && value > bounds[i]) i++;
  return i;
}
