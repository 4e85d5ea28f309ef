// Query pieces both drivers share: the optional filters of a delivery log, and the assembly of
// endpoint health and queue stats from the rows of their queries.
import { idFloor } from '../domain/ids.js';
import type { DeliveryStatus } from '../domain/types.js';
import type { DeliveryQuery, EndpointHealth, QueueStats, RecoverScope } from './contract.js';
import { num } from './rows.js';
import { toTotals, type TotalsRow } from './rollup.js';

const STATUSES: readonly DeliveryStatus[] = ['pending', 'in_flight', 'succeeded', 'failed'];

/** A recover of the failed deliveries created since a time, whatever their type. */
export function failedSince(since: number): RecoverScope {
  return { since, until: null, eventTypes: null, statuses: ['failed'] };
}

/**
 * `ordered` for a delivery asked to go again now: a finished one is replayed outside its
 * resource's order; a pending one (waiting for a retry or for the head of its chain) keeps its
 * place, or it would overtake the head or free the deliveries behind it. In an UPDATE's SET,
 * `status` is the value before the update.
 */
export const KEEP_ORDER_IF_PENDING = "CASE WHEN status = 'pending' THEN ordered ELSE FALSE END";

/**
 * `ordered` for a delivery a recover re-queues: as its endpoint's ordering is now, as for a new
 * one. A recover re-sends a resource's chain (deliveries failed while the receiver was down), and
 * on an endpoint ordered per resource the chain goes out as it was promised: one at a time, in
 * sequence order, and ahead of the resource's newer deliveries still queued.
 */
export const REQUEUED_ORDERED = `(resource_key IS NOT NULL AND EXISTS (
  SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.ordering = 'per_resource'))`;

/**
 * A delivery is made `ordered` or not by its endpoint's ordering when it is created, so when the
 * ordering is switched, the endpoint's queued deliveries (with a resource) are made to follow:
 * switched on, they join their resource's order, or a new event would go out before the older
 * ones still queued; switched off, every chain is released at once instead of still draining
 * one delivery at a time behind a head that may wait hours for its next attempt. Each status
 * is found through its own partial index, never the endpoint's whole history. Parameters:
 * ordered, endpoint id, endpoint id.
 */
export const FOLLOW_ORDERING = `UPDATE deliveries SET ordered = ? WHERE id IN (
  SELECT id FROM deliveries WHERE endpoint_id = ? AND status = 'pending' AND resource_key IS NOT NULL
  UNION ALL
  SELECT id FROM deliveries WHERE status = 'in_flight' AND endpoint_id = ? AND resource_key IS NOT NULL)`;

export interface Filters {
  /** `AND ...` clauses with `?` placeholders, in the order of `values`. */
  readonly sql: string;
  readonly values: readonly unknown[];
}

/**
 * The filters of a delivery query that are set, and only those, so each combination gets a plan
 * that uses the index it needs. The status is written as a literal (one of four) so the partial
 * index of failed deliveries can serve it. `since` also bounds the id: ids never sort below
 * their creation time.
 */
export function deliveryFilters(q: DeliveryQuery): Filters {
  const clauses: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => (clauses.push(sql), values.push(value));
  if (q.endpointId !== undefined) add('endpoint_id = ?', q.endpointId);
  if (q.eventId !== undefined) add('event_id = ?', q.eventId);
  if (q.status !== undefined) {
    if (!STATUSES.includes(q.status)) throw new Error(`unknown delivery status ${JSON.stringify(q.status)}`);
    clauses.push(`status = '${q.status}'`);
  }
  if (q.eventTypes !== undefined) {
    const types = typeFilter(q.eventTypes);
    clauses.push(types.sql);
    values.push(...types.values);
  }
  if (q.since !== undefined) {
    add('created_at >= ?', q.since);
    add('id >= ?', idFloor('dlv', q.since));
  }
  if (q.until !== undefined) add('created_at < ?', q.until);
  return { sql: clauses.map((c) => ` AND ${c}`).join(''), values };
}

/** The stored prefix a `prefix.*` entry of an event type filter selects (`acme.`), if it is one. */
export function typePrefix(entry: string): string | undefined {
  return entry.length > 2 && entry.endsWith('.*') ? entry.slice(0, -1) : undefined;
}

/** An event type filter's exact names and the prefixes of its wildcards. */
export function splitTypes(eventTypes: readonly string[]): { names: string[]; prefixes: string[] } {
  const names: string[] = [];
  const prefixes: string[] = [];
  for (const entry of eventTypes) {
    const prefix = typePrefix(entry);
    if (prefix === undefined) names.push(entry);
    else prefixes.push(prefix);
  }
  return { names, prefixes };
}

