import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startReceiver, startTestHerald, tempDir, type Receiver, type TestHerald } from '../helpers.js';

const open: { close(): Promise<void> }[] = [];
async function herald(env: Record<string, string> = {}): Promise<TestHerald> {
  const h = await startTestHerald(env);
  open.push(h);
  return h;
}
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  open.push(r);
  return r;
}
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

const FAST_RETRIES = { HERALD_RETRY_SCHEDULE: '0,0.05,0.05' };

describe('retries and failure', () => {
  it('retries a failing receiver and succeeds on the third attempt with the same webhook-id', async () => {
    const h = await herald(FAST_RETRIES);
    const r = await receiver((_req, i, res) => void res.writeHead(i < 2 ? 500 : 200).end(i < 2 ? 'boom' : 'ok'));
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    const pub = await h.api('POST', '/api/v2/events', { type: 'asset.created', data: {} });
    await r.waitFor(3);
    expect(new Set(r.received.map((x) => x.headers['webhook-id']))).toEqual(new Set([pub.body.id]));
    const log = await eventually(async () => {
      const res = await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=succeeded`);
      return res.body.data.length === 1 ? res.body.data[0] : undefined;
    });
    expect(log.attempts).toBe(3);
    expect(log.attempt_log.map((a: { status_code: number }) => a.status_code)).toEqual([500, 500, 200]);
    expect(log.attempt_log[0]).toMatchObject({ error_kind: 'http_status', response_body: 'boom' });
    expect(log.attempt_log[0].request_headers['webhook-signature']).toMatch(/^v1,/);
  });

  it('marks a delivery failed after the last scheduled attempt and raises message.attempt.exhausted', async () => {
    const h = await herald(FAST_RETRIES);
    const bad = await receiver((_req, _i, res) => void res.writeHead(503).end());
    const watcher = await receiver();
    const ep = await h.api('POST', '/api/v2/endpoints', { url: bad.url, event_types: ['asset.deleted'] });
    await h.api('POST', '/api/v2/endpoints', { url: watcher.url, event_types: ['message.attempt.exhausted'] });
    await h.api('POST', '/api/v2/events', { type: 'asset.deleted', data: {} });
    const [note] = await watcher.waitFor(1);
    const body = JSON.parse(note.body);
    expect(body.type).toBe('message.attempt.exhausted');
    expect(body.data).toMatchObject({ endpoint_id: ep.body.id, attempts: 3, last_status_code: 503 });
    expect(bad.received).toHaveLength(3);
    const failed = await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=failed`);
    expect(failed.body.data).toHaveLength(1);
  });

  it('recover re-queues failed deliveries since a time and they are delivered', async () => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
    let up = false;
    const r = await receiver((_req, _i, res) => void res.writeHead(up ? 200 : 500).end());
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.*'] });
    const since = new Date().toISOString();
    for (let i = 0; i < 5; i++) await h.api('POST', '/api/v2/events', { type: 'asset.created', data: { i } });
    await eventually(async () => ((await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=failed`)).body.data.length === 5 ? true : undefined));
    up = true;
    const rec = await h.api('POST', `/api/v2/endpoints/${ep.body.id}/recover`, { since });
    expect(rec.status).toBe(202);
    expect(rec.body.requeued).toBe(5);
    await r.waitFor(10);
    await eventually(async () => ((await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=succeeded`)).body.data.length === 5 ? true : undefined));
  });

  it('recover replays delivered events within a time range and of chosen types, counted first', async () => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
    const r = await receiver();
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.*'] });
    const since = new Date(Date.now() - 1_000).toISOString();
    await h.api('POST', '/api/v2/events', { type: 'asset.created', data: { i: 0 } });
    const deleted = await h.api('POST', '/api/v2/events', { type: 'asset.deleted', data: { i: 1 } });
    await h.api('POST', '/api/v2/events', { type: 'asset.comment.added', data: { i: 2 } });
    await eventually(async () => ((await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=succeeded`)).body.data.length === 3 ? true : undefined));
    const until = new Date(Date.now() + 1_000).toISOString();
    const recover = (body: Record<string, unknown>) => h.api('POST', `/api/v2/endpoints/${ep.body.id}/recover`, { since, until, ...body });

    // Failed only, by default: nothing to do.
    expect((await recover({ dry_run: true })).body).toMatchObject({ would_requeue: 0 });
    const scope = { statuses: ['succeeded'], event_types: ['asset.deleted', 'asset.comment.*'] };
    expect((await recover({ ...scope, dry_run: true })).body).toMatchObject({ would_requeue: 2 });
    expect((await recover({ statuses: ['succeeded', 'failed'], event_types: ['asset.*'], dry_run: true })).body).toMatchObject({ would_requeue: 3 });
    
    const replay = await recover(scope);
    expect(replay).toMatchObject({ status: 202, body: { requeued: 2 } });
    await r.waitFor(5);
    // The same messages again, with their ids: receivers deduplicate on webhook-id.
    const ids = r.received.map((x) => x.headers['webhook-id']);
    expect(ids.slice(3).sort()).toEqual([ids[1], ids[2]].sort());
    expect(ids).toContain(deleted.body.id);
  });

  it('recover names the field of a bad time range, event type or status', async () => {
    const h = await herald();
    const ep = await h.api('POST', '/api/v2/endpoints', { url: 'https://example.com/hooks', event_types: ['asset.*'] });
    const recover = (body: Record<string, unknown>) => h.api('POST', `/api/v2/endpoints/${ep.body.id}/recover`, { since: '2026-01-02T00:00:00Z', ...body });
    expect(await recover({ until: '2026-01-01T00:00:00Z' })).toMatchObject({ status: 400, body: { field: 'until' } });
    expect(await recover({ event_types: ['Asset.Nope'] })).toMatchObject({ status: 400, body: { field: 'event_types', message: expect.stringContaining('"Asset.Nope"') } });
    expect(await recover({ event_types: [] })).toMatchObject({ status: 400, body: { field: 'event_types' } });
    expect(await recover({ statuses: ['pending'] })).toMatchObject({ status: 400, body: { field: expect.stringContaining('statuses') } });
    expect(await recover({ statuses: ['failed', 'failed'] })).toMatchObject({ status: 400, body: { field: 'statuses' } });
  });

  it('retries one delivery on request', async () => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
    const r = await receiver((_req, i, res) => void res.writeHead(i === 0 ? 500 : 204).end());
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    await h.api('POST', '/api/v2/events', { type: 'asset.created', data: {} });
    const failed = await eventually(async () => (await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=failed`)).body.data[0]);
    const retried = await h.api('POST', `/api/v2/deliveries/${failed.id}/retry`);
    expect(retried.status).toBe(202);
    await r.waitFor(2);
    const one = await eventually(async () => {
      const d = await h.api('GET', `/api/v2/deliveries/${failed.id}`);
      return d.body.status === 'succeeded' ? d.body : undefined;
    });
    expect(one.attempt_log.map((a: { status_code: number }) => a.status_code)).toEqual([500, 204]);
  });

  it('treats a redirect as a failure and does not follow it', async () => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
    const target = await receiver();
    const r = await receiver((_req, _i, res) => void res.writeHead(302, { location: target.url }).end());
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    await h.api('POST', '/api/v2/events', { type: 'asset.created', data: {} });
    const failed = await eventually(async () => (await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=failed`)).body.data[0]);
    expect(failed.last_status_code).toBe(302);
    expect(target.received).toHaveLength(0);
  });
});

describe('leases', () => {
  it('keeps the lease of an attempt running longer than HERALD_LEASE_MS: each delivery goes out once', async () => {
    // Leases of 1 s, reclaimed every second; each answer takes 3.5 s.
    const h = await herald({ HERALD_LEASE_MS: '1000' });
    const r = await receiver((_req, _i, res) => void setTimeout(() => res.writeHead(200).end('ok'), 3_500));
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    const events = Array.from({ length: 8 }, (_, i) => ({ type: 'asset.created', data: { i } }));
    expect((await h.api('POST', '/api/v2/events/batch', { events })).status).toBe(202);
    const done = await eventually(async () => {
      const res = await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=succeeded`);
      return res.body.data.length === 8 ? res.body.data : undefined;
    }, 15_000);
    // Time for any second send the reclaim would have made to arrive.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(r.received).toHaveLength(8);
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(8);
    expect(done.map((d: { attempts: number }) => d.attempts)).toEqual(Array(8).fill(1));
  });
});

