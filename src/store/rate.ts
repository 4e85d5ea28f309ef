// Rate limits held in the store, with the in-memory limiter's GCRA (src/delivery/rate-limiter.ts):
// burst of 100 ms worth of messages, at least one.
import { defaultBurst, reserveMany, strictestPerKey } from '../delivery/rate-limiter.js';
import type { SharedRateLimit } from './contract.js';

export function gcraParams(ratePerSecond: number): { interval: number; tolerance: number } {
  const interval = 1000 / ratePerSecond;
  return { interval, tolerance: (defaultBurst(ratePerSecond) - 1) * interval };
}

/** A reservation under one key, which a single upsert makes. */
export interface SingleKey {
  readonly key: string;
  readonly interval: number;
  readonly tolerance: number;
}

/**
 * The limits a reservation is made under, one per key (the strictest rate where a key is listed
 * twice), in key order: the order a store locks their rows in, so that two reservations over
 * the same keys wait for each other instead of deadlocking. `single` when there is just one.
 */
export function keysToReserve(limits: readonly SharedRateLimit[]): { readonly keys: SharedRateLimit[]; readonly single: SingleKey | null } {
  const keys = strictestPerKey(limits).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { keys, single: keys.length === 1 ? { key: keys[0]!.key, ...gcraParams(keys[0]!.rate) } : null };
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
