// Connect inboxes end to end over real HTTP: capture of any request on the public URL, listing,
// live SSE streams, signature verification, limits, purge and delete, tenant isolation,
// forwarding through the dispatcher with retries, and retention.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobs } from '../../src/app/jobs.js';
import { InvalidPayloadError, InvalidSignatureError, verify } from '../../src/signing/verify.js';
import { pino } from 'pino';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { openStream } from './inbox-support.js';

let h: TestHerald;
let clockOffset = 0;

interface Res {
  status: number;
  body: any;
  headers: Headers;
}

async function call(method: string, route: string, body?: unknown, key = ADMIN_KEY, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(h.url + route, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

async function newInbox(body: Record<string, unknown> = {}, key = ADMIN_KEY): Promise<{ id: string; url: string; forward_secret?: string; forward_endpoint_id: string | null }> {
  const res = await call('POST', '/api/v2/inboxes', { name: 'test inbox', ...body }, key);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function newTenant(name: string): Promise<{ id: string; key: string }> {
  const account = await call('POST', '/api/v2/accounts', { name });
  expect(account.status).toBe(201);
  const key = await call('POST', '/api/v2/api-keys', { name: `${name} admin`, role: 'admin' }, ADMIN_KEY, { 'x-herald-account': account.body.id });
  expect(key.status).toBe(201);
  return { id: account.body.id, key: key.body.key };
}

interface RawReceiver {
  readonly url: string;
  readonly received: { headers: IncomingHttpHeaders; body: Buffer }[];
  waitFor(n: number): Promise<{ headers: IncomingHttpHeaders; body: Buffer }[]>;
  close(): Promise<void>;
}

/** Keeps bodies as bytes (startReceiver decodes them as UTF-8). */
async function startRawReceiver(): Promise<RawReceiver> {
  const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    waitFor: (n) => eventually(() => (received.length >= n ? received : undefined)),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

beforeAll(async () => {
  h = await startTestHerald({ HERALD_RETRY_SCHEDULE: '0,0.2,0.2,0.2' }, { clock: () => Date.now() + clockOffset });
});
afterAll(async () => {
  await h.close();
});

describe('inbox capture', () => {
  it('creates an inbox with an absolute, unguessable URL that GET shows again', async () => {
    const inbox = await newInbox();
    expect(inbox.url).toMatch(new RegExp(`^${h.url}/in/[A-Za-z0-9_-]{32}$`));
    const token = inbox.url.split('/in/')[1];
    // At least 128 bits: 32 base64url characters carry 192.
    expect(Buffer.from(token, 'base64url')).toHaveLength(24);
    const got = await call('GET', `/api/v2/inboxes/${inbox.id}`);
    expect(got.body).toMatchObject({ id: inbox.id, name: 'test inbox', url: inbox.url, forward_url: null, signing_secret_hint: null });
    const list = await call('GET', '/api/v2/inboxes');
    expect(list.body.data.map((i: { id: string }) => i.id)).toContain(inbox.id);
  });

  it('captures any method with its path, query, headers, body and source IP, answering 200 {ok: true} at once without a key', async () => {
    const inbox = await newInbox();
    const binary = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    const sent = [
      await fetch(`${inbox.url}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-custom': 'one' }, body: '{"a": 1}' }),
      await fetch(`${inbox.url}/deep/path?x=1&y=two`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: binary }),
      await fetch(`${inbox.url}?ping=1`, { method: 'GET' }),
      await fetch(`${inbox.url}`, { method: 'DELETE' }),
      await fetch(`${inbox.url}`, { method: 'PATCH', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'plain text' }),
      await fetch(`${inbox.url}`, { method: 'POST', body: new Uint8Array(Buffer.from('no content type')) }),
    ];
    for (const res of sent) {
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
    }

    const list = await call('GET', `/api/v2/inboxes/${inbox.id}/requests?limit=4`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((r: { method: string }) => r.method)).toEqual(['POST', 'PATCH', 'DELETE', 'GET']);
    const rest = await call('GET', `/api/v2/inboxes/${inbox.id}/requests?limit=4&cursor=${list.body.next_cursor}`);
    expect(rest.body.data.map((r: { method: string }) => r.method)).toEqual(['PUT', 'POST']);
    expect(rest.body.next_cursor).toBeNull();

    const [put, post] = rest.body.data;
    expect(put).toMatchObject({ method: 'PUT', path: '/deep/path', query: 'x=1&y=two', body: binary.toString('base64'), body_encoding: 'base64', body_size: 9, truncated: false });
    expect(put.headers['content-type']).toBe('application/octet-stream');
    expect(post).toMatchObject({ path: '/', query: '', body: '{"a": 1}', body_encoding: 'utf8', source_ip: '127.0.0.1', signature: null, relay_message_id: null });
    expect(post.headers['x-custom']).toBe('one');
    expect(Date.parse(post.received_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(list.body.data[0]).toMatchObject({ body: 'no content type' });
    expect(list.body.data[3]).toMatchObject({ method: 'GET', query: 'ping=1', body: '' });

    const one = await call('GET', `/api/v2/inboxes/${inbox.id}/requests/${put.id}`);
    expect(one.body).toEqual(put);
    expect(Buffer.compare(Buffer.from(one.body.body, 'base64'), binary)).toBe(0);
    // The token never appears in what is stored.
    expect(JSON.stringify(list.body)).not.toContain(inbox.url.split('/in/')[1]);
  });

  it("never captures the admin UI's session cookie sent by a browser that opens the URL, nor the key cookie of earlier versions", async () => {
    const inbox = await newInbox();
    const login = await fetch(`${h.url}/login`, {
      method: 'POST',
      headers: { origin: h.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: ADMIN_KEY }),
      redirect: 'manual',
    });
    const session = login.headers.getSetCookie()[0]!.split(';')[0]!;
    expect(session).toMatch(/^herald_session=/);
    const legacy = `herald_key=${encodeURIComponent(ADMIN_KEY)}`;
    for (const cookie of [session, `theme=dark; ${session}; lang=en`, `${legacy}; a=1`]) {
      expect((await fetch(inbox.url, { headers: { cookie } })).status).toBe(200);
    }
    const list = await call('GET', `/api/v2/inboxes/${inbox.id}/requests?limit=10`);
    expect(list.body.data.map((r: { headers: Record<string, string> }) => r.headers.cookie)).toEqual(['a=1', 'theme=dark; lang=en', undefined]);
    expect(JSON.stringify(list.body)).not.toContain(ADMIN_KEY);
    expect(JSON.stringify(list.body)).not.toContain(session.split('=')[1]);
  });

  it("captures the methods beyond the everyday ones (WebDAV's, a CDN's PURGE, QUERY)", async () => {
    const inbox = await newInbox();
    const methods = ['PROPFIND', 'SEARCH', 'LOCK', 'REPORT', 'PURGE', 'QUERY'];
    for (const method of methods) {
      const res = await fetch(`${inbox.url}/dav`, { method, headers: { 'content-type': 'application/xml' }, body: `<${method.toLowerCase()}/>` });
      expect([method, res.status, await res.json()]).toEqual([method, 200, { ok: true }]);
    }
    const list = await call('GET', `/api/v2/inboxes/${inbox.id}/requests?limit=10`);
    expect(list.body.data.map((r: { method: string; body: string }) => `${r.method} ${r.body}`).reverse()).toEqual(methods.map((m) => `${m} <${m.toLowerCase()}/>`));
  });

  it('answers 404 for unknown or malformed tokens', async () => {
    for (const path of ['/in/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '/in/short', '/in/']) {
      const res = await fetch(`${h.url}${path}`, { method: 'POST', body: 'x' });
      expect(res.status).toBe(404);
    }
  });

  it('answers a body over 1 MiB with 413 fast, keeping the request line and headers', async () => {
    const inbox = await newInbox();
    const started = Date.now();
    const res = await fetch(inbox.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-big': 'yes' }, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ ok: false, error: 'payload_too_large' });
    expect(Date.now() - started).toBeLessThan(3_000);

    // Streamed without a length: cut off once past the limit.
    const chunked = await fetch(inbox.url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(128 * 1024));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);

    const exactly = await fetch(inbox.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'y'.repeat(1024 * 1024) });
    expect(exactly.status).toBe(200);

    const list = await call('GET', `/api/v2/inboxes/${inbox.id}/requests`);
    expect(list.body.data).toHaveLength(3);
    const [ok, streamed, big] = list.body.data;
    expect(big).toMatchObject({ truncated: true, body: '', body_size: 2 * 1024 * 1024 });
    expect(big.headers['x-big']).toBe('yes');
    expect(streamed).toMatchObject({ truncated: true, body: '' });
    // A page leaves out bodies over 64 KiB; the request itself has all of it.
    expect(ok).toMatchObject({ truncated: false, body: null, body_omitted: true, body_size: 1024 * 1024 });
    const full = await call('GET', `/api/v2/inboxes/${inbox.id}/requests/${ok.id}`);
    expect(full.body.body).toHaveLength(1024 * 1024);
  });

  it('verifies Standard Webhooks signatures when the inbox has a signing secret', async () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const inbox = await newInbox({ signing_secret: secret });
    expect((await call('GET', `/api/v2/inboxes/${inbox.id}`)).body.signing_secret_hint).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const body = JSON.stringify({ type: 'asset.created', data: { id: 'a1' } });
    const now = new Date();
    const signature = new Webhook(secret).sign('msg_signed', now, body);
    const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_signed', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)) };
    await fetch(inbox.url, { method: 'POST', headers: { ...headers, 'webhook-signature': signature }, body });
    await fetch(inbox.url, { method: 'POST', headers: { ...headers, 'webhook-signature': signature }, body: body.replace('a1', 'a2') });
    await fetch(inbox.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const list = await call('GET', `/api/v2/inboxes/${inbox.id}/requests`);
    expect(list.body.data.map((r: { signature: unknown }) => r.signature)).toEqual([
      { verified: false, code: 'missing_header', message: expect.any(String) },
      { verified: false, code: 'invalid_signature', message: expect.any(String) },
      { verified: true, webhook_id: 'msg_signed' },
    ]);
    const bad = await call('POST', '/api/v2/inboxes', { name: 'bad', signing_secret: 'not base64!' });
    expect(bad.status).toBe(422);
    expect(bad.body.field).toBe('signing_secret');
  });
});

describe('inbox stream (Server-Sent Events)', () => {
  it('streams one `request` event per capture, live, and replays what a reconnecting client missed', async () => {
    const inbox = await newInbox();
    const stream = await openStream(`${h.url}/api/v2/inboxes/${inbox.id}/stream`, ADMIN_KEY);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);

    for (let i = 0; i < 3; i++) await fetch(inbox.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: i }) });
    const events = await stream.next(3);
    expect(events.map((e) => e.event)).toEqual(['request', 'request', 'request']);
    const data = events.map((e) => JSON.parse(e.data));
    expect(data.map((d) => d.body)).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);
    expect(events.map((e) => e.id)).toEqual(data.map((d) => d.id));
    expect(data[0]).toMatchObject({ inbox_id: inbox.id, method: 'POST', path: '/' });
    stream.close();

    // Missed while disconnected: sent first on reconnection (Last-Event-ID), then live again.
    await fetch(inbox.url, { method: 'POST', body: 'missed-1', headers: { 'content-type': 'text/plain' } });
    await fetch(inbox.url, { method: 'POST', body: 'missed-2', headers: { 'content-type': 'text/plain' } });
    const again = await openStream(`${h.url}/api/v2/inboxes/${inbox.id}/stream`, ADMIN_KEY, { 'last-event-id': events[2].id! });
    await again.next(2);
    await fetch(inbox.url, { method: 'POST', body: 'live', headers: { 'content-type': 'text/plain' } });
    const all = await again.next(3);
    expect(all.map((e) => JSON.parse(e.data).body)).toEqual(['missed-1', 'missed-2', 'live']);
    again.close();
  });

  it('replays everything a reconnecting client missed, in pages, not only the first hundred', async () => {
    const inbox = await newInbox();
    const first = await fetch(inbox.url, { method: 'POST', body: 'seen' });
    expect(first.status).toBe(200);
    const seen = (await call('GET', `/api/v2/inboxes/${inbox.id}/requests`)).body.data[0].id as string;
    // 250 captures while disconnected, within the inbox's burst (200) and rate (100/s).
    for (let i = 0; i < 250; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => fetch(inbox.url, { method: 'POST', body: `missed-${i + k}` })));
      await new Promise((r) => setTimeout(r, 500));
    }
    const again = await openStream(`${h.url}/api/v2/inboxes/${inbox.id}/stream`, ADMIN_KEY, { 'last-event-id': seen });
    const events = await again.next(250);
    again.close();
    const bodies = events.map((e) => JSON.parse(e.data).body as string);
    expect(bodies).toHaveLength(250);
    expect(new Set(bodies).size).toBe(250);
    expect(bodies.every((b) => b.startsWith('missed-'))).toBe(true);
    // Oldest first: ids ascend.
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id!)].sort());
  });

  it('ends the stream when the inbox is deleted, and the URL then answers 404', async () => {
    const inbox = await newInbox();
    const stream = await openStream(`${h.url}/api/v2/inboxes/${inbox.id}/stream`, ADMIN_KEY);
    expect((await call('DELETE', `/api/v2/inboxes/${inbox.id}`)).status).toBe(204);
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['deleted']);
    expect((await fetch(inbox.url, { method: 'POST', body: 'x' })).status).toBe(404);
    expect((await call('GET', `/api/v2/inboxes/${inbox.id}`)).status).toBe(404);
  });

  it('ends a stream within seconds once the key it was opened with is deleted', async () => {
    const inbox = await newInbox();
    const viewer = await call('POST', '/api/v2/api-keys', { name: 'stream viewer', role: 'viewer' });
    const stream = await openStream(`${h.url}/api/v2/inboxes/${inbox.id}/stream`, viewer.body.key);
    expect(stream.status).toBe(200);
    expect((await call('DELETE', `/api/v2/api-keys/${viewer.body.id}`)).status).toBe(204);
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['unauthorized']);
  });

  it('answers HEAD on a stream at once (404) instead of opening a stream that never starts', async () => {
    const inbox = await newInbox();
    const res = await fetch(`${h.url}/api/v2/inboxes/${inbox.id}/stream`, { method: 'HEAD', headers: { 'x-api-key': ADMIN_KEY }, signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(404);
  });

  it('refuses streams without a key', async () => {
    const inbox = await newInbox();
    const res = await fetch(`${h.url}/api/v2/inboxes/${inbox.id}/stream`);
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });
});

describe('purge and delete', () => {
  it('purges the captured requests of one inbox only', async () => {
    const a = await newInbox();
    const b = await newInbox();
    for (const i of [a, a, b]) await fetch(i.url, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    const purged = await call('DELETE', `/api/v2/inboxes/${a.id}/requests`);
    expect(purged).toMatchObject({ status: 200, body: { purged: 2 } });
    expect((await call('GET', `/api/v2/inboxes/${a.id}/requests`)).body.data).toEqual([]);
    expect((await call('GET', `/api/v2/inboxes/${b.id}/requests`)).body.data).toHaveLength(1);
    // The inbox itself stays and keeps capturing.
    expect((await fetch(a.url, { method: 'POST', body: 'y', headers: { 'content-type': 'text/plain' } })).status).toBe(200);
  });
});

describe('tenant isolation', () => {
  it("another account's inbox ids answer 404 on every route, and its captures stay invisible", async () => {
    const b = await newTenant('Inbox B');
    const mine = await newInbox();
    await fetch(mine.url, { method: 'POST', body: 'secret', headers: { 'content-type': 'text/plain' } });
    const [req] = (await call('GET', `/api/v2/inboxes/${mine.id}/requests`)).body.data;
    for (const [method, route] of [
      ['GET', `/api/v2/inboxes/${mine.id}`],
      ['PATCH', `/api/v2/inboxes/${mine.id}`],
      ['DELETE', `/api/v2/inboxes/${mine.id}`],
      ['GET', `/api/v2/inboxes/${mine.id}/requests`],
      ['GET', `/api/v2/inboxes/${mine.id}/requests/${req.id}`],
      ['DELETE', `/api/v2/inboxes/${mine.id}/requests`],
      ['GET', `/api/v2/inboxes/${mine.id}/stream`],
    ] as const) {
      const res = await call(method, route, method === 'PATCH' ? { name: 'x' } : undefined, b.key);
      expect(res.status, `${method} ${route}`).toBe(404);
    }
    expect((await call('GET', '/api/v2/inboxes', undefined, b.key)).body.data).toEqual([]);
    const theirs = await newInbox({}, b.key);
    expect((await call('GET', `/api/v2/inboxes/${theirs.id}`)).status).toBe(404);
    expect((await call('GET', `/api/v2/inboxes/${mine.id}/requests/${req.id}`)).status).toBe(200);
  });

  it('viewer keys may read but not create, change or purge inboxes', async () => {
    const viewer = await call('POST', '/api/v2/api-keys', { name: 'viewer', role: 'viewer' });
    const inbox = await newInbox();
    expect((await call('GET', `/api/v2/inboxes/${inbox.id}`, undefined, viewer.body.key)).status).toBe(200);
    expect((await call('POST', '/api/v2/inboxes', { name: 'x' }, viewer.body.key)).status).toBe(403);
    expect((await call('DELETE', `/api/v2/inboxes/${inbox.id}/requests`, undefined, viewer.body.key)).status).toBe(403);
    expect((await call('DELETE', `/api/v2/inboxes/${inbox.id}`, undefined, viewer.body.key)).status).toBe(403);
  });
});

describe('forwarding', () => {
  let target: Receiver;
  let raw: RawReceiver;
  beforeAll(async () => {
    // Fails twice, then accepts.
    target = await startReceiver((_r, i, res) => void res.writeHead(i < 2 ? 503 : 200).end(i < 2 ? 'not yet' : 'ok'));
    raw = await startRawReceiver();
  });
  afterAll(async () => {
    await target.close();
    await raw.close();
  });

  it('relays each capture through the dispatcher with retries (503, 503, then 200), logged like any delivery', async () => {
    const inbox = await newInbox({ forward_url: `${target.url}/hook` });
    expect(inbox.forward_secret).toMatch(/^whsec_/);
    expect(inbox.forward_endpoint_id).toMatch(/^ep_/);
    const body = JSON.stringify({ from: 'elsewhere', n: 1 });
    expect((await fetch(`${inbox.url}/sub?q=1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.thing+json' }, body })).status).toBe(200);

    const received = await target.waitFor(3, 15_000);
    const [captured] = (await call('GET', `/api/v2/inboxes/${inbox.id}/requests`)).body.data;
    expect(captured.relay_message_id).toMatch(/^msg_/);
    for (const r of received) {
      expect(r).toMatchObject({ method: 'POST', url: '/hook', body });
      expect(r.headers['content-type']).toBe('application/vnd.thing+json');
      expect(r.headers['webhook-id']).toBe(captured.relay_message_id);
      expect(r.headers['user-agent']).toMatch(/^Herald\//);
      expect(r.headers['x-herald-original-method']).toBe('PUT');
      expect(r.headers['x-herald-original-path']).toBe('/sub?q=1');
      expect(r.headers['x-herald-inbox-hops']).toBe('1');
      expect(verify({ headers: r.headers as Record<string, string>, body: r.body, secret: inbox.forward_secret! }).body).toEqual(JSON.parse(body));
    }

    const log = await eventually(async () => {
      const res = await call('GET', `/api/v2/endpoints/${inbox.forward_endpoint_id}/deliveries`);
      const d = res.body.data[0];
      return d?.status === 'succeeded' ? d : undefined;
    });
    expect(log.attempts).toBe(3);
    expect(log.attempt_log.map((a: { status_code: number }) => a.status_code)).toEqual([503, 503, 200]);
    expect(log.event_id).toBe(captured.relay_message_id);
  });

  it('relays binary bodies byte for byte, signed over those bytes', async () => {
    const inbox = await newInbox({ forward_url: `${raw.url}/bin` });
    const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255, 10, 13, 0xc3, 0x28]);
    expect((await fetch(inbox.url, { method: 'POST', headers: { 'content-type': 'image/png' }, body: binary })).status).toBe(200);
    const [r] = await raw.waitFor(1);
    expect(Buffer.compare(r.body, binary)).toBe(0);
    expect(r.headers['content-type']).toBe('image/png');
    // The signature matches the raw bytes (verify then only objects that they are not JSON).
    expect(() => verify({ headers: r.headers as Record<string, string>, body: r.body, secret: inbox.forward_secret! })).toThrow(InvalidPayloadError);
    expect(() => verify({ headers: r.headers as Record<string, string>, body: Buffer.concat([r.body, Buffer.from([0])]), secret: inbox.forward_secret! })).toThrow(InvalidSignatureError);
  });

  it('stores but does not relay a request that already went through 5 relays (loops end)', async () => {
    const inbox = await newInbox({ forward_url: `${raw.url}/loop` });
    const before = raw.received.length;
    await fetch(inbox.url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-herald-inbox-hops': '5' }, body: 'looping' });
    const [r] = (await call('GET', `/api/v2/inboxes/${inbox.id}/requests`)).body.data;
    expect(r.relay_message_id).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(raw.received.length).toBe(before);
  });

  it('stops forwarding when forward_url is cleared, and deleting the inbox removes its relay endpoint', async () => {
    const inbox = await newInbox({ forward_url: `${target.url}/other` });
    const patched = await call('PATCH', `/api/v2/inboxes/${inbox.id}`, { forward_url: null });
    expect(patched.body).toMatchObject({ forward_url: null, forward_endpoint_id: null });
    expect((await call('GET', `/api/v2/endpoints/${inbox.forward_endpoint_id}`)).status).toBe(404);
    await fetch(inbox.url, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    const [r] = (await call('GET', `/api/v2/inboxes/${inbox.id}/requests`)).body.data;
    expect(r.relay_message_id).toBeNull();

    const again = await call('PATCH', `/api/v2/inboxes/${inbox.id}`, { forward_url: `${target.url}/again` });
    expect(again.body.forward_secret).toMatch(/^whsec_/);
    // The relay endpoint is the inbox's: the endpoints API may pause it, not change or delete it.
    const relay = `/api/v2/endpoints/${again.body.forward_endpoint_id}`;
    for (const [method, body] of [['PATCH', { event_types: ['*'] }], ['PATCH', { url: `${target.url}/elsewhere` }], ['DELETE', undefined]] as const) {
      const res = await call(method, relay, body);
      expect([res.status, res.body?.error], `${method} ${JSON.stringify(body)}`).toEqual([409, 'managed_by_inbox']);
    }
    expect((await call('PATCH', relay, { disabled: true })).body).toMatchObject({ disabled: true, event_types: [] });
    expect((await call('PATCH', relay, { disabled: false })).status).toBe(200);
    expect((await call('DELETE', `/api/v2/inboxes/${inbox.id}`)).status).toBe(204);
    expect((await call('GET', `/api/v2/endpoints/${again.body.forward_endpoint_id}`)).status).toBe(404);
  });

  it('refuses a forward_url that is the inbox itself or not a valid URL', async () => {
    const inbox = await newInbox();
    const self = await call('PATCH', `/api/v2/inboxes/${inbox.id}`, { forward_url: inbox.url });
    expect(self.status).toBe(422);
    expect(self.body.field).toBe('forward_url');
    expect((await call('POST', '/api/v2/inboxes', { name: 'x', forward_url: 'ftp://example.com/' })).status).toBe(422);
  });
});

describe('retention', () => {
  it('prunes captured requests older than HERALD_INBOX_RETENTION_HOURS (72 by default)', async () => {
    const inbox = await newInbox();
    await fetch(inbox.url, { method: 'POST', body: 'old', headers: { 'content-type': 'text/plain' } });
    clockOffset = 71 * 3_600_000;
    await fetch(inbox.url, { method: 'POST', body: 'recent', headers: { 'content-type': 'text/plain' } });
    clockOffset = 73 * 3_600_000;
    expect(h.herald.context.config.inboxRetentionMs).toBe(72 * 3_600_000);
    const jobs = startJobs({
      store: h.herald.context.store,
      logger: pino({ level: 'silent' }),
      clock: () => Date.now() + clockOffset,
      leaseMs: 60_000,
      retentionMs: h.herald.context.config.retentionMs,
      inboxRetentionMs: h.herald.context.config.inboxRetentionMs,
      pruneEveryMs: 3_600_000,
    });
    try {
      expect(await jobs.pruneInboxesOnce()).toBeGreaterThanOrEqual(1);
    } finally {
      jobs.stop();
      clockOffset = 0;
    }
    const left = (await call('GET', `/api/v2/inboxes/${inbox.id}/requests`)).body.data;
    expect(left.map((r: { body: string }) => r.body)).toEqual(['recent']);
  });
});

describe('capture limits', () => {
  it('turns a flood away with 429 per inbox (HERALD_INBOX_RATE_LIMIT), other inboxes unaffected', async () => {
    const limited = await startTestHerald({ HERALD_INBOX_RATE_LIMIT: '1' }, { worker: false });
    try {
      const make = async () => (await limited.api('POST', '/api/v2/inboxes', { name: 'limited' })).body as { id: string; url: string };
      const [busy, calm] = [await make(), await make()];
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(busy.url, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })).status);
      // A burst of two, then refused with a Retry-After.
      expect(statuses).toEqual([200, 200, 429, 429]);
      const refused = await fetch(busy.url, { method: 'POST', body: 'x' });
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await fetch(calm.url, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(200);
      expect((await limited.api('GET', `/api/v2/inboxes/${busy.id}/requests`)).body.data).toHaveLength(2);
    } finally {
      await limited.close();
    }
  });

  it('keeps the newest HERALD_INBOX_MAX_REQUESTS captures of an inbox, trimming once per 100 captures', async () => {
    const capped = await startTestHerald({ HERALD_INBOX_MAX_REQUESTS: '3', HERALD_INBOX_RATE_LIMIT: '0' }, { worker: false });
    try {
      const make = async () => (await capped.api('POST', '/api/v2/inboxes', { name: 'capped' })).body as { id: string; url: string };
      const [busy, calm] = [await make(), await make()];
      const send = async (url: string, n: number) => {
        for (let i = 0; i < n; i++) expect((await fetch(url, { method: 'POST', body: `n=${n} i=${i}`, headers: { 'content-type': 'text/plain' } })).status).toBe(200);
      };
      const bodies = async (id: string) => ((await capped.api('GET', `/api/v2/inboxes/${id}/requests?limit=250`)).body.data as { body: string }[]).map((r) => r.body);
      // The first capture trims at once (nothing to trim yet); the next 99 only count.
      await send(busy.url, 100);
      expect(await bodies(busy.id)).toHaveLength(100);
      await send(calm.url, 2);
      // The 101st is due: it and the two before it are what stays.
      await send(busy.url, 1);
      expect(await bodies(busy.id)).toEqual(['n=1 i=0', 'n=100 i=99', 'n=100 i=98']);
      expect(await bodies(calm.id)).toHaveLength(2);
    } finally {
      await capped.close();
    }
  });
});
