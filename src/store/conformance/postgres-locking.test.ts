// Row locks of the PostgreSQL store under concurrent processes, simulated by two stores with
// separate pools: what a claim locks, and statements that lock the same rows from two sides.
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimedDelivery, IngestItem, Settlement } from '../contract.js';
import { CLAIM_SQL } from '../postgres/postgres-store.js';
import { TEST_DATABASE_URL, twoStoresPerTest } from './pg-harness.js';
import { conformanceSealer, endpointFixture, ingestItem, purgeAll } from './suite.js';

const sealer = conformanceSealer();
// Advisory locks are database-wide: a random key keeps parallel test files apart.
const HOLD_KEY = randomInt(1, 2 ** 31 - 1);
const HELD_OWNER = 'held';
const HELD_TYPE = 'asset.updated';
const stores = twoStoresPerTest(sealer, 2);
let admin: pg.Client;

// Registered after the stores' hooks: opened once the schema is ready, ended before the stores close.
beforeEach(async () => {
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${stores.schema.name}` });
  await admin.connect();
});
afterEach(async () => {
  await admin?.query('DROP TRIGGER IF EXISTS hold_claim ON deliveries');
  await admin?.query('DROP TRIGGER IF EXISTS abort_once ON attempts');
  await admin?.query('DROP TRIGGER IF EXISTS hold_ingest ON deliveries');
  await admin?.query('DROP TRIGGER IF EXISTS hold_delete ON deliveries');
  await admin?.end();
});


/**
 * A claim is one statement, so to observe it mid-flight a trigger parks the UPDATE of claims by
 * HELD_OWNER on an advisory lock the test holds, after the claim has taken its row locks.
 */
function parkHeldClaims(): Promise<void> {
  return parkOnHoldKey('hold_claim', 'BEFORE UPDATE', `NEW.lease_owner = '${HELD_OWNER}'`);
}

/** A trigger on deliveries that makes the writes of rows meeting `condition` wait for HOLD_KEY. */
async function parkOnHoldKey(name: string, timing: 'BEFORE UPDATE' | 'AFTER INSERT' | 'BEFORE DELETE', condition: string): Promise<void> {
  await admin.query(`
    CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF ${condition} THEN PERFORM pg_advisory_xact_lock_shared(${HOLD_KEY}); END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$`);
  await admin.query(`CREATE TRIGGER ${name} ${timing} ON deliveries FOR EACH ROW EXECUTE FUNCTION ${name}()`);
}

/** Resolves once a backend waits for the advisory lock: the held claim has locked its rows. */
async function untilParked(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = await admin.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", [HOLD_KEY]);
    if (r.rowCount) return;
    await sleep(10);
  }
  throw new Error('the held claim never reached its UPDATE');
}

async function dueOnManyEndpoints(endpoints: number, perEndpoint: number): Promise<number> {
  const account = await stores.a.createAccount({ name: 'Many endpoints' });
  const targets: IngestItem['endpoints'][number][] = [];
  for (let i = 0; i < endpoints; i++) {
    const e = endpointFixture(account.id);
    await stores.a.createEndpoint(e);
    targets.push({ id: e.id, ordered: false });
  }
  const items = Array.from({ length: perEndpoint }, () => ingestItem(account.id, targets));
  await stores.a.ingest(items, Date.now() - 1_000);
  return endpoints * perEndpoint;
}

describe('postgres claim locks', () => {
  it('a claim of 10 over 50 endpoints with due work locks only its 10, so a concurrent claim takes all the rest', async () => {
    const total = await dueOnManyEndpoints(50, 4);
    const now = Date.now();
    await parkHeldClaims();
    await admin.query('SELECT pg_advisory_lock($1)', [HOLD_KEY]);
    let held: Promise<ClaimedDelivery[]>;
    let other: ClaimedDelivery[];
    try {
      held = stores.a.claim({ owner: HELD_OWNER, limit: 10, leaseMs: 60_000, now, excludeEndpoints: [], perEndpointLimit: 4 });
      held.catch(() => undefined);
      await untilParked();
      other = await stores.b.claim({ owner: 'other', limit: total, leaseMs: 60_000, now, excludeEndpoints: [], perEndpointLimit: 4 });
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [HOLD_KEY]);
    }
    const first = await held;

    expect(first).toHaveLength(10);
    expect(other).toHaveLength(total - 10);
    const ids = new Set([...first, ...other].map((d) => d.id));
    expect(ids.size).toBe(total);
  }, 30_000);

  it('a claim reads its candidates by key, not through every due delivery, while the statistics predate a bulk publish', async () => {
    const account = await stores.a.createAccount({ name: 'Bulk' });
    const endpoint = endpointFixture(account.id);
    await stores.a.createEndpoint(endpoint);
    await admin.query('ALTER TABLE deliveries SET (autovacuum_enabled = off)');
    try {
      // Statistics of an empty table, then a backlog of 20,000 due deliveries published at once.
      await admin.query('ANALYZE deliveries');
      await admin.query(
        `INSERT INTO events (id, account_id, type, occurred_at, received_at, body)
         SELECT 'msg_bulk_' || i, $1, 'asset.created', i, i, '{}' FROM generate_series(1, 20000) i`,
        [account.id],
      );
      await admin.query(
        `INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, next_attempt_at, created_at, updated_at)
         SELECT 'dlv_bulk_' || lpad(i::text, 6, '0'), $1, 'msg_bulk_' || i, $2, 'asset.created', 'pending', i, i, i FROM generate_series(1, 20000) i`,
        [account.id, endpoint.id],
      );
      const now = Date.now();
      const [{ 'QUERY PLAN': plan }] = (await admin.query(`EXPLAIN (FORMAT JSON) ${CLAIM_SQL}`, [now, [], 32, 'w', now + 60_000, 64, '{}'])).rows as [{ 'QUERY PLAN': unknown }];
      const indexes = new Set<string>();
      const walk = (node: unknown): void => {
        if (typeof node !== 'object' || node === null) return;
        const name = (node as Record<string, unknown>)['Index Name'];
        if (typeof name === 'string') indexes.add(name);
        for (const value of Object.values(node)) walk(value);
      };
      walk(plan);
      // The per-endpoint due index picks the candidates; the primary key finds them again to lock,
      // never the index of every due delivery.
      expect(indexes).toContain('deliveries_endpoint_due');
      expect(indexes).toContain('deliveries_pkey');
      expect(indexes).not.toContain('deliveries_due');
      const claimed = await stores.a.claim({ owner: 'w', limit: 32, leaseMs: 60_000, now, excludeEndpoints: [], perEndpointLimit: 64 });
      expect(claimed.map((d) => d.id)).toEqual(Array.from({ length: 32 }, (_, i) => `dlv_bulk_${String(i + 1).padStart(6, '0')}`));
    } finally {
      await admin.query('ALTER TABLE deliveries RESET (autovacuum_enabled)');
    }
  });

  it('settling 3,000 deliveries in descending id order while their endpoint is deleted and purged ends without error, round after round', async () => {
    const account = await stores.a.createAccount({ name: 'Delete while settling' });
    for (let round = 0; round < 5; round++) {
      const e = endpointFixture(account.id);
      await stores.a.createEndpoint(e);
      const now = Date.now();
      await stores.a.ingest(Array.from({ length: 3_000 }, () => ingestItem(account.id, [{ id: e.id, ordered: false }])), now - 1_000);
      const claimed = await stores.a.claim({ owner: 'w', limit: 3_000, leaseMs: 60_000, now, excludeEndpoints: [], perEndpointLimit: 3_000 });
      expect(claimed).toHaveLength(3_000);
      const descending = claimed.map((d) => d.id).sort().reverse();
      const settlements = descending.map((id): Settlement => ({
        deliveryId: id,
        owner: 'w',
        claimNo: 1,
        endpointId: e.id,
        accountId: account.id,
        outcome: 'succeeded',
        attempt: { attemptNo: 1, startedAt: now, durationMs: 5, statusCode: 200, errorKind: null, errorMessage: null, requestHeaders: {}, responseBody: 'ok' },
      }));

      const deleteAndPurge = async () => {
        const deleted = await stores.b.deleteEndpoint(account.id, e.id);
        await purgeAll(stores.b, purgesLeft, 2_000);
        return deleted;
      };
      const [settled, deleted] = await Promise.allSettled([stores.a.settle(settlements, Date.now()), deleteAndPurge()]);

      // Settled first: none refused; deleted first: all of them (nothing left to settle).
      expect(settled, `round ${round}`).toMatchObject({ status: 'fulfilled' });
      expect(deleted, `round ${round}`).toEqual({ status: 'fulfilled', value: true });
      expect(await stores.a.getEndpoint(account.id, e.id)).toBeUndefined();
      // Whichever went first, nothing of the endpoint's is left (a settle after the delete writes no attempt).
      const left = await admin.query('SELECT count(*)::int AS n FROM attempts WHERE delivery_id = ANY($1::text[])', [descending]);
      expect(left.rows[0].n).toBe(0);
    }
  }, 120_000);

  it('a settle the server aborts as a deadlock is run again and applied', async () => {
    const account = await stores.a.createAccount({ name: 'Retried settle' });
    const e = endpointFixture(account.id);
    await stores.a.createEndpoint(e);
    const now = Date.now();
    await stores.a.ingest([ingestItem(account.id, [{ id: e.id, ordered: false }])], now - 1_000);
    const [d] = await stores.a.claim({ owner: 'w', limit: 1, leaseMs: 60_000, now, excludeEndpoints: [] });
    // A sequence is not rolled back with the aborted transaction: only the first try fails.
    await admin.query('CREATE SEQUENCE IF NOT EXISTS abort_once_tries');
    await admin.query(`
      CREATE OR REPLACE FUNCTION abort_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('abort_once_tries') = 1 THEN RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01'; END IF;
        RETURN NEW;
      END $$`);
    await admin.query('CREATE TRIGGER abort_once BEFORE INSERT ON attempts FOR EACH ROW EXECUTE FUNCTION abort_once()');

    await stores.a.settle(
      [
        {
          deliveryId: d!.id,
          owner: 'w',
          claimNo: d!.claimNo,
          endpointId: e.id,
          accountId: account.id,
          outcome: 'succeeded',
          attempt: { attemptNo: 1, startedAt: now, durationMs: 5, statusCode: 200, errorKind: null, errorMessage: null, requestHeaders: {}, responseBody: 'ok' },
        },
      ],
      Date.now(),
    );

    expect((await stores.a.getDelivery(account.id, d!.id))?.status).toBe('succeeded');
    expect((await admin.query("SELECT last_value::int AS n FROM abort_once_tries")).rows[0].n).toBe(2);
  });
});

/**
 * Parks an ingest whose events are of HELD_TYPE after it inserted its deliveries, before its
 * commit, on the advisory lock the test holds.
 */
function parkHeldIngests(): Promise<void> {
  return parkOnHoldKey('hold_ingest', 'AFTER INSERT', `NEW.event_type = '${HELD_TYPE}'`);
}

/** Resolves once a backend waits for an advisory lock: `key`, or any but HOLD_KEY. */
async function untilWaitingFor(key?: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = await admin.query<{ objid: number }>("SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
    if (r.rows.some(({ objid }) => (key === undefined ? Number(objid) !== HOLD_KEY : Number(objid) === key))) return;
    await sleep(10);
  }
  throw new Error('no backend came to wait for the lock');
}

describe('postgres ordering switch during an ingest commit', () => {
  it('an ingest committing while ordering is switched on leaves its delivery waiting behind the resource head', async () => {
    const account = await stores.a.createAccount({ name: 'Switch' });
    const endpoint = endpointFixture(account.id);
    await stores.a.createEndpoint(endpoint);
    const target = { id: endpoint.id, ordered: false };
    const resource = { type: 'asset', id: '1' };
    const now = Date.now();
    await stores.a.ingest([ingestItem(account.id, [target], { resource })], now);
    const [head] = await stores.a.claim({ owner: 'w1', limit: 1, leaseMs: 60_000, now, excludeEndpoints: [] });
    expect(head.sequence).toBe(1);

    await parkHeldIngests();
    await admin.query('SELECT pg_advisory_lock($1)', [HOLD_KEY]);
    let update: Promise<boolean> | undefined;
    let ingest: Promise<unknown>;
    try {
      // Matched while the endpoint was unordered, and parked after inserting its delivery.
      ingest = stores.a.ingest([ingestItem(account.id, [target], { type: HELD_TYPE, resource })], now);
      ingest.catch(() => undefined);
      await untilWaitingFor(HOLD_KEY);
      update = stores.b.updateEndpoint({ ...endpoint, ordering: 'per_resource' }, endpoint);
      update.catch(() => undefined);
      // The switch either ends at once (it cannot see the uncommitted delivery) or waits for
      // the ingest's commit.
      const waiting = untilWaitingFor();
      waiting.catch(() => undefined);
      await Promise.race([update, waiting]);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [HOLD_KEY]);
    }
    await ingest;
    await update;

    // Sequence 2 waits for the head (in flight), whichever committed first.
    expect(await stores.b.claim({ owner: 'w2', limit: 10, leaseMs: 60_000, now: now + 1, excludeEndpoints: [] })).toEqual([]);
    const { rows } = await admin.query<{ ordered: boolean }>('SELECT ordered FROM deliveries WHERE event_type = $1', [HELD_TYPE]);
    expect(rows).toEqual([{ ordered: true }]);
  }, 30_000);
});

const CHUNK = 50;

/** 300 claimed deliveries of a new endpoint, ids ascending: 6 chunks of CHUNK. */
async function claimedEndpoint(name: string): Promise<{ accountId: string; endpointId: string; ids: string[]; now: number }> {
  const account = await stores.a.createAccount({ name });
  const e = endpointFixture(account.id);
  await stores.a.createEndpoint(e);
  const now = Date.now();
  await stores.a.ingest(Array.from({ length: 6 * CHUNK }, () => ingestItem(account.id, [{ id: e.id, ordered: false }])), now - 1_000);
  const claimed = await stores.a.claim({ owner: 'w', limit: 6 * CHUNK, leaseMs: 60_000, now, excludeEndpoints: [], perEndpointLimit: 6 * CHUNK });
  expect(claimed).toHaveLength(6 * CHUNK);
  return { accountId: account.id, endpointId: e.id, ids: claimed.map((d) => d.id).sort(), now };
}

function succeeded(ids: readonly string[], accountId: string, endpointId: string, now: number): Settlement[] {
  return ids.map((id) => ({
    deliveryId: id,
    owner: 'w',
    // Each claimed once, by prepare().
    claimNo: 1,
    endpointId,
    accountId,
    outcome: 'succeeded',
    attempt: { attemptNo: 1, startedAt: now, durationMs: 5, statusCode: 200, errorKind: null, errorMessage: null, requestHeaders: {}, responseBody: 'ok' },
  }));
}

async function countOf(table: 'deliveries' | 'attempts', column: 'endpoint_id' | 'delivery_id' | 'id', values: readonly string[]): Promise<number> {
  const r = await admin.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = ANY($1::text[])`, [values]);
  return r.rows[0].n;
}

