// The conformance suite against the embedded driver: a fresh database file per test.
import Database from 'better-sqlite3';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SqliteStore } from '../sqlite/sqlite-store.js';
import { WriteLock } from '../sqlite/write-lock.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteHandle } from './sqlite-harness.js';
import { failedSince } from '../queries.js';
import { conformanceSealer, endpointFixture, ingestItem, runStoreConformance } from './suite.js';

const sealer = conformanceSealer();

runStoreConformance('sqlite', () => sqliteHandle(async (file) => new SqliteStore({ file, sealer })));

describe('sqlite on a fresh file', () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-sqlite-'));
    store = new SqliteStore({ file: path.join(dir, 'herald.db'), sealer });
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('claim across busy endpoints', () => {
    const T0 = 1_700_000_000_000;

    async function endpoints(n: number) {
      const account = await store.createAccount({ name: 'Acme' });
      const list = Array.from({ length: n }, () => endpointFixture(account.id));
      for (const e of list) await store.createEndpoint(e);
      return { account, targets: list.map((e) => ({ id: e.id, ordered: false })) };
    }

    const claim = (limit: number, perEndpointLimit: number) =>
      store.claim({ owner: 'w1', limit, leaseMs: 30_000, now: T0 + 10, excludeEndpoints: [], perEndpointLimit });

    it('gives every endpoint with due work a share before one backlog takes the rest', async () => {
      const { account, targets } = await endpoints(4);
      // Endpoint 0's backlog is due first; the three others have one delivery each, due later.
      await store.ingest(Array.from({ length: 10 }, () => ingestItem(account.id, [targets[0]])), T0);
      await store.ingest(targets.slice(1).map((t) => ingestItem(account.id, [t])), T0 + 1);
      const claimed = await claim(8, 8);
      const per = targets.map((t) => claimed.filter((d) => d.endpointId === t.id).length);
      expect(per).toEqual([5, 1, 1, 1]);
      // Earliest first overall, and never twice.
      expect(claimed.map((d) => d.createdAt)).toEqual([...Array(5).fill(T0), T0 + 1, T0 + 1, T0 + 1]);
      const again = await claim(100, 100);
      expect(again).toHaveLength(5);
      expect(new Set([...claimed, ...again].map((d) => d.id)).size).toBe(13);
    });

    it('fills the limit from the endpoints that have more, within their cap', async () => {
      const { account, targets } = await endpoints(3);
      for (const t of targets) await store.ingest(Array.from({ length: 20 }, () => ingestItem(account.id, [t])), T0);
      const claimed = await claim(10, 3);
      expect(targets.map((t) => claimed.filter((d) => d.endpointId === t.id).length)).toEqual([3, 3, 3]);
      const unlimited = await claim(30, 30);
      expect(unlimited).toHaveLength(30);
      expect(targets.map((t) => unlimited.filter((d) => d.endpointId === t.id).length)).toEqual([10, 10, 10]);
    });
  });

  /**
   * `n` deliveries of `status` to an endpoint, each with one attempt, written directly:
   * ingesting and settling them one by one would take most of a test's time.
   */
  function insertDeliveries(accountId: string, endpointId: string, n: number, status: 'failed' | 'succeeded') {
    const db = new Database(path.join(dir, 'herald.db'));
    db.prepare(
      `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < @n)
       INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, created_at, updated_at)
       SELECT printf('dlv_%s_%08d', @endpoint, i), @account, 'msg_' || i, @endpoint, 'asset.created', @status, 1, i, i FROM c`,
    ).run({ n, account: accountId, endpoint: endpointId, status });
    db.prepare(
      `INSERT INTO attempts (id, delivery_id, account_id, attempt_no, started_at, duration_ms, status_code, request_headers)
       SELECT 'atm_' || substr(id, 5), id, account_id, 1, created_at, 1, 500, '{}' FROM deliveries WHERE endpoint_id = ?`,
    ).run(endpointId);
    db.close();
  }

  /** Runs `work`, counting the 1 ms timer ticks that got through meanwhile. */
  async function ticksDuring<T>(work: () => Promise<T>): Promise<{ result: T; ticks: number }> {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      return { result: await work(), ticks };
    } finally {
      clearInterval(timer);
    }
  }

  async function twoEndpoints() {
    const account = await store.createAccount({ name: 'A' });
    const [e1, e2] = [endpointFixture(account.id), endpointFixture(account.id)];
    await store.createEndpoint(e1);
    await store.createEndpoint(e2);
    return { account, e1, e2 };
  }

  it('counts the deliveries a recover would re-queue in steps, letting the event loop run between them', async () => {
    const { account, e1, e2 } = await twoEndpoints();
    insertDeliveries(account.id, e1.id, 25_000, 'failed');
    insertDeliveries(account.id, e2.id, 1, 'failed');
    const { result, ticks } = await ticksDuring(() => store.countRecoverable(account.id, e1.id, failedSince(0)));
    expect(result).toBe(25_000);
    expect(ticks).toBeGreaterThan(0);
    expect(await store.stats(account.id, e1.id)).toMatchObject({ pending: 0, failed: 25_000 });
  });

  it('deletes an endpoint with many deliveries at once, and purges them in chunks afterwards', async () => {
    const { account, e1, e2 } = await twoEndpoints();
    insertDeliveries(account.id, e1.id, 5_000, 'succeeded');
    insertDeliveries(account.id, e2.id, 1, 'succeeded');
    const version = await store.endpointsVersion(account.id);
    const db = new Database(path.join(dir, 'herald.db'), { readonly: true });
    const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect(await store.deleteEndpoint(account.id, e1.id)).toBe(true);
    expect(await store.getEndpoint(account.id, e1.id)).toBeUndefined();
    expect(await store.endpointsVersion(account.id)).toBeGreaterThan(version);
    expect(count('deliveries')).toBe(5_001);
    const left = (await store.listDeliveries(account.id, { limit: 10 })).items;
    expect(left.map((d) => d.endpointId)).toEqual([e2.id]);
    expect(await store.stats(account.id)).toMatchObject({ succeeded: 1 });

    const steps = [];
    for (let r = { deliveries: 1, finished: 0 }; r.deliveries > 0 || r.finished > 0; ) steps.push((r = await store.purgeDeletedEndpoints(2_000)));
    expect(steps).toEqual([
      { deliveries: 2_000, finished: 0 },
      { deliveries: 2_000, finished: 0 },
      { deliveries: 1_000, finished: 1 },
      { deliveries: 0, finished: 0 },
    ]);
    expect([count('deliveries'), count('attempts'), count('endpoint_purges')]).toEqual([1, 1, 0]);
    expect(await store.listAttempts(account.id, [left[0]!.id])).toHaveLength(1);
    db.close();
    expect(await store.deleteEndpoint(account.id, e1.id)).toBe(false);
  });

  /** Inboxes inb_1 (5,000 captured requests) and inb_2 (one), written directly. */
  async function twoInboxes(): Promise<{ accountId: string; db: Database.Database }> {
    const account = await store.createAccount({ name: 'A' });
    const db = new Database(path.join(dir, 'herald.db'));
    const inbox = db.prepare("INSERT INTO inboxes (id, account_id, name, token_hash, token, created_at, updated_at) VALUES (?, ?, 'x', ?, 't', 1, 1)");
    inbox.run('inb_1', account.id, 'h1');
    inbox.run('inb_2', account.id, 'h2');
    db.prepare(
      `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 5001)
       INSERT INTO inbox_requests (id, inbox_id, account_id, method, path, query, headers, body, body_size, received_at)
       SELECT printf('irq_%08d', i), CASE WHEN i = 5001 THEN 'inb_2' ELSE 'inb_1' END, ?, 'POST', '/', '', '{}', randomblob(100), 100, i FROM c`,
    ).run(account.id);
    return { accountId: account.id, db };
  }

  it('purges an inbox of many captured requests in chunks, letting the event loop run between them', async () => {
    const { accountId, db } = await twoInboxes();
    const { result, ticks } = await ticksDuring(() => store.purgeInboxRequests(accountId, 'inb_1'));
    expect(result).toBe(5_000);
    expect(ticks).toBeGreaterThan(0);
    expect(db.prepare('SELECT inbox_id, COUNT(*) AS n FROM inbox_requests GROUP BY inbox_id').all()).toEqual([{ inbox_id: 'inb_2', n: 1 }]);
    expect(db.prepare('SELECT id FROM inboxes ORDER BY id').all()).toEqual([{ id: 'inb_1' }, { id: 'inb_2' }]);
    db.close();
  });

  it('deletes an inbox with many captured requests in chunks, letting the event loop run between them', async () => {
    const { accountId, db } = await twoInboxes();
    const { result, ticks } = await ticksDuring(() => store.deleteInbox(accountId, 'inb_1'));
    expect(result).toBe(true);
    expect(ticks).toBeGreaterThan(0);
    expect(db.prepare('SELECT inbox_id, COUNT(*) AS n FROM inbox_requests GROUP BY inbox_id').all()).toEqual([{ inbox_id: 'inb_2', n: 1 }]);
    expect(db.prepare('SELECT id FROM inboxes').all()).toEqual([{ id: 'inb_2' }]);
    db.close();
    expect(await store.deleteInbox(accountId, 'inb_1')).toBe(false);
  });
});

