// GCRA parameters for the store-held rate limits, the same as the in-memory limiter's
// (src/delivery/rate-limiter.ts): burst of 100 ms worth of messages, at least one.
import { defaultBurst } from '../delivery/rate-limiter.js';

export function gcraParams(ratePerSecond: number): { interval: number; tolerance: number } {
  const interval = 1000 / ratePerSecond;
  return { interval, tolerance: (defaultBurst(ratePerSecond) - 1) * interval };
}
