// Unit tests of the inbox building blocks: tokens and inbox paths, the relay envelope and its
// renderer, own-host entries, the fan-out hub and the SSE writer (heartbeat, slow clients).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readSse } from '../cli/sse.js';
import type { ClaimedDelivery } from '../store/contract.js';
import type { Endpoint } from '../domain/types.js';
import { InboxHub } from './hub.js';
import { listeningHosts, publicUrlHost } from './own-hosts.js';
import { incomingHops, inboxRelayRenderer, relayEnvelope } from './relay.js';
import { openEventStream } from './sse.js';
import { generateInboxToken, hashInboxToken, inboxPathToken, inboxUrl } from './token.js';
import { INBOX_RELAY_EVENT_TYPE, type InboxRequest } from './types.js';

const TOKEN = 'abcdefghijklmnopqrstuvwxyz012345';

function request(over: Partial<InboxRequest> = {}): InboxRequest {
  return {
    id: 'inr_1',
    inboxId: 'inb_1',
    accountId: 'acc_1',
    method: 'PATCH',
    path: '/a/b',
    query: 'x=1',
    headers: { 'content-type': 'application/xml' },
    body: Buffer.from([0, 1, 2, 255]),
    bodySize: 4,
    truncated: false,
    sourceIp: '127.0.0.1',
    receivedAt: 1,
    signature: null,
    relayMessageId: 'msg_1',
    ...over,
  };
}