/** Parks the deletion of delivery `id` (in the deliveries statement of its chunk) on HOLD_KEY. */
async function parkDeletionOf(id: string): Promise<void> {
  await parkOnHoldKey('hold_delete', 'BEFORE DELETE', `OLD.id = '${id}'`);
  await admin.query('SELECT pg_advisory_lock($1)', [HOLD_KEY]);
}

/** Deleted endpoints still recorded for their purge. */
async function purgesLeft(): Promise<number> {
  return (await admin.query('SELECT count(*)::int AS n FROM endpoint_purges')).rows[0].n;
}

describe('postgres purge of a deleted endpoint, in chunks', () => {
  it('deletes the endpoint at once; the purge commits a chunk at a time with its attempts, another process skips the endpoint meanwhile, and a settle writes nothing for a purged delivery', async () => {
    const { accountId, endpointId, ids, now } = await claimedEndpoint('Chunked purge');
    expect(await stores.a.deleteEndpoint(accountId, endpointId)).toBe(true);
    expect(await stores.b.getEndpoint(accountId, endpointId)).toBeUndefined();
    expect(await countOf('deliveries', 'endpoint_id', [endpointId])).toBe(6 * CHUNK);
    // Parked in the third chunk (ids 100..149), after its first 20 rows.
    await parkDeletionOf(ids[2 * CHUNK + 20]);
    let purge: Promise<number>;
    let waitingSettle: Promise<string[]>;
    try {
      purge = purgeAll(stores.a, purgesLeft, CHUNK);
      purge.catch(() => undefined);
      await untilParked();

      expect(await countOf('deliveries', 'endpoint_id', [endpointId])).toBe(4 * CHUNK);
      // The other process's step finds the endpoint locked by this one's and leaves it alone.
      expect(await stores.b.purgeDeletedEndpoints(CHUNK)).toEqual({ deliveries: 0, finished: 0 });
      // A settle of a purged delivery applies to nothing; one of a delivery of a later chunk applies.
      const early = ids.slice(0, 10);
      expect((await stores.b.settle(succeeded(early, accountId, endpointId, now), Date.now())).sort()).toEqual(early);
      expect(await stores.b.settle(succeeded(ids.slice(4 * CHUNK, 4 * CHUNK + 10), accountId, endpointId, now), Date.now())).toEqual([]);
      expect(await countOf('attempts', 'delivery_id', ids)).toBe(10);
      // One of the parked chunk's rows: waits for the chunk's commit, then finds its delivery gone.
      const parked = ids.slice(2 * CHUNK + 10, 2 * CHUNK + 20);
      waitingSettle = stores.b.settle(succeeded(parked, accountId, endpointId, now), Date.now());
      waitingSettle.catch(() => undefined);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [HOLD_KEY]);
    }

    expect(await purge).toBe(6 * CHUNK);
    expect((await waitingSettle).sort()).toEqual(ids.slice(2 * CHUNK + 10, 2 * CHUNK + 20));
    expect(await countOf('deliveries', 'endpoint_id', [endpointId])).toBe(0);
    expect(await countOf('attempts', 'delivery_id', ids)).toBe(0);
    expect(await purgesLeft()).toBe(0);
  }, 30_000);

  it('a purge cut off half-way (its process killed) leaves whole deliveries with their attempts, hidden; another process finishes it', async () => {
    const { accountId, endpointId, ids, now } = await claimedEndpoint('Cut-off purge');
    expect(await stores.a.settle(succeeded(ids, accountId, endpointId, now), Date.now())).toEqual([]);
    expect(await stores.a.deleteEndpoint(accountId, endpointId)).toBe(true);
    await parkDeletionOf(ids[2 * CHUNK + 20]);
    let purge: Promise<number>;
    try {
      purge = purgeAll(stores.a, purgesLeft, CHUNK);
      purge.catch(() => undefined);
      await untilParked();
      // What a killed process leaves: its connection ends, its transaction rolls back.
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", [HOLD_KEY]);
      await expect(purge).rejects.toThrow();
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [HOLD_KEY]);
      await admin.query('DROP TRIGGER IF EXISTS hold_delete ON deliveries');
    }

    const left = ids.slice(2 * CHUNK);
    expect(await countOf('deliveries', 'endpoint_id', [endpointId])).toBe(left.length);
    // Every delivery left has its attempt, and none of a purged delivery is left over.
    expect(await countOf('attempts', 'delivery_id', left)).toBe(left.length);
    expect(await countOf('attempts', 'delivery_id', ids)).toBe(left.length);
    expect((await stores.b.listDeliveries(accountId, { limit: 10 })).items).toEqual([]);
    expect(await stores.b.stats(accountId)).toMatchObject({ succeeded: 0, pending: 0, inFlight: 0 });

    expect(await purgeAll(stores.b, purgesLeft, CHUNK)).toBe(left.length);
    expect(await countOf('deliveries', 'endpoint_id', [endpointId])).toBe(0);
    expect(await countOf('attempts', 'delivery_id', ids)).toBe(0);
  }, 30_000);

  it('an ingest that read the endpoint before its deletion committed and commits after the walk is swept before the endpoint is forgotten', async () => {
    const account = await stores.a.createAccount({ name: 'Late ingest' });
    const e = endpointFixture(account.id);
    await stores.a.createEndpoint(e);
    // Parked after inserting its delivery: its transaction stays open across the deletion.
    await parkOnHoldKey('hold_ingest', 'AFTER INSERT', `NEW.endpoint_id = '${e.id}'`);
    await admin.query('SELECT pg_advisory_lock($1)', [HOLD_KEY]);
    let ingest: Promise<unknown>;
    let purge: Promise<number>;
    try {
      ingest = stores.a.ingest([ingestItem(account.id, [{ id: e.id, ordered: false }])], Date.now());
      ingest.catch(() => undefined);
      await untilParked();
      expect(await stores.b.deleteEndpoint(account.id, e.id)).toBe(true);
      purge = purgeAll(stores.b, purgesLeft, CHUNK);
      purge.catch(() => undefined);
      // The walk found nothing; the endpoint is kept while the ingest is open.
      await sleep(300);
      expect(await purgesLeft()).toBe(1);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [HOLD_KEY]);
    }
    await ingest;
    expect(await purge).toBe(1);
    expect(await countOf('deliveries', 'endpoint_id', [e.id])).toBe(0);
  }, 30_000);
});
