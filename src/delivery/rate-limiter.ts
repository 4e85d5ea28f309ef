// Per-key rate limiting in messages per second that never drops: every reservation succeeds and
// says how long the caller must wait before sending. GCRA in its virtual-scheduling form: each key
// keeps one number, its theoretical arrival time (TAT), the time at which the next message would
// be "on schedule" if messages were spaced exactly T = 1000 / rate ms apart.
//
//   T   = 1000 / rate                 emission interval, ms
//   tau = (burst - 1) × T             tolerance: how far ahead of schedule a message may go
//   send at  = max(now, tat - tau)    earliest conforming time
//   tat'     = max(tat, send at) + T
//
// Burst (the default is max(1, rate / 10), i.e. 100 ms worth of messages): seed 001 asks to "keep
// a consistent rate under the limit", so the burst is deliberately small. Any window of W ms then
// holds at most rate × W / 1000 + burst messages: for 100/s over 10 s that is 1000 + 10 = 1010,
// within 1 % of the limit (a 1 s-worth burst would allow 1100, 10 % over). A key idle for a while
// regains at most `burst` messages of credit, never a backlog of unused seconds.
//
// Pure core (`reserve`, `reserveMany`, …) takes (state, now, rate) and returns the new state, so
// the dispatcher can keep states wherever it likes (in memory here; a shared store for scale-out).
// `RateLimiter` is the in-memory holder with an injected clock.

export interface GcraState {
  /** Theoretical arrival time, ms since the epoch. */
  readonly tat: number;
}

export interface Reservation {
  readonly state: GcraState;
  /** How long to wait before sending, ms (≥ 0; may be fractional). */
  readonly delayMs: number;
}

/** Default burst: 100 ms worth of messages, at least one. */
export function defaultBurst(ratePerSec: number): number {
  return Math.max(1, ratePerSec / 10);
}

interface Params {
  /** Emission interval, ms. */
  readonly interval: number;
  /** Tolerance, ms. */
  readonly tolerance: number;
}

function params(ratePerSec: number, burst: number | undefined): Params {
  if (Number.isNaN(ratePerSec) || ratePerSec <= 0) {
    throw new RangeError(`rate must be a positive number of messages per second, got ${ratePerSec}`);
  }
  if (ratePerSec === Number.POSITIVE_INFINITY) return { interval: 0, tolerance: 0 };
  const b = burst ?? defaultBurst(ratePerSec);
  if (!(b >= 1) || !Number.isFinite(b)) throw new RangeError(`burst must be a finite number ≥ 1, got ${b}`);
  const interval = 1000 / ratePerSec;
  return { interval, tolerance: (b - 1) * interval };
}

/** The earliest time (ms) at which one more message conforms; does not reserve anything. */
export function conformingAt(state: GcraState | undefined, now: number, ratePerSec: number, burst?: number): number {
  const { tolerance } = params(ratePerSec, burst);
  if (state === undefined) return now;
  return Math.max(now, state.tat - tolerance);
}

/** Record one message sent at `at` (which must be ≥ its conforming time). */
export function commitAt(state: GcraState | undefined, at: number, ratePerSec: number): GcraState {
  const { interval } = params(ratePerSec, 1);
  return { tat: Math.max(state?.tat ?? at, at) + interval };
}

/**
 * Reserve one message on one key. Always succeeds: `delayMs` says how long to wait.
 * `burst` defaults to max(1, rate / 10) (see the module comment).
 */
export function reserve(state: GcraState | undefined, now: number, ratePerSec: number, burst?: number): Reservation {
  const at = conformingAt(state, now, ratePerSec, burst);
  return { state: commitAt(state, at, ratePerSec), delayMs: at - now };
}

export interface LimitInput {
  readonly state: GcraState | undefined;
  readonly ratePerSec: number;
  readonly burst?: number;
}

export interface MultiReservation {
  /** New states, in the order of the inputs. */
  readonly states: readonly GcraState[];
  readonly delayMs: number;
}