describe('isolation', () => {
  it('keeps a healthy endpoint going while six endpoints never answer: each of those holds a few requests, not the whole process', async () => {
    // 64 requests at once in all: six dead endpoints at 64 each (the ceiling) would take every one
    // until their 30 s timeouts, and the healthy endpoint would wait for them.
    const h = await herald({ HERALD_CONCURRENCY: '64' });
    const hanging: ServerResponse[] = [];
    const dead = await receiver((_req, _i, res) => void hanging.push(res));
    const alive = await receiver();
    try {
      for (let k = 0; k < 6; k++) await h.api('POST', '/api/v2/endpoints', { url: `${dead.url}/d${k}`, event_types: ['asset.created'] });
      await h.api('POST', '/api/v2/endpoints', { url: alive.url, event_types: ['asset.deleted'] });
      const events = Array.from({ length: 100 }, (_, i) => ({ type: 'asset.created', data: { i } }));
      expect((await h.api('POST', '/api/v2/events/batch', { events })).status).toBe(202);
      // Eight each: an endpoint that has not answered yet gets no more at once.
      await dead.waitFor(48);
      for (let i = 0; i < 20; i++) expect((await h.api('POST', '/api/v2/events', { type: 'asset.deleted', data: { i } })).status).toBe(202);
      await alive.waitFor(20, 10_000);
      expect(dead.received.length).toBe(48);
      const perEndpoint = new Map<string, number>();
      for (const r of dead.received) perEndpoint.set(r.url, (perEndpoint.get(r.url) ?? 0) + 1);
      expect([...perEndpoint.values()]).toEqual([8, 8, 8, 8, 8, 8]);
    } finally {
      for (const res of hanging) res.destroy();
    }
  });
});

