// Scale-out store on PostgreSQL (pg). Any number of API and worker processes share one database:
// claims lock with FOR UPDATE SKIP LOCKED, ingest arbitrates idempotency keys with the unique
// index, and new work is announced with NOTIFY (see notify.ts). Semantics follow the SQLite
// driver exactly; the conformance suite (src/store/conformance) holds both to them.
//
// Batches are sent as arrays and expanded with unnest(), so a batch of any size costs a fixed
// number of round trips. Lock order, to stay deadlock-free across processes:
//   resource_sequences (sorted) -> events idempotency slots (sorted) -> deliveries
//   deliveries (sorted by id) -> attempt_minutes (sorted) -> endpoints (sorted) -> accounts
// Nothing takes those in the opposite direction on purpose, but the order of rows within an
// UPDATE ... FROM is the plan's: a transaction the server still aborts as a deadlock (or a
// serialization failure) is run again by tx().
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { idFloor, newId } from '../../domain/ids.js';
import { withSequence } from '../../domain/canonical-body.js';
import type { Account, ApiKeyRecord, Attempt, CustomEventType, Delivery, Endpoint, Page, Project, StoredEvent } from '../../domain/types.js';
import { INBOX_RELAY_EVENT_TYPE, type Inbox, type InboxRelay, type InboxRequest } from '../../inbox/types.js';
import type {
  ActivityMinute,
  ActivityQuery,
  CaptureOutcome,
  ClaimedDelivery,
  ClaimRequest,
  HeldLease,
  SecretRotation,
  DeliveryQuery,
  EndpointAttempt,
  EndpointAttemptQuery,
  EndpointExpected,
  EndpointHealth,
  InboxRequestQuery,
  IngestItem,
  IngestLease,
  IngestOutcome,
  NewApiKey,
  NewRecovery,
  NewUiSession,
  Notice,
  EventTypePageRequest,
  ListedEventType,
  PageRequest,
  QueueDepth,
  QueueStats,
  RecoverScope,
  Recovery,
  RecoveryLease,
  SchemaState,
  Sealer,
  Settlement,
  Store,
  UiSession,
  SharedRateLimit,
} from '../contract.js';
import { DEFAULT_FAILING_GAP_MS } from '../contract.js';
import { loadMigrations, MigrationError, type Migration } from '../migrations.js';
import { commitOutcomeUnknown, OutcomeUnknownError } from '../unavailable.js';
import { WriteRefusals, type WritesReport } from '../write-refusals.js';
import { keysToReserve, reserveAcross } from '../rate.js';
import { type CountsRow, deliveryFilters, FOLLOW_ORDERING, healthOf, KEEP_ORDER_IF_PENDING, lessPurged, NOT_PURGED, numbered, type QueueRow, REQUEUED_ORDERED, splitTypes, statsOf } from '../queries.js';
import { recordAuthFailureSql } from '../queries.js';
import { minuteOf, ROLLUP_EXTRA_MS, toActivityMinute, TOTALS_SQL, type TotalsRow } from '../rollup.js';
import {
  type AccountRow,
  type ApiKeyRow,
  type AttemptRow,
  type DeliveryRow,
  type EndpointRow,
  type EventRow,
  type InboxRequestRow,
  type InboxRow,
  type EventTypeRow,
  EVENT_TYPE_COLUMNS,
  eventTypeValues,
  type ProjectRow,
  type RecoveryRow,
  endpointChanges,
  endpointToRow,
  INBOX_REQUEST_COLUMNS,
  inboxRequestValues,
  inboxToRow,
  num,
  numOrNull,
  type NoticeRow,
  ONE_SEALED_SQL,
  opens,
  PENDING_NOTICES_SQL,
  recordedNotice,
  toNotice,
  leaseOf,
  leasedDelivery,
  resourceKeyOf,
  toAccount,
  toApiKey,
  toAttempt,
  toDelivery,
  toEndpoint,
  toEvent,
  toInbox,
  toInboxRequest,
  toUiSession,
  type UiSessionRow,
  toPage,
  toEventType,
  toEventTypePage,
  eventTypePageColumns,
  toProject,
  toRecovery,
} from '../rows.js';
import { EARLIER_ROTATION_SQL, RECORD_ROTATION_SQL, type RotationRow, toRotation } from '../secret-rotations.js';
import { channelName, checkSchemaName, INBOX_CHANNEL, searchPathOption } from './notify.js';

/** COMMIT, whose failure on a lost connection leaves the outcome unknown rather than rolled back. */
async function commit(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('COMMIT');
  } catch (err) {
    throw commitOutcomeUnknown(err) ? new OutcomeUnknownError(err as Error) : err;
  }
}

export interface PostgresOptions {
  readonly connectionString: string;
  readonly sealer: Sealer;
  /** search_path for every connection (tests use one schema per file). */
  readonly schema?: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /**
   * The server cancels a statement running longer than this (statement_timeout, default 5
   * minutes); 0: no limit. See statementLimits.
   */
  readonly statementTimeoutMs?: number;
  /**
   * Told when the server starts refusing the store's writes for lack of disk, memory or
   * connections (SQLSTATE 53100, 53200, 53300) and when a write goes through again: once each way.
   */
  readonly onWrites?: (report: WritesReport) => void;
}

/** The default of PostgresOptions.statementTimeoutMs: long enough for a recover over millions of rows. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 300_000;
/** How much longer than the server's statement timeout the process waits for an answer. */
const ANSWER_GRACE_MS = 5_000;
/**
 * A session left inside a transaction without a statement this long is ended by the server, its
 * transaction rolled back and its locks freed. Herald's transactions send their statements one
 * after another with no wait between them; only a process frozen or cut off mid-transaction
 * leaves one idle, and its row locks would otherwise hold up every other process until TCP
 * notices the peer is gone (hours).
 */
const IDLE_IN_TRANSACTION_MS = 60_000;
/** pg's longest query_timeout (a setTimeout delay): what a migration waits for, in effect without limit. */
const NO_ANSWER_LIMIT_MS = 2_147_483_647;

/**
 * The pool's time limits. The server cancels a statement past `statementTimeoutMs`, which leaves
 * the connection usable and stops the work; the process waits a little longer for the answer
 * (query_timeout) in case the network, not the statement, is what stopped, and then discards
 * the connection. A client-side limit alone would leave the server running the statement.
 */
function statementLimits(statementTimeoutMs: number): Pick<pg.PoolConfig, 'statement_timeout' | 'query_timeout' | 'idle_in_transaction_session_timeout'> {
  const limits = { idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS };
  if (statementTimeoutMs <= 0) return limits;
  return { ...limits, statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + ANSWER_GRACE_MS };
}

type Db = pg.Pool | pg.PoolClient;
type Done = Exclude<Settlement, { outcome: 'release' }>;
type Release = Extract<Settlement, { outcome: 'release' }>;

const ENDPOINT_COLUMNS =
  'id, account_id, profile, url, method, description, event_types, project_ids, user_ids, secret, previous_secret, previous_secret_expires_at, headers, auth, rate_limit_per_second, timeout_ms, ordering, disabled, disabled_reason, failing_since, profile_data, created_at, updated_at';

/** Columns updateEndpoint may change: identity, tenant and creation time are fixed. */

// Why this claim is safe with many workers (READ COMMITTED, the default):
// - SKIP LOCKED: a row another claim has locked (and not yet committed) is passed over, never
//   waited for. If that claim has committed by the time we reach the row, PostgreSQL re-checks
//   our WHERE clause against the new row version (EvalPlanQual): it is in_flight now, so it
//   no longer qualifies. Each delivery is therefore taken by exactly one claim.
// - Per-resource ordering: an ordered delivery qualifies only if no delivery of the same
//   (endpoint, resource) with a lower sequence is pending or in_flight, i.e. only the head of
//   each chain is ever a candidate, in every snapshot. Two claims can both see the same head;
//   only one can lock it (above). Neither can see the second link as a candidate, because in
//   any snapshot where the head exists it is pending or in_flight until its owner settles it
//   succeeded/failed (or a retry keeps it pending, which keeps blocking). A lower sequence can
//   never appear after a higher one: ingest takes sequences from a row lock on
//   resource_sequences held until commit, so sequence n+1 commits after n. Hence no snapshot
//   shows link 2 as the head while link 1 is still unfinished, and two deliveries of one
//   (endpoint, resource) are never in flight together. (Re-queues of old deliveries bring a
//   lower sequence back: one via retryDelivery is a replay, sent as asked; a recovery's are
//   ordered on an ordered endpoint, so they go out in their order, but one may go out beside a
//   newer delivery already in flight, as in SQLite.)
// - Candidates are chosen without locking, then only the chosen rows are locked: a lock inside
//   the per-endpoint LATERAL would be taken on every row the LATERAL returns, before the outer
//   LIMIT, i.e. up to $6 rows on every endpoint with due work, starving concurrent claims and
//   writing WAL for each. The lock step re-checks status and due time under the lock
//   (EvalPlanQual, as above), so a candidate another claim took meanwhile is passed over.
//   Candidates are taken with slack (twice the limit) so a claim racing another one over the
//   same earliest rows still fills its batch from the next ones.
// - The locking CTE is materialised (it locks rows, so PostgreSQL never inlines it), so LIMIT
//   applies once and the UPDATE touches exactly the rows locked.
// - Plan shape is pinned for the generic plan a named statement ends up with (the planner
//   cannot see LIMIT $3 there and would guess large): `= ANY(ARRAY(...))` and LATERAL ... LIMIT 1
//   make the UPDATE and the events lookup index probes per claimed row, never a merge join
//   that walks the whole events primary key.
/** An ordered delivery `q` waits while an earlier one of its resource is still unfinished. */
const BLOCKED_BY_HEAD = `SELECT 1 FROM deliveries p
  WHERE p.endpoint_id = q.endpoint_id AND p.resource_key = q.resource_key AND p.ordered
    AND p.status IN ('pending', 'in_flight') AND p.sequence < q.sequence`;

// Endpoint by endpoint (LATERAL over the (endpoint_id, next_attempt_at) index): at most $6 per
// endpoint (or its own limit in $7), so one endpoint's backlog never crowds out the others nor
// has to be scanned past. Parameters: now, excluded endpoint ids, limit, owner, lease until,
// per-endpoint limit, endpoint limits ({"id": n}).
// Exported for the test of its plan (postgres-locking.test.ts).
export const CLAIM_SQL = `
WITH candidates AS (
  SELECT x.id
    FROM endpoints e
    CROSS JOIN LATERAL (
      SELECT q.id, q.next_attempt_at
        FROM deliveries q
       WHERE q.endpoint_id = e.id AND q.status = 'pending' AND q.next_attempt_at <= $1
         AND (NOT q.ordered OR NOT EXISTS (${BLOCKED_BY_HEAD}))
       ORDER BY q.next_attempt_at
       LIMIT LEAST(COALESCE(($7::jsonb ->> e.id)::int, $6), $3)) x
   WHERE NOT e.disabled AND e.id <> ALL ($2::text[])
   ORDER BY x.next_attempt_at
   LIMIT $3 * 2
), picked AS (
  -- Found by primary key, and only rechecked for status and due time (a concurrent claim may
  -- have taken a candidate): written so that no index on them can serve. Right after a bulk
  -- publish the planner's statistics still see few due rows, and it chose to AND the candidates
  -- with a bitmap of every due delivery (100,000 of them: 6 ms a claim, growing with the backlog).
  SELECT q.id
    FROM deliveries q
   WHERE q.id = ANY (ARRAY(SELECT id FROM candidates)) AND q.status || '' = 'pending' AND q.next_attempt_at + 0 <= $1
   ORDER BY q.next_attempt_at
   LIMIT $3
     FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE deliveries d
     SET status = 'in_flight', lease_owner = $4, lease_until = $5, updated_at = $1, claim_no = d.claim_no + 1
   WHERE d.id = ANY (ARRAY(SELECT id FROM picked))
  RETURNING d.id, d.account_id, d.event_id, d.endpoint_id, d.attempts, d.resource_key, d.sequence,
            d.created_at, d.next_attempt_at, d.claim_no
)
SELECT c.id, c.account_id, c.event_id, c.endpoint_id, c.attempts, c.resource_key, c.sequence, c.created_at,
       ev.type, ev.body, ev.project_id, c.claim_no
  FROM claimed c
  CROSS JOIN LATERAL (SELECT type, body, project_id FROM events WHERE events.id = c.event_id LIMIT 1) ev
 ORDER BY c.next_attempt_at, c.id`;

