// Observability: /metrics counters and gauges against real deliveries, /readyz against a real
// SQLite schema, request ids, and the per-attempt debug log line.
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, tempDir, type Receiver, type TestHerald } from '../helpers.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

interface Captured {
  readonly lines: Record<string, unknown>[];
  readonly text: () => string;
}

/** A Herald whose log lines (JSON, no redaction: the code itself must keep secrets out) are kept. */
async function herald(env: Record<string, string> = {}, options: { level?: string; worker?: boolean; dataDir?: string } = {}): Promise<TestHerald & { logs: Captured }> {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino({ level: options.level ?? 'info' }, stream);
  const h = await startTestHerald(env, { logger, worker: options.worker, dataDir: options.dataDir });
  open.push(h);
  const text = () => raw.join('');
  return {
    ...h,
    logs: {
      get lines() {
        return text()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      },
      text,
    },
  };
}

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  open.push(r);
  return r;
}

async function scrape(h: TestHerald): Promise<{ text: string; value(name: string, labels?: Record<string, string>): number | undefined }> {
  const res = await fetch(`${h.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return {
    text,
    value(name, labels = {}) {
      for (const line of text.split('\n')) {
        const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
        if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[3]);
      }
      return undefined;
    },
  };
}

describe('/metrics', () => {
  it('counts every attempt and every final outcome by profile, with one latency observation per attempt', async () => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0,0.05,0.05' });
    const ok = await receiver();
    const bad = await receiver((_r, _i, res) => void res.writeHead(500).end('boom'));
    expect((await h.api('POST', '/api/v2/endpoints', { url: ok.url, event_types: ['asset.created'] })).status).toBe(201);
    // A CMP subscription: the same events under the cmp profile, answered 500 every time.
    expect((await h.api('POST', '/cmp/v3/webhooks', { callback_url: bad.url, events: ['asset_added'] })).status).toBe(201);

    const before = await scrape(h);
    for (const name of before.text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[\w:]+/.exec(l)![0])) {
      expect(name).toMatch(/^herald_/);
    }
    expect(before.value('herald_delivery_attempts_total', { outcome: 'succeeded', profile: 'standard' })).toBe(0);
    expect(before.value('herald_attempt_duration_seconds_count', { profile: 'cmp' })).toBe(0);

    expect((await h.api('POST', '/api/v2/events/batch', { events: [1, 2, 3].map((i) => ({ type: 'asset.created', resource: { type: 'asset', id: `a${i}` } })) })).status).toBe(202);
    await ok.waitFor(3);
    await bad.waitFor(9);
    const m = await eventually(async () => {
      const s = await scrape(h);
      // Each exhausted delivery also raises a message.attempt.exhausted event: 3 published + 3 raised.
      return s.value('herald_deliveries_total', { outcome: 'failed', profile: 'cmp' }) === 3 && s.value('herald_events_ingested_total') === 6 ? s : undefined;
    });

    expect(m.value('herald_delivery_attempts_total', { outcome: 'succeeded', profile: 'standard' })).toBe(3);
    expect(m.value('herald_delivery_attempts_total', { outcome: 'retry', profile: 'cmp' })).toBe(6);
    expect(m.value('herald_delivery_attempts_total', { outcome: 'failed', profile: 'cmp' })).toBe(3);
    expect(m.value('herald_delivery_attempts_total', { outcome: 'succeeded', profile: 'cmp' })).toBe(0);
    expect(m.value('herald_deliveries_total', { outcome: 'succeeded', profile: 'standard' })).toBe(3);
    expect(m.value('herald_deliveries_total', { outcome: 'failed', profile: 'standard' })).toBe(0);
    expect(m.value('herald_attempt_duration_seconds_count', { profile: 'standard' })).toBe(3);
    expect(m.value('herald_attempt_duration_seconds_count', { profile: 'cmp' })).toBe(9);
    expect(m.value('herald_attempt_duration_seconds_bucket', { profile: 'cmp', le: '+Inf' })).toBe(9);
    expect(m.value('herald_attempt_duration_seconds_bucket', { profile: 'cmp', le: '30' })).toBe(9);
    expect(m.value('herald_deliveries_enqueued_total')).toBe(6);
    for (const operation of ['ingest', 'claim', 'settle']) {
      expect(m.value('herald_store_operation_duration_seconds_count', { operation })).toBeGreaterThanOrEqual(1);
    }
    expect(m.value('herald_in_flight')).toBe(0);
    expect(m.value('herald_process_resident_memory_bytes')).toBeGreaterThan(0);
    // The default level is info: no per-attempt lines.
    expect(h.logs.lines.filter((l) => l.msg === 'delivery attempt')).toEqual([]);
  });

  it('shows deliveries moving from the queue to the retry queue when their endpoint is down', async () => {
    const dataDir = tempDir();
    // Closed last (the list is closed from its end), after both Heralds on the directory.
    open.push({ close: async () => rmSync(dataDir, { recursive: true, force: true }) });
    const down = await startReceiver();
    await down.close(); // nothing listens on its port any more
    const env = { HERALD_RETRY_SCHEDULE: '0,3600' };

    // API only: the deliveries wait untried.
    const api = await herald(env, { worker: false, dataDir });
    expect((await api.api('POST', '/api/v2/endpoints', { url: down.url, event_types: ['asset.deleted'] })).status).toBe(201);
    expect((await api.api('POST', '/api/v2/events/batch', { events: [1, 2, 3, 4].map(() => ({ type: 'asset.deleted' })) })).status).toBe(202);
    const queued = await scrape(api);
    expect(queued.value('herald_queue_depth')).toBe(4);
    expect(queued.value('herald_retry_queue_depth')).toBe(0);
    await api.close();
    open.splice(open.indexOf(api), 1);

    // With a dispatcher: each is tried once, refused, and waits an hour for its next attempt.
    const serve = await herald(env, { dataDir });
    await eventually(async () => ((await serve.herald.context.store.stats()).retrying === 4 ? true : undefined));
    const retrying = await scrape(serve);
    expect(retrying.value('herald_queue_depth')).toBe(0);
    expect(retrying.value('herald_retry_queue_depth')).toBe(4);
    expect(retrying.value('herald_delivery_attempts_total', { outcome: 'retry', profile: 'standard' })).toBe(4);
  });

  it('counts deliveries taken straight from their ingest commit apart from those claimed later (retries)', async () => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0,0.05' });
    const r = await receiver((_req, i, res) => void res.writeHead(i < 5 ? 500 : 200).end());
    await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    expect((await h.api('POST', '/api/v2/events/batch', { events: [1, 2, 3, 4, 5].map(() => ({ type: 'asset.created' })) })).status).toBe(202);
    await r.waitFor(10);
    const m = await eventually(async () => {
      const s = await scrape(h);
      return s.value('herald_deliveries_total', { outcome: 'succeeded', profile: 'standard' }) === 5 ? s : undefined;
    });
    // The dispatcher had room: every new delivery went to it from the commit; each retry was claimed.
    expect(m.value('herald_dispatcher_taken_total', { from: 'ingest' })).toBe(5);
    expect(m.value('herald_dispatcher_taken_total', { from: 'claim' })).toBe(5);
  });

  it('counts deliveries postponed by an endpoint rate limit', async () => {
    const h = await herald();
    const r = await receiver();
    expect((await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], rate_limit_per_second: 5 })).status).toBe(201);
    expect((await h.api('POST', '/api/v2/events/batch', { events: Array.from({ length: 8 }, () => ({ type: 'asset.created' })) })).status).toBe(202);
    await r.waitFor(8);
    const m = await scrape(h);
    expect(m.value('herald_throttled_total')).toBeGreaterThanOrEqual(1);
  });
});

describe('/healthz and /readyz', () => {
  it('is ready only while the schema is current, and says which way it is not', async () => {
    const h = await herald();
    expect(await (await fetch(`${h.url}/healthz`)).json()).toMatchObject({ status: 'ok' });
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    const { schema: latest } = (await ready.json()) as { schema: number };
    expect(latest).toBeGreaterThan(1);

    // The same database file, as an operator restoring an older backup over it would leave it.
    const db = new Database(path.join(h.dataDir, 'herald.db'));
    try {
      const last = db.prepare('SELECT * FROM schema_migrations WHERE version = ?').get(latest) as { version: number; name: string; applied_at: number };
      db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(latest);
      const pending = await fetch(`${h.url}/readyz`);
      expect(pending.status).toBe(503);
      expect(await pending.json()).toEqual({ status: 'unavailable', reason: 'migrations_pending', current: latest - 1, latest });

      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(last.version, last.name, last.applied_at);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(latest + 1, '999_future.sql', Date.now());
      const newer = await fetch(`${h.url}/readyz`);
      expect(newer.status).toBe(503);
      expect(await newer.json()).toEqual({ status: 'unavailable', reason: 'schema_newer', current: latest + 1, latest });

      db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(latest + 1);
      expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
    } finally {
      db.close();
    }
    // Liveness does not depend on the store.
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  it('answers 503 store_unreachable, without the driver error, when the store cannot be queried', async () => {
    const h = await herald();
    await h.herald.context.store.close();
    const res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unavailable', reason: 'store_unreachable' });
    expect(h.logs.lines.some((l) => l.msg === 'readiness: store unreachable' && typeof l.reqId === 'string')).toBe(true);
  });
});

describe('request ids', () => {
  it("logs the admin UI's refusal of a cross-site request under the request's id, without its query", async () => {
    const h = await herald();
    const res = await fetch(`${h.url}/logout?token=abc`, { method: 'POST', headers: { 'x-request-id': 'csrf-1', origin: 'http://evil.example' } });
    expect(res.status).toBe(403);
    const line = await eventually(() => h.logs.lines.find((l) => l.msg === 'admin UI refused a cross-site request'));
    expect(line).toMatchObject({ reqId: 'csrf-1', path: '/logout' });
    expect(JSON.stringify(line)).not.toContain('token=abc');
  });


  it('echoes a safe x-request-id, replaces an unsafe one, and logs under the id it answered with', async () => {
    const h = await herald({}, { level: 'debug' });
    const get = (route: string, id?: string) => fetch(`${h.url}${route}`, { headers: id === undefined ? {} : { 'x-request-id': id } });

    const kept = await get('/healthz', 'edge-7f3a:42/b=1');
    expect(kept.headers.get('x-request-id')).toBe('edge-7f3a:42/b=1');
    const generated = (await get('/healthz')).headers.get('x-request-id');
    expect(generated).toMatch(/^req_[0-9a-z]+$/);
    for (const unsafe of ['has space', '"quoted"', '{"msg":"forged"}', 'x'.repeat(129)]) {
      const res = await get('/healthz', unsafe);
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    }
    // Errors and unknown routes carry it too.
    expect((await get('/api/v2/endpoints', 'no-key-1')).headers.get('x-request-id')).toBe('no-key-1');
    expect((await get('/nowhere', 'lost-1')).headers.get('x-request-id')).toBe('lost-1');

    const lines = await eventually(() => {
      const found = h.logs.lines.filter((l) => l.msg === 'request completed');
      return found.length >= 8 ? found : undefined;
    });
    expect(lines.find((l) => l.reqId === 'edge-7f3a:42/b=1')).toMatchObject({ route: '/healthz', statusCode: 200, method: 'GET' });
    expect(lines.find((l) => l.reqId === 'no-key-1')).toMatchObject({ statusCode: 401 });
    expect(h.logs.text()).not.toContain('forged');
    expect(h.logs.text()).not.toContain('has space');
  });

  it('logs the route pattern, not the URL, so an inbox token never reaches the log; event streams carry the id too', async () => {
    const h = await herald({}, { level: 'debug' });
    const inbox = await h.api('POST', '/api/v2/inboxes', { name: 'capture' });
    expect(inbox.status).toBe(201);
    const abort = new AbortController();
    const stream = await fetch(`${h.url}/api/v2/inboxes/${inbox.body.id}/stream`, { headers: { 'x-api-key': ADMIN_KEY, 'x-request-id': 'stream-1' }, signal: abort.signal });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.headers.get('x-request-id')).toBe('stream-1');
    abort.abort();
    const captureUrl: string = inbox.body.url;
    const token = captureUrl.split('/').pop()!;
    expect((await fetch(captureUrl, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBeLessThan(300);
    await eventually(() => (h.logs.lines.some((l) => l.msg === 'request completed' && String(l.route).startsWith('/in/')) ? true : undefined));
    expect(h.logs.text()).not.toContain(token);
  });
});

describe('attempt log lines', () => {
  it('writes one debug line per attempt with its identifiers and result, and never a credential', async () => {
    // The dispatcher stays on this thread: a dispatch thread writes its own log to stdout, not to
    // the captured logger (its lines are checked in dispatch-thread.test.ts).
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0,0.05', HERALD_DISPATCH_THREAD: 'off' }, { level: 'debug' });
    const r = await receiver((_r, i, res) => void res.writeHead(i === 0 ? 503 : 200).end());
    const ep = await h.api('POST', '/api/v2/endpoints', {
      url: r.url,
      event_types: ['asset.created'],
      auth: { type: 'basic', username: 'dam', password: 'pa55word-xyz' },
      headers: [{ name: 'X-Api-Key', value: 'header-secret-123', type: 'hidden' }],
    });
    expect(ep.status).toBe(201);
    const pub = await h.api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: 'a1' } });
    await r.waitFor(2);
    const lines = await eventually(() => {
      const found = h.logs.lines.filter((l) => l.msg === 'delivery attempt');
      return found.length === 2 ? found : undefined;
    });
    const common = { level: 20, component: 'dispatcher', endpointId: ep.body.id, eventId: pub.body.id, eventType: 'asset.created', deliveryId: expect.stringMatching(/^dlv_/) };
    expect(lines[0]).toMatchObject({ ...common, attempt: 1, outcome: 'retry', statusCode: 503, errorKind: 'http_status', durationMs: expect.any(Number) });
    expect(lines[1]).toMatchObject({ ...common, attempt: 2, outcome: 'succeeded', statusCode: 200, errorKind: null });
    expect(lines[0].deliveryId).toBe(lines[1].deliveryId);

    const all = h.logs.text();
    for (const secret of ['pa55word-xyz', Buffer.from('dam:pa55word-xyz').toString('base64'), 'header-secret-123', ep.body.secret as string]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toContain(r.url);
  });
});
