// Per-minute attempt rollup shared by both drivers: settle adds each batch's attempts to one
// row per (endpoint, minute), and health and activity read those rows instead of the attempts.
import type { ActivityMinute, AttemptSettlement, AttemptTotals } from './contract.js';
import { num } from './rows.js';

export const MINUTE_MS = 60_000;

/** Rollup rows outlive `before` of prune by this much, so a 7-day health window stays whole. */
export const ROLLUP_EXTRA_MS = 7 * 24 * 3_600_000;

export function minuteOf(ms: number): number {
  return ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
}

export interface MinuteRollup extends AttemptTotals {
  readonly endpointId: string;
  readonly minute: number;
  readonly lastAttemptAt: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One row per (endpoint, minute of the attempt's start), in key order (a stable lock order). */
export function rollUp(settled: readonly AttemptSettlement[]): MinuteRollup[] {
  const rows = new Map<string, Mutable<MinuteRollup>>();
  for (const s of settled) {
    const { startedAt, durationMs } = s.attempt;
    const minute = minuteOf(startedAt);
    const key = `${s.endpointId} ${minute}`;
    let row = rows.get(key);
    if (!row) {
      row = { endpointId: s.endpointId, minute, succeeded: 0, retried: 0, failed: 0, latencySumMs: 0, latencyMaxMs: 0, lastAttemptAt: startedAt };
      rows.set(key, row);
    }
    if (s.outcome === 'succeeded') row.succeeded++;
    else if (s.outcome === 'retry') row.retried++;
    else row.failed++;
    row.latencySumMs += durationMs;
    row.latencyMaxMs = Math.max(row.latencyMaxMs, durationMs);
    row.lastAttemptAt = Math.max(row.lastAttemptAt, startedAt);
  }
  return [...rows.values()].sort((a, b) => (a.endpointId === b.endpointId ? a.minute - b.minute : a.endpointId < b.endpointId ? -1 : 1));
}

type Num = number | string | bigint | null;

export interface TotalsRow {
  succeeded: Num;
  retried: Num;
  failed: Num;
  latency_sum_ms: Num;
  latency_max_ms: Num;
}

export const NO_ATTEMPTS: AttemptTotals = { succeeded: 0, retried: 0, failed: 0, latencySumMs: 0, latencyMaxMs: 0 };

export function toTotals(row: TotalsRow | undefined): AttemptTotals {
  if (!row) return NO_ATTEMPTS;
  return { succeeded: num(row.succeeded), retried: num(row.retried), failed: num(row.failed), latencySumMs: num(row.latency_sum_ms), latencyMaxMs: num(row.latency_max_ms) };
}

export function toActivityMinute(row: TotalsRow & { minute: Num }): ActivityMinute {
  return { minute: num(row.minute), ...toTotals(row) };
}

/** Sums of a group of rollup rows, as both dialects spell them. */
export const TOTALS_SQL =
  'SUM(succeeded) AS succeeded, SUM(retried) AS retried, SUM(failed) AS failed, SUM(latency_sum_ms) AS latency_sum_ms, MAX(latency_max_ms) AS latency_max_ms';