describe('isolation from slow endpoints', () => {
  it('keeps a healthy endpoint going while four endpoints that earned their concurrency answer slowly', async () => {
    // Each answers its first 16 requests at once, earning 8 + 16 requests in flight, then takes
    // 6 s per answer. Four at 24 would fill the 64 for as long as their backlog lasts (600
    // deliveries at 64 per 6 s: about a minute); sharing three quarters of it, they leave room.
    const h = await herald({ HERALD_CONCURRENCY: '64' });
    const timers = new Set<NodeJS.Timeout>();
    const seen = new Map<string, number>();
    const slow = await receiver((req, _i, res) => {
      const n = (seen.get(req.url!) ?? 0) + 1;
      seen.set(req.url!, n);
      if (n <= 16) return void res.writeHead(200).end();
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.writeHead(200).end();
      }, 6_000);
      timers.add(timer);
    });
    const alive = await receiver();
    try {
      for (let k = 0; k < 4; k++) await h.api('POST', '/api/v2/endpoints', { url: `${slow.url}/s${k}`, event_types: ['asset.created'] });
      await h.api('POST', '/api/v2/endpoints', { url: alive.url, event_types: ['asset.deleted'] });
      const events = Array.from({ length: 150 }, (_, i) => ({ type: 'asset.created', data: { i } }));
      expect((await h.api('POST', '/api/v2/events/batch', { events })).status).toBe(202);
      await slow.waitFor(4 * 16 + 8);
      for (let i = 0; i < 20; i++) expect((await h.api('POST', '/api/v2/events', { type: 'asset.deleted', data: { i } })).status).toBe(202);
      // Within about one slow answer: the first ones mark them slow (the 16 quick ones did not),
      // and those over their share start nothing new.
      await alive.waitFor(20, 15_000);
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
  });
});

