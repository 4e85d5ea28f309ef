// Retention on PostgreSQL at a size where its shape matters: tens of thousands of old succeeded
// deliveries to remove, behind old failed ones that are kept (with their events) for replay.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTestSchema, TEST_DATABASE_URL, testSchema, type TestSchema } from './pg-harness.js';
import { conformanceSealer, endpointFixture } from './suite.js';

const sealer = conformanceSealer();
const DAY = 86_400_000;
const NOW = 1_700_000_000_000;
const OLD = NOW - 40 * DAY;
const CUT = NOW - 30 * DAY;
let ready: Promise<TestSchema>;

beforeAll(() => {
  ready = testSchema(sealer);
});
afterAll(async () => {
  await dropTestSchema(ready);
});

/** `n` events received from `at` on, one ms apart, named `<prefix><n>`, with one delivery each in `status` (none when null). */
async function seed(db: pg.Client, o: { prefix: string; n: number; at: number; status: string | null; accountId: string; endpointId: string }): Promise<void> {
  await db.query(
    `INSERT INTO events (id, account_id, type, occurred_at, received_at, body)
     SELECT $1 || lpad(g::text, 8, '0'), $2, 'asset.created', $3::bigint, $3::bigint + g, '{}' FROM generate_series(1, $4) g`,
    [o.prefix, o.accountId, o.at, o.n],
  );
  if (o.status === null) return;
  await db.query(
    `INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
     SELECT 'd' || id, account_id, id, $3, type, $4, 1, received_at, received_at, received_at FROM events WHERE id LIKE $1 || '%' AND account_id = $2`,
    [o.prefix, o.accountId, o.endpointId, o.status],
  );
  await db.query(
    `INSERT INTO attempts (id, delivery_id, account_id, attempt_no, started_at, duration_ms, status_code, request_headers)
     SELECT 'a' || id, id, account_id, 1, updated_at, 5, 200, '{}' FROM deliveries WHERE event_id LIKE $1 || '%' AND account_id = $2`,
    [o.prefix, o.accountId],
  );
}

async function count(db: pg.Client, sql: string): Promise<number> {
  return Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
}

describe('postgres retention', () => {
  it('prunes 20,000 old succeeded deliveries with attempts and events, and old events without deliveries behind 1,500 kept ones; failed and pending stay with their events', async () => {
    const schema = await ready;
    const store = schema.open(sealer, 2);
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema.name}` });
    await db.connect();
    try {
      const account = await store.createAccount({ name: 'Retention' });
      const e = endpointFixture(account.id);
      await store.createEndpoint(e);
      const common = { accountId: account.id, endpointId: e.id };
      // Oldest first: kept work, then what goes, then events that never had a delivery.
      await seed(db, { ...common, prefix: 'failed', n: 1_500, at: OLD, status: 'failed' });
      await seed(db, { ...common, prefix: 'pending', n: 50, at: OLD + 2_000, status: 'pending' });
      await seed(db, { ...common, prefix: 'done', n: 20_000, at: OLD + 4_000, status: 'succeeded' });
      await seed(db, { ...common, prefix: 'unmatched', n: 1_200, at: OLD + 30_000, status: null });
      await seed(db, { ...common, prefix: 'recent', n: 10, at: NOW, status: 'succeeded' });
      await seed(db, { ...common, prefix: 'fresh', n: 10, at: NOW, status: null });
      await db.query('ANALYZE');

      const totals = { deliveries: 0, events: 0 };
      for (let i = 0; i < 100; i++) {
        const r = await store.prune(CUT, 1_000);
        totals.deliveries += r.deliveries;
        totals.events += r.events;
        if (r.deliveries < 1_000 && r.events < 1_000) break;
      }

      expect(totals).toEqual({ deliveries: 20_000, events: 21_200 });
      expect(await count(db, "SELECT count(*) AS n FROM deliveries WHERE event_id LIKE 'done%'")).toBe(0);
      expect(await count(db, "SELECT count(*) AS n FROM attempts WHERE delivery_id LIKE 'ddone%'")).toBe(0);
      expect(await count(db, "SELECT count(*) AS n FROM events WHERE id LIKE 'done%' OR id LIKE 'unmatched%'")).toBe(0);
      // Kept for replay or still to go out, each with its event; recent work untouched.
      expect(await count(db, "SELECT count(*) AS n FROM deliveries WHERE status = 'failed'")).toBe(1_500);
      expect(await count(db, "SELECT count(*) AS n FROM deliveries WHERE status = 'pending'")).toBe(50);
      expect(await count(db, "SELECT count(*) AS n FROM events WHERE id LIKE 'failed%' OR id LIKE 'pending%'")).toBe(1_550);
      expect(await count(db, "SELECT count(*) AS n FROM attempts WHERE delivery_id LIKE 'dfailed%'")).toBe(1_500);
      expect(await count(db, "SELECT count(*) AS n FROM events WHERE id LIKE 'recent%' OR id LIKE 'fresh%'")).toBe(20);
      expect(await count(db, "SELECT count(*) AS n FROM deliveries WHERE event_id LIKE 'recent%'")).toBe(10);
      // A further pass finds nothing more, the sweep having come round to the oldest events again.
      expect(await store.prune(CUT, 1_000)).toEqual({ deliveries: 0, events: 0 });
    } finally {
      await db.end();
      await store.close();
    }
  }, 120_000);
});
