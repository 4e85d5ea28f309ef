// The conformance suite against the embedded driver on its own thread (HERALD_SQLITE_THREAD=on):
// the same SqliteStore, reached through messages. A fresh database file per test.
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretBox } from '../../signing/secretbox.js';
import type { Store } from '../contract.js';
import { openThreadedSqliteStore } from '../sqlite/threaded-store.js';
import { storeUnavailable } from '../unavailable.js';
import { sqliteHandle } from './sqlite-harness.js';
import { endpointFixture, ingestItem, runStoreConformance } from './suite.js';

const key = SecretBox.generateKey();

runStoreConformance('sqlite on its own thread', () => sqliteHandle((file) => openThreadedSqliteStore({ file, synchronous: 'normal', key })));

describe('sqlite store thread', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-thread-'));
    store = await openThreadedSqliteStore({ file: path.join(dir, 'herald.db'), synchronous: 'normal', key });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs calls in the order they were made, even when none is awaited in between', async () => {
    const account = await store.createAccount({ name: 'a' });
    const endpoint = endpointFixture(account.id);
    const created = store.createEndpoint(endpoint);
    const read = store.getEndpoint(account.id, endpoint.id);
    const deleted = store.deleteEndpoint(account.id, endpoint.id);
    const after = store.getEndpoint(account.id, endpoint.id);
    await created;
    expect((await read)?.id).toBe(endpoint.id);
    expect(await deleted).toBe(true);
    expect(await after).toBeUndefined();
  });

  it("rejects with the database's error, its name and code intact, and goes on serving", async () => {
    const account = await store.createAccount({ name: 'a' });
    const err = await store.createAccount({ name: 'b', id: account.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'SqliteError', code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect((await store.getAccount(account.id))?.name).toBe('a');
  });

  it('keeps credentials sealed in the file and opens them for the caller', async () => {
    const account = await store.createAccount({ name: 'a' });
    const endpoint = endpointFixture(account.id, { secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' });
    await store.createEndpoint(endpoint);
    expect((await store.getEndpoint(account.id, endpoint.id))?.secret).toBe(endpoint.secret);
    const db = new Database(path.join(dir, 'herald.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT secret FROM endpoints WHERE id = ?').get(endpoint.id) as { secret: string };
      expect(row.secret).not.toContain('c2VjcmV0');
      expect(row.secret.startsWith('v1.')).toBe(true);
    } finally {
      db.close();
    }
  });

  it('runs a claim ahead of ingests posted before it, never behind them', async () => {
    const account = await store.createAccount({ name: 'a' });
    const endpoint = endpointFixture(account.id);
    await store.createEndpoint(endpoint);
    const target = [{ id: endpoint.id, ordered: false }];
    const now = Date.now();
    const first = store.ingest(Array.from({ length: 500 }, () => ingestItem(account.id, target)), now);
    const later = ingestItem(account.id, target);
    const second = store.ingest([later], now);
    const claimed = await store.claim({ owner: 'w', limit: 1_000, leaseMs: 60_000, now: now + 1, excludeEndpoints: [], perEndpointLimit: 1_000 });
    await Promise.all([first, second]);
    // In call order the claim would have taken all 501; ahead of the queued ingest, not the last.
    expect(claimed.length).toBeLessThan(501);
    expect(claimed.map((d) => d.eventId)).not.toContain(later.messageId);
  });

  it('refuses every call once closed', async () => {
    await store.close();
    await expect(store.getAccount('acc_x')).rejects.toThrow(/closed/);
    store = await openThreadedSqliteStore({ file: path.join(dir, 'herald.db'), synchronous: 'normal', key });
  });
});

describe('sqlite store thread start', () => {
  it('rejects when the database cannot be opened, naming why', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-thread-'));
    try {
      // A directory where the database file should be.
      await expect(openThreadedSqliteStore({ file: dir, synchronous: 'full', key })).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects a malformed key before opening anything', async () => {
    await expect(openThreadedSqliteStore({ file: path.join(os.tmpdir(), 'never.db'), synchronous: 'full', key: 'not-a-key' })).rejects.toThrow();
  });
});

describe('sqlite store thread restart', () => {
  const script = new URL('../../../test/fixtures/stopping-store-thread.mjs', import.meta.url);
  let dir: string;
  let store: Store;
  let stops: { err: Error; restartInMs: number }[];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-thread-'));
    stops = [];
    store = await openThreadedSqliteStore({
      file: path.join(dir, 'herald.db'),
      synchronous: 'normal',
      key,
      script,
      onFailure: (err, restartInMs) => stops.push({ err, restartInMs }),
    });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The account once a thread answers again (calls fail while it restarts). */
  async function readWhenBack(id: string): Promise<string | undefined> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const account = await store.getAccount(id).catch(() => null);
      if (account !== null) return account?.name;
      if (Date.now() > deadline) throw new Error('the store thread did not come back');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('opens a new thread on the same database when the thread stops, with a longer pause each time it stops again soon', async () => {
    const account = await store.createAccount({ name: 'kept' });
    const held = await store.getAccount('acc_stop_thread').catch((e: unknown) => e);
    expect(String(held)).toMatch(/exit code 7/);
    expect(stops.map((s) => s.restartInMs)).toEqual([250]);
    // Until the new thread is up, calls fail at once and say why. Both are a store that is
    // unavailable for now (503 from the API), not a fault (500).
    const meanwhile = await store.getAccount(account.id).catch((e: unknown) => e);
    expect(String(meanwhile)).toMatch(/restarts in 250 ms/);
    expect([storeUnavailable(held), storeUnavailable(meanwhile)]).toEqual([true, true]);
    expect(await readWhenBack(account.id)).toBe('kept');
    await store.createAccount({ name: 'after' });

    await expect(store.getAccount('acc_stop_thread')).rejects.toThrow(/exit code 7/);
    expect(stops.map((s) => s.restartInMs)).toEqual([250, 500]);
    expect(await readWhenBack(account.id)).toBe('kept');
    expect((await store.listAccounts({ limit: 10 })).items.map((a) => a.name).sort()).toEqual(['after', 'kept']);
  });

  it('closes while a restart is pending, and stays closed', async () => {
    await expect(store.getAccount('acc_stop_thread')).rejects.toThrow(/exit code 7/);
    await store.close();
    await new Promise((r) => setTimeout(r, 400));
    await expect(store.getAccount('acc_x')).rejects.toThrow(/closed/);
  });
});
