// Embedded store on better-sqlite3 (WAL). All calls are synchronous underneath; the async
// surface exists so the same contract fits PostgreSQL. One connection, one writer: every
// write batch is one transaction, so a batch costs one commit (and one fsync).
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { idFloor, newId } from '../../domain/ids.js';
import { withSequence } from '../../domain/canonical-body.js';
import type { Account, ApiKeyRecord, Attempt, CustomEventType, Delivery, Endpoint, Page, Project, StoredEvent } from '../../domain/types.js';
import { INBOX_RELAY_EVENT_TYPE, type Inbox, type InboxRelay, type InboxRequest } from '../../inbox/types.js';
import type {
  ActivityMinute,
  ActivityQuery,
  AttemptSettlement,
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
import { diskRefusal } from '../unavailable.js';
import { WriteRefusals, type WritesReport } from '../write-refusals.js';
import { loadMigrations, MigrationError } from '../migrations.js';
import { keysToReserve, reserveAcross } from '../rate.js';
import { type CountsRow, deliveryFilters, FOLLOW_ORDERING, healthOf, KEEP_ORDER_IF_PENDING, lessPurged, NOT_PURGED, prefixEnd, type QueueRow, REQUEUED_ORDERED, splitTypes, statsOf } from '../queries.js';
import { recordAuthFailureSql } from '../queries.js';
import { type MinuteRollup, minuteOf, rollUp, ROLLUP_EXTRA_MS, toActivityMinute, TOTALS_SQL, type TotalsRow } from '../rollup.js';
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
import type { WriteLock } from './write-lock.js';

export interface SqliteOptions {
  readonly file: string;
  readonly sealer: Sealer;
  readonly synchronous?: 'full' | 'normal';
  /** Shared with the other threads of this process that write the same file (write-lock.ts). */
  readonly writeLock?: WriteLock;
  /**
   * Told when the disk starts refusing the store's writes (full, read-only, failing) and when
   * they go through again: once each way, however many writes fail in between.
   */
  readonly onWrites?: (report: WritesReport) => void;
}

export type { WritesReport };

type Row = Record<string, unknown>;

/** An ordered delivery `q` waits while an earlier one of its resource is still unfinished. */
const BLOCKED_BY_HEAD = `SELECT 1 FROM deliveries p
  WHERE p.endpoint_id = q.endpoint_id AND p.resource_key = q.resource_key AND p.ordered = 1
    AND p.status IN ('pending', 'in_flight') AND p.sequence < q.sequence`;

/** Enabled, not excluded endpoints with due work: one index probe each. */
const CLAIMABLE_ENDPOINTS_SQL = `SELECT e.id FROM endpoints e
  WHERE e.disabled = 0 AND e.id NOT IN (SELECT value FROM json_each(@exclude))
    AND EXISTS (SELECT 1 FROM deliveries q WHERE q.endpoint_id = e.id AND q.status = 'pending' AND q.next_attempt_at <= @now)`;

/**
 * An endpoint's change time moves forward on every write, also two in one millisecond (or under
 * a clock set back): a conditional write (updateEndpoint's `expected`) compares it.
 */
const MOVE_UPDATED_AT = 'updated_at = MAX(@updated_at, updated_at + 1)';

/**
 * A batch of failures only, for one endpoint: failing_since is set when unset, and restarted
 * when the endpoint's previous attempt started before @cut (this batch's first attempt less the
 * gap) or is not in the rollup, unless the failing period already began at or after @first.
 * Looks at two rollup rows at most: from @cut's minute on, the second has a later minute, so
 * its last attempt is after @cut. Run before the batch's own rows join the rollup.
 */
const FAILING_SINCE_SQL = `UPDATE endpoints SET failing_since = @now
  WHERE id = @id
    AND (failing_since IS NULL
         OR (failing_since < @first AND NOT EXISTS (
               SELECT 1 FROM attempt_minutes m
                WHERE m.account_id = endpoints.account_id AND m.endpoint_id = endpoints.id
                  AND m.minute > @cut - 60000 AND m.last_attempt_at >= @cut)))`;

/**
 * Up to @share due deliveries of each listed endpoint, earliest first, through the
 * (endpoint_id, next_attempt_at) index (an excluded or dead endpoint's backlog costs nothing to
 * skip); CROSS JOIN keeps the endpoint list as the outer loop, or the planner scans every
 * delivery. Candidates are chosen by rowid and only the chosen ones are read with their bodies.
 */
const CLAIM_SQL = `WITH picked AS (
    SELECT d.rowid AS rid
      FROM json_each(@endpoints) e
      CROSS JOIN deliveries d ON d.rowid IN (
            SELECT q.rowid FROM deliveries q
             WHERE q.endpoint_id = e.value AND q.status = 'pending' AND q.next_attempt_at <= @now
               AND (q.ordered = 0 OR NOT EXISTS (${BLOCKED_BY_HEAD}))
             ORDER BY q.next_attempt_at
             LIMIT @share)
     ORDER BY d.next_attempt_at
     LIMIT @limit)
  SELECT d.rowid, d.id, d.account_id, d.event_id, d.endpoint_id, d.attempts, d.resource_key, d.sequence, d.created_at,
         d.next_attempt_at, ev.type, ev.body, ev.project_id, d.claim_no + 1
    FROM picked p
    CROSS JOIN deliveries d ON d.rowid = p.rid
    JOIN events ev ON ev.id = d.event_id`;

/**
 * CLAIM_SQL's columns by position: its rows are read as arrays, which cost about 4 µs less per
 * claimed delivery than objects with named keys (measured).
 */
type ClaimRow = readonly [
  rowid: number,
  id: string,
  accountId: string,
  eventId: string,
  endpointId: string,
  attempts: number,
  resourceKey: string | null,
  sequence: number | null,
  createdAt: number,
  nextAttemptAt: number,
  eventType: string,
  body: string,
  projectId: string | null,
  /** The claim's number: the one the claim's UPDATE gives the delivery. */
  claimNo: number,
];

/** Parameters: until, leases as JSON [id, claim_no] pairs, owner. Each found by primary key. */
const EXTEND_LEASES_SQL = `
UPDATE deliveries SET lease_until = ?
  FROM (SELECT value ->> 0 AS id, value ->> 1 AS claim_no FROM json_each(?)) AS held
 WHERE deliveries.id = held.id AND deliveries.claim_no = held.claim_no AND deliveries.lease_owner = ? AND deliveries.status = 'in_flight'`;

const ENDPOINT_COLUMNS =
  'id, account_id, profile, url, method, description, event_types, project_ids, user_ids, secret, previous_secret, previous_secret_expires_at, headers, auth, rate_limit_per_second, timeout_ms, ordering, disabled, disabled_reason, failing_since, profile_data, created_at, updated_at';

/**
 * A recover's deliveries after a cursor (@after), in id order, up to @limit. Only the filters set
 * are written, so each scope gets the plan its index serves: failed ones alone (the usual
 * recover) walk the account's index of failed deliveries, which holds the endpoint too, from the
 * cursor on; with succeeded ones, the endpoint's index. The planner, without statistics, took the
 * account's (event type, id) index instead and read every delivery of the account, whatever its
 * status. A first cursor of idFloor(since) skips what was created before.
 */
function recoverSelect(scope: RecoverScope): string {
  const failedOnly = scope.statuses.length === 1 && scope.statuses[0] === 'failed';
  const statuses = failedOnly ? "status = 'failed'" : `status IN (${scope.statuses.map((s) => (s === 'failed' ? "'failed'" : "'succeeded'")).join(', ')})`;
  const index = failedOnly ? 'deliveries_account_failed' : 'deliveries_endpoint';
  const until = scope.until === null ? '' : ' AND created_at < @until';
  const types = scope.eventTypes === null ? '' : ` AND ${recoverTypes(scope.eventTypes)}`;
  const asOf = scope.asOf === undefined ? '' : ' AND updated_at <= @as_of';
  return `SELECT id FROM deliveries INDEXED BY ${index}
    WHERE account_id = @account AND endpoint_id = @endpoint AND ${statuses} AND id > @after AND created_at >= @since${until}${types}${asOf}
    ORDER BY id LIMIT @limit`;
}

/** A recover's event type clause: its names (@types), and its wildcards' prefixes (@prefixes) if any. */
function recoverTypes(eventTypes: readonly string[]): string {
  const names = 'event_type IN (SELECT value FROM json_each(@types))';
  if (splitTypes(eventTypes).prefixes.length === 0) return names;
  return `(${names} OR EXISTS (SELECT 1 FROM json_each(@prefixes) p WHERE substr(event_type, 1, length(p.value)) = p.value))`;
}

/**
 * A new database file is created readable by its owner only: it holds captured inbox requests in
 * clear. SQLite gives its -wal and -shm files the database file's permissions.
 */
function createPrivately(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** How long opening a new database waits for another connection's write to it (as busy_timeout). */
const WAL_SWITCH_PATIENCE_MS = 5_000;

/**
 * Puts the database in WAL mode. On a new file that means a write, and two connections doing it
 * at once (processes started together on a new data directory, `herald migrate` among them)
 * collide: SQLite fails the one whose read lock cannot become a write lock at once with
 * SQLITE_BUSY, without waiting out busy_timeout (it would deadlock). So it waits here, a little
 * at a time, for the other connection's write to end.
 */
function enterWal(db: Database.Database): void {
  const deadline = Date.now() + WAL_SWITCH_PATIENCE_MS;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/** Rows a long write (recover, deleting an endpoint or inbox) changes per transaction: 10–20 ms of work on 2 vCPUs. */
const CHUNK_ROWS = 2_000;

/** Up to ? (-1: all) requests captured by one inbox (account, inbox, limit). */
const DELETE_CAPTURES_SQL = 'DELETE FROM inbox_requests WHERE id IN (SELECT id FROM inbox_requests WHERE account_id = ? AND inbox_id = ? LIMIT ?)';

/** The parameters recoverSelect names for `scope`, from `after` on. */
function recoverParams(accountId: string, endpointId: string, scope: RecoverScope, after: string, limit: number): Record<string, unknown> {
  return {
    account: accountId,
    endpoint: endpointId,
    since: scope.since,
    after,
    limit,
    ...(scope.until === null ? {} : { until: scope.until }),
    ...(scope.asOf === undefined ? {} : { as_of: scope.asOf }),
    ...(scope.eventTypes === null ? {} : typeParams(scope.eventTypes)),
  };
}

/** The event types an account has deliveries of in [@from, @to): one seek of deliveries_account_type per type. */
const STORED_TYPES_SQL = `WITH RECURSIVE t(type) AS (
    SELECT (SELECT MIN(event_type) FROM deliveries WHERE account_id = @account AND event_type >= @from AND event_type < @to)
    UNION ALL
    SELECT (SELECT MIN(event_type) FROM deliveries WHERE account_id = @account AND event_type > t.type AND event_type < @to) FROM t WHERE t.type IS NOT NULL
  )
  SELECT type FROM t WHERE type IS NOT NULL`;

/** The @types and @prefixes of recoverTypes(). */
function typeParams(eventTypes: readonly string[]): Record<string, string> {
  const { names, prefixes } = splitTypes(eventTypes);
  return { types: JSON.stringify(names), ...(prefixes.length === 0 ? {} : { prefixes: JSON.stringify(prefixes) }) };
}

/** Rows a count reads per step (a few ms of the store's thread). */
const COUNT_STEP_ROWS = 10_000;

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly sealer: Sealer;
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly rawStmts = new Map<string, Database.Statement>();
  private readonly durableSync: 'FULL' | 'NORMAL';
  // Built once: claims, settles and ingests run thousands of times a second, and
  // db.transaction() builds a wrapper on each call.
  private readonly transact: <T>(fn: () => T) => T;
  /** Whether, since when and how often the disk has refused writes. */
  private readonly refusals: WriteRefusals;

  constructor(options: SqliteOptions) {
    if (options.file !== ':memory:') createPrivately(options.file);
    this.db = new Database(options.file);
    this.sealer = options.sealer;
    enterWal(this.db);
    this.durableSync = options.synchronous === 'normal' ? 'NORMAL' : 'FULL';
    this.setSync(this.durableSync);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    // Keep the WAL from growing without bound under sustained load.
    this.db.pragma('wal_autocheckpoint = 4000');
    this.db.pragma('cache_size = -16384');
    // Ephemeral tables (RETURNING, IN lists, sorts) in memory: on a file database SQLite puts them
    // in a temporary file by default, which cost ~23 µs per RETURNING statement (measured).
    this.db.pragma('temp_store = MEMORY');
    const tx = this.db.transaction((fn: () => unknown) => fn());
    const lock = options.writeLock;
    this.transact = lock ? <T>(fn: () => T) => lock.run(() => tx.immediate(fn) as T) : <T>(fn: () => T) => tx.immediate(fn) as T;
    this.refusals = new WriteRefusals(options.onWrites);
  }

  /** A write transaction, in its turn at the write lock; notes whether the disk took it. */
  private readonly immediate = <T>(fn: () => T): T => {
    let result: T;
    try {
      result = this.transact(fn);
    } catch (err) {
      if (diskRefusal(err) !== undefined) this.refusals.refused(err as Error);
      throw err;
    }
    // A transaction that changed nothing commits on a full disk too: only a write shows it is back.
    if (this.refusals.active) this.probeWrites();
    return result;
  };

  /**
   * A write of one page that changes nothing: the database header's user_version, set to what it
   * is. It fails as soon as the disk refuses the smallest write. The error, or undefined.
   */
  private tryWrite(): unknown {
    try {
      this.transact(() => this.db.pragma(`user_version = ${Number(this.db.pragma('user_version', { simple: true }))}`));
      return undefined;
    } catch (err) {
      return err;
    }
  }

  /** While the disk refuses writes: whether it takes one now (which ends the refusal). The error, or undefined. */
  private probeWrites(): unknown {
    const err = this.tryWrite();
    if (err === undefined) this.refusals.resumed();
    return err;
  }

  /**
   * Runs a write whose loss in a power failure costs only a repeated delivery (leases,
   * attempt outcomes): committed without waiting for the disk. It still survives a process
   * crash (WAL), and the next durable commit flushes it along. Ingest never uses this.
   */
  private soft<T>(fn: () => T): T {
    if (this.durableSync === 'NORMAL') return this.immediate(fn);
    this.setSync('NORMAL');
    try {
      return this.immediate(fn);
    } finally {
      this.setSync('FULL');
    }
  }

  /**
   * A write over any number of rows as a series of transactions of up to CHUNK_ROWS each (`chunk`
   * changes up to `limit` rows and says how many), yielding to the event loop between them, so
   * publishing and delivery go on meanwhile. Returns the rows changed in all.
   */
  private async inChunks(chunk: (limit: number) => number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = this.immediate(() => chunk(CHUNK_ROWS));
      total += n;
      if (n < CHUNK_ROWS) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * PRAGMA synchronous takes effect when the statement is compiled, not when it runs: a prepared
   * one run again changes nothing (and merely preparing it changes the level). exec() compiles
   * it each time, for about a microsecond.
   */
  private setSync(level: 'FULL' | 'NORMAL'): void {
    this.db.exec(`PRAGMA synchronous = ${level}`);
  }

  /**
   * Prepared statements are cached: preparing is far costlier than running. `raw` statements
   * return rows as arrays (a flag on the statement, hence a cache of their own).
   */
  private stmt(sql: string, raw = false): Database.Statement {
    const cache = raw ? this.rawStmts : this.stmts;
    let s = cache.get(sql);
    if (!s) {
      s = raw ? this.db.prepare(sql).raw(true) : this.db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  }

  /** Rows as arrays of column values, for the hottest reads (see ClaimRow). */
  private allRaw<T>(sql: string, ...params: unknown[]): T[] {
    return this.stmt(sql, true).all(...params) as T[];
  }

  private all<T>(sql: string, ...params: unknown[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  private get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  private run(sql: string, ...params: unknown[]): Database.RunResult {
    return this.stmt(sql).run(...params);
  }

  /** One statement as a write transaction of its own, in its turn at the write lock. */
  private write(sql: string, ...params: unknown[]): Database.RunResult {
    return this.immediate(() => this.run(sql, ...params));
  }

  async close(): Promise<void> {
    this.stmts.clear();
    this.rawStmts.clear();
    this.db.close();
  }

  // ---- schema -------------------------------------------------------------------------

  private currentVersion(): number {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    return row.v ?? 0;
  }

  /** Readiness asks this: while the disk refuses writes the store is not ready, whatever its schema, so a write is tried first. */
  async schemaState(): Promise<SchemaState> {
    const refusal = this.refusals.active ? this.probeWrites() : undefined;
    if (refusal !== undefined) throw refusal;
    const migrations = loadMigrations('sqlite');
    return { current: this.currentVersion(), latest: migrations.at(-1)?.version ?? 0 };
  }

  async opensCredentials(): Promise<boolean> {
    return opens(this.sealer, this.get<{ sealed: string }>(ONE_SEALED_SQL)?.sealed);
  }

  async migrate(): Promise<SchemaState> {
    for (const m of loadMigrations('sqlite')) {
      // The version is read under the write lock: another process migrating the same file at
      // the same time may have applied this one meanwhile.
      try {
        this.db.transaction(() => {
          if (m.version <= this.currentVersion()) return;
          this.db.exec(m.sql);
          this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
        }).immediate();
      } catch (err) {
        // Each migration is a transaction of its own: the ones before it stay applied.
        throw new MigrationError(m, err, `nothing of it was applied; the schema stays at version ${this.currentVersion()}`);
      }
    }
    // A disk that refuses writes (full, read-only) fails the start here, saying so, rather than
    // every publish once Herald looks up and running.
    const refusal = this.tryWrite();
    if (refusal !== undefined) throw refusal;
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
    this.write(
      'INSERT INTO accounts (id, name, rate_limit_per_second, link_base_url, created_at) VALUES (?, ?, ?, ?, ?)',
      account.id,
      account.name,
      account.rateLimitPerSecond,
      account.linkBaseUrl,
      account.createdAt,
    );
    return account;
  }

  async getAccount(id: string): Promise<Account | undefined> {
    const row = this.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id);
    return row && toAccount(row);
  }

  async updateAccount(a: Account): Promise<void> {
    this.write('UPDATE accounts SET name = ?, rate_limit_per_second = ?, link_base_url = ?, endpoints_version = endpoints_version + 1 WHERE id = ?', a.name, a.rateLimitPerSecond, a.linkBaseUrl, a.id);
  }

  async listAccounts(page: PageRequest): Promise<Page<Account>> {
    const rows = this.all<AccountRow>('SELECT * FROM accounts WHERE id < ? ORDER BY id DESC LIMIT ?', page.cursor ?? '~', page.limit + 1);
    return toPage(rows, page.limit, toAccount);
  }

  async createProject(accountId: string, name: string, id?: string): Promise<Project> {
    const project: Project = { id: id ?? newId('prj'), accountId, name, createdAt: Date.now() };
    this.write('INSERT INTO projects (id, account_id, name, created_at) VALUES (?, ?, ?, ?)', project.id, accountId, name, project.createdAt);
    return project;
  }

  async getProject(accountId: string, id: string): Promise<Project | undefined> {
    const row = this.get<ProjectRow>('SELECT * FROM projects WHERE account_id = ? AND id = ?', accountId, id);
    return row && toProject(row);
  }

  async listProjects(accountId: string, page: PageRequest): Promise<Page<Project>> {
    const rows = this.all<ProjectRow>('SELECT * FROM projects WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?', accountId, page.cursor ?? '~', page.limit + 1);
    return toPage(rows, page.limit, toProject);
  }

  async createEventType(type: CustomEventType): Promise<boolean> {
    return this.write(`INSERT INTO event_types (${EVENT_TYPE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, ...eventTypeValues(type)).changes > 0;
  }

  async updateEventType(type: CustomEventType): Promise<boolean> {
    const [accountId, name, description, schema, , updatedAt] = eventTypeValues(type);
    return this.write('UPDATE event_types SET description = ?, schema = ?, updated_at = ? WHERE account_id = ? AND name = ?', description, schema, updatedAt, accountId, name).changes > 0;
  }

  async getEventTypes(accountId: string, names: readonly string[]): Promise<CustomEventType[]> {
    if (names.length === 0) return [];
    return this.all<EventTypeRow>('SELECT * FROM event_types WHERE account_id = ? AND name IN (SELECT value FROM json_each(?)) ORDER BY name', accountId, JSON.stringify(names)).map(toEventType);
  }

  async listEventTypes(accountId: string): Promise<CustomEventType[]> {
    return this.all<EventTypeRow>('SELECT * FROM event_types WHERE account_id = ? ORDER BY name', accountId).map(toEventType);
  }

  async listEventTypePage(accountId: string, page: EventTypePageRequest): Promise<Page<ListedEventType>> {
    const sql = `SELECT ${eventTypePageColumns(page.schemas)} FROM event_types WHERE account_id = ? AND name > ? ORDER BY name LIMIT ?`;
    return toEventTypePage(this.all<EventTypeRow>(sql, accountId, page.cursor ?? '', page.limit + 1), page.limit);
  }

  async deleteEventType(accountId: string, name: string): Promise<boolean> {
    return this.write('DELETE FROM event_types WHERE account_id = ? AND name = ?', accountId, name).changes > 0;
  }

  async createApiKey(input: NewApiKey): Promise<ApiKeyRecord> {
    const id = newId('key');
    const createdAt = Date.now();
    this.write(
      'INSERT INTO api_keys (id, account_id, name, role, operator, hash, prefix, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      id,
      input.accountId,
      input.name,
      input.role,
      input.operator ? 1 : 0,
      input.hash,
      input.prefix,
      input.source,
      createdAt,
    );
    return { id, accountId: input.accountId, name: input.name, role: input.role, operator: input.operator, prefix: input.prefix, createdAt };
  }

  async findApiKeyByHash(hash: string): Promise<(ApiKeyRecord & { hash: string }) | undefined> {
    const row = this.get<ApiKeyRow>('SELECT * FROM api_keys WHERE hash = ?', hash);
    return row && toApiKey(row);
  }

  async listApiKeys(accountId: string, page: PageRequest): Promise<Page<ApiKeyRecord>> {
    const rows = this.all<ApiKeyRow>('SELECT * FROM api_keys WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?', accountId, page.cursor ?? '~', page.limit + 1);
    return toPage(rows, page.limit, (r) => {
      const { hash: _hash, ...rest } = toApiKey(r);
      return rest;
    });
  }

  async deleteApiKey(accountId: string, id: string): Promise<boolean> {
    return this.write('DELETE FROM api_keys WHERE account_id = ? AND id = ?', accountId, id).changes > 0;
  }

  async syncEnvKey(hash: string): Promise<boolean> {
    this.write("DELETE FROM api_keys WHERE source = 'env' AND hash <> ?", hash);
    return this.get('SELECT 1 FROM api_keys WHERE hash = ?', hash) !== undefined;
  }

  async countOperatorKeys(): Promise<number> {
    return num(this.get<{ n: number }>('SELECT COUNT(*) AS n FROM api_keys WHERE operator = 1')!.n);
  }

  async createUiSession(s: NewUiSession): Promise<void> {
    // Logins are rare: each one also clears out the sessions that have expired since the last.
    this.immediate(() => {
      this.run('DELETE FROM ui_sessions WHERE expires_at <= ?', s.createdAt);
      this.run('INSERT INTO ui_sessions (token_hash, api_key_id, sealed_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', s.tokenHash, s.apiKeyId, this.sealer.seal(s.key), s.createdAt, s.expiresAt);
    });
  }

  async findUiSession(tokenHash: string, now: number): Promise<UiSession | undefined> {
    const row = this.get<UiSessionRow>('SELECT api_key_id, sealed_key, expires_at FROM ui_sessions WHERE token_hash = ? AND expires_at > ?', tokenHash, now);
    return row && toUiSession(row, this.sealer);
  }

  async deleteUiSession(tokenHash: string): Promise<void> {
    this.write('DELETE FROM ui_sessions WHERE token_hash = ?', tokenHash);
  }

  async recordAuthFailure(scope: string, address: string, now: number, windowMs: number): Promise<{ since: number; failures: number }> {
    const row = this.immediate(() => this.get<{ since: number; failures: number }>(recordAuthFailureSql(() => '?'), scope, address, now, now - windowMs, now - windowMs));
    return { since: num(row!.since), failures: num(row!.failures) };
  }

  async pruneAuthFailures(before: number): Promise<number> {
    return this.write('DELETE FROM auth_failures WHERE since < ?', before).changes;
  }

  // ---- endpoints ----------------------------------------------------------------------

  private bumpVersion(accountId: string): void {
    this.run('UPDATE accounts SET endpoints_version = endpoints_version + 1 WHERE id = ?', accountId);
  }

  async createEndpoint(e: Endpoint): Promise<void> {
    const row = endpointToRow(e, this.sealer);
    const cols = Object.keys(row);
    this.immediate(() => {
      this.run(`INSERT INTO endpoints (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`, row);
      this.bumpVersion(e.accountId);
    });
  }

  async updateEndpoint(e: Endpoint, before: Endpoint, expected?: EndpointExpected): Promise<boolean> {
    return this.immediate(() => this.writeEndpoint(e, before, expected));
  }

  /** updateEndpoint inside the caller's write transaction. */
  private writeEndpoint(e: Endpoint, before: Endpoint, expected?: EndpointExpected): boolean {
    const changes = endpointChanges(before, e, this.sealer);
    const sets = Object.keys(changes).map((c) => (c === 'updated_at' ? MOVE_UPDATED_AT : `${c} = @${c}`));
    const written =
      this.run(`UPDATE endpoints SET ${sets.join(', ')} WHERE id = @id AND account_id = @account_id AND (@expected IS NULL OR updated_at = @expected)`, {
        ...changes,
        id: e.id,
        account_id: e.accountId,
        expected: expected?.updatedAt ?? null,
      }).changes > 0;
    if (!written) return false;
    if (e.ordering !== before.ordering) this.run(FOLLOW_ORDERING, e.ordering === 'per_resource' ? 1 : 0, e.id, e.id);
    this.bumpVersion(e.accountId);
    return true;
  }

  async rotateSecretOnce(rotated: Endpoint, before: Endpoint, key: string, secretSha256: string): Promise<'rotated' | SecretRotation | undefined> {
    return this.immediate(() => {
      // The key's row first, only for an endpoint that is there: a repeat finds it and changes nothing.
      const recorded = this.run(RECORD_ROTATION_SQL, secretSha256, rotated.previousSecretExpiresAt, rotated.updatedAt, rotated.accountId, rotated.id, key).changes > 0;
      if (!recorded) {
        const row = this.get<RotationRow>(`${EARLIER_ROTATION_SQL} ?`, rotated.accountId, rotated.id, key);
        return row && toRotation(row);
      }
      this.writeEndpoint(rotated, before);
      return 'rotated';
    });
  }

  async disableEndpoint(accountId: string, id: string, reason: string, now: number): Promise<{ endpoint: Endpoint; disabledNow: boolean } | undefined> {
    const disabledNow = this.immediate(() => {
      const changed = this.run('UPDATE endpoints SET disabled = 1, disabled_reason = ?, updated_at = MAX(?, updated_at + 1) WHERE account_id = ? AND id = ? AND disabled = 0', reason, now, accountId, id).changes > 0;
      if (changed) this.bumpVersion(accountId);
      return changed;
    });
    const endpoint = await this.getEndpoint(accountId, id);
    return endpoint && { endpoint, disabledNow };
  }

  async getEndpoint(accountId: string, id: string): Promise<Endpoint | undefined> {
    const row = this.get<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM endpoints WHERE account_id = ? AND id = ?`, accountId, id);
    return row && toEndpoint(row, this.sealer);
  }

  async getEndpointsByIds(ids: readonly string[]): Promise<Endpoint[]> {
    if (ids.length === 0) return [];
    const rows = this.all<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM endpoints WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids));
    return rows.map((r) => toEndpoint(r, this.sealer));
  }

  async listEndpoints(accountId: string, page: PageRequest & { profile?: string }): Promise<Page<Endpoint>> {
    const rows = this.all<EndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS} FROM endpoints WHERE account_id = ? AND id < ? AND (? IS NULL OR profile = ?) ORDER BY id DESC LIMIT ?`,
      accountId,
      page.cursor ?? '~',
      page.profile ?? null,
      page.profile ?? null,
      page.limit + 1,
    );
    return toPage(rows, page.limit, (r) => toEndpoint(r, this.sealer));
  }

  async activeEndpoints(accountId: string): Promise<Endpoint[]> {
    const rows = this.all<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM endpoints WHERE account_id = ? AND disabled = 0`, accountId);
    return rows.map((r) => toEndpoint(r, this.sealer));
  }

  /**
   * The endpoint row goes at once and the endpoint is recorded in endpoint_purges, one short
   * transaction: its history, which took 1.9 s of the write lock for 200,000 deliveries, goes
   * later in chunks (purgeDeletedEndpoints). No ingest adds to it meanwhile: each checks its
   * endpoints inside its own write transaction (endpointsNow).
   */
  async deleteEndpoint(accountId: string, id: string, expected?: EndpointExpected): Promise<boolean> {
    return this.immediate(() => {
      const gone = this.run('DELETE FROM endpoints WHERE account_id = ? AND id = ? AND (? IS NULL OR updated_at = ?)', accountId, id, expected?.updatedAt ?? null, expected?.updatedAt ?? null).changes > 0;
      if (!gone) return false;
      this.run('INSERT INTO endpoint_purges (endpoint_id, account_id, marked_at) VALUES (?, ?, ?)', id, accountId, Date.now());
      // Its recoveries go with it: a running one stops at its next chunk (advanceRecovery finds
      // nothing) instead of re-queueing deliveries that are being purged.
      this.run('DELETE FROM recoveries WHERE account_id = ? AND endpoint_id = ?', accountId, id);
      this.bumpVersion(accountId);
      return true;
    });
  }

  async purgeDeletedEndpoints(limit: number): Promise<{ deliveries: number; finished: number }> {
    return this.immediate(() => {
      const next = this.get<{ endpoint_id: string }>('SELECT endpoint_id FROM endpoint_purges ORDER BY marked_at LIMIT 1');
      if (!next) return { deliveries: 0, finished: 0 };
      const deliveries = this.deleteDeliveriesOf(next.endpoint_id, limit);
      if (deliveries === limit) return { deliveries, finished: 0 };
      this.run('DELETE FROM endpoint_purges WHERE endpoint_id = ?', next.endpoint_id);
      return { deliveries, finished: 1 };
    });
  }

  /** Deletes up to `limit` deliveries of an endpoint with their attempts. */
  private deleteDeliveriesOf(endpointId: string, limit: number): number {
    const ids = JSON.stringify(this.allRaw<[string]>('SELECT id FROM deliveries WHERE endpoint_id = ? LIMIT ?', endpointId, limit).map((r) => r[0]));
    this.run('DELETE FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?))', ids);
    return this.run('DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?))', ids).changes;
  }

  async endpointsVersion(accountId: string): Promise<number> {
    return num(this.get<{ v: number }>('SELECT endpoints_version AS v FROM accounts WHERE id = ?', accountId)?.v ?? 0);
  }

  // ---- ingest -------------------------------------------------------------------------

  async ingest(items: readonly IngestItem[], now: number, lease?: IngestLease): Promise<IngestOutcome[]> {
    return this.immediate(() => {
      const present = this.endpointsNow(items);
      return items.map((item) => this.ingestOne(item, now, lease, present));
    });
  }

  /**
   * The items' endpoints as committed now, inside the ingest's write transaction, each with
   * whether it is ordered per resource: the items were matched against the endpoints as read
   * before it. One deleted in between gets no delivery (its history is being purged, and one
   * written after the purge would never go); an ordering switched in between (updateEndpoint,
   * which re-orders the queued deliveries) must hold for these deliveries too.
   */
  private endpointsNow(items: readonly IngestItem[]): ReadonlyMap<string, boolean> {
    const ids = new Set<string>();
    for (const item of items) for (const e of item.endpoints) ids.add(e.id);
    if (ids.size === 0) return new Map();
    const rows = this.allRaw<[string, number]>("SELECT id, ordering = 'per_resource' FROM endpoints WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify([...ids]));
    return new Map(rows.map(([id, ordered]) => [id, ordered === 1]));
  }

  private ingestOne(item: IngestItem, now: number, lease: IngestLease | undefined, present: ReadonlyMap<string, boolean>): IngestOutcome {
    const { event } = item;
    if (event.idempotencyKey !== undefined) {
      const existing = this.get<{ id: string; n: number }>(
        'SELECT e.id, (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id) AS n FROM events e WHERE e.account_id = ? AND e.idempotency_key = ?',
        item.accountId,
        event.idempotencyKey,
      );
      if (existing) return { id: existing.id, deliveries: num(existing.n), duplicate: true };
    }
    const resourceKey = resourceKeyOf(event.resource);
    const sequence = resourceKey === null ? null : this.nextSequence(item.accountId, resourceKey);
    const body = withSequence(item.body, sequence);
    this.run(
      'INSERT INTO events (id, account_id, idempotency_key, type, occurred_at, received_at, project_id, resource_key, sequence, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      item.messageId,
      item.accountId,
      event.idempotencyKey ?? null,
      event.type,
      event.occurredAt ?? now,
      now,
      event.projectId ?? null,
      resourceKey,
      sequence,
      body,
    );
    let leased: ClaimedDelivery[] | undefined;
    let deliveries = 0;
    for (const endpoint of item.endpoints) {
      const perResource = present.get(endpoint.id);
      if (perResource === undefined) continue;
      deliveries++;
      const ordered = resourceKey !== null && perResource;
      const lent = leaseOf(endpoint, ordered, lease);
      const id = newId('dlv', now);
      this.run(
        'INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, next_attempt_at, ordered, resource_key, sequence, lease_owner, lease_until, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        id,
        item.accountId,
        item.messageId,
        endpoint.id,
        event.type,
        lent ? 'in_flight' : 'pending',
        now,
        ordered ? 1 : 0,
        resourceKey,
        sequence,
        lent?.owner ?? null,
        lent?.until ?? null,
        now,
        now,
      );
      if (lent) (leased ??= []).push(leasedDelivery(item, { id, endpointId: endpoint.id, body, sequence, resourceKey, now }));
    }
    const outcome: IngestOutcome = { id: item.messageId, deliveries, duplicate: false };
    return leased ? { ...outcome, leased } : outcome;
  }

  /**
   * Read, then write: an upsert with RETURNING builds an ephemeral table per call and cost about
   * 4 µs more per event (measured). Safe because it runs inside ingest's write transaction.
   */
  private nextSequence(accountId: string, resourceKey: string): number {
    const row = this.get<{ sequence: number }>('SELECT sequence FROM resource_sequences WHERE account_id = ? AND resource_key = ?', accountId, resourceKey);
    if (row === undefined) {
      this.run('INSERT INTO resource_sequences (account_id, resource_key, sequence) VALUES (?, ?, 1)', accountId, resourceKey);
      return 1;
    }
    const next = num(row.sequence) + 1;
    this.run('UPDATE resource_sequences SET sequence = ? WHERE account_id = ? AND resource_key = ?', next, accountId, resourceKey);
    return next;
  }

  // ---- queue --------------------------------------------------------------------------

  async claim(req: ClaimRequest): Promise<ClaimedDelivery[]> {
    if (req.limit <= 0) return [];
    const capOf = (id: string) => Math.min(req.endpointLimits?.[id] ?? req.perEndpointLimit ?? req.limit, req.limit);
    return this.soft(() => {
      const due = this.all<{ id: string }>(CLAIMABLE_ENDPOINTS_SQL, { now: req.now, exclude: JSON.stringify(req.excludeEndpoints) });
      let open = due.map((r) => r.id).filter((id) => capOf(id) > 0);
      const taken = new Map<string, number>();
      const claimed: ClaimRow[] = [];
      // Every endpoint with due work offers up to an equal share of the limit, so a claim reads
      // about `limit` candidates whatever the number of busy endpoints (offering the full limit
      // each made a claim of 32 across 100 busy endpoints read 3,200). Endpoints that filled
      // their share may offer more while the limit and their cap allow.
      while (open.length > 0 && claimed.length < req.limit) {
        const fair = Math.ceil((req.limit - claimed.length) / open.length);
        const next: string[] = [];
        for (const [share, ids] of this.byShare(open, (id) => Math.min(fair, capOf(id) - (taken.get(id) ?? 0)))) {
          if (claimed.length >= req.limit) break;
          const rows = this.claimRows(req, ids, share, req.limit - claimed.length);
          claimed.push(...rows);
          const got = new Map<string, number>();
          for (const r of rows) got.set(r[4], (got.get(r[4]) ?? 0) + 1);
          for (const id of ids) {
            const n = got.get(id) ?? 0;
            taken.set(id, (taken.get(id) ?? 0) + n);
            if (n === share && taken.get(id)! < capOf(id)) next.push(id);
          }
        }
        open = next;
      }
      claimed.sort((a, b) => a[9] - b[9]);
      return claimed.map(toClaimed);
    });
  }

  /** Endpoints grouped by the share each offers this round: one statement per group. */
  private byShare(ids: readonly string[], shareOf: (id: string) => number): Map<number, string[]> {
    const groups = new Map<number, string[]>();
    for (const id of ids) {
      const share = shareOf(id);
      const group = groups.get(share);
      if (group) group.push(id);
      else groups.set(share, [id]);
    }
    return groups;
  }

  /** Leases up to `share` due deliveries of each endpoint, `limit` in all, earliest first. */
  private claimRows(req: ClaimRequest, endpoints: readonly string[], share: number, limit: number): ClaimRow[] {
    const rows = this.allRaw<ClaimRow>(CLAIM_SQL, { now: req.now, endpoints: JSON.stringify(endpoints), share, limit });
    if (rows.length === 0) return rows;
    this.run(
      "UPDATE deliveries SET status = 'in_flight', lease_owner = ?, lease_until = ?, updated_at = ?, claim_no = claim_no + 1 WHERE rowid IN (SELECT value FROM json_each(?))",
      req.owner,
      req.now + req.leaseMs,
      req.now,
      JSON.stringify(rows.map((r) => r[0])),
    );
    return rows;
  }

  async settle(settlements: readonly Settlement[], now: number, failingGapMs = DEFAULT_FAILING_GAP_MS): Promise<string[]> {
    if (settlements.length === 0) return [];
    return this.soft(() => {
      /** Per endpoint: whether any attempt succeeded, and when the first one started. */
      const health = new Map<string, { ok: boolean; firstAt: number }>();
      const applied: AttemptSettlement[] = [];
      const refused: string[] = [];
      for (const s of settlements) {
        // Only settlements that applied (the owner still held the lease) count for health and activity.
        if (!this.settleOne(s, now)) {
          refused.push(s.deliveryId);
          continue;
        }
        if (s.outcome === 'release') continue;
        applied.push(s);
        const h = health.get(s.endpointId);
        const ok = s.outcome === 'succeeded';
        if (h) {
          h.ok ||= ok;
          h.firstAt = Math.min(h.firstAt, s.attempt.startedAt);
        } else health.set(s.endpointId, { ok, firstAt: s.attempt.startedAt });
      }
      // Before the rollup takes these attempts in: the failure rule reads the endpoint's previous one there.
      for (const [endpointId, { ok, firstAt }] of health) {
        if (ok) this.run('UPDATE endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL', endpointId);
        else this.run(FAILING_SINCE_SQL, { now, id: endpointId, first: firstAt, cut: firstAt - failingGapMs });
      }
      if (applied.length > 0) this.addToRollup(rollUp(applied));
      return refused;
    });
  }

  /** Adds a batch's rollup rows (one per endpoint and minute) in one statement. */
  private addToRollup(rows: readonly MinuteRollup[]): void {
    this.run(
      `INSERT INTO attempt_minutes (account_id, endpoint_id, minute, succeeded, retried, failed, latency_sum_ms, latency_max_ms, last_attempt_at)
       SELECT e.account_id, e.id, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4, r.value ->> 5, r.value ->> 6, r.value ->> 7
         FROM json_each(?) r JOIN endpoints e ON e.id = r.value ->> 0
        WHERE TRUE
       ON CONFLICT (account_id, endpoint_id, minute) DO UPDATE SET
         succeeded = succeeded + excluded.succeeded, retried = retried + excluded.retried, failed = failed + excluded.failed,
         latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms, latency_max_ms = MAX(latency_max_ms, excluded.latency_max_ms),
         last_attempt_at = MAX(last_attempt_at, excluded.last_attempt_at)`,
      JSON.stringify(rows.map((r) => [r.endpointId, r.minute, r.succeeded, r.retried, r.failed, r.latencySumMs, r.latencyMaxMs, r.lastAttemptAt])),
    );
  }

  /**
   * Whether the settlement applied: only to the claim it answers (see the contract). A worker
   * that lost its lease changes nothing, nor does its settlement of an earlier claim of a
   * delivery it claimed again.
   */
  private settleOne(s: Settlement, now: number): boolean {
    if (s.outcome === 'release') {
      return this.run(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? AND status = 'in_flight' AND claim_no = ?",
        s.nextAttemptAt,
        now,
        s.deliveryId,
        s.owner,
        s.claimNo,
      ).changes > 0;
    }
    const a = s.attempt;
    const status = s.outcome === 'retry' ? 'pending' : s.outcome;
    const next = s.outcome === 'retry' ? s.nextAttemptAt : null;
    const error = a.errorKind === null ? null : `${a.errorKind}: ${a.errorMessage ?? ''}`.slice(0, 500);
    const applied = this.run(
      `UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
              last_status_code = ?, last_error = ?, notice = COALESCE(?, notice), updated_at = ?
        WHERE id = ? AND lease_owner = ? AND status = 'in_flight' AND claim_no = ?`,
      status,
      next,
      a.statusCode,
      error,
      recordedNotice(s),
      now,
      s.deliveryId,
      s.owner,
      s.claimNo,
    ).changes > 0;
    // The attempt belongs to the lease: a stale worker's result would duplicate the attempt
    // number of the worker that now holds the delivery.
    if (!applied) return false;
    this.run(
      `INSERT INTO attempts (id, delivery_id, account_id, attempt_no, started_at, duration_ms, status_code, error_kind, error_message, request_headers, response_body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      newId('atm', a.startedAt),
      s.deliveryId,
      s.accountId,
      a.attemptNo,
      a.startedAt,
      a.durationMs,
      a.statusCode,
      a.errorKind,
      a.errorMessage,
      JSON.stringify(a.requestHeaders),
      a.responseBody,
    );
    return true;
  }

  async pendingNotices(limit: number): Promise<Notice[]> {
    return this.all<NoticeRow>(`${PENDING_NOTICES_SQL} ?`, limit).map(toNotice);
  }

  async clearNotices(notices: readonly Notice[]): Promise<void> {
    if (notices.length === 0) return;
    this.immediate(() => {
      for (const n of notices) this.run('UPDATE deliveries SET notice = NULL WHERE id = ? AND notice = ?', n.deliveryId, n.recorded);
    });
  }

  async extendLeases(owner: string, leases: readonly HeldLease[], until: number): Promise<number> {
    if (leases.length === 0) return 0;
    // Committed soft, as reservations: a crash loses the lease anyway.
    return this.soft(() => this.run(EXTEND_LEASES_SQL, until, JSON.stringify(leases.map((l) => [l.id, l.claimNo])), owner).changes);
  }

  async releaseLeases(filter: { expiredBefore: number } | { owner: string } | { all: true }): Promise<number> {
    const base = "UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL WHERE status = 'in_flight'";
    if ('all' in filter) return this.write(base).changes;
    if ('owner' in filter) return this.write(`${base} AND lease_owner = ?`, filter.owner).changes;
    return this.write(`${base} AND lease_until < ?`, filter.expiredBefore).changes;
  }

  async nextDueAt(): Promise<number | null> {
    // The claim's conditions without the time bound: a past-due delivery that no claim can take
    // (disabled endpoint, blocked behind its chain's head) would make the dispatcher spin.
    const row = this.get<{ t: number | null }>(
      `SELECT MIN((SELECT q.next_attempt_at FROM deliveries q
                    WHERE q.endpoint_id = e.id AND q.status = 'pending'
                      AND (q.ordered = 0 OR NOT EXISTS (${BLOCKED_BY_HEAD}))
                    ORDER BY q.next_attempt_at LIMIT 1)) AS t
         FROM endpoints e
        WHERE e.disabled = 0`,
    );
    return numOrNull(row?.t ?? null);
  }

  // ---- logs and replay ----------------------------------------------------------------

  async getEvent(accountId: string, idOrKey: string): Promise<StoredEvent | undefined> {
    const row =
      this.get<EventRow>('SELECT * FROM events WHERE account_id = ? AND id = ?', accountId, idOrKey) ??
      this.get<EventRow>('SELECT * FROM events WHERE account_id = ? AND idempotency_key = ?', accountId, idOrKey);
    return row && toEvent(row);
  }

  async getDelivery(accountId: string, id: string): Promise<Delivery | undefined> {
    const row = this.get<DeliveryRow>(`SELECT * FROM deliveries WHERE account_id = ? AND id = ? AND ${NOT_PURGED}`, accountId, id);
    return row && toDelivery(row);
  }

  async listDeliveries(accountId: string, q: DeliveryQuery): Promise<Page<Delivery>> {
    const filters = deliveryFilters(this.withStoredTypes(accountId, q));
    // With an endpoint, its own (endpoint_id, id) index is the narrow one; the unary + keeps the
    // planner (no statistics) from walking the whole account's index instead.
    const account = q.endpointId === undefined ? 'account_id' : '+account_id';
    const rows = this.all<DeliveryRow>(
      `SELECT * FROM deliveries WHERE ${account} = ? AND id < ?${filters.sql} AND ${NOT_PURGED} ORDER BY id DESC LIMIT ?`,
      accountId,
      q.cursor ?? '~',
      ...filters.values,
      q.limit + 1,
    );
    return toPage(rows, q.limit, toDelivery);
  }

  /**
   * `q` with its wildcards replaced by the types the account has deliveries of under their
   * prefixes, a few seeks of the (account, event type) index. Without statistics the planner
   * read a wildcard's range by walking the account's whole (account, id) index: 0.4 s per
   * million deliveries for a prefix of rare types, where one type's name is read from its index.
   */
  private withStoredTypes(accountId: string, q: DeliveryQuery): DeliveryQuery {
    if (q.eventTypes === undefined) return q;
    const { names, prefixes } = splitTypes(q.eventTypes);
    if (prefixes.length === 0) return q;
    const stored = prefixes.flatMap((p) => this.allRaw<[string]>(STORED_TYPES_SQL, { account: accountId, from: p, to: prefixEnd(p) }).map((r) => r[0]));
    return { ...q, eventTypes: [...new Set([...names, ...stored])] };
  }

  async listAttempts(accountId: string, deliveryIds: readonly string[]): Promise<Attempt[]> {
    if (deliveryIds.length === 0) return [];
    const rows = this.all<AttemptRow>(
      'SELECT * FROM attempts WHERE account_id = ? AND delivery_id IN (SELECT value FROM json_each(?)) ORDER BY delivery_id, attempt_no',
      accountId,
      JSON.stringify(deliveryIds),
    );
    return rows.map(toAttempt);
  }

  async retryDelivery(accountId: string, id: string, now: number): Promise<Delivery | undefined> {
    // A replay of a finished delivery goes out as asked, outside its resource's order: it neither
    // waits for nor holds back newer events. A pending one keeps its place in the order.
    this.write(
      `UPDATE deliveries SET status = 'pending', ordered = ${KEEP_ORDER_IF_PENDING}, next_attempt_at = ?, updated_at = ? WHERE account_id = ? AND id = ? AND status <> 'in_flight'`,
      now, now, accountId, id,
    );
    return this.getDelivery(accountId, id);
  }

  private recoverIds(accountId: string, endpointId: string, scope: RecoverScope, after: string, limit: number): string[] {
    return this.allRaw<[string]>(recoverSelect(scope), recoverParams(accountId, endpointId, scope, after, limit)).map((r) => r[0]);
  }

  /** A recover's chunk, re-queued in its resources' order where the endpoint keeps one (REQUEUED_ORDERED). */
  private requeue(ids: readonly string[], now: number): number {
    if (ids.length === 0) return 0;
    return this.run(`UPDATE deliveries SET status = 'pending', ordered = ${REQUEUED_ORDERED}, next_attempt_at = ?, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))`, now, now, JSON.stringify(ids)).changes;
  }

  /** In steps of COUNT_STEP_ROWS, yielding between them: 1,000,000 at once held this thread for a second or more. */
  async countRecoverable(accountId: string, endpointId: string, scope: RecoverScope): Promise<number> {
    let after = idFloor('dlv', scope.since);
    let total = 0;
    for (;;) {
      const ids = this.recoverIds(accountId, endpointId, scope, after, COUNT_STEP_ROWS);
      total += ids.length;
      if (ids.length < COUNT_STEP_ROWS) return total;
      after = ids.at(-1)!;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async findRecovery(accountId: string, endpointId: string, idempotencyKey: string | null, request: string): Promise<Recovery | undefined> {
    const row = this.existingRecovery(accountId, endpointId, idempotencyKey, request);
    return row && toRecovery(row);
  }

  /** The recovery a request is a repeat of: by its key, or without one the same request still running. */
  private existingRecovery(accountId: string, endpointId: string, idempotencyKey: string | null, request: string): RecoveryRow | undefined {
    if (idempotencyKey !== null) {
      return this.get<RecoveryRow>('SELECT * FROM recoveries WHERE account_id = ? AND endpoint_id = ? AND idempotency_key = ?', accountId, endpointId, idempotencyKey);
    }
    return this.get<RecoveryRow>(
      "SELECT * FROM recoveries WHERE endpoint_id = ? AND request = ? AND status = 'running' AND account_id = ? ORDER BY id LIMIT 1",
      endpointId, request, accountId,
    );
  }

  async beginRecovery(r: NewRecovery, now: number): Promise<{ recovery: Recovery; created: boolean }> {
    return this.immediate(() => {
      const existing = this.existingRecovery(r.accountId, r.endpointId, r.idempotencyKey, r.request);
      if (existing) return { recovery: toRecovery(existing), created: false };
      const { scope } = r;
      const row = this.get<RecoveryRow>(
        `INSERT INTO recoveries (id, account_id, endpoint_id, idempotency_key, request, since, until, event_types, statuses, status, total, cursor, lease_owner, lease_until, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?) RETURNING *`,
        r.id, r.accountId, r.endpointId, r.idempotencyKey, r.request, scope.since, scope.until, scope.eventTypes && JSON.stringify(scope.eventTypes),
        JSON.stringify(scope.statuses), r.total, idFloor('dlv', scope.since), r.lease.owner, r.lease.until, scope.asOf ?? now, now,
      )!;
      return { recovery: toRecovery(row), created: true };
    });
  }

  async getRecovery(accountId: string, endpointId: string, id: string): Promise<Recovery | undefined> {
    const row = this.get<RecoveryRow>('SELECT * FROM recoveries WHERE account_id = ? AND endpoint_id = ? AND id = ?', accountId, endpointId, id);
    return row && toRecovery(row);
  }

  /**
   * Soft (see soft()): the re-queue and the cursor commit together, so one lost to a power
   * failure is lost with its cursor and done again, never skipped. With an fsync per chunk,
   * 200,000 deliveries took 7 s.
   */
  async advanceRecovery(id: string, lease: RecoveryLease, limit: number, now: number): Promise<Recovery | undefined> {
    return this.soft(() => {
      const row = this.get<RecoveryRow & { cursor: string }>("SELECT * FROM recoveries WHERE id = ? AND status = 'running' AND lease_owner = ?", id, lease.owner);
      if (!row) return undefined;
      const r = toRecovery(row);
      const ids = this.recoverIds(r.accountId, r.endpointId, r.scope, row.cursor, limit);
      const done = ids.length < limit;
      const updated = this.get<RecoveryRow>(
        `UPDATE recoveries SET cursor = ?, requeued = requeued + ?, lease_until = ?, updated_at = ?, status = ?, finished_at = ?,
                lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END
          WHERE id = ? RETURNING *`,
        ids.at(-1) ?? row.cursor, this.requeue(ids, now), lease.until, now, done ? 'done' : 'running', done ? now : null, done ? 1 : 0, id,
      )!;
      return toRecovery(updated);
    });
  }

  async claimRecovery(lease: RecoveryLease, now: number): Promise<Recovery | undefined> {
    const row = this.immediate(() =>
      this.get<RecoveryRow>(
        `UPDATE recoveries SET lease_owner = ?, lease_until = ?
          WHERE id = (SELECT id FROM recoveries WHERE status = 'running' AND lease_until < ? ORDER BY lease_until LIMIT 1) RETURNING *`,
        lease.owner, lease.until, now,
      ),
    );
    return row && toRecovery(row);
  }

  async endpointHealth(accountId: string, endpointIds: readonly string[], since: number): Promise<EndpointHealth[]> {
    if (endpointIds.length === 0) return [];
    const params = { account: accountId, ids: JSON.stringify(endpointIds), from: minuteOf(since) };
    // Which ids are the account's, with the latest rollup row of each (a probe of its primary key).
    const owned = this.all<{ id: string; last: number | null }>(
      `SELECT e.id, (SELECT m.last_attempt_at FROM attempt_minutes m WHERE m.account_id = e.account_id AND m.endpoint_id = e.id ORDER BY m.minute DESC LIMIT 1) AS last
         FROM endpoints e WHERE e.account_id = @account AND e.id IN (SELECT value FROM json_each(@ids))`,
      params,
    );
    // Only the account's own endpoints are counted, so neither half needs the account column:
    // pending from the per-endpoint due index alone, in flight through the (small) lease index.
    const queue = this.all<QueueRow>(
      `SELECT endpoint_id, SUM(attempts = 0) AS pending, SUM(attempts > 0) AS retrying, 0 AS in_flight
         FROM deliveries INDEXED BY deliveries_endpoint_due
        WHERE status = 'pending' AND endpoint_id IN (SELECT value FROM json_each(@owned))
        GROUP BY endpoint_id
       UNION ALL
       SELECT endpoint_id, 0, 0, COUNT(*) FROM deliveries INDEXED BY deliveries_leased
        WHERE status = 'in_flight' AND endpoint_id IN (SELECT value FROM json_each(@owned))
        GROUP BY endpoint_id`,
      { owned: JSON.stringify(owned.map((e) => e.id)) },
    );
    const totals = this.all<TotalsRow & { endpoint_id: string }>(
      `SELECT endpoint_id, ${TOTALS_SQL} FROM attempt_minutes
        WHERE account_id = @account AND endpoint_id IN (SELECT value FROM json_each(@ids)) AND minute >= @from
        GROUP BY endpoint_id`,
      params,
    );
    return owned.map((e) => healthOf(e.id, numOrNull(e.last), queue, totals));
  }

  async activity(accountId: string, q: ActivityQuery): Promise<ActivityMinute[]> {
    const scope = q.endpointId === undefined ? '' : 'AND endpoint_id = @endpoint';
    const rows = this.all<TotalsRow & { minute: number }>(
      `SELECT minute, ${TOTALS_SQL} FROM attempt_minutes
        WHERE account_id = @account ${scope} AND minute >= @from AND minute < @to
        GROUP BY minute ORDER BY minute`,
      { account: accountId, from: q.from, to: q.to, ...(q.endpointId === undefined ? {} : { endpoint: q.endpointId }) },
    );
    return rows.map(toActivityMinute);
  }

  async stats(accountId?: string, endpointId?: string): Promise<QueueStats> {
    return this.counts(accountId, endpointId, true);
  }

  async queueDepth(accountId?: string, endpointId?: string): Promise<QueueDepth> {
    const { pending, inFlight, retrying } = this.counts(accountId, endpointId, false);
    return { pending, inFlight, retrying };
  }

  /** `history` false leaves succeeded and failed at 0, uncounted. */
  /** A deleted endpoint's counts are none (it is no longer the account's); see lessPurged. */
  private counts(accountId: string | undefined, endpointId: string | undefined, history: boolean): QueueStats {
    const of = (account: string | undefined, endpoint: string | undefined) =>
      statsOf(this.get<CountsRow>(statsSql(account, endpoint, history), { account: account ?? null, endpoint: endpoint ?? null }));
    if (endpointId !== undefined) return of(accountId, endpointId);
    const purged = this.allRaw<[string]>('SELECT endpoint_id FROM endpoint_purges WHERE ? IS NULL OR account_id = ?', accountId ?? null, accountId ?? null);
    return lessPurged(of(accountId, undefined), purged.map(([id]) => of(undefined, id)));
  }

  /**
   * A soft write: its loss in a power failure only lets a few requests through early. Committed
   * with an fsync, as it was, each reservation took 0.4–1 ms of the dispatch thread (180–290 µs
   * of it CPU), so one busy rate-limited endpoint held every delivery to 1,000–2,500/s; soft,
   * 35–50 µs (`node bench/store-cost.mjs --reserve`).
   */
  async reserveRate(limits: readonly SharedRateLimit[], now: number): Promise<number> {
    const { keys: unique, single } = keysToReserve(limits);
    if (single) {
      const { key, interval, tolerance } = single;
      const row = this.soft(() =>
        this.get<{ tat: number }>(
          'INSERT INTO rate_limits (key, tat) VALUES (@key, @now + @interval) ON CONFLICT (key) DO UPDATE SET tat = MAX(tat, @now) + @interval RETURNING tat',
          { key, now, interval },
        ),
      );
      return Math.max(0, row!.tat - interval - tolerance - now);
    }
    if (unique.length === 0) return 0;
    return this.soft(() => {
      const { delayMs, tats } = reserveAcross(unique, (key) => this.get<{ tat: number }>('SELECT tat FROM rate_limits WHERE key = ?', key)?.tat, now);
      unique.forEach((l, i) => this.run('INSERT INTO rate_limits (key, tat) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET tat = excluded.tat', l.key, tats[i]));
      return delayMs;
    });
  }

  /** Where retention's sweep for events without deliveries goes on from: after this (received_at, rowid). */
  private eventSweep = { receivedAt: -1, rowid: 0 };

  async prune(before: number, limit: number): Promise<{ deliveries: number; events: number }> {
    // Orphans (deliveries of an endpoint deleted while an ingest that matched it was committing)
    // stay pending with their creation time as due time: the oldest pending rows hold them.
    const { result, sweep } = this.immediate(() => {
      const gone = this.all<{ id: string; event_id: string }>(
        `SELECT id, event_id FROM (SELECT id, event_id FROM deliveries WHERE status = 'succeeded' AND updated_at < ? LIMIT ?)
         UNION ALL
         SELECT o.id, o.event_id FROM (SELECT id, event_id, endpoint_id FROM deliveries WHERE status = 'pending' ORDER BY next_attempt_at LIMIT ?) o
          WHERE NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = o.endpoint_id)`,
        before,
        limit,
        limit,
      );
      const ids = JSON.stringify(gone.map((r) => r.id));
      this.run('DELETE FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?))', ids);
      const deliveries = this.run('DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?))', ids).changes;
      // Their events go with them: found by id, not by looking for events without deliveries.
      const events = this.run(
        `DELETE FROM events WHERE id IN (SELECT value FROM json_each(?)) AND received_at < ?
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)`,
        JSON.stringify([...new Set(gone.map((r) => r.event_id))]),
        before,
      ).changes;
      const swept = events < limit ? this.sweepEvents(before, limit - events) : { deleted: 0, next: this.eventSweep };
      this.run(
        `DELETE FROM attempt_minutes WHERE (account_id, endpoint_id, minute) IN (
           SELECT account_id, endpoint_id, minute FROM attempt_minutes WHERE minute < ? LIMIT ?)`,
        before - ROLLUP_EXTRA_MS,
        limit,
      );
      this.run("DELETE FROM recoveries WHERE id IN (SELECT id FROM recoveries WHERE status = 'done' AND finished_at < ? LIMIT ?)", before, limit);
      this.run('DELETE FROM secret_rotations WHERE rowid IN (SELECT rowid FROM secret_rotations WHERE created_at < ? LIMIT ?)', before, limit);
      return { result: { deliveries, events: events + swept.deleted }, sweep: swept.next };
    });
    // Only once committed: a rolled-back sweep must look at its window again.
    this.eventSweep = sweep;
    return result;
  }

  /**
   * Deletes up to `limit` events past the cut-off that no delivery holds, walking events_received
   * (received_at, rowid) in windows from where the last sweep stopped, so events kept for their
   * failed or pending deliveries are passed once per round rather than at every call. At most
   * 10 windows a call; a window that reaches the cut-off ends the round.
   */
  private sweepEvents(before: number, limit: number): { deleted: number; next: { receivedAt: number; rowid: number } } {
    let next = this.eventSweep;
    let deleted = 0;
    for (let i = 0; i < 10 && deleted < limit; i++) {
      const size = limit - deleted;
      const win = this.all<{ r: number; at: number; id: string; free: number }>(
        `SELECT rowid AS r, received_at AS at, id, NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id) AS free
           FROM events WHERE received_at < ? AND received_at >= ? AND (received_at > ? OR rowid > ?)
          ORDER BY received_at, rowid LIMIT ?`,
        before,
        next.receivedAt,
        next.receivedAt,
        next.rowid,
        size,
      );
      const free = JSON.stringify(win.filter((w) => w.free).map((w) => w.id));
      deleted += this.run('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))', free).changes;
      const last = win.at(-1);
      if (win.length < size || last === undefined) return { deleted, next: { receivedAt: -1, rowid: 0 } };
      next = { receivedAt: num(last.at), rowid: num(last.r) };
    }
    return { deleted, next };
  }

  // ---- profiles -----------------------------------------------------------------------

  async nextCounter(accountId: string, name: string): Promise<number> {
    const row = this.immediate(() => this.get<{ value: number }>(
      'INSERT INTO counters (account_id, name, value) VALUES (?, ?, 1) ON CONFLICT (account_id, name) DO UPDATE SET value = value + 1 RETURNING value',
      accountId,
      name,
    ));
    return num(row!.value);
  }

  async listEndpointAttempts(accountId: string, endpointId: string, q: EndpointAttemptQuery): Promise<Page<EndpointAttempt>> {
    const rows = this.all<AttemptRow & { event_id: string; event_type: string }>(
      `SELECT a.*, d.event_id, ev.type AS event_type
         FROM attempts a
         JOIN deliveries d ON d.id = a.delivery_id
         JOIN events ev ON ev.id = d.event_id
        WHERE a.account_id = @account AND d.account_id = @account AND d.endpoint_id = @endpoint AND a.id < @cursor
          AND (@outcome IS NULL OR (@outcome = 'succeeded' AND a.error_kind IS NULL) OR (@outcome = 'failed' AND a.error_kind IS NOT NULL))
        ORDER BY a.id DESC LIMIT @limit`,
      { account: accountId, endpoint: endpointId, cursor: q.cursor ?? '~', outcome: q.outcome ?? null, limit: q.limit + 1 },
    );
    return toPage(rows, q.limit, (r) => ({ ...toAttempt(r), eventId: r.event_id, eventType: r.event_type }));
  }

  // ---- Connect inboxes ----------------------------------------------------------------

  async createInbox(inbox: Inbox): Promise<void> {
    const row = inboxToRow(inbox, this.sealer);
    const cols = Object.keys(row);
    this.write(`INSERT INTO inboxes (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`, row);
  }

  async updateInbox(inbox: Inbox): Promise<void> {
    const row = inboxToRow(inbox, this.sealer);
    this.write(
      `UPDATE inboxes SET name = @name, signing_secret = @signing_secret, forward_url = @forward_url, forward_endpoint_id = @forward_endpoint_id, updated_at = @updated_at
        WHERE id = @id AND account_id = @account_id`,
      row,
    );
  }

  async getInbox(accountId: string, id: string): Promise<Inbox | undefined> {
    const row = this.get<InboxRow>('SELECT * FROM inboxes WHERE account_id = ? AND id = ?', accountId, id);
    return row && toInbox(row, this.sealer);
  }

  async findInboxByTokenHash(tokenHash: string): Promise<Inbox | undefined> {
    const row = this.get<InboxRow>('SELECT * FROM inboxes WHERE token_hash = ?', tokenHash);
    return row && toInbox(row, this.sealer);
  }

  async listInboxes(accountId: string, page: PageRequest): Promise<Page<Inbox>> {
    const rows = this.all<InboxRow>('SELECT * FROM inboxes WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?', accountId, page.cursor ?? '~', page.limit + 1);
    return toPage(rows, page.limit, (r) => toInbox(r, this.sealer));
  }

  /** Its captured requests go first, in chunks (purgeInboxRequests). */
  async deleteInbox(accountId: string, id: string): Promise<boolean> {
    await this.purgeInboxRequests(accountId, id);
    return this.immediate(() => {
      // Explicitly rather than by cascade alone: the same statement on both drivers.
      this.run(DELETE_CAPTURES_SQL, accountId, id, -1);
      return this.run('DELETE FROM inboxes WHERE account_id = ? AND id = ?', accountId, id).changes > 0;
    });
  }

  async captureInboxRequest(request: InboxRequest, relay: InboxRelay | undefined, now: number): Promise<CaptureOutcome> {
    const values = inboxRequestValues(request).map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
    return this.immediate((): CaptureOutcome => {
      const stored =
        this.run(
          `INSERT INTO inbox_requests (${INBOX_REQUEST_COLUMNS.join(', ')})
           SELECT ${INBOX_REQUEST_COLUMNS.map(() => '?').join(', ')} WHERE EXISTS (SELECT 1 FROM inboxes WHERE id = ? AND account_id = ?)`,
          ...values,
          request.inboxId,
          request.accountId,
        ).changes > 0;
      if (!stored || !relay) return { stored, relayed: false };
      const endpointExists = this.get('SELECT 1 FROM endpoints WHERE id = ? AND account_id = ?', relay.endpointId, request.accountId) !== undefined;
      if (!endpointExists) return { stored, relayed: false };
      this.run(
        'INSERT INTO events (id, account_id, idempotency_key, type, occurred_at, received_at, project_id, resource_key, sequence, body) VALUES (?, ?, NULL, ?, ?, ?, NULL, NULL, NULL, ?)',
        relay.messageId,
        request.accountId,
        INBOX_RELAY_EVENT_TYPE,
        request.receivedAt,
        now,
        relay.body,
      );
      this.run(
        "INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, next_attempt_at, ordered, resource_key, sequence, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, NULL, NULL, ?, ?)",
        newId('dlv', now),
        request.accountId,
        relay.messageId,
        relay.endpointId,
        INBOX_RELAY_EVENT_TYPE,
        now,
        now,
        now,
      );
      return { stored, relayed: true };
    });
  }

  async listInboxRequests(accountId: string, inboxId: string, q: InboxRequestQuery): Promise<Page<InboxRequest>> {
    if (q.after !== undefined) {
      const rows = this.all<InboxRequestRow>(
        'SELECT * FROM inbox_requests WHERE inbox_id = ? AND account_id = ? AND id > ? ORDER BY id LIMIT ?',
        inboxId,
        accountId,
        q.after,
        q.limit + 1,
      );
      return toPage(rows, q.limit, toInboxRequest);
    }
    const rows = this.all<InboxRequestRow>(
      'SELECT * FROM inbox_requests WHERE inbox_id = ? AND account_id = ? AND id < ? ORDER BY id DESC LIMIT ?',
      inboxId,
      accountId,
      q.cursor ?? '~',
      q.limit + 1,
    );
    return toPage(rows, q.limit, toInboxRequest);
  }

  async getInboxRequest(accountId: string, inboxId: string, id: string): Promise<InboxRequest | undefined> {
    const row = this.get<InboxRequestRow>('SELECT * FROM inbox_requests WHERE account_id = ? AND inbox_id = ? AND id = ?', accountId, inboxId, id);
    return row && toInboxRequest(row);
  }

  /** In chunks (inChunks): 100,000 captured requests in one transaction took 0.9 s. */
  async purgeInboxRequests(accountId: string, inboxId: string): Promise<number> {
    return this.inChunks((limit) => this.run(DELETE_CAPTURES_SQL, accountId, inboxId, limit).changes);
  }

  /** In chunks (inChunks), like a purge: an inbox's first trim may find it far over. */
  async trimInboxRequests(accountId: string, inboxId: string, keep: number): Promise<number> {
    const oldestKept = this.get<{ id: string }>('SELECT id FROM inbox_requests WHERE inbox_id = ? AND account_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?', inboxId, accountId, keep - 1);
    if (!oldestKept) return 0;
    return this.inChunks(
      (limit) =>
        this.run('DELETE FROM inbox_requests WHERE id IN (SELECT id FROM inbox_requests WHERE inbox_id = ? AND account_id = ? AND id < ? LIMIT ?)', inboxId, accountId, oldestKept.id, limit)
          .changes,
    );
  }

  async pruneInboxRequests(before: number, limit: number): Promise<number> {
    return this.write('DELETE FROM inbox_requests WHERE id IN (SELECT id FROM inbox_requests WHERE received_at < ? LIMIT ?)', before, limit).changes;
  }
}

/**
 * Counts by status from indexes alone: succeeded deliveries, the bulk of a store, are the total
 * less the others, and the total is a count of a narrow index. Each count names its index so
 * no plan falls back to reading rows (~1 µs per delivery; a million took 600 ms). An endpoint's
 * counts are empty unless it belongs to the account, as they would be by filter.
 */
function statsSql(accountId: string | undefined, endpointId: string | undefined, history: boolean): string {
  const counts = (total: string, pending: string, inFlight: string, failed: string, from = '') =>
    `SELECT ${history ? `(SELECT COUNT(*) FROM ${total})` : 0} AS total,
            (SELECT COUNT(*) FROM ${pending}) AS pending,
            (SELECT COUNT(*) FROM ${pending} AND attempts > 0) AS retrying,
            (SELECT COUNT(*) FROM ${inFlight}) AS in_flight,
            ${history ? `(SELECT COUNT(*) FROM ${failed})` : 0} AS failed${from}`;
  if (endpointId !== undefined) {
    return counts(
      'deliveries INDEXED BY deliveries_endpoint WHERE endpoint_id = @endpoint',
      "deliveries INDEXED BY deliveries_endpoint_due WHERE status = 'pending' AND endpoint_id = @endpoint",
      "deliveries INDEXED BY deliveries_leased WHERE status = 'in_flight' AND endpoint_id = @endpoint",
      `deliveries INDEXED BY deliveries_account_failed WHERE status = 'failed' AND endpoint_id = @endpoint${accountId === undefined ? '' : ' AND account_id = @account'}`,
      accountId === undefined ? '' : ' FROM endpoints WHERE id = @endpoint AND account_id = @account',
    );
  }
  if (accountId !== undefined) {
    return counts(
      'deliveries INDEXED BY deliveries_account WHERE account_id = @account',
      "deliveries INDEXED BY deliveries_due WHERE status = 'pending' AND account_id = @account",
      "deliveries INDEXED BY deliveries_leased WHERE status = 'in_flight' AND account_id = @account",
      "deliveries INDEXED BY deliveries_account_failed WHERE status = 'failed' AND account_id = @account",
    );
  }
  return counts(
    'deliveries',
    "deliveries INDEXED BY deliveries_due WHERE status = 'pending'",
    "deliveries INDEXED BY deliveries_leased WHERE status = 'in_flight'",
    "deliveries INDEXED BY deliveries_account_failed WHERE status = 'failed'",
  );
}

function toClaimed(r: ClaimRow): ClaimedDelivery {
  const [, id, accountId, eventId, endpointId, attempts, resourceKey, sequence, createdAt, , eventType, body, projectId, claimNo] = r;
  return {
    id,
    accountId,
    eventId,
    endpointId,
    attempts: Number(attempts),
    claimNo: Number(claimNo),
    eventType,
    body,
    sequence: sequence === null ? null : Number(sequence),
    resourceKey,
    projectId,
    createdAt: Number(createdAt),
  };
}