/**
 * Reserve one message that must respect several limits at once (its endpoint's and its
 * account's). The send time is the latest of the keys' conforming times, and every key is
 * charged at that same time: a key that would have allowed an earlier send is not charged for a
 * slot the message cannot use, so no key loses capacity to another key's wait.
 */
export function reserveMany(limits: readonly LimitInput[], now: number): MultiReservation {
  let at = now;
  for (const limit of limits) at = Math.max(at, conformingAt(limit.state, now, limit.ratePerSec, limit.burst));
  return {
    states: limits.map((limit) => commitAt(limit.state, at, limit.ratePerSec)),
    delayMs: at - now,
  };
}

// ---------------------------------------------------------------------------------------------

export interface RateLimit {
  readonly key: string;
  /** Messages per second; Infinity = unlimited. */
  readonly rate: number;
  readonly burst?: number;
}

/** One limit per key, the strictest rate where a key is listed twice. */
export function strictestPerKey<L extends { readonly key: string; readonly rate: number }>(limits: readonly L[]): L[] {
  const byKey = new Map<string, L>();
  for (const limit of limits) {
    const existing = byKey.get(limit.key);
    if (existing === undefined || limit.rate < existing.rate) byKey.set(limit.key, limit);
  }
  return [...byKey.values()];
}

export interface RateLimiterOptions {
  /** Keys with nothing scheduled for longer than this are dropped on a sweep. Default 60 s. */
  readonly idleMs?: number;
  /** Minimum time between automatic sweeps (run from reserve calls). Default: idleMs. */
  readonly sweepEveryMs?: number;
}

export interface RateLimiterSnapshot {
  readonly keys: number;
  readonly lastSweepAt: number;
}

/**
 * In-memory per-key limiter. Bounded memory: a key whose TAT is more than `idleMs` in the past
 * (no message sent or scheduled for that long) is dropped on the next sweep. Dropping such a key
 * changes nothing: a TAT in the past behaves exactly like a fresh key.
 * Sweeps run from `reserve`/`reserveAll` at most every `sweepEveryMs`; no timers are created.
 */
export class RateLimiter {
  private readonly states = new Map<string, GcraState>();
  private readonly idleMs: number;
  private readonly sweepEveryMs: number;
  private lastSweepAt: number;

  constructor(
    private readonly clock: () => number,
    options: RateLimiterOptions = {},
  ) {
    this.idleMs = options.idleMs ?? 60_000;
    this.sweepEveryMs = options.sweepEveryMs ?? this.idleMs;
    this.lastSweepAt = clock();
  }

  /** Reserve one message on `key`; returns the delay in ms before it may be sent. */
  reserve(key: string, ratePerSec: number, burst?: number): number {
    return this.reserveAll([{ key, rate: ratePerSec, burst }]);
  }

  /**
   * Reserve one message against every limit (e.g. `endpoint:<id>` and `account:<id>`); returns
   * the longest delay, and charges every key at that same send time. A key listed twice counts
   * once, with its strictest rate.
   */
  reserveAll(limits: readonly RateLimit[]): number {
    const now = this.clock();
    this.maybeSweep(now);
    const unique = strictestPerKey(limits);
    const result = reserveMany(
      unique.map((l) => ({ state: this.states.get(l.key), ratePerSec: l.rate, burst: l.burst })),
      now,
    );
    unique.forEach((l, i) => this.states.set(l.key, result.states[i]));
    return result.delayMs;
  }

  /** Drop idle keys now; returns how many were dropped. */
  sweep(): number {
    return this.sweepAt(this.clock());
  }

  /** Number of keys currently held. */
  get size(): number {
    return this.states.size;
  }

  snapshot(): RateLimiterSnapshot {
    return { keys: this.states.size, lastSweepAt: this.lastSweepAt };
  }

  private maybeSweep(now: number): void {
    if (now - this.lastSweepAt >= this.sweepEveryMs) this.sweepAt(now);
  }

  private sweepAt(now: number): number {
    this.lastSweepAt = now;
    let dropped = 0;
    for (const [key, state] of this.states) {
      if (now - state.tat > this.idleMs) {
        this.states.delete(key);
        dropped++;
      }
    }
    return dropped;
  }
}
