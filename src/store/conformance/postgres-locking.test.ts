// Row locks of the PostgreSQL store under concurrent processes, simulated by two stores with
// separate pools: what a claim locks, and statements that lock the same rows from two sides.
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimedDelivery, IngestItem } from '../contract.js';
import type { PostgresStore } from '../postgres/postgres-store.js';
import { dropTestSchema, TEST_DATABASE_URL, testSchema, type TestSchema } from './pg-harness.js';
import { conformanceSealer, endpointFixture, ingestItem } from './suite.js';

const sealer = conformanceSealer();
// Advisory locks are database-wide: a random key keeps parallel test files apart.
const HOLD_KEY = randomInt(1, 2 ** 31 - 1);
const HELD_OWNER = 'held';
let ready: Promise<TestSchema>;
let schema: TestSchema;
let a: PostgresStore;
let b: PostgresStore;
let admin: pg.Client;

beforeAll(() => {
  ready = testSchema(sealer);
});
afterAll(async () => {
  await dropTestSchema(ready);
});
beforeEach(async () => {
  schema = await ready;
  await schema.truncate();
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema.name}` });
  await admin.connect();
  a = schema.open(sealer, 2);
  b = schema.open(sealer, 2);
});
afterEach(async () => {
  await admin?.query('DROP TRIGGER IF EXISTS hold_claim ON deliveries');
  await admin?.end();
  await a?.close();
  await b?.close();
});

/**
 * A claim is one statement, so to observe it mid-flight a trigger parks the UPDATE of claims by
 * HELD_OWNER on an advisory lock the test holds, after the claim has taken its row locks.
 */
async function parkHeldClaims(): Promise<void> {
  await admin.query(`
    CREATE OR REPLACE FUNCTION hold_claim() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.lease_owner = '${HELD_OWNER}' THEN PERFORM pg_advisory_xact_lock_shared(${HOLD_KEY}); END IF;
      RETURN NEW;
    END $$`);
  await admin.query('CREATE TRIGGER hold_claim BEFORE UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION hold_claim()');
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
  const account = await a.createAccount({ name: 'Many endpoints' });
  const targets: IngestItem['endpoints'][number][] = [];
  for (let i = 0; i < endpoints; i++) {
    const e = endpointFixture(account.id);
    await a.createEndpoint(e);
    targets.push({ id: e.id, ordered: false });
  }
  const items = Array.from({ length: perEndpoint }, () => ingestItem(account.id, targets));
  await a.ingest(items, Date.now() - 1_000);
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
      held = a.claim({ owner: HELD_OWNER, limit: 10, leaseMs: 60_000, now, excludeEndpoints: [], perEndpointLimit: 4 });
      held.catch(() => undefined);
      await untilParked();
      other = await b.claim({ owner: 'other', limit: total, leaseMs: 60_000, now, excludeEndpoints: [], perEndpointLimit: 4 });
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [HOLD_KEY]);
    }
    const first = await held;

    expect(first).toHaveLength(10);
    expect(other).toHaveLength(total - 10);
    const ids = new Set([...first, ...other].map((d) => d.id));
    expect(ids.size).toBe(total);
  }, 30_000);
});
