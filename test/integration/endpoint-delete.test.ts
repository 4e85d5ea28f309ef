// Deleting an endpoint answers at once; its deliveries and attempts are purged afterwards by
// whichever process runs the jobs, on either store. Meanwhile nothing of the endpoint is visible
// or sent. An API-only process (no jobs) answers the DELETE and leaves the purge to a worker
// started later: what a process stopped before the purge finished leaves behind.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/signing/secretbox.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { eventually, startReceiver, startTestHerald, tempDir, type Receiver } from '../helpers.js';

/** How the Herald processes reach their store, and a raw row count of one of its tables. */
interface Backing {
  readonly env: Record<string, string>;
  readonly dataDir?: string;
  count(table: 'deliveries' | 'attempts' | 'endpoint_purges'): Promise<number>;
  close(): Promise<void>;
}

async function sqliteBacking(): Promise<Backing> {
  const dir = tempDir();
  return {
    env: {},
    dataDir: dir,
    async count(table) {
      const db = new Database(path.join(dir, 'herald.db'), { readonly: true });
      try {
        return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBacking(): Promise<Backing> {
  const key = randomBytes(32);
  const schema: TestSchema = await createTestSchema(new SecretBox(key));
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema.name);
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema.name}` });
  await admin.connect();
  return {
    env: { DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex') },
    async count(table) {
      return (await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
    },
    async close() {
      await admin.end();
      await schema.drop();
    },
  };
}

describe.each([
  ['SQLite', sqliteBacking],
  ['PostgreSQL', postgresBacking],
])('deleting an endpoint on %s', (_name, open) => {
  let backing: Backing;
  let receiver: Receiver;
  beforeAll(async () => {
    backing = await open();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await backing?.close();
  });

  it('answers before its deliveries are purged, hides them and sends none meanwhile; a worker started afterwards purges them', async () => {
    const env = { ...backing.env, HERALD_LEASE_MS: '2000' };
    const api = await startTestHerald(env, { worker: false, dataDir: backing.dataDir });
    let id: string;
    try {
      const create = async (name: string) =>
        (await api.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/${name}`, event_types: ['asset.created'], description: name })).body as { id: string };
      const gone = await create('gone');
      await create('kept');
      id = gone.id;
      const events = Array.from({ length: 300 }, (_, i) => ({ type: 'asset.created', resource: { type: 'asset', id: `a${i}` } }));
      expect((await api.api('POST', '/api/v2/events/batch', { events })).status).toBe(202);
      const read = await api.api('GET', `/api/v2/endpoints/${id}`);
      const etag = read.headers.get('etag')!;

      const deleted = await fetch(`${api.url}/api/v2/endpoints/${id}`, { method: 'DELETE', headers: { 'x-api-key': 'test-admin-key-0123456789', 'if-match': etag } });
      expect(deleted.status).toBe(204);
      // No process runs the jobs yet: every delivery is still stored, and none is visible.
      expect(await backing.count('deliveries')).toBe(600);
      expect(await backing.count('endpoint_purges')).toBe(1);
      expect((await api.api('GET', `/api/v2/endpoints/${id}`)).status).toBe(404);
      // A retry of the DELETE, with the same If-Match: the endpoint is gone.
      const again = await fetch(`${api.url}/api/v2/endpoints/${id}`, { method: 'DELETE', headers: { 'x-api-key': 'test-admin-key-0123456789', 'if-match': etag } });
      expect(again.status).toBe(404);
      const listed = (await api.api('GET', '/api/v2/endpoints')).body.data as { id: string }[];
      expect(listed.map((e) => e.id)).not.toContain(id);
      expect((await api.api('GET', `/api/v2/deliveries?endpoint_id=${id}`)).status).toBe(404);
      expect((await api.api('GET', `/api/v2/endpoints/${id}/deliveries`)).status).toBe(404);
      const all = (await api.api('GET', '/api/v2/deliveries?limit=100')).body.data as { endpoint_id: string }[];
      expect(all.filter((d) => d.endpoint_id === id)).toEqual([]);
      expect((await api.api('GET', '/api/v2/stats')).body.deliveries).toMatchObject({ pending: 300 });
    } finally {
      await api.close();
    }

    const worker = await startTestHerald(env, { dataDir: backing.dataDir });
    try {
      await eventually(async () => ((await backing.count('endpoint_purges')) === 0 ? true : undefined), 20_000);
      expect(await backing.count('deliveries')).toBe(300);
      const stats = async () => (await worker.api('GET', '/api/v2/stats')).body.deliveries as { succeeded: number };
      expect(await eventually(async () => ((await stats()).succeeded === 300 ? stats() : undefined), 20_000)).toMatchObject({ pending: 0, in_flight: 0 });
      expect(receiver.received.filter((r) => !r.url.startsWith('/kept'))).toEqual([]);
      expect(receiver.received).toHaveLength(300);
    } finally {
      await worker.close();
    }
  }, 60_000);
});