describe('sqlite durability per write', () => {
  const T0 = 1_700_000_000_000;
  let dir: string;
  const opened: SqliteStore[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-sync-'));
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function open(synchronous: 'full' | 'normal') {
    const store = new SqliteStore({ file: path.join(dir, `${synchronous}.db`), sealer, synchronous });
    opened.push(store);
    await store.migrate();
    return store;
  }

  // The connection's level, read outside any statement (PRAGMA synchronous: 1 NORMAL, 2 FULL).
  const level = (store: SqliteStore) => (store['db'] as Database.Database).pragma('synchronous', { simple: true });

  /** The level each write transaction ran at, in order. */
  function recordLevels(store: SqliteStore): number[] {
    const seen: number[] = [];
    const run = store['immediate'];
    Object.assign(store, { immediate: <T>(fn: () => T): T => (seen.push(level(store) as number), run(fn)) });
    return seen;
  }

  async function withEndpoint(store: SqliteStore) {
    const account = await store.createAccount({ name: 'Acme' });
    const endpoint = endpointFixture(account.id);
    await store.createEndpoint(endpoint);
    return { account, endpoint, seen: recordLevels(store) };
  }

  it('opens at the configured level', async () => {
    expect(level(await open('normal'))).toBe(1);
    expect(level(await open('full'))).toBe(2);
  });

  it('fsyncs ingests but commits leases and attempt outcomes without waiting for the disk', async () => {
    const store = await open('full');
    const { account, endpoint, seen } = await withEndpoint(store);
    await store.ingest([ingestItem(account.id, [{ id: endpoint.id, ordered: false }])], T0);
    const [d] = await store.claim({ owner: 'w1', limit: 10, leaseMs: 30_000, now: T0 + 10, excludeEndpoints: [] });
    await store.settle([{ deliveryId: d!.id, owner: 'w1', endpointId: endpoint.id, outcome: 'release', claimNo: d!.claimNo, nextAttemptAt: T0 }], T0 + 20);
    await store.ingest([ingestItem(account.id, [{ id: endpoint.id, ordered: false }])], T0 + 30);
    expect(seen).toEqual([2, 1, 1, 2]);
    expect(level(store)).toBe(2);
  });

  it('keeps NORMAL throughout when the store is opened with it', async () => {
    const store = await open('normal');
    const { account, endpoint, seen } = await withEndpoint(store);
    await store.ingest([ingestItem(account.id, [{ id: endpoint.id, ordered: false }])], T0);
    await store.claim({ owner: 'w1', limit: 10, leaseMs: 30_000, now: T0 + 10, excludeEndpoints: [] });
    expect(seen).toEqual([1, 1]);
  });
});

describe('sqlite writes and the write lock', () => {
  /** A lock that counts the turns taken at it. */
  class CountingLock extends WriteLock {
    turns = 0;
    override run<T>(fn: () => T): T {
      this.turns++;
      return super.run(fn);
    }
  }

  let dir: string;
  let store: SqliteStore;
  const lock = new CountingLock();

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-turns-'));
    store = new SqliteStore({ file: path.join(dir, 'herald.db'), sealer, writeLock: lock });
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  // Outside a turn, a write polls SQLite's busy handler (sleeps of 1–100 ms) while the dispatch
  // thread holds the file: every write, however rare, waits its turn instead.
  it('takes a turn for every admin write: accounts, projects, keys, counters, inboxes', async () => {
    const turnsOf = async (write: () => Promise<unknown>) => {
      const before = lock.turns;
      await write();
      return lock.turns - before;
    };
    const account = await store.createAccount({ name: 'A' });
    const key = { accountId: account.id, name: 'k', role: 'admin' as const, operator: false, hash: 'h1', prefix: 'hk_', source: 'api' as const };
    const inbox = { id: 'inb_1', accountId: account.id, name: 'in', token: 't', tokenHash: 'th', signingSecret: null, forwardUrl: null, forwardEndpointId: null, createdAt: 1, updatedAt: 1 };
    const writes: Record<string, () => Promise<unknown>> = {
      createAccount: () => store.createAccount({ name: 'B' }),
      updateAccount: () => store.updateAccount({ ...account, name: 'A2' }),
      createProject: () => store.createProject(account.id, 'p'),
      createApiKey: () => store.createApiKey(key),
      deleteApiKey: async () => store.deleteApiKey(account.id, (await store.createApiKey({ ...key, hash: 'h2' })).id),
      syncEnvKey: () => store.syncEnvKey('h3'),
      nextCounter: () => store.nextCounter(account.id, 'c'),
      createInbox: () => store.createInbox(inbox),
      updateInbox: () => store.updateInbox({ ...inbox, name: 'in2' }),
    };
    const untaken: string[] = [];
    for (const [name, write] of Object.entries(writes)) if ((await turnsOf(write)) === 0) untaken.push(name);
    expect(untaken).toEqual([]);
    expect((await store.getAccount(account.id))?.name).toBe('A2');
    expect((await store.getInbox(account.id, 'inb_1'))?.name).toBe('in2');
    expect(await store.nextCounter(account.id, 'c')).toBe(2);
  });
});

describe('sqlite opened while another connection writes a new file', () => {
  // Another process migrating the same new data directory: its connection holds the write
  // lock of a file not yet in WAL mode, which opening a store must turn into WAL.
  function holdWrite(file: string, ms: number): Promise<Worker> {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const Database = require(workerData.driver);
      const db = new Database(workerData.file);
      db.exec('BEGIN IMMEDIATE; CREATE TABLE other_process (x)');
      parentPort.postMessage('holding');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.ms);
      db.exec('COMMIT');
      db.close();`;
    const worker = new Worker(code, { eval: true, workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), file, ms } });
    return new Promise((resolve, reject) => {
      worker.once('message', () => resolve(worker));
      worker.once('error', reject);
    });
  }

  it('waits for that write instead of failing with SQLITE_BUSY', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-busy-'));
    const file = path.join(dir, 'herald.db');
    try {
      closeSync(openSync(file, 'wx'));
      const worker = await holdWrite(file, 300);
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      const store = new SqliteStore({ file, sealer });
      try {
        expect((store['db'] as Database.Database).pragma('journal_mode', { simple: true })).toBe('wal');
        const state = await store.migrate();
        expect(state.current).toBe(state.latest);
      } finally {
        await store.close();
        await exited;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
