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
import { eventually, startReceiver, startTestHerald, tempDir, type Receiver, type TestHerald } from '../helpers.js';

/** How the Herald processes reach their store, and a raw row count of one of its tables. */
interface Backing {
  readonly env: Record<string, string>;
  readonly dataDir?: string;
  /** With `endpointId`, only the rows of that endpoint (deliveries and endpoint_purges). */
  count(table: 'deliveries' | 'attempts' | 'endpoint_purges', endpointId?: string): Promise<number>;
  close(): Promise<void>;
}

async function sqliteBacking(): Promise<Backing> {
  const dir = tempDir();
  return {
    env: {},
    dataDir: dir,
    async count(table, endpointId) {
      const db = new Database(path.join(dir, 'herald.db'), { readonly: true });
      try {
        const of = endpointId === undefined ? '' : ' WHERE endpoint_id = ?';
        return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}${of}`).get(...(endpointId === undefined ? [] : [endpointId])) as { n: number }).n;
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
    async count(table, endpointId) {
      const of = endpointId === undefined ? '' : ' WHERE endpoint_id = $1';
      return (await admin.query(`SELECT count(*)::int AS n FROM ${table}${of}`, endpointId === undefined ? [] : [endpointId])).rows[0].n;
    },
    async close() {
      await admin.end();
      await schema.drop();
    },
  };
}

/** An endpoint made through another route than the native one, with deliveries pending. */
interface Made {
  /** Its id in the native API. */
  readonly id: string;
  /** Deletes it through that route; checks the answer. */
  remove(): Promise<void>;
}

/** A way of deleting an endpoint other than the native DELETE: `make` gives it `n` pending deliveries. */
interface Way {
  readonly name: string;
  make(api: TestHerald, url: string, n: number): Promise<Made>;
}

/** Publishes `n` asset.created events: one delivery each to the endpoint just made. */
async function publish(api: TestHerald, n: number): Promise<void> {
  const events = Array.from({ length: n }, (_, i) => ({ type: 'asset.created', resource: { type: 'asset', id: `w${i}` } }));
  expect((await api.api('POST', '/api/v2/events/batch', { events })).status).toBe(202);
}

/**
 * Made through `create` (its answer holds the route's id) with the url `url`, given `n`
 * deliveries, deleted by a DELETE of `route` answering `status`.
 */
async function madeBy(api: TestHerald, url: string, n: number, create: [string, unknown], route: string, status: number, check: (body: unknown) => void = () => {}): Promise<Made> {
  const made = await api.api('POST', create[0], create[1]);
  expect(made.status, JSON.stringify(made.body)).toBeLessThan(300);
  const routeId = String(made.body.id ?? made.body.webhook?.id);
  // Its native id (Media Pocket's ids are numbers of its own).
  const listed = (await api.api('GET', '/api/v2/endpoints?limit=100')).body.data as { id: string; url: string }[];
  const [id] = listed.filter((e) => e.url === url).map((e) => e.id);
  await publish(api, n);
  return {
    id,
    async remove() {
      const res = await api.api('DELETE', `${route}/${routeId}`);
      expect(res.status).toBe(status);
      check(res.body);
    },
  };
}

const MEDIA_POCKET: Way = {
  name: 'Media Pocket DELETE /api/v2/admin/webhooks/:id',
  make: (api, url, n) =>
    madeBy(api, url, n, ['/api/v2/admin/webhooks', { name: 'mp', http_url: url, http_method: 'POST', trigger_events: ['ASSET_ADDED'] }], '/api/v2/admin/webhooks', 200, (body) =>
      // The webhook as it was.
      expect(body).toMatchObject({ webhook: { name: 'mp', http_url: url, trigger_events: ['ASSET_ADDED'] } }),
    ),
};

const WAYS: readonly Way[] = [
  { name: 'Tenovos DELETE /webhooks/endpoint/:id', make: (api, url, n) => madeBy(api, url, n, ['/webhooks/endpoint', [{ description: 'tenovos', eventTypes: ['asset.created'], url }]], '/webhooks/endpoint', 204) },
  MEDIA_POCKET,
  { name: 'CMP DELETE /cmp/v3/webhooks/:id', make: (api, url, n) => madeBy(api, url, n, ['/cmp/v3/webhooks', { callback_url: url, events: ['asset_added'] }], '/cmp/v3/webhooks', 204) },
  {
    name: "DELETE /api/v2/inboxes/:id (its relay endpoint's deliveries)",
    async make(api, url, n) {
      const inbox = (await api.api('POST', '/api/v2/inboxes', { name: 'relayed', forward_url: url })).body as { id: string; url: string; forward_endpoint_id: string };
      for (let i = 0; i < n; i++) expect((await fetch(inbox.url, { method: 'POST', body: `{"n": ${i}}` })).status).toBe(200);
      return {
        id: inbox.forward_endpoint_id,
        async remove() {
          expect((await api.api('DELETE', `/api/v2/inboxes/${inbox.id}`)).status).toBe(204);
        },
      };
    },
  },
];

describe.each([
  ['SQLite', sqliteBacking, WAYS],
  ['PostgreSQL', postgresBacking, [MEDIA_POCKET]],
])('deleting an endpoint on %s', (_name, open, ways) => {
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

  it.each(ways.map((w) => [w.name, w] as const))('%s answers before its deliveries are purged and hides them; a worker then purges them', async (_way, way) => {
    const api = await startTestHerald(backing.env, { worker: false, dataDir: backing.dataDir });
    let id: string;
    try {
      const made = await way.make(api, `${receiver.url}/way${ways.indexOf(way)}`, 40);
      id = made.id;
      const before = (await api.api('GET', `/api/v2/deliveries?endpoint_id=${id}&limit=100`)).body.data as { id: string }[];
      expect(before).toHaveLength(40);
      await made.remove();
      // No process runs the jobs: all still stored, none visible.
      expect(await backing.count('deliveries', id)).toBe(40);
      expect(await backing.count('endpoint_purges', id)).toBe(1);
      expect((await api.api('GET', `/api/v2/endpoints/${id}`)).status).toBe(404);
      expect((await api.api('GET', `/api/v2/deliveries/${before[0].id}`)).status).toBe(404);
      const all = (await api.api('GET', '/api/v2/deliveries?limit=100')).body.data as { endpoint_id: string }[];
      expect(all.filter((d) => d.endpoint_id === id)).toEqual([]);
    } finally {
      await api.close();
    }

    const worker = await startTestHerald(backing.env, { dataDir: backing.dataDir });
    try {
      await eventually(async () => ((await backing.count('endpoint_purges', id)) === 0 ? true : undefined), 20_000);
      expect(await backing.count('deliveries', id)).toBe(0);
      expect(receiver.received.filter((r) => r.url === `/way${ways.indexOf(way)}`)).toEqual([]);
    } finally {
      await worker.close();
    }
  }, 60_000);

  it("a deleted endpoint's recoveries, stats and activity answer 404 like the endpoint", async () => {
    const api = await startTestHerald(backing.env, { worker: false, dataDir: backing.dataDir });
    try {
      const { id } = (await api.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/recovered`, event_types: ['asset.created'] })).body as { id: string };
      const recover = await api.api('POST', `/api/v2/endpoints/${id}/recover`, { since: new Date(Date.now() - 3_600_000).toISOString() });
      expect(recover.status).toBe(202);
      const reads = [`/api/v2/endpoints/${id}/recoveries/${String(recover.body.id)}`, `/api/v2/endpoints/${id}/stats`, `/api/v2/stats/activity?endpoint_id=${id}`];
      for (const read of reads) expect((await api.api('GET', read)).status, read).toBe(200);
      expect((await api.api('GET', `/api/v2/stats/endpoints?ids=${id}`)).body.data).toHaveLength(1);

      expect((await api.api('DELETE', `/api/v2/endpoints/${id}`)).status).toBe(204);
      for (const read of reads) expect((await api.api('GET', read)).status, read).toBe(404);
      expect((await api.api('GET', `/api/v2/stats/endpoints?ids=${id}`)).body.data).toEqual([]);
    } finally {
      await api.close();
    }
  });
});
