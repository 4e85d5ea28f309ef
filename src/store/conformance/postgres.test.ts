// The conformance suite against PostgreSQL: one fresh schema for this file, emptied between
// tests (claims, stats and keys are global, so each test needs an empty queue). Also the
// PostgreSQL-only parts: LISTEN/NOTIFY wake-ups.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { INBOX_CHANNEL, PgNotifier } from '../postgres/notify.js';
import type { PostgresStore } from '../postgres/postgres-store.js';
import { failedSince } from '../queries.js';
import { dropTestSchema, TEST_DATABASE_URL, testSchema, type TestSchema } from './pg-harness.js';
import { conformanceSealer, endpointFixture, ingestItem, runStoreConformance } from './suite.js';

const sealer = conformanceSealer();
let ready: Promise<TestSchema>;

beforeAll(() => {
  ready = testSchema(sealer);
});
afterAll(async () => {
  await dropTestSchema(ready);
});

runStoreConformance('postgres', async () => {
  const schema = await ready;
  const store = schema.open(sealer);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await schema.truncate();
    },
    rawRows: (table) => schema.rawRows(table),
  };
});

/** Resolves on the next call of the returned callback, or rejects after `ms`. */
function signal(ms = 5_000): { notify: () => void; next: () => Promise<void> } {
  let waiters: (() => void)[] = [];
  return {
    notify: () => {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
    next: () =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no notification')), ms);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      }),
  };
}

describe('postgres LISTEN/NOTIFY', () => {
  let schema: TestSchema;
  let store: PostgresStore;
  let notifier: PgNotifier | undefined;

  beforeEach(async () => {
    schema = await ready;
    store = schema.open(sealer);
  });
  afterEach(async () => {
    await notifier?.close();
    notifier = undefined;
    await store.close();
    await schema.truncate();
  });

  it('wakes a listener when ingest, retryDelivery or a recovery\'s chunk create due work', async () => {
    const s = signal();
    notifier = new PgNotifier(TEST_DATABASE_URL, schema.name);
    await notifier.listen(s.notify);
    const account = await store.createAccount({ name: 'N' });
    const e = endpointFixture(account.id);
    await store.createEndpoint(e);

    let woke = s.next();
    await store.ingest([ingestItem(account.id, [{ id: e.id, ordered: false }])], Date.now());
    await woke;

    const [d] = await store.claim({ owner: 'w', limit: 1, leaseMs: 1_000, now: Date.now(), excludeEndpoints: [] });
    await store.settle(
      [{ deliveryId: d.id, owner: 'w', claimNo: d.claimNo, endpointId: e.id, accountId: account.id, outcome: 'failed', attempt: { attemptNo: 1, startedAt: Date.now(), durationMs: 1, statusCode: 500, errorKind: 'http_status', errorMessage: 'x', requestHeaders: {}, responseBody: null } }],
      Date.now(),
    );
    woke = s.next();
    const lease = { owner: 'r', until: Date.now() + 60_000 };
    const scope = { ...failedSince(0), until: Date.now() };
    await store.beginRecovery({ id: 'rcv_n', accountId: account.id, endpointId: e.id, idempotencyKey: null, request: 'q', scope, total: 1, lease }, Date.now());
    await store.advanceRecovery('rcv_n', lease, 10, Date.now());
    await woke;

    const [again] = await store.claim({ owner: 'w', limit: 1, leaseMs: 1_000, now: Date.now(), excludeEndpoints: [] });
    await store.settle([{ deliveryId: again.id, owner: 'w', claimNo: again.claimNo, endpointId: e.id, accountId: account.id, outcome: 'succeeded', attempt: { attemptNo: 2, startedAt: Date.now(), durationMs: 1, statusCode: 200, errorKind: null, errorMessage: null, requestHeaders: {}, responseBody: null } }], Date.now());
    woke = s.next();
    await store.retryDelivery(account.id, d.id, Date.now());
    await woke;
  });

  it('announces each captured inbox request on the inbox channel as "<account> <inbox> <request>"', async () => {
    const payloads: string[] = [];
    const s = signal();
    notifier = new PgNotifier(TEST_DATABASE_URL, schema.name, INBOX_CHANNEL);
    await notifier.listen((payload) => {
      if (payload) payloads.push(payload);
      s.notify();
    });
    const account = await store.createAccount({ name: 'I' });
    const token = 'x'.repeat(32);
    const inbox = { id: 'inb_1', accountId: account.id, name: 'i', token, tokenHash: 'h'.repeat(64), signingSecret: null, forwardUrl: null, forwardEndpointId: null, createdAt: 1, updatedAt: 1 };
    await store.createInbox(inbox);
    const woke = s.next();
    const request = {
      id: 'inr_1',
      inboxId: inbox.id,
      accountId: account.id,
      method: 'POST',
      path: '/',
      query: '',
      headers: {},
      body: Buffer.from('x'),
      bodySize: 1,
      truncated: false,
      sourceIp: null,
      receivedAt: 1,
      signature: null,
      relayMessageId: null,
    };
    await store.captureInboxRequest(request, undefined, 1);
    await woke;
    expect(payloads).toEqual([`${account.id} inb_1 inr_1`]);
  });

  it('does not hear other schemas', async () => {
    const s = signal(300);
    const elsewhere = new PgNotifier(TEST_DATABASE_URL, `${schema.name}_other`);
    await elsewhere.listen(s.notify);
    try {
      const account = await store.createAccount({ name: 'N2' });
      const e = endpointFixture(account.id);
      await store.createEndpoint(e);
      const woke = s.next();
      await store.ingest([ingestItem(account.id, [{ id: e.id, ordered: false }])], Date.now());
      await expect(woke).rejects.toThrow('no notification');
    } finally {
      await elsewhere.close();
    }
  });

  it('reconnects after its connection is killed, and wakes the caller once it is back', async () => {
    const s = signal(10_000);
    const n = new PgNotifier(TEST_DATABASE_URL, schema.name);
    await n.listen(s.notify);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      const back = s.next();
      const killed = await admin.query(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'herald-notifier' AND query LIKE $1",
        [`LISTEN "herald_deliveries_${schema.name}"%`],
      );
      expect(killed.rows.length).toBeGreaterThan(0);
      await back;
      // Listening again: a new delivery wakes it.
      const account = await store.createAccount({ name: 'N3' });
      const e = endpointFixture(account.id);
      await store.createEndpoint(e);
      const woke = s.next();
      await store.ingest([ingestItem(account.id, [{ id: e.id, ordered: false }])], Date.now());
      await woke;
    } finally {
      await admin.end();
      await n.close();
    }
  });
});