// Outcomes with an attempt, in one statement: only rows still leased by the settling owner
// change, and attempts are recorded only for those (a worker whose lease expired and was
// reclaimed must not touch the delivery nor log a second attempt under the same number). The
// applied rows come back per endpoint, but only where failing_since has to change (a
// transition, rare), so the common batch needs no second statement. An endpoint with failures
// only and a failing period under way is checked for a quiet spell: its previous attempt started
// more than the gap ($17) before the first of these, or is not in the rollup, and a new failing
// period begins (two rollup rows read at most: from the cut's minute on, the second is later
// than the cut). The statement reads the rollup as it was before this batch: its own rows are
// written by a sub-statement, which the others do not see. The applied attempts are
// added to the per-minute rollup here too, one row per (endpoint, minute), in key order (lock
// order across workers): only this statement knows which settlements still held their lease.
const SETTLE_SQL = `
WITH s AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::text[],
                       $7::text[], $8::int[], $9::bigint[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[], $16::text[], $18::int[])
    AS s(id, owner, status, next_at, status_code, last_error,
         attempt_id, attempt_no, started_at, duration_ms, error_kind, error_message, request_headers, response_body, notice, claim_no)
), upd AS (
  UPDATE deliveries d
     SET status = s.status, attempts = d.attempts + 1, next_attempt_at = s.next_at, lease_owner = NULL, lease_until = NULL,
         last_status_code = s.status_code, last_error = s.last_error, notice = COALESCE(s.notice, d.notice), updated_at = $15
    FROM s
   WHERE d.id = s.id AND d.lease_owner = s.owner AND d.status = 'in_flight' AND d.claim_no = s.claim_no
  RETURNING d.id, d.account_id, d.endpoint_id, d.status
), ins AS (
  INSERT INTO attempts (id, delivery_id, account_id, attempt_no, started_at, duration_ms, status_code, error_kind, error_message, request_headers, response_body)
  SELECT s.attempt_id, upd.id, upd.account_id, s.attempt_no, s.started_at, s.duration_ms, s.status_code, s.error_kind, s.error_message,
         s.request_headers, s.response_body
    FROM upd JOIN s ON s.id = upd.id
), roll AS (
  INSERT INTO attempt_minutes AS m (account_id, endpoint_id, minute, succeeded, retried, failed, latency_sum_ms, latency_max_ms, last_attempt_at)
  SELECT upd.account_id, upd.endpoint_id, s.started_at - s.started_at % 60000,
         count(*) FILTER (WHERE upd.status = 'succeeded'), count(*) FILTER (WHERE upd.status = 'pending'),
         count(*) FILTER (WHERE upd.status = 'failed'), sum(s.duration_ms), max(s.duration_ms), max(s.started_at)
    FROM upd JOIN s ON s.id = upd.id
   GROUP BY 1, 2, 3
   ORDER BY 1, 2, 3
  ON CONFLICT (account_id, endpoint_id, minute) DO UPDATE SET
     succeeded = m.succeeded + excluded.succeeded, retried = m.retried + excluded.retried, failed = m.failed + excluded.failed,
     latency_sum_ms = m.latency_sum_ms + excluded.latency_sum_ms, latency_max_ms = GREATEST(m.latency_max_ms, excluded.latency_max_ms),
     last_attempt_at = GREATEST(m.last_attempt_at, excluded.last_attempt_at)
)
SELECT h.endpoint_id, h.ok, h.first_at, NULL AS refused
  FROM (SELECT upd.endpoint_id, bool_or(upd.status = 'succeeded') AS ok, min(s.started_at) AS first_at
          FROM upd JOIN s ON s.id = upd.id GROUP BY upd.endpoint_id) h
  JOIN endpoints e ON e.id = h.endpoint_id
 WHERE (h.ok AND e.failing_since IS NOT NULL)
    OR (NOT h.ok AND (e.failing_since IS NULL
                      OR (e.failing_since < h.first_at AND NOT EXISTS (
                            SELECT 1 FROM attempt_minutes m
                             WHERE m.account_id = e.account_id AND m.endpoint_id = e.id
                               AND m.minute > h.first_at - $17::bigint - 60000
                               AND m.last_attempt_at >= h.first_at - $17::bigint))))
UNION ALL
-- The settlements that did not apply (none, but for a late one): the caller is told which.
SELECT NULL, NULL, NULL, s.id FROM s WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.id = s.id)`;

// The claim's conditions without the time bound (see the contract): walks the due index in
// order and stops at the first delivery a claim could take.
const NEXT_DUE_SQL = `
SELECT MIN(x.next_attempt_at) AS t
  FROM endpoints e
  CROSS JOIN LATERAL (
    SELECT q.next_attempt_at FROM deliveries q
     WHERE q.endpoint_id = e.id AND q.status = 'pending'
       AND (NOT q.ordered OR NOT EXISTS (${BLOCKED_BY_HEAD}))
     ORDER BY q.next_attempt_at
     LIMIT 1) x
 WHERE NOT e.disabled`;

// Events of just-deleted deliveries, if no other delivery still holds them (deliveries_event).
const PRUNE_EVENTS_OF_SQL = `
DELETE FROM events WHERE id IN (
  SELECT ev.id FROM events ev
   WHERE ev.id = ANY ($1::text[]) AND ev.received_at < $2
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = ev.id)
     FOR UPDATE SKIP LOCKED)`;

// One window of the events sweep (sweepEvents): the next $4 events past the cut-off after
// ($2, $3) in (received_at, id) order, through events_received, deleting those no delivery
// holds; returns how many it looked at and where it stopped.
const SWEEP_EVENTS_SQL = `
WITH win AS (
  SELECT id, received_at FROM events
   WHERE received_at < $1 AND received_at >= $2 AND (received_at > $2 OR id > $3)
   ORDER BY received_at, id
   LIMIT $4
), doomed AS (
  SELECT ev.id FROM events ev
   WHERE ev.id = ANY (ARRAY(SELECT w.id FROM win w WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = w.id)))
     FOR UPDATE SKIP LOCKED
), del AS (
  DELETE FROM events WHERE id IN (SELECT id FROM doomed) RETURNING 1
), last AS (
  SELECT received_at, id FROM win ORDER BY received_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM del) AS deleted, (SELECT count(*) FROM win) AS examined,
       (SELECT received_at FROM last) AS last_at, (SELECT id FROM last) AS last_id`;

// The endpoint row goes and the endpoint is recorded for purgeDeletedEndpoints, in one statement;
// its recoveries go too, so a running one stops at its next chunk (advanceRecovery finds nothing)
// instead of re-queueing deliveries being purged. The version bump tells every process's endpoint
// cache. $3: the updated_at expected, $4: now.
const DELETE_ENDPOINT_SQL = `
WITH gone AS (
  DELETE FROM endpoints WHERE account_id = $1 AND id = $2 AND ($3::bigint IS NULL OR updated_at = $3::bigint)
  RETURNING account_id, id
), purge AS (
  INSERT INTO endpoint_purges (endpoint_id, account_id, marked_at) SELECT id, account_id, $4 FROM gone
), recoveries_gone AS (
  DELETE FROM recoveries WHERE account_id = $1 AND endpoint_id IN (SELECT id FROM gone)
)
UPDATE accounts SET endpoints_version = endpoints_version + 1 WHERE id IN (SELECT account_id FROM gone)`;

// The next deleted endpoint to purge, locked for this step (another process skips it and takes
// another): those still being walked before those waiting for their horizon. `settled`: every
// transaction that had begun when the horizon was taken has ended.
const NEXT_PURGE_SQL = `
SELECT endpoint_id, account_id, after_id, horizon IS NOT NULL AND pg_snapshot_xmin(pg_current_snapshot()) >= horizon AS settled
  FROM endpoint_purges ORDER BY horizon IS NOT NULL, marked_at LIMIT 1 FOR UPDATE SKIP LOCKED`;

// An endpoint's next deliveries after id $3, up to $4 (NULL: all), locked in id order: the order
// settle locks them in, so the two wait for each other instead of deadlocking.
const LOCK_DELIVERIES_OF_SQL = `
SELECT id FROM deliveries WHERE account_id = $1 AND endpoint_id = $2 AND id > $3 ORDER BY id LIMIT $4 FOR UPDATE`;

// A batch with both releases and outcomes is written by two statements: its rows are locked
// first in one pass, in id order, as deleteEndpoint locks them.
const LOCK_SETTLED_SQL = 'SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE) locked';

// Only the claim a release answers: leased to its owner under that claim's number.
const RELEASE_SQL = `
UPDATE deliveries d
   SET status = 'pending', next_attempt_at = s.next_at, lease_owner = NULL, lease_until = NULL, updated_at = $4
  FROM unnest($1::text[], $2::text[], $3::bigint[], $5::int[]) AS s(id, owner, next_at, claim_no)
 WHERE d.id = s.id AND d.lease_owner = s.owner AND d.status = 'in_flight' AND d.claim_no = s.claim_no
RETURNING d.id`;

// Applies the transitions SETTLE_SQL found, re-checked under the row lock (another worker may
// have made the same one meanwhile: a failing period another worker began at or after this
// batch's first attempt is this batch's too). Rows are locked in id order so two workers
// settling for the same endpoints cannot deadlock.
const HEALTH_SQL = `
WITH h AS (
  SELECT * FROM unnest($1::text[], $2::boolean[], $4::bigint[]) AS h(id, ok, first_at)
), locked AS (
  SELECT e.id, h.ok
    FROM endpoints e JOIN h ON h.id = e.id
   WHERE (h.ok AND e.failing_since IS NOT NULL) OR (NOT h.ok AND (e.failing_since IS NULL OR e.failing_since < h.first_at))
   ORDER BY e.id
   FOR UPDATE OF e
)
UPDATE endpoints e SET failing_since = CASE WHEN l.ok THEN NULL ELSE $3::bigint END
  FROM locked l
 WHERE e.id = l.id`;

// The advisory lock key an endpoint's ordering switch takes exclusively and an ingest of its
// deliveries shared. Endpoints share one of 16 keys: a batch fanning out to thousands of endpoints
// takes 16 locks at most, not one each from the server's lock table (64 per connection by
// default), and a switch, which is rare, at worst waits for an ingest to another endpoint.
const ORDERING_BUCKET = (id: string) => `(hashtext(${id}) & 15)`;
const ORDERING_LOCK = (bucket: string) => `hashtext('herald_ordering:' || ${bucket})`;

// Sorted so concurrent ingests lock resource_sequences rows in one order (no deadlocks). One
// row per resource per batch: ON CONFLICT cannot update a row twice in one statement, so the
// batch reserves `n` numbers at once and hands them out in batch order.
//
// It first takes, shared, the ordering locks (ORDERING_LOCK) of the endpoints the batch's events
// with a resource go to ($4): an ordering switch (updateEndpoint) waits for this ingest's commit
// and then re-orders its deliveries too, or this ingest waits for the switch's commit and reads
// the new setting (DELIVERIES_SQL, a later statement, so a later snapshot). Shared locks never
// wait for each other: ingests do not queue behind one another, only behind a switch.
const SEQUENCES_SQL = `
WITH locked AS MATERIALIZED (
  SELECT count(pg_advisory_xact_lock_shared(${ORDERING_LOCK('b')})) AS n
    FROM (SELECT DISTINCT ${ORDERING_BUCKET('id')} AS b FROM unnest($4::text[]) AS id ORDER BY 1) e
)
INSERT INTO resource_sequences AS r (account_id, resource_key, sequence)
SELECT account_id, resource_key, n FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(account_id, resource_key, n)
 WHERE (SELECT n FROM locked) >= 0
 ORDER BY account_id, resource_key
ON CONFLICT (account_id, resource_key) DO UPDATE SET sequence = r.sequence + excluded.sequence
RETURNING account_id, resource_key, sequence`;

// DO NOTHING on the idempotency index: if another process holds the same key (committed, or
// committing: the insert waits for it), the row is skipped and left out of RETURNING. Keys are
// inserted in sorted order so two batches sharing several keys wait on each other in one order.
const EVENTS_SQL = `
INSERT INTO events (id, account_id, idempotency_key, type, occurred_at, received_at, project_id, resource_key, sequence, body)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::text[])
  AS t(id, account_id, idempotency_key, type, occurred_at, received_at, project_id, resource_key, sequence, body)
 ORDER BY account_id, idempotency_key
ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id`;