describe('inbox tokens', () => {
  it('are 192 random bits in base64url, hashed with SHA-256 for look-up', () => {
    const a = generateInboxToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(24);
    expect(generateInboxToken()).not.toBe(a);
    expect(hashInboxToken(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(inboxUrl('https://h.example.com/', a)).toBe(`https://h.example.com/in/${a}`);
  });

  it('are read from inbox paths only when the path is unambiguous', () => {
    expect(inboxPathToken(`/in/${TOKEN}`)).toBe(TOKEN);
    expect(inboxPathToken(`/in/${TOKEN}/`)).toBe(TOKEN);
    expect(inboxPathToken(`/in/${TOKEN}/deep/path.json`)).toBe(TOKEN);
    for (const path of [`/in/${TOKEN}x`, `/in/${TOKEN.slice(1)}`, `/api/in/${TOKEN}`, `/in/${TOKEN}/%2e%2e/x`, `/in/${TOKEN}/../x`, `/in/${TOKEN}/./x`, '/in/']) {
      expect(inboxPathToken(path), path).toBeUndefined();
    }
  });
});

describe('own hosts', () => {
  it('are the loopback names on a wildcard bind, the bound address otherwise, and the public URL', () => {
    expect(listeningHosts('0.0.0.0', 8080)).toEqual(['localhost:8080', '127.0.0.1:8080', '[::1]:8080']);
    expect(listeningHosts('127.0.0.1', 9)).toEqual(['127.0.0.1:9', 'localhost:9']);
    expect(listeningHosts('10.1.2.3', 80)).toEqual(['10.1.2.3:80']);
    expect(listeningHosts('fd00::1', 80)).toEqual(['[fd00::1]:80']);
    expect(publicUrlHost('https://herald.example.com')).toBe('herald.example.com:443');
    expect(publicUrlHost('http://herald.internal:8080/base')).toBe('herald.internal:8080');
    expect(publicUrlHost(undefined)).toBeUndefined();
  });
});

describe('relay', () => {
  const delivery = (body: string, eventType = INBOX_RELAY_EVENT_TYPE): ClaimedDelivery => ({
    id: 'dlv_1',
    accountId: 'acc_1',
    eventId: 'msg_1',
    endpointId: 'ep_1',
    attempts: 0,
    claimNo: 1,
    eventType,
    body,
    sequence: null,
    resourceKey: null,
    projectId: null,
    createdAt: 1,
  });
  const render = (body: string, eventType?: string) =>
    inboxRelayRenderer.render({ delivery: delivery(body, eventType), endpoint: {} as Endpoint, account: undefined, event: () => JSON.parse(body) });

  it('turns the envelope back into the captured body, byte for byte, with its content-type', () => {
    const out = render(relayEnvelope(request(), 2));
    expect(Buffer.compare(out.rawBody!, Buffer.from([0, 1, 2, 255]))).toBe(0);
    expect(out.contentType).toBe('application/xml');
    expect(out.headers).toEqual({
      'x-herald-inbox-id': 'inb_1',
      'x-herald-inbox-request-id': 'inr_1',
      'x-herald-original-method': 'PATCH',
      'x-herald-original-path': '/a/b?x=1',
      'x-herald-inbox-hops': '2',
    });
    expect(render(relayEnvelope(request({ headers: {} }), 1)).contentType).toBeNull();
    expect(render(relayEnvelope(request({ path: '/ü', query: '' }), 1)).headers['x-herald-original-path']).toBe('/%C3%BC');
  });

  it('sends anything else like the standard profile', () => {
    expect(render('{"id":"msg_1","type":"asset.created"}', 'asset.created')).toEqual({ body: '{"id":"msg_1","type":"asset.created"}', headers: {} });
    expect(render('{"not":"an envelope"}')).toEqual({ body: '{"not":"an envelope"}', headers: {} });
  });

  it('counts incoming hops defensively', () => {
    expect(incomingHops(undefined)).toBe(0);
    expect(incomingHops('3')).toBe(3);
    expect(incomingHops(['4', '1'])).toBe(4);
    expect(incomingHops('lots')).toBe(0);
  });
});

describe('InboxHub', () => {
  it('fans a capture out to the subscribers of its inbox, once per request id', () => {
    const hub = new InboxHub();
    const got: string[] = [];
    const off = hub.subscribe('inb_1', { request: (r) => got.push(`a:${r.id}`), close: () => got.push('a:closed') });
    hub.subscribe('inb_1', { request: (r) => got.push(`b:${r.id}`), close: () => got.push('b:closed') });
    hub.subscribe('inb_2', { request: (r) => got.push(`c:${r.id}`), close: () => got.push('c:closed') });
    hub.publish(request({ id: 'inr_1' }));
    hub.publish(request({ id: 'inr_1' }));
    expect(got).toEqual(['a:inr_1', 'b:inr_1']);
    expect(hub.seen('inr_1')).toBe(true);
    expect(hub.watched()).toEqual([
      ['inb_1', 'inr_1'],
      ['inb_2', undefined],
    ]);
    off();
    hub.publish(request({ id: 'inr_2' }));
    expect(got.at(-1)).toBe('b:inr_2');
    hub.close('inb_1', 'deleted');
    expect(got.at(-1)).toBe('b:closed');
    expect(hub.has('inb_1')).toBe(false);
    hub.close(undefined, 'shutdown');
    expect(got.at(-1)).toBe('c:closed');
    expect(hub.size()).toBe(0);
  });
});

describe('SSE writer', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));

  it('sends events with ids, heartbeat comments on an interval, and ends cleanly', async () => {
    let closed = 0;
    server = createServer((_req, res) => {
      const stream = openEventStream(res, { heartbeatMs: 30, onClose: () => closed++ });
      stream.send('request', { n: 1 }, 'inr_1');
      setTimeout(() => {
        stream.send('request', { n: 2 });
        stream.close();
      }, 100);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    const text = await res.text();
    expect(text.startsWith('retry: 3000\n: connected\n\n')).toBe(true);
    expect(text).toContain('id: inr_1\nevent: request\ndata: {"n":1}\n\n');
    expect(text.match(/: heartbeat\n\n/g)!.length).toBeGreaterThanOrEqual(2);
    const events = [];
    for await (const m of readSse(new Response(text).body!)) events.push(m);
    expect(events).toEqual([
      { event: 'request', id: 'inr_1', data: '{"n":1}' },
      { event: 'request', id: undefined, data: '{"n":2}' },
    ]);
    expect(closed).toBe(1);
  });

  it('reports the end when the client goes away', async () => {
    let ended!: () => void;
    const gone = new Promise<void>((resolve) => (ended = resolve));
    server = createServer((_req, res) => void openEventStream(res, { onClose: ended }));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const abort = new AbortController();
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { signal: abort.signal });
    expect(res.status).toBe(200);
    abort.abort();
    await gone;
  });
});
