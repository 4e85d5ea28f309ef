import { describe, expect, it } from 'vitest';
import { commitAt, conformingAt, defaultBurst, RateLimiter, reserve, reserveMany, type GcraState } from './rate-limiter.js';

/** Largest and smallest number of sends in any window [t, t + windowMs) starting at a send, for
 * windows lying entirely inside the sending period. */
function windowCounts(sendTimes: readonly number[], windowMs: number): { max: number; min: number } {
  const times = [...sendTimes].sort((a, b) => a - b);
  const last = times[times.length - 1];
  let max = 0;
  let min = Number.POSITIVE_INFINITY;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while (j < times.length && times[j] < times[i] + windowMs) j++;
    const count = j - i;
    max = Math.max(max, count);
    if (times[i] + windowMs <= last) min = Math.min(min, count);
  }
  return { max, min };
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe('reserve (pure GCRA)', () => {
  it('lets a fresh key send at once, then spaces messages 1000 / rate ms apart after the burst', () => {
    const rate = 100; // T = 10 ms, burst 10
    let state: GcraState | undefined;
    const delays: number[] = [];
    for (let i = 0; i < 13; i++) {
      const r = reserve(state, 0, rate);
      state = r.state;
      delays.push(r.delayMs);
    }
    expect(delays).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 20, 30]);
    expect(state).toEqual({ tat: 130 });
  });

  it('uses a burst of max(1, rate / 10) by default', () => {
    expect(defaultBurst(100)).toBe(10);
    expect(defaultBurst(5)).toBe(1);
    expect(defaultBurst(0.5)).toBe(1);
    // rate 5/s, burst 1: strictly 200 ms apart
    let state: GcraState | undefined;
    const delays = [0, 1, 2].map(() => {
      const r = reserve(state, 1_000, 5);
      state = r.state;
      return r.delayMs;
    });
    expect(delays).toEqual([0, 200, 400]);
  });

  it('accepts an explicit burst', () => {
    let state: GcraState | undefined;
    const delays = [0, 1, 2, 3].map(() => {
      const r = reserve(state, 0, 1, 3);
      state = r.state;
      return r.delayMs;
    });
    expect(delays).toEqual([0, 0, 0, 1000]);
  });

  it('never drops: every reservation succeeds, only later', () => {
    let state: GcraState | undefined;
    for (let i = 0; i < 1000; i++) {
      const r = reserve(state, 0, 1);
      expect(r.delayMs).toBe(i * 1000);
      state = r.state;
    }
  });

  it('gives an idle key back at most its burst, not a backlog', () => {
    let state: GcraState | undefined = { tat: 0 };
    const now = 60_000; // idle for a minute
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = reserve(state, now, 100);
      state = r.state;
      delays.push(r.delayMs);
    }
    expect(delays.filter((d) => d === 0)).toHaveLength(10);
  });

  it('rejects a non-positive rate or a burst below 1', () => {
    expect(() => reserve(undefined, 0, 0)).toThrow(RangeError);
    expect(() => reserve(undefined, 0, -1)).toThrow(RangeError);
    expect(() => reserve(undefined, 0, Number.NaN)).toThrow(RangeError);
    expect(() => reserve(undefined, 0, 10, 0.5)).toThrow(RangeError);
  });

  it('treats an infinite rate as unlimited', () => {
    let state: GcraState | undefined;
    for (let i = 0; i < 5; i++) {
      const r = reserve(state, 0, Number.POSITIVE_INFINITY);
      expect(r.delayMs).toBe(0);
      state = r.state;
    }
  });
});

describe('a consistent rate under the limit', () => {
  it('keeps any 10 s window of 10,000 reservations at 100/s within 5 % of 1000 (all queued at once)', () => {
    let state: GcraState | undefined;
    const sends: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const r = reserve(state, 0, 100);
      state = r.state;
      sends.push(r.delayMs);
    }
    const { max, min } = windowCounts(sends, 10_000);
    expect(max).toBeLessThanOrEqual(1050);
    expect(min).toBeGreaterThanOrEqual(950);
    expect(max).toBe(1009); // 10 burst + one every 10 ms: rate × window + burst − 1
  });

  it('keeps the same bound when callers arrive at random times and wait their delay', () => {
    const limiter = ((): { clock: { now: number }; limiter: RateLimiter } => {
      const clock = { now: 0 };
      return { clock, limiter: new RateLimiter(() => clock.now) };
    })();
    const random = lcg(7);
    const sends: number[] = [];
    // Arrivals average 150/s (faster than the limit) with random gaps, so the limiter is busy.
    for (let i = 0; i < 10_000; i++) {
      limiter.clock.now += random() * (2000 / 150);
      const delay = limiter.limiter.reserve('endpoint:e1', 100);
      sends.push(limiter.clock.now + delay);
    }
    const { max, min } = windowCounts(sends, 10_000);
    expect(max).toBeLessThanOrEqual(1050);
    expect(min).toBeGreaterThanOrEqual(950);
    // the GCRA bound: any m + 1 consecutive sends span at least (m - burst + 1) × T
    const sorted = [...sends].sort((a, b) => a - b);
    for (const m of [10, 100, 1000]) {
      for (let i = m; i < sorted.length; i++) {
        expect(sorted[i] - sorted[i - m]).toBeGreaterThanOrEqual((m - 9) * 10 - 1e-6);
      }
    }
  });

  it('never exceeds the limit over a window when demand is below it', () => {
    const clock = { now: 0 };
    const limiter = new RateLimiter(() => clock.now);
    const sends: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      clock.now += 20; // 50/s offered
      sends.push(clock.now + limiter.reserve('k', 100));
    }
    expect(sends.every((t, i) => t === (i + 1) * 20)).toBe(true); // nothing delayed
  });
});