// Ordered as the endpoints are now ($6: the batch's endpoints, read once; see SEQUENCES_SQL for
// why this is their setting at commit): one matched as unordered and marked leased is then
// created pending instead, and its id comes back. An endpoint deleted since it was matched gets
// no delivery, and the ids of its leased ones come back too (see purgeDeletedEndpoints for one
// deleted while this statement runs). Both are read through IN over the endpoints (a hashed
// subplan), not a join: a generic plan hashed the batch's rows to join them and inserted them in
// hash order, scattered over every index of deliveries, 8-10 µs more server CPU per delivery
// (node bench/purge-cost.mjs --ingest).
const DELIVERIES_SQL = `
WITH present AS MATERIALIZED (
  SELECT e.id, e.ordering = 'per_resource' AS per_resource FROM endpoints e WHERE e.id = ANY ($6::text[])
), rows AS (
  SELECT t.*, t.endpoint_id IN (SELECT id FROM present) AS present,
         t.resource_key IS NOT NULL AND t.endpoint_id IN (SELECT id FROM present WHERE per_resource) AS ordered
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $7::text[], $8::bigint[], $9::boolean[])
      AS t(id, account_id, event_id, endpoint_id, event_type, resource_key, sequence, leased)
), ins AS (
  INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, ordered, resource_key, sequence,
                          lease_owner, lease_until, created_at, updated_at)
  SELECT id, account_id, event_id, endpoint_id, event_type, CASE WHEN leased AND NOT ordered THEN 'in_flight' ELSE 'pending' END, 0, $10, ordered,
         resource_key, sequence, CASE WHEN leased AND NOT ordered THEN $11::text END, CASE WHEN leased AND NOT ordered THEN $12::bigint END, $10, $10
    FROM rows WHERE present
)
SELECT id, present FROM rows WHERE NOT present OR (leased AND ordered)`;

const EXISTING_KEYS_SQL = `
SELECT e.account_id, e.idempotency_key, e.id, (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id) AS n
  FROM unnest($1::text[], $2::text[]) AS k(account_id, idempotency_key)
  JOIN events e ON e.account_id = k.account_id AND e.idempotency_key = k.idempotency_key`;

/** Takes out of `leased` (per item) the deliveries of `ids`: ordered since they were matched, a claim takes them in their order. */
function dropLeased(leased: Map<number, ClaimedDelivery[]>, ids: ReadonlySet<string>): void {
  for (const [i, list] of leased) {
    const kept = list.filter((d) => !ids.has(d.id));
    if (kept.length > 0) leased.set(i, kept);
    else leased.delete(i);
  }
}

/** Parameter types of an inbox_requests row (INSERT ... SELECT does not infer them from the columns). */
const INBOX_REQUEST_TYPES: Record<(typeof INBOX_REQUEST_COLUMNS)[number], string> = {
  id: 'text',
  inbox_id: 'text',
  account_id: 'text',
  method: 'text',
  path: 'text',
  query: 'text',
  headers: 'text',
  body: 'bytea',
  body_size: 'integer',
  truncated: 'boolean',
  source_ip: 'text',
  received_at: 'bigint',
  signature: 'text',
  relay_message_id: 'text',
};

interface ClaimRow {
  id: string;
  account_id: string;
  event_id: string;
  endpoint_id: string;
  attempts: number;
  resource_key: string | null;
  sequence: string | null;
  created_at: string;
  type: string;
  body: string;
  project_id: string | null;
  claim_no: number;
}

/** Deadlock detected, serialization failure: the server rolled the transaction back, so running it again is safe. */
const RETRYABLE_CODES: ReadonlySet<unknown> = new Set(['40P01', '40001']);
const TX_ATTEMPTS = 4;

/** The server refused for lack of disk space, memory or connections (SQLSTATE 53100, 53200, 53300). */
function resourceRefusal(err: unknown): boolean {
  return err instanceof Error && RESOURCE_CODES.has((err as { code?: unknown }).code);
}
const RESOURCE_CODES = new Set<unknown>(['53100', '53200', '53300']);
/** How often statements that go through while writes are refused may start a probe. */
const PROBE_EVERY_MS = 1_000;

/** Thrown inside a transaction to roll it back when a conditional endpoint write finds the endpoint changed. */
class NotWritten extends Error {}

/** False for a transaction rolled back by NotWritten. */
async function notWrittenIsFalse(done: Promise<boolean>): Promise<boolean> {
  return done.catch((err: unknown) => {
    if (err instanceof NotWritten) return false;
    throw err;
  });
}

function retryable(err: unknown): boolean {
  return err instanceof Error && RETRYABLE_CODES.has((err as { code?: unknown }).code);
}

/** Ids are lowercase ASCII, so code-unit order is also the database's ORDER BY id. */
function byDeliveryId(x: Settlement, y: Settlement): number {
  return x.deliveryId < y.deliveryId ? -1 : x.deliveryId > y.deliveryId ? 1 : 0;
}

/** Where a sweep for events without deliveries goes on from: after this (received_at, id). */
interface SweepPosition {
  readonly receivedAt: number;
  readonly id: string;
}

interface SweepRow {
  deleted: string;
  examined: string;
  last_at: string | null;
  last_id: string | null;
}

const SWEEP_START: SweepPosition = { receivedAt: -1, id: '' };
/** Windows one prune call may walk: bounds its cost when the oldest events are mostly kept ones. */
const SWEEP_WINDOWS = 10;

function keyOf(accountId: string, key: string): string {
  return `${accountId}\u0000${key}`;
}

/** A recover's deliveries, with recoverParams() as $1–$8 ($6 its names, $7 its wildcards as LIKE patterns, $8 asOf). */
const RECOVER_WHERE = `account_id = $1 AND endpoint_id = $2 AND status = ANY($3::text[]) AND created_at >= $4
  AND ($5::bigint IS NULL OR created_at < $5) AND ($6::text[] IS NULL OR event_type = ANY($6::text[]) OR event_type LIKE ANY($7::text[]))
  AND ($8::bigint IS NULL OR updated_at <= $8)`;

function recoverParams(accountId: string, endpointId: string, scope: RecoverScope): unknown[] {
  const types = scope.eventTypes === null ? { names: null, prefixes: [] } : splitTypes(scope.eventTypes);
  return [accountId, endpointId, scope.statuses, scope.since, scope.until, types.names, types.prefixes.map(likePrefix), scope.asOf ?? null];
}

/** The LIKE pattern of the names starting with `prefix`: its _ and % are literal (custom names have _). */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
}

/**
 * The next chunk of a recovery ($9: cursor, $10: limit, $11: now), re-queued: its count and the
 * last id passed. A row locked now (a settle, a notice cleared, a retry, retention deleting it)
 * is waited for, in id order as settle locks: skipped, it was left behind the cursor for good,
 * counted in total but never re-queued. One that no longer qualifies once its lock
 * is released is passed over, and the LIMIT takes the next instead (it sits above the lock).
 * Ordered as the endpoint is (REQUEUED_ORDERED), read after the ordering lock advanceRecovery
 * takes, as an ingest reads it (SEQUENCES_SQL).
 */
const RECOVER_CHUNK_SQL = `WITH picked AS (
    SELECT id FROM deliveries WHERE ${RECOVER_WHERE} AND id > $9 ORDER BY id LIMIT $10 FOR UPDATE
  ), u AS (
    UPDATE deliveries SET status = 'pending', ordered = ${REQUEUED_ORDERED}, next_attempt_at = $11, updated_at = $11 FROM picked WHERE deliveries.id = picked.id RETURNING deliveries.id
  )
  SELECT COUNT(*) AS n, MAX(id) AS last FROM u`;

