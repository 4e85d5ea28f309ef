// A database an older Herald left behind, for the upgrade tests of both stores: built at schema
// version N by applying only migrations 1..N, then filled the way a Herald of that version
// wrote it (its rows in the columns that version had). This Herald then has to serve it:
// credentials unseal, counts are right, pending and leased work goes out, order holds. What it
// left is checked through the store contract before anything runs, the rest through the API.
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { hashKey } from '../../src/api/middleware/auth.js';
import { openStore } from '../../src/app/open-store.js';
import { loadConfig } from '../../src/config/index.js';
import { newId } from '../../src/domain/ids.js';
import { SecretBox } from '../../src/signing/secretbox.js';
import { verify } from '../../src/signing/verify.js';
import type { Store } from '../../src/store/contract.js';
import { loadMigrations } from '../../src/store/migrations.js';
import { eventually, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

export type Dialect = 'sqlite' | 'postgres';

/** The old database, reached with plain SQL (never through this Herald's store). */
export interface OldDatabase {
  /** One or more statements without parameters. */
  exec(sql: string): Promise<void>;
  /** One statement with parameters $1, $2, … */
  run(sql: string, params: readonly unknown[]): Promise<void>;
  /** The table's columns at this version; none when the table does not exist yet. */
  columns(table: string): Promise<string[]>;
}

/** The key credentials were sealed with: HERALD_SECRET_KEY, or the data directory's secret.key. */
export const SECRET_KEY = '5e'.repeat(32);
/** The operator key the old Herald generated at its first start (no HERALD_ADMIN_KEY). */
const OLD_ADMIN_KEY = 'hk_generated-by-the-old-herald-000';
/** An account's own admin key, made through the old API. */
const DAM_KEY = 'hk_acme-dam-key-made-before-upgrade';
const SIGNING_SECRET = `whsec_${Buffer.from('the signing secret the old herald made').toString('base64')}`;
const INBOX_TOKEN = 'inboxTokenOfTheOldHerald_0123456';
const BASIC = { username: 'dam', password: 'pa55' };
const HOUR = 3_600_000;
/** The account whose work the checks follow. */
const ACCOUNT = 'acc_dam';

/** Every schema version before the latest: those an operator may upgrade from. */
export function olderVersions(dialect: Dialect): number[] {
  return loadMigrations(dialect)
    .map((m) => m.version)
    .slice(0, -1);
}

export function latestVersion(dialect: Dialect): number {
  return loadMigrations(dialect).at(-1)!.version;
}

/** Brings an empty database to `version` as the Herald of that version migrated it. */
export async function migrateTo(db: OldDatabase, dialect: Dialect, version: number): Promise<void> {
  const timeType = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  await db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${timeType} NOT NULL)`);
  for (const m of loadMigrations(dialect).filter((m) => m.version <= version)) {
    await db.exec(m.sql);
    await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
  }
}

/** What the old Herald stored, as the checks refer to it. */
export interface OldData {
  readonly endpointId: string;
  /** Undefined at a version before inboxes. */
  readonly inboxId: string | undefined;
  /** Message ids: e1 delivered, e2 failed, e3 in flight, e4 pending behind e3, e5 retrying. */
  readonly events: readonly string[];
  /** Delivery ids, one per event, in the same order. */
  readonly deliveries: readonly string[];
  /** The stored body of each event. */
  readonly bodies: readonly string[];
}

interface EventSpec {
  readonly type: string;
  readonly resource: string;
  readonly sequence: number;
  readonly status: 'succeeded' | 'failed' | 'in_flight' | 'pending';
  /** Status codes of the attempts made so far. */
  readonly attempts: readonly number[];
}

const EVENTS: readonly EventSpec[] = [
  { type: 'asset.created', resource: 'a1', sequence: 1, status: 'succeeded', attempts: [200] },
  { type: 'asset.metadata.updated', resource: 'a1', sequence: 2, status: 'failed', attempts: [500, 500] },
  { type: 'asset.metadata.updated', resource: 'a1', sequence: 3, status: 'in_flight', attempts: [] },
  { type: 'asset.deleted', resource: 'a1', sequence: 4, status: 'pending', attempts: [] },
  { type: 'asset.created', resource: 'b1', sequence: 1, status: 'pending', attempts: [503] },
];

type Row = Record<string, unknown>;

/**
 * Inserts `row` into `table` with the columns the table has at this version; false when the
 * version has no such table.
 */
async function insert(db: OldDatabase, dialect: Dialect, table: string, row: Row): Promise<boolean> {
  const present = new Set(await db.columns(table));
  if (present.size === 0) return false;
  const columns = Object.keys(row).filter((c) => present.has(c));
  // SQLite keeps flags as 0/1, PostgreSQL as BOOLEAN.
  const values = columns.map((c) => (dialect === 'sqlite' && typeof row[c] === 'boolean' ? Number(row[c]) : row[c]));
  await db.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, values);
  return true;
}

function bodyOf(id: string, e: EventSpec, at: number): string {
  return `{"id":"${id}","type":"${e.type}","timestamp":"${new Date(at).toISOString()}","sequence":${e.sequence},"resource":{"type":"asset","id":"${e.resource}"},"data":{"filename":"${e.resource}.png"}}`;
}

/** The old Herald's accounts, keys, project, endpoint (sealed credentials) and inbox. */
async function insertTenants(db: OldDatabase, dialect: Dialect, receiverUrl: string, now: number): Promise<{ endpointId: string; inboxId?: string }> {
  const box = new SecretBox(SecretBox.parseKey(SECRET_KEY));
  const created = now - 48 * HOUR;
  await insert(db, dialect, 'accounts', { id: 'acc_default', name: 'Default account', rate_limit_per_second: null, link_base_url: null, endpoints_version: 0, created_at: created });
  await insert(db, dialect, 'accounts', { id: ACCOUNT, name: 'Acme DAM', rate_limit_per_second: null, link_base_url: 'https://dam.example.com', endpoints_version: 1, created_at: created });
  const key = (accountId: string, plain: string, operator: boolean, source: string) => ({
    id: newId('key'), account_id: accountId, name: source === 'generated' ? 'generated admin key' : 'dam', role: 'admin', operator, hash: hashKey(plain), prefix: plain.slice(0, 7), source, created_at: created,
  });
  await insert(db, dialect, 'api_keys', key('acc_default', OLD_ADMIN_KEY, true, 'generated'));
  await insert(db, dialect, 'api_keys', key(ACCOUNT, DAM_KEY, false, 'api'));
  await insert(db, dialect, 'projects', { id: 'p1', account_id: ACCOUNT, name: 'Brand', created_at: created });
  const endpointId = newId('ep');
  await insert(db, dialect, 'endpoints', {
    id: endpointId, account_id: ACCOUNT, profile: 'standard', url: receiverUrl, method: 'POST', description: 'before the upgrade',
    event_types: '["asset.*"]', project_ids: '[]', user_ids: '[]', secret: box.seal(SIGNING_SECRET), previous_secret: null, previous_secret_expires_at: null,
    headers: box.seal(JSON.stringify([{ name: 'X-Custom', value: 'custom-value', type: 'hidden' }])), auth: box.seal(JSON.stringify({ type: 'basic', ...BASIC })),
    rate_limit_per_second: null, timeout_ms: 30_000, ordering: 'per_resource', disabled: false, disabled_reason: null, failing_since: null, profile_data: '{}', created_at: created, updated_at: created,
  });
  const inboxId = newId('inb');
  const hasInboxes = await insert(db, dialect, 'inboxes', {
    id: inboxId, account_id: ACCOUNT, name: 'Capture', token_hash: createHash('sha256').update(INBOX_TOKEN).digest('hex'), token: box.seal(INBOX_TOKEN),
    signing_secret: null, forward_url: null, forward_endpoint_id: null, created_at: created, updated_at: created,
  });
  return { endpointId, inboxId: hasInboxes ? inboxId : undefined };
}

/** Outcome of attempt `i` of `e` as settle counted it: the last one of a finished delivery is final. */
function outcomeOf(e: EventSpec, i: number): 'succeeded' | 'retried' | 'failed' {
  if (i < e.attempts.length - 1 || e.status === 'pending') return 'retried';
  return e.status === 'succeeded' ? 'succeeded' : 'failed';
}

/** One event with its delivery and the attempts made of it, as ingest and settle wrote them. */
async function insertEvent(db: OldDatabase, dialect: Dialect, endpointId: string, e: EventSpec, index: number, now: number): Promise<{ id: string; delivery: string; body: string }> {
  const at = now - (5 - index) * HOUR;
  const id = newId('msg');
  const body = bodyOf(id, e, at);
  await insert(db, dialect, 'events', {
    id, account_id: ACCOUNT, idempotency_key: index === 0 ? 'dam-evt-1' : null, type: e.type, occurred_at: at, received_at: at, project_id: null, resource_key: `asset:${e.resource}`, sequence: e.sequence, body,
  });
  const delivery = newId('dlv');
  const last = e.attempts.at(-1) ?? null;
  await insert(db, dialect, 'deliveries', {
    id: delivery, account_id: ACCOUNT, event_id: id, endpoint_id: endpointId, event_type: e.type, status: e.status, attempts: e.attempts.length,
    // A claim keeps the due time. The lease of the process the upgrade stopped: still running on
    // SQLite (its one process hands back every lease at start), run out on PostgreSQL (where a
    // live lease may be another worker's, and is waited for).
    next_attempt_at: e.status === 'pending' ? now - 60_000 : e.status === 'in_flight' ? at : null,
    lease_owner: e.status === 'in_flight' ? 'old-worker' : null,
    lease_until: e.status !== 'in_flight' ? null : dialect === 'sqlite' ? now + HOUR : now - 1_000,
    ordered: true, resource_key: `asset:${e.resource}`, sequence: e.sequence, last_status_code: last, last_error: last !== null && last !== 200 ? `endpoint answered ${last}` : null, notice: null, created_at: at, updated_at: at,
  });
  for (const [i, status] of e.attempts.entries()) {
    const startedAt = at + i * 60_000;
    await insert(db, dialect, 'attempts', {
      id: newId('atm'), delivery_id: delivery, account_id: ACCOUNT, attempt_no: i + 1, started_at: startedAt, duration_ms: 40, status_code: status,
      error_kind: status === 200 ? null : 'http_status', error_message: status === 200 ? null : `endpoint answered ${status}`,
      request_headers: JSON.stringify({ 'x-custom': '****', 'content-type': 'application/json', 'webhook-id': id, authorization: 'Basic ****' }), response_body: 'ok',
    });
    // The per-minute rollup settle kept since it existed (one attempt per minute here).
    const outcome = outcomeOf(e, i);
    await insert(db, dialect, 'attempt_minutes', {
      account_id: ACCOUNT, endpoint_id: endpointId, minute: startedAt - (startedAt % 60_000), succeeded: Number(outcome === 'succeeded'), retried: Number(outcome === 'retried'), failed: Number(outcome === 'failed'),
      latency_sum_ms: 40, latency_max_ms: 40, last_attempt_at: startedAt,
    });
  }
  return { id, delivery, body };
}

/** Fills a database at any schema version with what the Herald of that version stored. */
export async function insertOldData(db: OldDatabase, dialect: Dialect, receiverUrl: string): Promise<OldData> {
  const now = Date.now();
  const { endpointId, inboxId } = await insertTenants(db, dialect, receiverUrl, now);
  const stored = [];
  for (const [i, e] of EVENTS.entries()) stored.push(await insertEvent(db, dialect, endpointId, e, i, now));
  await insert(db, dialect, 'resource_sequences', { account_id: ACCOUNT, resource_key: 'asset:a1', sequence: 4 });
  await insert(db, dialect, 'resource_sequences', { account_id: ACCOUNT, resource_key: 'asset:b1', sequence: 1 });
  return { endpointId, inboxId, events: stored.map((s) => s.id), deliveries: stored.map((s) => s.delivery), bodies: stored.map((s) => s.body) };
}

/**
 * Opens the old database (`env` names it and the key) as this Herald does at start, migrating it (`herald migrate`, or the
 * start of `herald serve` on SQLite), and checks through the store what the old Herald left.
 */
export async function migrateAndExpectAsLeft(env: Record<string, string>, old: OldData): Promise<void> {
  const store = await openStore(loadConfig(env), undefined, { migrate: true });
  try {
    await expectAsLeft(store, old);
  } finally {
    await store.close();
  }
}

/**
 * Starts this Herald on the upgraded database: the keys and credentials the old Herald stored
 * work, and the leased, pending and retrying deliveries go out in order, signed and
 * authenticated with what it sealed.
 */
export async function expectServesOldData(env: Record<string, string>, dataDir: string, old: OldData, receiver: Receiver, path: string): Promise<void> {
  // No HERALD_ADMIN_KEY: the operator key the old Herald generated is the one in use.
  const h = await startTestHerald({ ...env, HERALD_ADMIN_KEY: '', HERALD_LEASE_MS: '2000' }, { dataDir });
  try {
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
    await expectKeysAndCredentials(h, old);
    await expectInboxCaptures(h, old);
    await expectDelivered(h, old, receiver, path);
  } finally {
    await h.close();
  }
}

const dam = (h: TestHerald, method: string, route: string, body?: unknown) => h.api(method, route, body, DAM_KEY);

/** The queue, health and log as the old Herald left them; an old event's id still finds it. */
async function expectAsLeft(store: Store, old: OldData): Promise<void> {
  const schema = await store.schemaState();
  expect(schema.current).toBe(schema.latest);
  expect(await store.stats(ACCOUNT)).toEqual({ pending: 2, retrying: 1, inFlight: 1, succeeded: 1, failed: 1 });
  // The health figures of the hours before the upgrade.
  const [health] = await store.endpointHealth(ACCOUNT, [old.endpointId], Date.now() - 24 * HOUR);
  expect(health).toMatchObject({ queue: { pending: 1, retrying: 1, inFlight: 1 }, attempts: { succeeded: 1, retried: 2, failed: 1 } });
  // The log filters by event type, which deliveries carry since a later version.
  const updated = await store.listDeliveries(ACCOUNT, { eventTypes: ['asset.metadata.updated'], limit: 10 });
  expect(updated.items.map((d) => d.id)).toEqual([old.deliveries[2], old.deliveries[1]]);
  expect(await store.getDelivery(ACCOUNT, old.deliveries[1])).toMatchObject({ status: 'failed', attempts: 2, lastStatusCode: 500 });
  expect((await store.getEvent(ACCOUNT, 'dam-evt-1'))?.id).toBe(old.events[0]);
}

/** API keys (stored hashed) still sign in; the endpoint's sealed credentials open. */
async function expectKeysAndCredentials(h: TestHerald, old: OldData): Promise<void> {
  const operator = await h.api('GET', '/api/v2/api-keys', undefined, OLD_ADMIN_KEY);
  // The old operator key works, and no other was generated beside it.
  expect(operator.status).toBe(200);
  expect(operator.body.data.map((k: { name: string; operator: boolean }) => [k.name, k.operator])).toEqual([['generated admin key', true]]);
  expect((await dam(h, 'GET', '/api/v2/api-keys/current')).body).toMatchObject({ account_id: ACCOUNT, role: 'admin', operator: false });
  expect((await dam(h, 'GET', '/api/v2/projects/p1')).status).toBe(200);
  const endpoint = await dam(h, 'GET', `/api/v2/endpoints/${old.endpointId}`);
  expect(endpoint.body).toMatchObject({ auth: { type: 'basic', username: BASIC.username }, headers: [{ name: 'X-Custom', type: 'hidden' }], ordering: 'per_resource' });
  expect((await dam(h, 'GET', `/api/v2/endpoints/${old.endpointId}/secret`)).body.secret).toBe(SIGNING_SECRET);
  // Publishing again with the old event's id sends nothing new.
  const again = await dam(h, 'POST', '/api/v2/events', { id: 'dam-evt-1', type: 'asset.created', data: {} });
  expect(again.body).toMatchObject({ id: old.events[0], duplicate: true });
  expect((await dam(h, 'GET', `/api/v2/events/${old.events[0]}`)).body.payload).toEqual(JSON.parse(old.bodies[0]));
}

/** The inbox (of a version that had them) still opens its sealed token and captures at its URL. */
async function expectInboxCaptures(h: TestHerald, old: OldData): Promise<void> {
  if (old.inboxId === undefined) return;
  const inbox = await dam(h, 'GET', `/api/v2/inboxes/${old.inboxId}`);
  expect(inbox.body.url).toMatch(new RegExp(`/in/${INBOX_TOKEN}$`));
  expect((await fetch(`${h.url}/in/${INBOX_TOKEN}`, { method: 'POST', body: '{"captured":true}', headers: { 'content-type': 'application/json' } })).status).toBeLessThan(300);
  expect((await dam(h, 'GET', `/api/v2/inboxes/${old.inboxId}/requests`)).body.data).toHaveLength(1);
}

/** Every request the endpoint got carries its signature, basic auth and header as the old Herald sealed them. */
function expectSigned(received: Receiver['received']): void {
  for (const r of received) {
    expect(() => verify({ headers: r.headers, body: r.body, secret: SIGNING_SECRET })).not.toThrow();
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from(`${BASIC.username}:${BASIC.password}`).toString('base64')}`);
    expect(r.headers['x-custom']).toBe('custom-value');
  }
}

