// Rate limits held in the store, with the in-memory limiter's GCRA (src/delivery/rate-limiter.ts):
// burst of 100 ms worth of messages, at least one.
import { defaultBurst, reserveMany, strictestPerKey } from '../delivery/rate-limiter.js';
import type { SharedRateLimit } from './contract.js';

export { strictestPerKey };

export function gcraParams(ratePerSecond: number): { interval: number; tolerance: number } {
  const interval = 1000 / ratePerSecond;
  return { interval, tolerance: (defaultBurst(ratePerSecond) - 1) * interval };
}

/**
 * One message under several limits, from each key's stored TAT (undefined: never used): the
 * delay before it may go and each key's new TAT, every key charged at that one send time.
 */
export function reserveAcross(limits: readonly SharedRateLimit[], tatOf: (key: string) => number | undefined, now: number): { delayMs: number; tats: number[] } {
  const inputs = limits.map((l) => {
    const tat = tatOf(l.key);
    return { state: tat === undefined ? undefined : { tat }, ratePerSec: l.rate };
  });
  const { states, delayMs } = reserveMany(inputs, now);
  return { delayMs, tats: states.map((s) => s.tat) };
}