/** The recovery a request repeats ($1 account, $2 endpoint, $3 key, $4 request): by its key, or without one the same request still running. */
const EXISTING_RECOVERY_SQL = `SELECT * FROM recoveries WHERE account_id = $1 AND endpoint_id = $2
    AND CASE WHEN $3::text IS NULL THEN request = $4 AND status = 'running' ELSE idempotency_key = $3 END
  ORDER BY id LIMIT 1`;

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly sealer: Sealer;
  private readonly channel: string;
  private readonly inboxChannel: string;
  private readonly schema: string | undefined;
  /** Where retention's sweep for events without deliveries goes on from (sweepEvents). */
  private eventSweep: SweepPosition = SWEEP_START;
  /** Whether, since when and how often the server has refused writes for lack of resources. */
  private readonly refusals: WriteRefusals;
  /** The write tried while writes are refused, if one is under way, and when traffic last started one. */
  private probing: Promise<unknown> | undefined;
  private probedAt = 0;

  constructor(options: PostgresOptions) {
    this.refusals = new WriteRefusals(options.onWrites);
    this.sealer = options.sealer;
    this.schema = options.schema;
    this.channel = channelName(options.schema);
    this.inboxChannel = channelName(options.schema, INBOX_CHANNEL);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      // Set at connection start, so every pooled connection (and every reconnect) has it.
      options: searchPathOption(options.schema),
      application_name: 'herald',
      // A database that stops answering must not hold requests forever: waiting for a connection
      // (new, or a free one of the pool) fails after 10 s, and any statement after
      // statementTimeoutMs. The API answers both with 503 (store/unavailable.ts).
      connectionTimeoutMillis: 10_000,
      ...statementLimits(options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS),
      keepAlive: true,
    });
    // An idle pooled connection that dies (server restart, network) is reported here and
    // discarded by the pool; the next query opens a new one. Without a listener the 'error'
    // event would crash the process. Errors of queries in progress reach their callers.
    this.pool.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** The database server's clock (epoch ms): the one timeline of every process sharing it (app/database-clock.ts). */
  async serverTime(): Promise<number> {
    const row = await this.first<{ t: number }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t');
    return row!.t;
  }

  // ---- plumbing -----------------------------------------------------------------------

  private async rows<T>(sql: string, params: readonly unknown[] = [], db: Db = this.pool): Promise<T[]> {
    const result = await this.noted(db, db.query(sql, params as unknown[]));
    return result.rows as T[];
  }

  private async first<T>(sql: string, params: readonly unknown[] = [], db: Db = this.pool): Promise<T | undefined> {
    return (await this.rows<T>(sql, params, db))[0];
  }

  private async exec(sql: string, params: readonly unknown[] = [], db: Db = this.pool): Promise<number> {
    const result = await this.noted(db, db.query(sql, params as unknown[]));
    return result.rowCount ?? 0;
  }

  /** Hot paths use named statements: parsed and planned once per connection, not per call. */
  private async prepared<T>(name: string, sql: string, params: readonly unknown[], db: Db): Promise<T[]> {
    const result = await this.noted(db, db.query({ name, text: sql, values: params as unknown[] }));
    return result.rows as T[];
  }

  /**
   * A statement of its own (on the pool) whose refusal for lack of resources is noted; those of
   * a transaction are noted once, by tx().
   */
  private async noted<R>(db: Db, query: Promise<R>): Promise<R> {
    if (db !== this.pool) return query;
    try {
      const result = await query;
      if (this.refusals.active) this.probeLater();
      return result;
    } catch (err) {
      if (resourceRefusal(err)) this.refusals.refused(err as Error);
      throw err;
    }
  }

  /**
   * While writes are refused: whether the server takes one now that needs a new page on the disk
   * Herald's tables are on (a small write can still fit in a page already there). A temporary
   * table in the events table's tablespace gets a row, then the transaction is rolled back. The
   * error, or undefined once it went through (which ends the refusal).
   */
  private probeWrites(): Promise<unknown> {
    this.probing ??= (async () => {
      const client = await this.pool.connect().catch((err: unknown) => err as Error);
      if (client instanceof Error) return client;
      let failed: unknown;
      try {
        await client.query('BEGIN');
        await client.query(
          "SELECT set_config('temp_tablespaces', coalesce((SELECT quote_ident(t.spcname) FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE c.oid = to_regclass('events')), ''), true)",
        );
        await client.query('CREATE TEMPORARY TABLE herald_write_probe (x integer) ON COMMIT DROP');
        await client.query('INSERT INTO herald_write_probe VALUES (1)');
      } catch (err) {
        failed = err;
      }
      const rollback = await client.query('ROLLBACK').then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      client.release(rollback);
      if (failed === undefined) this.refusals.resumed();
      return failed;
    })().finally(() => (this.probing = undefined));
    return this.probing;
  }

  /**
   * A statement went through while writes were refused: whether they all do again, without
   * waiting for it, at most once a second (each probe creates a temporary table).
   */
  private probeLater(): void {
    const now = Date.now();
    if (now - this.probedAt < PROBE_EVERY_MS) return;
    this.probedAt = now;
    void this.probeWrites();
  }

  /** A transaction, run again (from the start, a few times) when the server aborts it as a deadlock or serialization failure. */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.txOnce(fn);
        if (this.refusals.active) this.probeLater();
        return result;
      } catch (err) {
        if (resourceRefusal(err)) this.refusals.refused(err as Error);
        if (attempt >= TX_ATTEMPTS || !retryable(err)) throw err;
        // Jittered, so the two sides of a deadlock do not meet again in step.
        await sleep(Math.random() * 20 * attempt);
      }
    }
  }

  private async txOnce<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection lost mid-transaction fails the query in progress, then the client also emits
    // 'error' when its socket closes. The pool listens only while the client is idle, and an
    // 'error' event nobody listens to would end the process.
    const lost = (): void => undefined;
    client.on('error', lost);
    const release = (err?: Error) => {
      client.removeListener('error', lost);
      client.release(err);
    };
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await commit(client);
      release();
      return result;
    } catch (err) {
      // A connection whose ROLLBACK fails is in an unknown state: destroy it rather than pool it.
      const rollback = await client.query('ROLLBACK').then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      release(rollback);
      throw err;
    }
  }

  private async notify(db: Db): Promise<void> {
    // pg_notify rather than NOTIFY: the channel is a parameter. Delivered at commit, and
    // PostgreSQL folds identical notifications of one transaction into one.
    await db.query('SELECT pg_notify($1, $2)', [this.channel, '']);
  }

  // ---- schema -------------------------------------------------------------------------

  /** Readiness asks this: while the server refuses writes the store is not ready, so a write is tried first. */
  async schemaState(): Promise<SchemaState> {
    const refusal = this.refusals.active ? await this.probeWrites() : undefined;
    if (refusal !== undefined) throw refusal;
    const latest = loadMigrations('postgres').at(-1)?.version ?? 0;
    // Read-only: a database never migrated has no schema_migrations table yet.
    const present = await this.first<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
    if (!present?.t) return { current: 0, latest };
    const row = await this.first<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    return { current: row?.v ?? 0, latest };
  }

  async opensCredentials(): Promise<boolean> {
    return opens(this.sealer, (await this.first<{ sealed: string }>(ONE_SEALED_SQL))?.sealed);
  }

  async migrate(): Promise<SchemaState> {
    const migrations = loadMigrations('postgres');
    /** The migration being applied, and the version the run started from, to name a failure. */
    let running: { migration: Migration; from: number } | undefined;
    try {
      await this.tx(async (c) => {
        running = undefined;
        // No time limit: a migration rewriting a large table, or a process waiting for the lock
        // while another one runs it, may take longer than any statement should. Cut short, it
        // would roll back and fail again at every start.
        // (pg reads query_timeout from a query's config too; its types do not list it.)
        const unlimited = (text: string, values?: unknown[]) => {
          const query: pg.QueryConfig & { query_timeout: number } = { text, values, query_timeout: NO_ANSWER_LIMIT_MS };
          return c.query(query);
        };
        await unlimited('SET LOCAL statement_timeout = 0');
        // Several herald migrate may run at once (deploys racing): one applies, the others wait and
        // then find nothing left to do. DDL is transactional, so a failed migration leaves no trace.
        // The lock names the schema as configured: it may not exist yet, and creating it races too.
        await unlimited("SELECT pg_advisory_xact_lock(hashtext('herald_migrate:' || coalesce($1::text, current_schema()::text, '')))", [this.schema ?? null]);
        // A named schema that does not exist yet is created (its name is a checked identifier).
        if (this.schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS ${checkSchemaName(this.schema)}`);
        await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
        const row = await this.first<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations', [], c);
        const current = row?.v ?? 0;
        for (const m of migrations) {
          if (m.version <= current) continue;
          running = { migration: m, from: current };
          await unlimited(m.sql);
          await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        }
        running = undefined;
      });
    } catch (err) {
      if (running === undefined) throw err;
      const { migration, from } = running;
      // The pending migrations run in one transaction: the ones before it in this run go too.
      throw new MigrationError(migration, err, `this run was rolled back; the schema stays at version ${from}`);
    }
    return this.schemaState();
  }

  // ---- accounts, projects, keys -------------------------------------------------------

  async createAccount(input: { name: string; rateLimitPerSecond?: number | null; linkBaseUrl?: string | null; id?: string }): Promise<Account> {
    const account: Account = {
      id: input.id ?? newId('acc'),
      name: input.name,
      rateLimitPerSecond: input.rateLimitPerSecond ?? null,
      linkBaseUrl: input.linkBaseUrl ?? null,
      createdAt: Date.now(),
    };
    await this.exec('INSERT INTO accounts (id, name, rate_limit_per_second, link_base_url, created_at) VALUES ($1, $2, $3, $4, $5)', [
      account.id,
      account.name,
      account.rateLimitPerSecond,
      account.linkBaseUrl,
      account.createdAt,
    ]);
    return account;
  }

  async getAccount(id: string): Promise<Account | undefined> {
    const row = await this.first<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]);
    return row && toAccount(row);
  }

  async updateAccount(a: Account): Promise<void> {
    await this.exec(
      'UPDATE accounts SET name = $1, rate_limit_per_second = $2, link_base_url = $3, endpoints_version = endpoints_version + 1 WHERE id = $4',
      [a.name, a.rateLimitPerSecond, a.linkBaseUrl, a.id],
    );
  }

  async listAccounts(page: PageRequest): Promise<Page<Account>> {
    const rows = await this.rows<AccountRow>('SELECT * FROM accounts WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2', [
      page.cursor ?? null,
      page.limit + 1,
    ]);
    return toPage(rows, page.limit, toAccount);
  }

  async createProject(accountId: string, name: string, id?: string): Promise<Project> {
    const project: Project = { id: id ?? newId('prj'), accountId, name, createdAt: Date.now() };
    await this.exec('INSERT INTO projects (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)', [project.id, accountId, name, project.createdAt]);
    return project;
  }

  async getProject(accountId: string, id: string): Promise<Project | undefined> {
    const row = await this.first<ProjectRow>('SELECT * FROM projects WHERE account_id = $1 AND id = $2', [accountId, id]);
    return row && toProject(row);
  }

  async listProjects(accountId: string, page: PageRequest): Promise<Page<Project>> {
    const rows = await this.rows<ProjectRow>(
      'SELECT * FROM projects WHERE account_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3',
      [accountId, page.cursor ?? null, page.limit + 1],
    );
    return toPage(rows, page.limit, toProject);
  }

  async createEventType(type: CustomEventType): Promise<boolean> {
    return (await this.exec(`INSERT INTO event_types (${EVENT_TYPE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, eventTypeValues(type))) > 0;
  }

  async updateEventType(type: CustomEventType): Promise<boolean> {
    const [accountId, name, description, schema, , updatedAt] = eventTypeValues(type);
    return (await this.exec('UPDATE event_types SET description = $3, schema = $4, updated_at = $5 WHERE account_id = $1 AND name = $2', [accountId, name, description, schema, updatedAt])) > 0;
  }

  async getEventTypes(accountId: string, names: readonly string[]): Promise<CustomEventType[]> {
    if (names.length === 0) return [];
    const rows = await this.rows<EventTypeRow>('SELECT * FROM event_types WHERE account_id = $1 AND name = ANY($2::text[]) ORDER BY name', [accountId, names]);
    return rows.map(toEventType);
  }

  async listEventTypes(accountId: string): Promise<CustomEventType[]> {
    return (await this.rows<EventTypeRow>('SELECT * FROM event_types WHERE account_id = $1 ORDER BY name', [accountId])).map(toEventType);
  }

  async listEventTypePage(accountId: string, page: EventTypePageRequest): Promise<Page<ListedEventType>> {
    const sql = `SELECT ${eventTypePageColumns(page.schemas)} FROM event_types WHERE account_id = $1 AND name > $2 ORDER BY name LIMIT $3`;
    return toEventTypePage(await this.rows<EventTypeRow>(sql, [accountId, page.cursor ?? '', page.limit + 1]), page.limit);
  }

  async deleteEventType(accountId: string, name: string): Promise<boolean> {
    return (await this.exec('DELETE FROM event_types WHERE account_id = $1 AND name = $2', [accountId, name])) > 0;
  }

  async createApiKey(input: NewApiKey): Promise<ApiKeyRecord> {
    const id = newId('key');
    const createdAt = Date.now();
    await this.exec(
      'INSERT INTO api_keys (id, account_id, name, role, operator, hash, prefix, source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
      [id, input.accountId, input.name, input.role, input.operator, input.hash, input.prefix, input.source, createdAt],
    );
    return { id, accountId: input.accountId, name: input.name, role: input.role, operator: input.operator, prefix: input.prefix, createdAt };
  }

  async findApiKeyByHash(hash: string): Promise<(ApiKeyRecord & { hash: string }) | undefined> {
    const row = await this.first<ApiKeyRow>('SELECT * FROM api_keys WHERE hash = $1', [hash]);
    return row && toApiKey(row);
  }

  async listApiKeys(accountId: string, page: PageRequest): Promise<Page<ApiKeyRecord>> {
    const rows = await this.rows<ApiKeyRow>(
      'SELECT * FROM api_keys WHERE account_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3',
      [accountId, page.cursor ?? null, page.limit + 1],
    );
    return toPage(rows, page.limit, (r) => {
      const { hash: _hash, ...rest } = toApiKey(r);
      return rest;
    });
  }

  async deleteApiKey(accountId: string, id: string): Promise<boolean> {
    return (await this.exec('DELETE FROM api_keys WHERE account_id = $1 AND id = $2', [accountId, id])) > 0;
  }

  async syncEnvKey(hash: string): Promise<boolean> {
    await this.exec("DELETE FROM api_keys WHERE source = 'env' AND hash <> $1", [hash]);
    return (await this.first('SELECT 1 FROM api_keys WHERE hash = $1', [hash])) !== undefined;
  }

  async countOperatorKeys(): Promise<number> {
    const row = await this.first<{ n: string }>('SELECT COUNT(*) AS n FROM api_keys WHERE operator');
    return num(row?.n ?? 0);
  }

  async createUiSession(s: NewUiSession): Promise<void> {
    // Logins are rare: each one also clears out the sessions that have expired since the last.
    await this.exec('DELETE FROM ui_sessions WHERE expires_at <= $1', [s.createdAt]);
    await this.exec('INSERT INTO ui_sessions (token_hash, api_key_id, sealed_key, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      s.tokenHash,
      s.apiKeyId,
      this.sealer.seal(s.key),
      s.createdAt,
      s.expiresAt,
    ]);
  }

  async findUiSession(tokenHash: string, now: number): Promise<UiSession | undefined> {
    const row = await this.first<UiSessionRow>('SELECT api_key_id, sealed_key, expires_at FROM ui_sessions WHERE token_hash = $1 AND expires_at > $2', [tokenHash, now]);
    return row && toUiSession(row, this.sealer);
  }

  async deleteUiSession(tokenHash: string): Promise<void> {
    await this.exec('DELETE FROM ui_sessions WHERE token_hash = $1', [tokenHash]);
  }

  async recordAuthFailure(scope: string, address: string, now: number, windowMs: number): Promise<{ since: number; failures: number }> {
    const row = await this.first<{ since: string; failures: number }>(recordAuthFailureSql((n) => `$${n}`), [scope, address, now, now - windowMs]);
    return { since: num(row!.since), failures: num(row!.failures) };
  }

  async pruneAuthFailures(before: number): Promise<number> {
    return this.exec('DELETE FROM auth_failures WHERE since < $1', [before]);
  }

  // ---- endpoints ----------------------------------------------------------------------

  /** The row as pg parameters: flags become BOOLEAN (rows.ts produces SQLite's 0/1). */
  private endpointParams(e: Endpoint): Record<string, unknown> {
    const row = endpointToRow(e, this.sealer);
    return { ...row, disabled: Boolean(row.disabled) };
  }

  async createEndpoint(e: Endpoint): Promise<void> {
    const row = this.endpointParams(e);
    const cols = Object.keys(row);
    // One statement, so atomic without a transaction: insert and bump the account's version.
    await this.exec(
      `WITH ins AS (
         INSERT INTO endpoints (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING account_id
       )
       UPDATE accounts SET endpoints_version = endpoints_version + 1 WHERE id IN (SELECT account_id FROM ins)`,
      cols.map((c) => row[c]),
    );
  }

  async updateEndpoint(e: Endpoint, before: Endpoint, expected?: EndpointExpected): Promise<boolean> {
    const update = (db: Db) => this.writeEndpoint(e, before, expected, db);
    if (e.ordering === before.ordering) return update(this.pool);
    // Deliveries before the endpoint, the order settle locks them in.
    return notWrittenIsFalse(
      this.tx(async (c) => {
        // Waits for the ingests committing deliveries of the endpoint as it was, so the statement
        // after it sees theirs too; those after it read the new setting (SEQUENCES_SQL).
        await c.query(`SELECT pg_advisory_xact_lock(${ORDERING_LOCK(ORDERING_BUCKET('$1::text'))})`, [e.id]);
        await this.exec(numbered(FOLLOW_ORDERING, 1), [e.ordering === 'per_resource', e.id, e.id], c);
        // Not written: the deliveries' re-ordering is rolled back with it.
        if (!(await update(c))) throw new NotWritten();
        return true;
      }),
    );
  }

  /** The endpoint's row as updateEndpoint writes it, on `db`: whether it was written. */
  private async writeEndpoint(e: Endpoint, before: Endpoint, expected: EndpointExpected | undefined, db: Db): Promise<boolean> {
    const changes: Record<string, unknown> = endpointChanges(before, e, this.sealer);
    if ('disabled' in changes) changes.disabled = Boolean(changes.disabled);
    const columns = Object.keys(changes);
    const values = columns.map((c) => changes[c]);
    // updated_at moves forward on every write, also two in one millisecond: `expected` compares it.
    const sets = columns.map((c, i) => (c === 'updated_at' ? `updated_at = GREATEST($${i + 4}::bigint, updated_at + 1)` : `${c} = $${i + 4}`));
    // The condition is in the UPDATE's WHERE: a racing writer's UPDATE waits for the row and
    // then finds updated_at moved, so it writes nothing.
    return (
      (await this.exec(
        `WITH upd AS (
           UPDATE endpoints SET ${sets.join(', ')} WHERE id = $1 AND account_id = $2 AND ($3::bigint IS NULL OR updated_at = $3::bigint) RETURNING account_id
         )
         UPDATE accounts SET endpoints_version = endpoints_version + 1 WHERE id IN (SELECT account_id FROM upd)`,
        [e.id, e.accountId, expected?.updatedAt ?? null, ...values],
        db,
      )) > 0
    );
  }

  async rotateSecretOnce(rotated: Endpoint, before: Endpoint, key: string, secretSha256: string): Promise<'rotated' | SecretRotation | undefined> {
    return this.tx(async (c) => {
      // A racing request with the same key waits here for this one's commit, then finds its row.
      const recorded = await this.exec(
        numbered(RECORD_ROTATION_SQL, 1),
        [secretSha256, rotated.previousSecretExpiresAt, rotated.updatedAt, rotated.accountId, rotated.id, key],
        c,
      );
      if (recorded === 0) {
        const row = await this.first<RotationRow>(numbered(`${EARLIER_ROTATION_SQL} ?`, 1), [rotated.accountId, rotated.id, key], c);
        return row && toRotation(row);
      }
      await this.writeEndpoint(rotated, before, undefined, c);
      return 'rotated';
    });
  }

  async disableEndpoint(accountId: string, id: string, reason: string, now: number): Promise<{ endpoint: Endpoint; disabledNow: boolean } | undefined> {
    const disabledNow =
      (await this.exec(
        `WITH upd AS (
           UPDATE endpoints SET disabled = TRUE, disabled_reason = $3, updated_at = GREATEST($4::bigint, updated_at + 1) WHERE account_id = $1 AND id = $2 AND NOT disabled RETURNING account_id
         )
         UPDATE accounts SET endpoints_version = endpoints_version + 1 WHERE id IN (SELECT account_id FROM upd)`,
        [accountId, id, reason, now],
      )) > 0;
    const endpoint = await this.getEndpoint(accountId, id);
    return endpoint && { endpoint, disabledNow };
  }

  async getEndpoint(accountId: string, id: string): Promise<Endpoint | undefined> {
    const row = await this.first<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM endpoints WHERE account_id = $1 AND id = $2`, [accountId, id]);
    return row && toEndpoint(row, this.sealer);
  }

  async getEndpointsByIds(ids: readonly string[]): Promise<Endpoint[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM endpoints WHERE id = ANY($1::text[])`, [ids]);
    return rows.map((r) => toEndpoint(r, this.sealer));
  }

  async listEndpoints(accountId: string, page: PageRequest & { profile?: string }): Promise<Page<Endpoint>> {
    const rows = await this.rows<EndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS} FROM endpoints
        WHERE account_id = $1 AND ($2::text IS NULL OR id < $2) AND ($3::text IS NULL OR profile = $3)
        ORDER BY id DESC LIMIT $4`,
      [accountId, page.cursor ?? null, page.profile ?? null, page.limit + 1],
    );
    return toPage(rows, page.limit, (r) => toEndpoint(r, this.sealer));
  }

  async activeEndpoints(accountId: string): Promise<Endpoint[]> {
    const rows = await this.rows<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM endpoints WHERE account_id = $1 AND NOT disabled`, [accountId]);
    return rows.map((r) => toEndpoint(r, this.sealer));
  }

  /**
   * The endpoint goes at once, in one statement; its history goes later, in chunks
   * (purgeDeletedEndpoints): deleting 1,000,000 deliveries took 12 to 27 s, longer than clients
   * wait for an answer. `expected` is checked in the same statement.
   */
  async deleteEndpoint(accountId: string, id: string, expected?: EndpointExpected): Promise<boolean> {
    return (await this.exec(DELETE_ENDPOINT_SQL, [accountId, id, expected?.updatedAt ?? null, Date.now()])) > 0;
  }

  /**
   * A chunk of the endpoint's deliveries after the last one deleted (the index walk starts past
   * the dead entries of earlier chunks), committed whole with their attempts. An ingest that read
   * the endpoint just before its deletion may still commit deliveries of it (it checks the
   * endpoint in a statement of its own, after its first write): so when the walk finds nothing
   * left, the purge takes a horizon (the next transaction id) and forgets the endpoint only once
   * every transaction before it has ended, after a last sweep from the start.
   */
  async purgeDeletedEndpoints(limit: number): Promise<{ deliveries: number; finished: number }> {
    return this.tx(async (c) => {
      const next = await this.first<{ endpoint_id: string; account_id: string; after_id: string; settled: boolean }>(NEXT_PURGE_SQL, [], c);
      if (!next) return { deliveries: 0, finished: 0 };
      const ids = await this.deleteDeliveriesOf(c, next.account_id, next.endpoint_id, next.after_id, limit);
      const after = ids.at(-1) ?? next.after_id;
      if (ids.length === limit || !next.settled) {
        const horizon = ids.length === limit ? 'horizon' : 'coalesce(horizon, pg_snapshot_xmax(pg_current_snapshot()))';
        await c.query(`UPDATE endpoint_purges SET after_id = $2, horizon = ${horizon} WHERE endpoint_id = $1`, [next.endpoint_id, after]);
        return { deliveries: ids.length, finished: 0 };
      }
      const swept = await this.deleteDeliveriesOf(c, next.account_id, next.endpoint_id, '', null);
      await c.query('DELETE FROM endpoint_purges WHERE endpoint_id = $1', [next.endpoint_id]);
      return { deliveries: ids.length + swept.length, finished: 1 };
    });
  }

  /**
   * Deletes the endpoint's deliveries after id `after`, up to `limit` (null: all), with their
   * attempts, in transaction `c`; their ids. Deliveries first (lock order deliveries ->
   * endpoints, as in settle). Locking them waits out any settle in progress and keeps later ones
   * from writing (a settle finding its delivery gone writes nothing), so the attempts delete,
   * a statement of its own and so a fresh snapshot, sees every attempt there will ever be for them.
   */
  private async deleteDeliveriesOf(c: pg.PoolClient, accountId: string, endpointId: string, after: string, limit: number | null): Promise<string[]> {
    const ids = (await this.rows<{ id: string }>(LOCK_DELIVERIES_OF_SQL, [accountId, endpointId, after, limit], c)).map((r) => r.id);
    if (ids.length === 0) return ids;
    await c.query('DELETE FROM attempts WHERE delivery_id = ANY($1::text[])', [ids]);
    await c.query('DELETE FROM deliveries WHERE id = ANY($1::text[])', [ids]);
    return ids;
  }

  async endpointsVersion(accountId: string): Promise<number> {
    const row = await this.first<{ v: string }>('SELECT endpoints_version AS v FROM accounts WHERE id = $1', [accountId]);
    return num(row?.v ?? 0);
  }

  // ---- ingest -------------------------------------------------------------------------

  async ingest(items: readonly IngestItem[], now: number, lease?: IngestLease): Promise<IngestOutcome[]> {
    if (items.length === 0) return [];
    return this.tx(async (c) => {
      const outcomes: (IngestOutcome | undefined)[] = new Array<IngestOutcome | undefined>(items.length);

      // A key repeated within the batch follows its first occurrence, whatever becomes of it.
      const firstOfKey = new Map<string, number>();
      const follows = new Map<number, number>();
      items.forEach((item, i) => {
        const key = item.event.idempotencyKey;
        if (key === undefined) return;
        const k = keyOf(item.accountId, key);
        const first = firstOfKey.get(k);
        if (first === undefined) firstOfKey.set(k, i);
        else follows.set(i, first);
      });

      // Keys stored by earlier batches: answered without rendering or numbering anything.
      if (firstOfKey.size > 0) {
        const known = await this.existingKeys(c, [...firstOfKey.values()].map((i) => items[i]));
        for (const i of firstOfKey.values()) {
          const hit = known.get(keyOf(items[i].accountId, items[i].event.idempotencyKey!));
          if (hit) outcomes[i] = hit;
        }
      }

      const fresh = items.map((_, i) => i).filter((i) => !follows.has(i) && outcomes[i] === undefined);
      if (fresh.length > 0) {
        const sequences = await this.assignSequences(c, fresh.map((i) => items[i]));
        const inserted = await this.insertEvents(c, fresh, sequences, items, now);

        // Lost a race to another process holding the same key: answer with its event. Its
        // sequence numbers stay unused (a gap: sequences are monotonic, not dense).
        const lost = fresh.filter((i) => !inserted.has(items[i].messageId));
        if (lost.length > 0) {
          const known = await this.existingKeys(c, lost.map((i) => items[i]));
          for (const i of lost) {
            const hit = known.get(keyOf(items[i].accountId, items[i].event.idempotencyKey ?? ''));
            // ON CONFLICT skipped the row only because a committed row holds the key.
            if (!hit) throw new Error(`event ${items[i].messageId} was neither inserted nor found by its idempotency key`);
            outcomes[i] = hit;
          }
        }

        const won = fresh.filter((i) => inserted.has(items[i].messageId));
        const { created, leased, skipped } = await this.insertDeliveries(c, won, sequences, fresh, items, now, lease);
        let pending = created;
        for (const i of won) {
          const outcome: IngestOutcome = { id: items[i].messageId, deliveries: items[i].endpoints.length - (skipped.get(i) ?? 0), duplicate: false };
          const lent = leased.get(i);
          outcomes[i] = lent ? { ...outcome, leased: lent } : outcome;
          pending -= lent?.length ?? 0;
        }
        // Leased deliveries are this process's own: other workers need not wake for them.
        if (pending > 0) await this.notify(c);
      }

      for (const [i, first] of follows) {
        const o = outcomes[first]!;
        outcomes[i] = { id: o.id, deliveries: o.deliveries, duplicate: true };
      }
      return outcomes.map((o) => o!);
    });
  }

  /** Events already holding these items' idempotency keys, as duplicate outcomes. */
  private async existingKeys(c: pg.PoolClient, keyed: readonly IngestItem[]): Promise<Map<string, IngestOutcome>> {
    const rows = await this.prepared<{ account_id: string; idempotency_key: string; id: string; n: string }>(
      'herald_existing_keys',
      EXISTING_KEYS_SQL,
      [keyed.map((it) => it.accountId), keyed.map((it) => it.event.idempotencyKey ?? '')],
      c,
    );
    return new Map(rows.map((r) => [keyOf(r.account_id, r.idempotency_key), { id: r.id, deliveries: num(r.n), duplicate: true }]));
  }

  /** Per-resource sequence of each item (null without a resource), in batch order. */
  private async assignSequences(c: pg.PoolClient, batch: readonly IngestItem[]): Promise<(number | null)[]> {
    const keys = batch.map((it) => {
      const resourceKey = resourceKeyOf(it.event.resource);
      return resourceKey === null ? null : { accountId: it.accountId, resourceKey, k: keyOf(it.accountId, resourceKey) };
    });
    const counts = new Map<string, { accountId: string; resourceKey: string; n: number }>();
    for (const key of keys) {
      if (key === null) continue;
      const entry = counts.get(key.k);
      if (entry) entry.n++;
      else counts.set(key.k, { accountId: key.accountId, resourceKey: key.resourceKey, n: 1 });
    }
    if (counts.size === 0) return keys.map(() => null);
    const entries = [...counts.values()];
    // The endpoints whose ordering these deliveries take (see SEQUENCES_SQL).
    const ordering = new Set(batch.flatMap((it) => (it.event.resource === undefined ? [] : it.endpoints.map((e) => e.id))));
    const rows = await this.prepared<{ account_id: string; resource_key: string; sequence: string }>(
      'herald_sequences',
      SEQUENCES_SQL,
      [entries.map((e) => e.accountId), entries.map((e) => e.resourceKey), entries.map((e) => e.n), [...ordering]],
      c,
    );
    // RETURNING gives the last number reserved; the batch's first is n - 1 below it.
    const next = new Map<string, number>();
    for (const r of rows) {
      const k = keyOf(r.account_id, r.resource_key);
      next.set(k, num(r.sequence) - counts.get(k)!.n + 1);
    }
    return keys.map((key) => {
      if (key === null) return null;
      const seq = next.get(key.k)!;
      next.set(key.k, seq + 1);
      return seq;
    });
  }

  /** Inserts the fresh events; returns the ids actually inserted (the others lost a key race). */
  private async insertEvents(
    c: pg.PoolClient,
    fresh: readonly number[],
    sequences: readonly (number | null)[],
    items: readonly IngestItem[],
    now: number,
  ): Promise<Set<string>> {
    const cols: unknown[][] = Array.from({ length: 10 }, () => []);
    fresh.forEach((i, j) => {
      const { event } = items[i];
      const row = [
        items[i].messageId,
        items[i].accountId,
        event.idempotencyKey ?? null,
        event.type,
        event.occurredAt ?? now,
        now,
        event.projectId ?? null,
        resourceKeyOf(event.resource),
        sequences[j],
        withSequence(items[i].body, sequences[j]),
      ];
      row.forEach((v, k) => cols[k].push(v));
    });
    const rows = await this.prepared<{ id: string }>('herald_insert_events', EVENTS_SQL, cols, c);
    return new Set(rows.map((r) => r.id));
  }

  private async insertDeliveries(
    c: pg.PoolClient,
    won: readonly number[],
    sequences: readonly (number | null)[],
    fresh: readonly number[],
    items: readonly IngestItem[],
    now: number,
    lease: IngestLease | undefined,
  ): Promise<{ created: number; leased: Map<number, ClaimedDelivery[]>; skipped: Map<number, number> }> {
    const position = new Map(fresh.map((i, j) => [i, j]));
    // Columns $1-$5 and $7-$9 of DELIVERIES_SQL, one entry per delivery.
    const cols: unknown[][] = Array.from({ length: 8 }, () => []);
    const endpointIds = new Set<string>();
    // Which item each delivery is of, for those an endpoint deleted meanwhile skips.
    const itemOf = new Map<string, number>();
    const leased = new Map<number, ClaimedDelivery[]>();
    for (const i of won) {
      const item = items[i];
      const resourceKey = resourceKeyOf(item.event.resource);
      const sequence = sequences[position.get(i)!];
      for (const endpoint of item.endpoints) {
        endpointIds.add(endpoint.id);
        const lent = leaseOf(endpoint, endpoint.ordered && resourceKey !== null, lease) !== undefined;
        const id = newId('dlv', now);
        const row = [id, item.accountId, item.messageId, endpoint.id, item.event.type, resourceKey, sequence, lent];
        row.forEach((v, k) => cols[k].push(v));
        itemOf.set(id, i);
        if (!lent) continue;
        const list = leased.get(i) ?? [];
        list.push(leasedDelivery(item, { id, endpointId: endpoint.id, body: withSequence(item.body, sequence), sequence, resourceKey, now }));
        leased.set(i, list);
      }
    }
    const skipped = new Map<number, number>();
    if (cols[0].length === 0) return { created: 0, leased, skipped };
    const params = [...cols.slice(0, 5), [...endpointIds], ...cols.slice(5), now, lease?.owner ?? null, lease?.until ?? null];
    const unleased = await this.prepared<{ id: string; present: boolean }>('herald_insert_deliveries', DELIVERIES_SQL, params, c);
    if (unleased.length > 0) dropLeased(leased, new Set(unleased.map((r) => r.id)));
    for (const r of unleased.filter((u) => !u.present)) {
      const i = itemOf.get(r.id)!;
      skipped.set(i, (skipped.get(i) ?? 0) + 1);
    }
    return { created: cols[0].length - unleased.filter((r) => !r.present).length, leased, skipped };
  }

  // ---- queue --------------------------------------------------------------------------

  async claim(req: ClaimRequest): Promise<ClaimedDelivery[]> {
    if (req.limit <= 0) return [];
    // One statement, so one implicit transaction: the lock, the lease and the read commit together.
    const rows = await this.prepared<ClaimRow>(
      'herald_claim',
      CLAIM_SQL,
      [req.now, req.excludeEndpoints, req.limit, req.owner, req.now + req.leaseMs, Math.min(req.perEndpointLimit ?? req.limit, req.limit), JSON.stringify(req.endpointLimits ?? {})],
      this.pool,
    );
    return rows.map((r) => ({
      id: r.id,
      accountId: r.account_id,
      eventId: r.event_id,
      endpointId: r.endpoint_id,
      attempts: num(r.attempts),
      claimNo: num(r.claim_no),
      eventType: r.type,
      body: r.body,
      sequence: numOrNull(r.sequence),
      resourceKey: r.resource_key,
      projectId: r.project_id,
      createdAt: num(r.created_at),
    }));
  }

  async settle(settlements: readonly Settlement[], now: number, failingGapMs = DEFAULT_FAILING_GAP_MS): Promise<string[]> {
    if (settlements.length === 0) return [];
    // A delivery settled twice in one batch: the first wins, as it would in sequence (the
    // second finds it no longer in flight). UPDATE ... FROM would pick one arbitrarily.
    const seen = new Set<string>();
    const repeated: string[] = [];
    // In id order, the order deleteEndpoint locks them in: the UPDATEs below lock as they walk
    // their unnest()ed arrays, and the opposite order deadlocks with a delete.
    const unique = settlements.filter((s) => (seen.has(s.deliveryId) ? !repeated.push(s.deliveryId) : seen.add(s.deliveryId))).sort(byDeliveryId);
    const releases = unique.filter((s): s is Release => s.outcome === 'release');
    const done = unique.filter((s): s is Done => s.outcome !== 'release');
    const refused = await this.tx(async (c) => {
      const out: string[] = [];
      if (releases.length > 0 && done.length > 0) await c.query(LOCK_SETTLED_SQL, [unique.map((s) => s.deliveryId)]);
      if (releases.length > 0) {
        const released = await this.prepared<{ id: string }>(
          'herald_release',
          RELEASE_SQL,
          [releases.map((s) => s.deliveryId), releases.map((s) => s.owner), releases.map((s) => s.nextAttemptAt), now, releases.map((s) => s.claimNo)],
          c,
        );
        const ids = new Set(released.map((r) => r.id));
        for (const s of releases) if (!ids.has(s.deliveryId)) out.push(s.deliveryId);
      }
      if (done.length === 0) return out;
      const a = done.map((s) => s.attempt);
      const rows = await this.prepared<{ endpoint_id: string | null; ok: boolean; first_at: string; refused: string | null }>(
        'herald_settle',
        SETTLE_SQL,
        [
          done.map((s) => s.deliveryId),
          done.map((s) => s.owner),
          done.map((s) => (s.outcome === 'retry' ? 'pending' : s.outcome)),
          done.map((s) => (s.outcome === 'retry' ? s.nextAttemptAt : null)),
          a.map((x) => x.statusCode),
          a.map((x) => (x.errorKind === null ? null : `${x.errorKind}: ${x.errorMessage ?? ''}`.slice(0, 500))),
          a.map((x) => newId('atm', x.startedAt)),
          a.map((x) => x.attemptNo),
          a.map((x) => x.startedAt),
          a.map((x) => x.durationMs),
          a.map((x) => x.errorKind),
          a.map((x) => x.errorMessage),
          a.map((x) => JSON.stringify(x.requestHeaders)),
          a.map((x) => x.responseBody),
          now,
          done.map(recordedNotice),
          failingGapMs,
          done.map((s) => s.claimNo),
        ],
        c,
      );
      const health = rows.filter((r) => r.refused === null);
      for (const r of rows) if (r.refused !== null) out.push(r.refused);
      if (health.length > 0) {
        await this.prepared('herald_health', HEALTH_SQL, [health.map((h) => h.endpoint_id), health.map((h) => h.ok), now, health.map((h) => h.first_at)], c);
      }
      return out;
    });
    return repeated.concat(refused);
  }

  async reserveRate(limits: readonly SharedRateLimit[], now: number): Promise<number> {
    const { keys: unique, single } = keysToReserve(limits);
    if (single) {
      const { key, interval, tolerance } = single;
      // One atomic statement: concurrent workers serialise on the row, each getting its own slot.
      const row = await this.first<{ tat: number }>(
        'INSERT INTO rate_limits (key, tat) VALUES ($1, $2::float8 + $3::float8) ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2::float8) + $3::float8 RETURNING tat',
        [key, now, interval],
      );
      return Math.max(0, Number(row!.tat) - interval - tolerance - now);
    }
    if (unique.length === 0) return 0;
    const keys = unique.map((l) => l.key);
    return this.tx(async (c) => {
      // The keys' rows are locked in key order (the no-op update locks each as it goes), so two
      // workers reserving overlapping keys wait for each other instead of deadlocking.
      const rows = await this.rows<{ key: string; tat: number }>(
        'INSERT INTO rate_limits (key, tat) SELECT unnest($1::text[]), 0 ON CONFLICT (key) DO UPDATE SET tat = rate_limits.tat RETURNING key, tat',
        [keys],
        c,
      );
      const stored = new Map(rows.map((r) => [r.key, Number(r.tat)]));
      const { delayMs, tats } = reserveAcross(unique, (key) => stored.get(key), now);
      await this.rows('UPDATE rate_limits r SET tat = v.tat FROM unnest($1::text[], $2::float8[]) AS v(key, tat) WHERE r.key = v.key', [keys, tats], c);
      return delayMs;
    });
  }

  async prune(before: number, limit: number): Promise<{ deliveries: number; events: number }> {
    const { result, sweep } = await this.tx(async (c) => {
      const gone = await this.prunableDeliveries(c, before, limit);
      const ids = gone.map((r) => r.id);
      await this.exec('DELETE FROM attempts WHERE delivery_id = ANY($1::text[])', [ids], c);
      const deliveries = await this.exec('DELETE FROM deliveries WHERE id = ANY($1::text[])', [ids], c);
      // Their events go with them: found by id, not by looking for events without deliveries.
      const events = await this.exec(PRUNE_EVENTS_OF_SQL, [[...new Set(gone.map((r) => r.event_id))], before], c);
      const swept = events < limit ? await this.sweepEvents(c, before, limit - events) : { deleted: 0, next: this.eventSweep };
      await this.exec(
        `DELETE FROM attempt_minutes WHERE (account_id, endpoint_id, minute) IN (
           SELECT account_id, endpoint_id, minute FROM attempt_minutes WHERE minute < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [before - ROLLUP_EXTRA_MS, limit],
        c,
      );
      await this.exec(
        "DELETE FROM recoveries WHERE id IN (SELECT id FROM recoveries WHERE status = 'done' AND finished_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        [before, limit],
        c,
      );
      await this.exec(
        `DELETE FROM secret_rotations WHERE (account_id, endpoint_id, idempotency_key) IN (
           SELECT account_id, endpoint_id, idempotency_key FROM secret_rotations WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [before, limit],
        c,
      );
      return { result: { deliveries, events: events + swept.deleted }, sweep: swept.next };
    });
    // Only once committed: a rolled-back sweep must look at its window again.
    this.eventSweep = sweep;
    return result;
  }

  /** Old succeeded deliveries, and orphans of deleted endpoints, locked for deletion. */
  private async prunableDeliveries(c: pg.PoolClient, before: number, limit: number): Promise<{ id: string; event_id: string }[]> {
    // SKIP LOCKED: pruning in several workers at once neither waits on nor deadlocks with
    // the others, nor with a claim or settle holding those rows.
    const done = await this.rows<{ id: string; event_id: string }>(
      "SELECT id, event_id FROM deliveries WHERE status = 'succeeded' AND updated_at < $1 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED",
      [before, limit],
      c,
    );
    const orphans = await this.rows<{ id: string; event_id: string }>(
      // Orphans are left pending forever with their creation time as due time, so they are
      // among the oldest pending rows: looking there keeps this bounded on a large backlog.
      `SELECT id, event_id FROM deliveries WHERE id IN (
         SELECT o.id FROM (SELECT id, endpoint_id FROM deliveries WHERE status = 'pending' ORDER BY next_attempt_at LIMIT $1) o
          WHERE NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = o.endpoint_id))
       FOR UPDATE SKIP LOCKED`,
      [limit],
      c,
    );
    return [...done, ...orphans];
  }

  /**
   * Deletes up to `limit` events past the cut-off that have no delivery (none matched, or their
   * endpoint was deleted), walking events_received in windows from where the last sweep stopped:
   * events kept for their failed or pending deliveries are passed once per round, not at every
   * call. A window that reaches the cut-off ends the round; the next starts from the oldest.
   */
  private async sweepEvents(c: pg.PoolClient, before: number, limit: number): Promise<{ deleted: number; next: SweepPosition }> {
    let next = this.eventSweep;
    let deleted = 0;
    for (let i = 0; i < SWEEP_WINDOWS && deleted < limit; i++) {
      const size = limit - deleted;
      const row = (await this.rows<SweepRow>(SWEEP_EVENTS_SQL, [before, next.receivedAt, next.id, size], c))[0]!;
      deleted += num(row.deleted);
      if (num(row.examined) < size || row.last_id === null) return { deleted, next: SWEEP_START };
      next = { receivedAt: num(row.last_at!), id: row.last_id };
    }
    return { deleted, next };
  }

  async pendingNotices(limit: number): Promise<Notice[]> {
    return (await this.rows<NoticeRow>(`${PENDING_NOTICES_SQL} $1`, [limit])).map(toNotice);
  }

  async clearNotices(notices: readonly Notice[]): Promise<void> {
    if (notices.length === 0) return;
    await this.exec(
      `UPDATE deliveries d SET notice = NULL
         FROM unnest($1::text[], $2::text[]) AS n(id, recorded)
        WHERE d.id = n.id AND d.notice = n.recorded`,
      [notices.map((n) => n.deliveryId), notices.map((n) => n.recorded)],
    );
  }

  async extendLeases(owner: string, leases: readonly HeldLease[], until: number): Promise<number> {
    if (leases.length === 0) return 0;
    return this.exec(
      `UPDATE deliveries d SET lease_until = $4 FROM unnest($2::text[], $3::int[]) AS held(id, claim_no)
        WHERE d.id = held.id AND d.claim_no = held.claim_no AND d.lease_owner = $1 AND d.status = 'in_flight'`,
      [owner, leases.map((l) => l.id), leases.map((l) => l.claimNo), until],
    );
  }

  async releaseLeases(filter: { expiredBefore: number } | { owner: string } | { all: true }): Promise<number> {
    const base = "UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL WHERE status = 'in_flight'";
    return this.tx(async (c) => {
      let count: number;
      if ('all' in filter) count = await this.exec(base, [], c);
      else if ('owner' in filter) count = await this.exec(`${base} AND lease_owner = $1`, [filter.owner], c);
      else count = await this.exec(`${base} AND lease_until < $1`, [filter.expiredBefore], c);
      // Released deliveries are due at once (their next_attempt_at is in the past): wake the
      // workers of every process, not only the one that released them.
      if (count > 0) await this.notify(c);
      return count;
    });
  }

  async nextDueAt(): Promise<number | null> {
    const row = await this.prepared<{ t: string }>('herald_next_due', NEXT_DUE_SQL, [], this.pool);
    return numOrNull(row[0]?.t ?? null);
  }

  // ---- logs and replay ----------------------------------------------------------------

  async getEvent(accountId: string, idOrKey: string): Promise<StoredEvent | undefined> {
    // By id first, then by idempotency key (as SQLite does with two lookups).
    const row = await this.first<EventRow>(
      'SELECT * FROM events WHERE account_id = $1 AND (id = $2 OR idempotency_key = $2) ORDER BY (id = $2) DESC LIMIT 1',
      [accountId, idOrKey],
    );
    return row && toEvent(row);
  }

  async getDelivery(accountId: string, id: string): Promise<Delivery | undefined> {
    const row = await this.first<DeliveryRow>(`SELECT * FROM deliveries WHERE account_id = $1 AND id = $2 AND ${NOT_PURGED}`, [accountId, id]);
    return row && toDelivery(row);
  }

  async listDeliveries(accountId: string, q: DeliveryQuery): Promise<Page<Delivery>> {
    const filters = deliveryFilters({ ...q, cursor: undefined });
    const cursor = q.cursor === undefined ? '' : ' AND id < ?';
    const values = [accountId, ...(q.cursor === undefined ? [] : [q.cursor]), ...filters.values, q.limit + 1];
    const rows = await this.rows<DeliveryRow>(
      numbered(`SELECT * FROM deliveries WHERE account_id = ?${cursor}${filters.sql} AND ${NOT_PURGED} ORDER BY id DESC LIMIT ?`, 1),
      values,
    );
    return toPage(rows, q.limit, toDelivery);
  }

  async listAttempts(accountId: string, deliveryIds: readonly string[]): Promise<Attempt[]> {
    if (deliveryIds.length === 0) return [];
    const rows = await this.rows<AttemptRow>(
      'SELECT * FROM attempts WHERE account_id = $1 AND delivery_id = ANY($2::text[]) ORDER BY delivery_id, attempt_no',
      [accountId, deliveryIds],
    );
    return rows.map(toAttempt);
  }

  async retryDelivery(accountId: string, id: string, now: number): Promise<Delivery | undefined> {
    // One statement (one implicit transaction): the re-queue and its NOTIFY commit together.
    const row = await this.first<DeliveryRow>(
      `WITH u AS (
         UPDATE deliveries SET status = 'pending', ordered = ${KEEP_ORDER_IF_PENDING}, next_attempt_at = $3, updated_at = $3
          WHERE account_id = $1 AND id = $2 AND status <> 'in_flight'
         RETURNING *
       )
       SELECT u.*, pg_notify($4, '') FROM u`,
      [accountId, id, now, this.channel],
    );
    if (row) return toDelivery(row);
    return this.getDelivery(accountId, id);
  }

  async countRecoverable(accountId: string, endpointId: string, scope: RecoverScope): Promise<number> {
    const row = await this.first<{ n: string }>(`SELECT COUNT(*) AS n FROM deliveries WHERE ${RECOVER_WHERE}`, recoverParams(accountId, endpointId, scope));
    return num(row?.n ?? 0);
  }

  async findRecovery(accountId: string, endpointId: string, idempotencyKey: string | null, request: string): Promise<Recovery | undefined> {
    const row = await this.first<RecoveryRow>(EXISTING_RECOVERY_SQL, [accountId, endpointId, idempotencyKey, request]);
    return row && toRecovery(row);
  }

  async beginRecovery(r: NewRecovery, now: number): Promise<{ recovery: Recovery; created: boolean }> {
    return this.tx(async (c) => {
      // Two identical requests at once (a client retrying fast) take turns: the second finds the first.
      await this.rows('SELECT pg_advisory_xact_lock(hashtext($1))', [`recovery:${r.endpointId}`], c);
      const existing = await this.first<RecoveryRow>(EXISTING_RECOVERY_SQL, [r.accountId, r.endpointId, r.idempotencyKey, r.request], c);
      if (existing) return { recovery: toRecovery(existing), created: false };
      const { scope } = r;
      const row = await this.first<RecoveryRow>(
        `INSERT INTO recoveries (id, account_id, endpoint_id, idempotency_key, request, since, until, event_types, statuses, status, total, cursor, lease_owner, lease_until, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', $10, $11, $12, $13, $14, $15) RETURNING *`,
        [r.id, r.accountId, r.endpointId, r.idempotencyKey, r.request, scope.since, scope.until, scope.eventTypes, scope.statuses, r.total, idFloor('dlv', scope.since), r.lease.owner, r.lease.until, scope.asOf ?? now, now],
        c,
      );
      return { recovery: toRecovery(row!), created: true };
    });
  }

  async getRecovery(accountId: string, endpointId: string, id: string): Promise<Recovery | undefined> {
    const row = await this.first<RecoveryRow>('SELECT * FROM recoveries WHERE account_id = $1 AND endpoint_id = $2 AND id = $3', [accountId, endpointId, id]);
    return row && toRecovery(row);
  }

  /** One transaction: the re-queue, the cursor and the count commit together, and wake the workers. */
  async advanceRecovery(id: string, lease: RecoveryLease, limit: number, now: number): Promise<Recovery | undefined> {
    return this.tx(async (c) => {
      const row = await this.first<RecoveryRow & { cursor: string }>("SELECT * FROM recoveries WHERE id = $1 AND status = 'running' AND lease_owner = $2 FOR UPDATE", [id, lease.owner], c);
      if (!row) return undefined;
      const r = toRecovery(row);
      // Shared, as an ingest takes it: an ordering switch of the endpoint waits for this chunk
      // and re-orders it too, or this chunk reads the new setting.
      await c.query(`SELECT pg_advisory_xact_lock_shared(${ORDERING_LOCK(ORDERING_BUCKET('$1::text'))})`, [r.endpointId]);
      const chunk = (await this.first<{ n: string; last: string | null }>(RECOVER_CHUNK_SQL, [...recoverParams(r.accountId, r.endpointId, r.scope), row.cursor, limit, now], c))!;
      const n = num(chunk.n);
      if (n > 0) await this.notify(c);
      const done = n < limit;
      const updated = await this.first<RecoveryRow>(
        `UPDATE recoveries SET cursor = $2, requeued = requeued + $3, lease_until = $4, updated_at = $5, status = $6, finished_at = $7,
                lease_owner = CASE WHEN $8 THEN NULL ELSE lease_owner END
          WHERE id = $1 RETURNING *`,
        [id, chunk.last ?? row.cursor, n, lease.until, now, done ? 'done' : 'running', done ? now : null, done],
        c,
      );
      return toRecovery(updated!);
    });
  }

  async claimRecovery(lease: RecoveryLease, now: number): Promise<Recovery | undefined> {
    const row = await this.first<RecoveryRow>(
      `UPDATE recoveries SET lease_owner = $1, lease_until = $2
        WHERE id = (SELECT id FROM recoveries WHERE status = 'running' AND lease_until < $3 ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *`,
      [lease.owner, lease.until, now],
    );
    return row && toRecovery(row);
  }

  async endpointHealth(accountId: string, endpointIds: readonly string[], since: number): Promise<EndpointHealth[]> {
    if (endpointIds.length === 0) return [];
    const params = [accountId, endpointIds];
    const [owned, queue, totals] = await Promise.all([
      // Which ids are the account's, with the latest rollup row of each (a probe of its primary key).
      this.rows<{ id: string; last: string | null }>(
        `SELECT e.id, (SELECT m.last_attempt_at FROM attempt_minutes m WHERE m.account_id = e.account_id AND m.endpoint_id = e.id ORDER BY m.minute DESC LIMIT 1) AS last
           FROM endpoints e WHERE e.account_id = $1 AND e.id = ANY($2::text[])`,
        params,
      ),
      // Pending through the per-endpoint due index, in flight through the (small) lease index:
      // one status per branch, so each matches its partial index and never walks delivered history.
      this.rows<QueueRow>(
        `SELECT endpoint_id, COUNT(*) FILTER (WHERE attempts = 0) AS pending, COUNT(*) FILTER (WHERE attempts > 0) AS retrying, 0 AS in_flight
           FROM deliveries WHERE status = 'pending' AND endpoint_id = ANY($2::text[]) AND account_id = $1
          GROUP BY endpoint_id
         UNION ALL
         SELECT endpoint_id, 0, 0, COUNT(*)
           FROM deliveries WHERE status = 'in_flight' AND endpoint_id = ANY($2::text[]) AND account_id = $1
          GROUP BY endpoint_id`,
        params,
      ),
      this.rows<TotalsRow & { endpoint_id: string }>(
        `SELECT endpoint_id, ${TOTALS_SQL} FROM attempt_minutes
          WHERE account_id = $1 AND endpoint_id = ANY($2::text[]) AND minute >= $3
          GROUP BY endpoint_id`,
        [...params, minuteOf(since)],
      ),
    ]);
    return owned.map((e) => healthOf(e.id, numOrNull(e.last), queue, totals));
  }

  async activity(accountId: string, q: ActivityQuery): Promise<ActivityMinute[]> {
    const scope = q.endpointId === undefined ? '' : 'AND endpoint_id = $4';
    const rows = await this.rows<TotalsRow & { minute: string }>(
      `SELECT minute, ${TOTALS_SQL} FROM attempt_minutes
        WHERE account_id = $1 ${scope} AND minute >= $2 AND minute < $3
        GROUP BY minute ORDER BY minute`,
      [accountId, q.from, q.to, ...(q.endpointId === undefined ? [] : [q.endpointId])],
    );
    return rows.map(toActivityMinute);
  }

  async stats(accountId?: string, endpointId?: string): Promise<QueueStats> {
    return this.counts(accountId, endpointId, true);
  }

  async queueDepth(accountId?: string, endpointId?: string): Promise<QueueDepth> {
    const { pending, inFlight, retrying } = await this.counts(accountId, endpointId, false);
    return { pending, inFlight, retrying };
  }

  /** `history` false leaves succeeded and failed at 0, uncounted. */
  /** A deleted endpoint's counts are none (it is no longer the account's); see lessPurged. */
  private async counts(accountId: string | undefined, endpointId: string | undefined, history: boolean): Promise<QueueStats> {
    const of = async (account: string | undefined, endpoint: string | undefined) => {
      const { sql, params } = countsSql(account, endpoint, history);
      return statsOf(await this.first<CountsRow>(sql, params));
    };
    if (endpointId !== undefined) return of(accountId, endpointId);
    const purged = await this.rows<{ endpoint_id: string }>('SELECT endpoint_id FROM endpoint_purges WHERE $1::text IS NULL OR account_id = $1', [accountId ?? null]);
    return lessPurged(await of(accountId, undefined), await Promise.all(purged.map((p) => of(undefined, p.endpoint_id))));
  }

  // ---- profiles -----------------------------------------------------------------------

  async nextCounter(accountId: string, name: string): Promise<number> {
    // The upsert takes the row lock, so concurrent callers in any process get distinct values.
    const row = await this.first<{ value: string }>(
      'INSERT INTO counters AS c (account_id, name, value) VALUES ($1, $2, 1) ON CONFLICT (account_id, name) DO UPDATE SET value = c.value + 1 RETURNING value',
      [accountId, name],
    );
    return num(row!.value);
  }

  async listEndpointAttempts(accountId: string, endpointId: string, q: EndpointAttemptQuery): Promise<Page<EndpointAttempt>> {
    const rows = await this.rows<AttemptRow & { event_id: string; event_type: string }>(
      `SELECT a.*, d.event_id, ev.type AS event_type
         FROM attempts a
         JOIN deliveries d ON d.id = a.delivery_id
         JOIN events ev ON ev.id = d.event_id
        WHERE a.account_id = $1 AND d.account_id = $1 AND d.endpoint_id = $2 AND ($3::text IS NULL OR a.id < $3)
          AND ($4::text IS NULL OR ($4 = 'succeeded' AND a.error_kind IS NULL) OR ($4 = 'failed' AND a.error_kind IS NOT NULL))
        ORDER BY a.id DESC LIMIT $5`,
      [accountId, endpointId, q.cursor ?? null, q.outcome ?? null, q.limit + 1],
    );
    return toPage(rows, q.limit, (r) => ({ ...toAttempt(r), eventId: r.event_id, eventType: r.event_type }));
  }

  // ---- Connect inboxes ----------------------------------------------------------------

  async createInbox(inbox: Inbox): Promise<void> {
    const row = inboxToRow(inbox, this.sealer);
    const cols = Object.keys(row) as (keyof typeof row)[];
    await this.exec(`INSERT INTO inboxes (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => row[c]));
  }

  async updateInbox(inbox: Inbox): Promise<void> {
    const r = inboxToRow(inbox, this.sealer);
    await this.exec(
      'UPDATE inboxes SET name = $3, signing_secret = $4, forward_url = $5, forward_endpoint_id = $6, updated_at = $7 WHERE id = $1 AND account_id = $2',
      [r.id, r.account_id, r.name, r.signing_secret, r.forward_url, r.forward_endpoint_id, r.updated_at],
    );
  }

  async getInbox(accountId: string, id: string): Promise<Inbox | undefined> {
    const row = await this.first<InboxRow>('SELECT * FROM inboxes WHERE account_id = $1 AND id = $2', [accountId, id]);
    return row && toInbox(row, this.sealer);
  }

  async findInboxByTokenHash(tokenHash: string): Promise<Inbox | undefined> {
    const row = await this.first<InboxRow>('SELECT * FROM inboxes WHERE token_hash = $1', [tokenHash]);
    return row && toInbox(row, this.sealer);
  }

  async listInboxes(accountId: string, page: PageRequest): Promise<Page<Inbox>> {
    const rows = await this.rows<InboxRow>(
      'SELECT * FROM inboxes WHERE account_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3',
      [accountId, page.cursor ?? null, page.limit + 1],
    );
    return toPage(rows, page.limit, (r) => toInbox(r, this.sealer));
  }

  async deleteInbox(accountId: string, id: string): Promise<boolean> {
    return this.tx(async (c) => {
      await this.exec('DELETE FROM inbox_requests WHERE account_id = $1 AND inbox_id = $2', [accountId, id], c);
      return (await this.exec('DELETE FROM inboxes WHERE account_id = $1 AND id = $2', [accountId, id], c)) > 0;
    });
  }

  async captureInboxRequest(request: InboxRequest, relay: InboxRelay | undefined, now: number): Promise<CaptureOutcome> {
    const values = inboxRequestValues(request);
    const n = values.length;
    // One statement without a relay (the common case): insert if the inbox exists, and announce
    // it to every process streaming this inbox (delivered at commit).
    const captureSql = `
      WITH ins AS (
        INSERT INTO inbox_requests (${INBOX_REQUEST_COLUMNS.join(', ')})
        SELECT ${INBOX_REQUEST_COLUMNS.map((col, i) => `$${i + 1}::${INBOX_REQUEST_TYPES[col]}`).join(', ')}
         WHERE EXISTS (SELECT 1 FROM inboxes WHERE id = $2 AND account_id = $3)
        RETURNING account_id, inbox_id, id
      )
      SELECT pg_notify($${n + 1}, ins.account_id || ' ' || ins.inbox_id || ' ' || ins.id) FROM ins`;
    if (!relay) {
      const stored = (await this.exec(captureSql, [...values, this.inboxChannel])) > 0;
      return { stored, relayed: false };
    }
    return this.tx(async (c) => {
      const stored = (await this.exec(captureSql, [...values, this.inboxChannel], c)) > 0;
      if (!stored) return { stored, relayed: false };
      const event = await this.exec(
        `INSERT INTO events (id, account_id, idempotency_key, type, occurred_at, received_at, project_id, resource_key, sequence, body)
         SELECT $1::text, $2::text, NULL, $3::text, $4::bigint, $5::bigint, NULL, NULL, NULL, $6::text
          WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = $7 AND account_id = $2)`,
        [relay.messageId, request.accountId, INBOX_RELAY_EVENT_TYPE, request.receivedAt, now, relay.body, relay.endpointId],
        c,
      );
      if (event === 0) return { stored, relayed: false };
      await this.exec(
        `INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, ordered, resource_key, sequence, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $6, 'pending', 0, $5, FALSE, NULL, NULL, $5, $5)`,
        [newId('dlv', now), request.accountId, relay.messageId, relay.endpointId, now, INBOX_RELAY_EVENT_TYPE],
        c,
      );
      await this.notify(c);
      return { stored, relayed: true };
    });
  }

  async listInboxRequests(accountId: string, inboxId: string, q: InboxRequestQuery): Promise<Page<InboxRequest>> {
    if (q.after !== undefined) {
      const rows = await this.rows<InboxRequestRow>(
        'SELECT * FROM inbox_requests WHERE inbox_id = $1 AND account_id = $2 AND id > $3 ORDER BY id LIMIT $4',
        [inboxId, accountId, q.after, q.limit + 1],
      );
      return toPage(rows, q.limit, toInboxRequest);
    }
    const rows = await this.rows<InboxRequestRow>(
      'SELECT * FROM inbox_requests WHERE inbox_id = $1 AND account_id = $2 AND ($3::text IS NULL OR id < $3) ORDER BY id DESC LIMIT $4',
      [inboxId, accountId, q.cursor ?? null, q.limit + 1],
    );
    return toPage(rows, q.limit, toInboxRequest);
  }

  async getInboxRequest(accountId: string, inboxId: string, id: string): Promise<InboxRequest | undefined> {
    const row = await this.first<InboxRequestRow>('SELECT * FROM inbox_requests WHERE account_id = $1 AND inbox_id = $2 AND id = $3', [accountId, inboxId, id]);
    return row && toInboxRequest(row);
  }

  async purgeInboxRequests(accountId: string, inboxId: string): Promise<number> {
    return this.exec('DELETE FROM inbox_requests WHERE account_id = $1 AND inbox_id = $2', [accountId, inboxId]);
  }

  async trimInboxRequests(accountId: string, inboxId: string, keep: number): Promise<number> {
    return this.exec(
      `DELETE FROM inbox_requests WHERE inbox_id = $1 AND account_id = $2
          AND id < (SELECT id FROM inbox_requests WHERE inbox_id = $1 AND account_id = $2 ORDER BY id DESC OFFSET $3 LIMIT 1)`,
      [inboxId, accountId, keep - 1],
    );
  }

  async pruneInboxRequests(before: number, limit: number): Promise<number> {
    return this.exec(
      'DELETE FROM inbox_requests WHERE id IN (SELECT id FROM inbox_requests WHERE received_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)',
      [before, limit],
    );
  }
}

/**
 * Deliveries per status in a scope, one count each, in one statement (one snapshot). Grouping
 * the scope's rows by status read every delivery of it (150–220 ms for a million); here each
 * count has a predicate its index answers: the pending, in-flight and failed counts read only
 * their partial indexes, the total reads the narrowest index of the scope, and succeeded is the
 * total less the rest. The scope is written into the SQL, not passed as `$1 IS NULL OR …`,
 * which no index can serve. An endpoint's counts need no account filter once the endpoint is
 * known to be the account's: the statement then returns no row for someone else's endpoint.
 */
function countsSql(accountId: string | undefined, endpointId: string | undefined, history: boolean): { sql: string; params: string[] } {
  const params: string[] = [];
  const param = (value: string) => `$${params.push(value)}`;
  let scope = 'TRUE';
  let owner = '';
  if (endpointId !== undefined) {
    const endpoint = param(endpointId);
    scope = `endpoint_id = ${endpoint}`;
    if (accountId !== undefined) owner = ` FROM endpoints WHERE id = ${endpoint} AND account_id = ${param(accountId)}`;
  } else if (accountId !== undefined) scope = `account_id = ${param(accountId)}`;
  const count = (where: string) => `(SELECT COUNT(*) FROM deliveries WHERE ${where})`;
  const sql = `SELECT ${history ? count(scope) : 0} AS total,
      ${count(`status = 'pending' AND ${scope}`)} AS pending,
      ${count(`status = 'pending' AND attempts > 0 AND ${scope}`)} AS retrying,
      ${count(`status = 'in_flight' AND ${scope}`)} AS in_flight,
      ${history ? count(`status = 'failed' AND ${scope}`) : 0} AS failed${owner}`;
  return { sql, params };
}