async function expectDelivered(h: TestHerald, old: OldData, receiver: Receiver, path: string): Promise<void> {
  const arrived = () => receiver.received.filter((r) => r.url === path);
  const ids = () => arrived().map((r) => String(r.headers['webhook-id']));
  // The leased one (released or expired), the one queued behind it, and the one retrying.
  await eventually(() => (arrived().length >= 3 ? true : undefined), 15_000);
  expect(ids().sort()).toEqual([old.events[2], old.events[3], old.events[4]].sort());
  expect(ids().indexOf(old.events[2])).toBeLessThan(ids().indexOf(old.events[3]));
  expect(arrived().map((r) => r.body)).toEqual(ids().map((id) => old.bodies[old.events.indexOf(id)]));
  // The failed one sent again on request, and a new event on the resource continues its sequence.
  expect((await dam(h, 'POST', `/api/v2/deliveries/${old.deliveries[1]}/retry`)).status).toBe(202);
  const next = await dam(h, 'POST', '/api/v2/events', { type: 'asset.metadata.updated', resource: { type: 'asset', id: 'a1' }, data: {} });
  await eventually(() => (arrived().length >= 5 ? true : undefined), 15_000);
  expect(ids().slice(3).sort()).toEqual([old.events[1], next.body.id].sort());
  expect(JSON.parse(arrived().find((r) => r.headers['webhook-id'] === next.body.id)!.body).sequence).toBe(5);
  expectSigned(arrived());
  await eventually(async () => ((await dam(h, 'GET', '/api/v2/stats')).body.deliveries.succeeded === 6 ? true : undefined));
  expect((await dam(h, 'GET', '/api/v2/stats')).body).toEqual({ deliveries: { pending: 0, retrying: 0, in_flight: 0, succeeded: 6, failed: 0 } });
  // Each went out once: the delivered one was not sent again.
  expect(arrived()).toHaveLength(5);
}