describe('composite limits (endpoint and account)', () => {
  it('follows the stricter of the two limits', () => {
    const clock = { now: 0 };
    const limiter = new RateLimiter(() => clock.now);
    const sends: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      sends.push(limiter.reserveAll([{ key: 'endpoint:e1', rate: 100 }, { key: 'account:a1', rate: 20 }]));
    }
    const { max, min } = windowCounts(sends, 10_000);
    expect(max).toBeLessThanOrEqual(210);
    expect(min).toBeGreaterThanOrEqual(190);
  });

  it('holds the account limit across its endpoints and each endpoint limit on its own', () => {
    const clock = { now: 0 };
    const limiter = new RateLimiter(() => clock.now);
    const perEndpoint: Record<string, number[]> = { e1: [], e2: [] };
    const all: number[] = [];
    for (let i = 0; i < 3_000; i++) {
      const endpoint = i % 2 === 0 ? 'e1' : 'e2';
      const delay = limiter.reserveAll([{ key: `endpoint:${endpoint}`, rate: 40 }, { key: 'account:a1', rate: 50 }]);
      perEndpoint[endpoint].push(delay);
      all.push(delay);
    }
    const account = windowCounts(all, 10_000);
    expect(account.max).toBeLessThanOrEqual(525);
    expect(account.min).toBeGreaterThanOrEqual(475);
    for (const sends of Object.values(perEndpoint)) {
      expect(windowCounts(sends, 10_000).max).toBeLessThanOrEqual(420);
    }
  });

  it('charges every key at the common send time, so a fast key wastes no slot on a slow key\'s wait', () => {
    const fast = 1000; // T = 1 ms, burst 100
    const slow = 1; // T = 1000 ms, burst 1
    let states: readonly (GcraState | undefined)[] = [undefined, undefined];
    const reserveBoth = (now: number): number => {
      const r = reserveMany(
        [
          { state: states[0], ratePerSec: fast },
          { state: states[1], ratePerSec: slow },
        ],
        now,
      );
      states = r.states;
      return r.delayMs;
    };
    expect(reserveBoth(0)).toBe(0);
    expect(states).toEqual([{ tat: 1 }, { tat: 1000 }]);
    expect(reserveBoth(0)).toBe(1000);
    // the fast key is charged at 1000 ms, not at 0 ms (where the message could not go)
    expect(states).toEqual([{ tat: 1001 }, { tat: 2000 }]);
    // reserving key by key (fast at once, then slow) would have advanced the fast key's TAT to
    // 2 ms and charged it for a slot at 0 ms that was never used
    expect(commitAt({ tat: 1 }, conformingAt({ tat: 1 }, 0, fast), fast)).toEqual({ tat: 2 });
  });

  it('counts a key listed twice once, at its strictest rate', () => {
    const limiter = new RateLimiter(() => 0);
    expect(limiter.reserveAll([{ key: 'k', rate: 10 }, { key: 'k', rate: 1 }])).toBe(0);
    expect(limiter.reserveAll([{ key: 'k', rate: 1 }])).toBe(1000);
    expect(limiter.reserveAll([])).toBe(0);
  });
});

describe('RateLimiter memory', () => {
  it('drops keys idle for more than 60 s on a sweep', () => {
    const clock = { now: 0 };
    const limiter = new RateLimiter(() => clock.now);
    for (let i = 0; i < 1_000; i++) limiter.reserve(`endpoint:${i}`, 10);
    expect(limiter.size).toBe(1_000);
    clock.now = 30_000;
    limiter.reserve('endpoint:busy', 10);
    expect(limiter.sweep()).toBe(0);
    clock.now = 60_000 + 101; // TAT of the first keys was 100 ms
    expect(limiter.sweep()).toBe(1_000);
    expect(limiter.size).toBe(1);
  });

  it('sweeps on its own from reserve calls, at most once per interval, without timers', () => {
    const clock = { now: 0 };
    const limiter = new RateLimiter(() => clock.now);
    for (let i = 0; i < 100; i++) limiter.reserve(`k${i}`, 1);
    clock.now = 61_001;
    limiter.reserve('fresh', 1);
    expect(limiter.size).toBe(1);
    expect(limiter.snapshot()).toEqual({ keys: 1, lastSweepAt: 61_001 });
  });

  it('keeps a key whose backlog is still in the future, and dropping an idle key changes nothing', () => {
    const clock = { now: 0 };
    const limiter = new RateLimiter(() => clock.now);
    for (let i = 0; i < 100; i++) limiter.reserve('backlogged', 1); // TAT at 100 s
    clock.now = 61_000;
    limiter.sweep();
    expect(limiter.size).toBe(1);
    expect(limiter.reserve('backlogged', 1)).toBe(39_000);
    clock.now = 500_000;
    limiter.sweep();
    expect(limiter.size).toBe(0);
    expect(limiter.reserve('backlogged', 1)).toBe(0);
  });
});