describe('shutdown', () => {
  it('stops after HERALD_SHUTDOWN_GRACE_MS with an attempt still running, and hands its delivery back', async () => {
    const hanging: ServerResponse[] = [];
    const r = await receiver((_req, _i, res) => void hanging.push(res));
    const dataDir = tempDir();
    const h = await startTestHerald({ HERALD_SHUTDOWN_GRACE_MS: '200' }, { dataDir });
    await h.api('POST', '/api/v2/endpoints', { url: `${r.url}/slow`, event_types: ['asset.*'] });
    const published = await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    await r.waitFor(1);
    // The receiver never answers: the stop must not wait for it past the grace.
    await h.close();
    const db = new Database(path.join(dataDir, 'herald.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT status, lease_owner, attempts FROM deliveries WHERE event_id = ?').all(published.body.id)).toEqual([{ status: 'pending', lease_owner: null, attempts: 0 }]);
    } finally {
      db.close();
      for (const res of hanging) res.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('fan-out and filters', () => {
  it('matches exact names, topic wildcards and profile names, and nothing else', async () => {
    const h = await herald();
    const assets = await receiver();
    const created = await receiver();
    const all = await receiver();
    await h.api('POST', '/api/v2/endpoints', { url: assets.url, event_types: ['asset.*'] });
    await h.api('POST', '/api/v2/endpoints', { url: created.url, event_types: ['ASSET_ADDED'] });
    await h.api('POST', '/api/v2/endpoints', { url: all.url, event_types: ['*'] });
    const types = ['asset.created', 'asset.metadata.updated', 'collection.created'];
    for (const type of types) await h.api('POST', '/api/v2/events', { type, data: {} });
    await all.waitFor(3);
    await assets.waitFor(2);
    await created.waitFor(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(assets.received.map((x) => JSON.parse(x.body).type).sort()).toEqual(['asset.created', 'asset.metadata.updated']);
    expect(created.received.map((x) => JSON.parse(x.body).type)).toEqual(['asset.created']);
    expect(all.received).toHaveLength(3);
  });

  it('accepts a profile event name when publishing and stores the canonical type', async () => {
    const h = await herald();
    const pub = await h.api('POST', '/api/v2/events', { type: 'asset_added', data: {} });
    expect(pub.status).toBe(202);
    const ev = await h.api('GET', `/api/v2/events/${pub.body.id}`);
    expect(ev.body.type).toBe('asset.created');
  });

  it('publishes idempotently: the same id again returns the same message and creates no deliveries', async () => {
    const h = await herald();
    const r = await receiver();
    await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    const first = await h.api('POST', '/api/v2/events', { id: 'dam-evt-1', type: 'asset.created', data: {} });
    const again = await h.api('POST', '/api/v2/events', { id: 'dam-evt-1', type: 'asset.created', data: {} });
    const batch = await h.api('POST', '/api/v2/events/batch', { events: [{ id: 'dam-evt-1', type: 'asset.created' }, { id: 'dam-evt-2', type: 'asset.created' }] });
    const batchAgain = await h.api('POST', '/api/v2/events/batch', { events: [{ id: 'dam-evt-2', type: 'asset.created' }] });
    expect(first.body).toMatchObject({ deliveries: 1, duplicate: false });
    expect(again.body).toEqual({ id: first.body.id, deliveries: 1, duplicate: true });
    expect(batch.body.data[0]).toMatchObject({ id: first.body.id, duplicate: true });
    expect(batch.body.data[1]).toMatchObject({ deliveries: 1, duplicate: false });
    expect(batchAgain.body.data[0]).toMatchObject({ id: batch.body.data[1].id, duplicate: true });
    await r.waitFor(2);
    await new Promise((res) => setTimeout(res, 200));
    expect(r.received).toHaveLength(2);
    expect((await h.api('GET', '/api/v2/events/dam-evt-1')).body.id).toBe(first.body.id);
  });

  it('does not let a slow endpoint delay a fast one', async () => {
    const h = await herald();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = await receiver(async (_req, _i, res) => {
      await gate;
      res.writeHead(200).end();
    });
    const fast = await receiver();
    await h.api('POST', '/api/v2/endpoints', { url: slow.url, event_types: ['asset.created'], timeout_ms: 30_000 });
    await h.api('POST', '/api/v2/endpoints', { url: fast.url, event_types: ['asset.created'] });
    const events = Array.from({ length: 200 }, (_, i) => ({ type: 'asset.created', data: { i } }));
    await h.api('POST', '/api/v2/events/batch', { events });
    // Every fast delivery arrives while the slow receiver has not answered a single request.
    await fast.waitFor(200);
    expect(slow.received.length).toBeGreaterThan(0);
    release();
    await slow.waitFor(200, 20_000);
  });

  it('queues nothing for a disabled endpoint: events published meanwhile are not sent after it is enabled', async () => {
    const h = await herald();
    const r = await receiver();
    const ep = (await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], disabled: true })).body;
    const during = await h.api('POST', '/api/v2/events', { type: 'asset.created', data: { when: 'disabled' } });
    expect(during.body.deliveries).toBe(0);
    await h.api('PATCH', `/api/v2/endpoints/${ep.id}`, { disabled: false });
    const after = await h.api('POST', '/api/v2/events', { type: 'asset.created', data: { when: 'enabled' } });
    expect(after.body.deliveries).toBe(1);
    const [got] = await r.waitFor(1);
    expect(JSON.parse(got.body).data).toEqual({ when: 'enabled' });
    expect((await h.api('GET', `/api/v2/endpoints/${ep.id}/deliveries`)).body.data).toHaveLength(1);
  });

  it('does not let a slow endpoint delay a fast one on the same host', async () => {
    const h = await herald({ HERALD_ENDPOINT_CONCURRENCY: '4' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const host = await receiver(async (req, _i, res) => {
      if (req.url === '/slow') await gate;
      res.writeHead(200).end();
    });
    await h.api('POST', '/api/v2/endpoints', { url: `${host.url}/slow`, event_types: ['asset.created'], timeout_ms: 30_000 });
    await h.api('POST', '/api/v2/endpoints', { url: `${host.url}/fast`, event_types: ['asset.created'], timeout_ms: 2_000 });
    await h.api('POST', '/api/v2/events/batch', { events: Array.from({ length: 40 }, (_, i) => ({ type: 'asset.created', data: { i } })) });
    // The slow endpoint's 4 requests hang; the fast one's go over connections of their own.
    await eventually(() => (host.received.filter((r) => r.url === '/fast').length === 40 ? true : undefined), 10_000);
    expect(host.received.filter((r) => r.url === '/slow')).toHaveLength(4);
    release();
    await eventually(() => (host.received.filter((r) => r.url === '/slow').length === 40 ? true : undefined), 20_000);
  });
});