/**
 * The clause of an event type filter. A wildcard is the range of the names starting with its
 * prefix (`acme.` <= type < `acme/`), so it finds what was stored under types no longer
 * registered, and PostgreSQL's planner, with its statistics, reads a range of rare types from the
 * account's (event type, id) index and a common one along the ids. The range is byte-wise:
 * event_type has the binary collation on SQLite and "C" on PostgreSQL.
 */
function typeFilter(eventTypes: readonly string[]): Filters {
  const { names, prefixes } = splitTypes(eventTypes);
  const parts: string[] = [];
  const values: string[] = [];
  if (names.length === 1) parts.push('event_type = ?');
  else if (names.length > 1) parts.push(`event_type IN (${names.map(() => '?').join(', ')})`);
  values.push(...names);
  for (const prefix of prefixes) {
    parts.push('event_type >= ? AND event_type < ?');
    values.push(prefix, prefixEnd(prefix));
  }
  if (parts.length === 0) return { sql: '0 = 1', values: [] };
  return { sql: parts.length === 1 ? parts[0] : `(${parts.map((p) => `(${p})`).join(' OR ')})`, values };
}

/** The first string after every string that starts with `prefix`: its last character, plus one. */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** `?` placeholders as `$n`, numbered from `first`. */
export function numbered(sql: string, first: number): string {
  let n = first;
  return sql.replace(/\?/g, () => `$${n++}`);
}

type Num = number | string | bigint | null;

/** One count per status of a scope, and its total; history counts (total, failed) may be 0, uncounted. */
export interface CountsRow {
  total: Num;
  pending: Num;
  retrying: Num;
  in_flight: Num;
  failed: Num;
}

/** Succeeded is the total less the rest. No row: the scope was another account's endpoint. */
export function statsOf(row: CountsRow | undefined): QueueStats {
  if (row === undefined) return { pending: 0, inFlight: 0, succeeded: 0, failed: 0, retrying: 0 };
  const [total, pending, retrying, inFlight, failed] = [row.total, row.pending, row.retrying, row.in_flight, row.failed].map(num);
  return { pending, inFlight, failed, retrying, succeeded: total - pending - inFlight - failed };
}

/**
 * A scope's counts less those of its deleted endpoints whose history is still being purged (each
 * counted alone, from that endpoint's indexes): the scope's own counts stay index-only, and the
 * extra cost lasts only as long as a purge. Never below zero, should a purge step fall between
 * the counts.
 */
export function lessPurged(all: QueueStats, purged: readonly QueueStats[]): QueueStats {
  const keys = ['pending', 'inFlight', 'retrying', 'succeeded', 'failed'] as const;
  const left = { ...all };
  for (const p of purged) for (const k of keys) left[k] = Math.max(0, left[k] - p[k]);
  return left;
}

/** Leaves out the deliveries of deleted endpoints whose history is still being purged. */
export const NOT_PURGED = 'endpoint_id NOT IN (SELECT endpoint_id FROM endpoint_purges)';

export interface QueueRow {
  endpoint_id: string;
  pending: Num;
  retrying: Num;
  in_flight: Num;
}

export function healthOf(endpointId: string, lastAttemptAt: number | null, queue: readonly QueueRow[], totals: readonly (TotalsRow & { endpoint_id: string })[]): EndpointHealth {
  const mine = queue.filter((r) => r.endpoint_id === endpointId);
  const sum = (pick: (r: QueueRow) => Num) => mine.reduce((n, r) => n + num(pick(r)), 0);
  return {
    endpointId,
    queue: { pending: sum((r) => r.pending), retrying: sum((r) => r.retrying), inFlight: sum((r) => r.in_flight) },
    attempts: toTotals(totals.find((r) => r.endpoint_id === endpointId)),
    lastAttemptAt,
  };
}

/**
 * recordAuthFailure's one statement, placeholders by `p` (1 scope, 2 address, 3 now, 4 the time
 * at or before which a window began that is over by now). SET reads the row as it was, so the
 * count and the start are both taken from the old window.
 */
export function recordAuthFailureSql(p: (n: 1 | 2 | 3 | 4) => string): string {
  const over = `auth_failures.since <= ${p(4)}`;
  return `INSERT INTO auth_failures (scope, address, since, failures) VALUES (${p(1)}, ${p(2)}, ${p(3)}, 1)
    ON CONFLICT (scope, address) DO UPDATE SET
      failures = CASE WHEN ${over} THEN 1 ELSE auth_failures.failures + 1 END,
      since = CASE WHEN ${over} THEN excluded.since ELSE auth_failures.since END
    RETURNING since, failures`;
}
