// SSRF at the API: with HERALD_ALLOWED_TARGETS empty, no route that stores a destination accepts
// loopback, private, link-local, CGNAT, multicast or unspecified addresses in any spelling
// (decimal, octal, hex, IPv4-mapped IPv6, DNS names resolving to them). Nothing is delivered in
// these tests except to the 127.0.0.1 receiver of the redirect case, whose 302 to a private
// address is recorded as a failed attempt and never followed. A DNS name that does not resolve at
// all is accepted at create time by design (src/api/destination.ts); the connect-time check
// (DNS rebinding case below) guards whatever it resolves to later.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChaosReceiver, type ChaosReceiver } from '../chaos-receiver.js';
import { eventually, startTestHerald, type TestHerald } from '../helpers.js';
import type { Resolver } from '../../src/net/ssrf-guard.js';

const BLOCKED = [
  'http://127.0.0.1',
  'http://[::1]',
  'http://0x7f000001',
  'http://2130706433',
  'http://0177.0.0.1',
  'http://localhost',
  'http://169.254.169.254',
  'http://10.0.0.1',
  'http://[::ffff:127.0.0.1]',
  'http://100.64.0.1',
  'http://224.0.0.1',
  // more spellings of the same places
  'http://127.1',
  'http://0.0.0.0',
  'http://0',
  'http://[::]',
  'http://LOCALHOST:8080/hooks',
  'http://192.168.1.1/x',
  'http://172.16.0.1',
  'http://[fe80::1]',
  'http://[fc00::1]',
  'http://[::ffff:a9fe:a9fe]',
  'http://169.254.169.254.nip.invalid.:80@127.0.0.1/', // credentials form: refused as well
  'https://127.0.0.1:8443/hooks',
];

/** Each route that stores a destination, with the field it must name when refusing it. */
const ROUTES: { name: string; field: RegExp; send: (h: TestHerald, url: string) => Promise<{ status: number; body: any }> }[] = [
  { name: 'POST /api/v2/endpoints', field: /^url$/, send: (h, url) => h.api('POST', '/api/v2/endpoints', { url, event_types: ['asset.*'] }) },
  { name: 'POST /webhooks/endpoint (Tenovos)', field: /^\[0\]\.url$/, send: (h, url) => h.api('POST', '/webhooks/endpoint', [{ description: 'ssrf test', eventTypes: ['asset.*'], url }]) },
  { name: 'POST /cmp/v3/webhooks (CMP)', field: /^callback_url$/, send: (h, url) => h.api('POST', '/cmp/v3/webhooks', { callback_url: url, events: ['asset_added'] }) },
  {
    name: 'POST /api/v2/admin/webhooks (Media Pocket)',
    field: /http_url/,
    send: (h, url) => h.api('POST', '/api/v2/admin/webhooks', { name: 'ssrf', http_url: url, http_method: 'POST', trigger_events: ['ASSET_ADDED'] }),
  },
  { name: 'POST /api/v2/inboxes (forward_url)', field: /^forward_url$/, send: (h, url) => h.api('POST', '/api/v2/inboxes', { name: 'ssrf', forward_url: url }) },
];

function fieldOf(body: any): string {
  // Native and CMP/Tenovos errors carry `field`; Media Pocket names the param in its `error` text.
  return typeof body?.field === 'string' ? body.field : String(body?.error ?? '');
}

describe('SSRF: destinations refused when HERALD_ALLOWED_TARGETS is empty', () => {
  let h: TestHerald;
  beforeAll(async () => {
    h = await startTestHerald({ HERALD_ALLOWED_TARGETS: '' }, { worker: false });
  });
  afterAll(async () => {
    await h.close();
  });

  const table = ROUTES.flatMap((route) => BLOCKED.map((url) => [route.name, url, route] as const));
  it.each(table)('%s refuses %s with 422 naming the field', async (_name, url, route) => {
    const res = await route.send(h, url);
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(fieldOf(res.body)).toMatch(route.field);
    const message = String(res.body.message ?? res.body.error ?? '');
    expect(message.length).toBeGreaterThan(10);
  });

  it('a name resolving to loopback is refused naming the kind of address, never the address', async () => {
    // localhost comes from the system resolver (/etc/hosts): 127.0.0.1, and ::1 where it has one.
    const oauth2 = { type: 'oauth2_client_credentials', token_url: 'http://localhost:9/token', client_id: 'c', client_secret: 's' };
    for (const [body, field] of [
      [{ url: 'http://localhost:8080/hooks', event_types: ['asset.*'] }, 'url'],
      [{ url: 'http://93.184.215.14/o', event_types: ['asset.*'], auth: oauth2 }, 'auth.token_url'],
    ] as const) {
      const res = await h.api('POST', '/api/v2/endpoints', body);
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body).toMatchObject({ error: 'ssrf_blocked', field });
      expect(res.body.message).toContain(`${field}: destination localhost resolves to a loopback address`);
      expect(JSON.stringify(res.body)).not.toMatch(/127\.0\.0\.1|::1/);
    }
  });

  it('nothing refused was stored', async () => {
    expect((await h.api('GET', '/api/v2/endpoints?limit=250')).body.data).toEqual([]);
    expect((await h.api('GET', '/api/v2/inboxes')).body.data).toEqual([]);
  });

  it('an endpoint cannot be moved to a refused destination, nor get a refused OAuth token URL', async () => {
    // A public IP literal: accepted without any DNS lookup; nothing is delivered (no worker).
    const ep = await h.api('POST', '/api/v2/endpoints', { url: 'http://93.184.215.14/hooks', event_types: ['asset.*'] });
    expect(ep.status).toBe(201);
    for (const url of ['http://0x7f000001/', 'http://[::ffff:10.0.0.1]/', 'http://169.254.169.254/latest/meta-data']) {
      const patched = await h.api('PATCH', `/api/v2/endpoints/${ep.body.id}`, { url });
      expect(patched.status).toBe(422);
      expect(patched.body.field).toBe('url');
    }
    const tenovos = await h.api('POST', '/webhooks/endpoint', [{ description: 'public one', eventTypes: ['asset.*'], url: 'http://93.184.215.14/t' }]);
    expect(tenovos.status).toBe(200);
    const oauth = await h.api('PUT', `/webhooks/endpoint/oauth/${tenovos.body.id}`, { clientId: 'c', clientSecret: 's', tokenUrl: 'http://169.254.169.254/token' });
    expect(oauth.status).toBe(422);
    expect(oauth.body.field).toBe('tokenUrl');
    // The native API checks a token URL as well, on create and on change.
    const oauth2 = (token_url: string) => ({ type: 'oauth2_client_credentials', token_url, client_id: 'c', client_secret: 's' });
    for (const token of ['http://169.254.169.254/latest/meta-data/iam', 'http://127.0.0.1:22/', 'http://[::ffff:10.0.0.1]/token']) {
      const created = await h.api('POST', '/api/v2/endpoints', { url: 'http://93.184.215.14/o', event_types: ['asset.*'], auth: oauth2(token) });
      expect(created.status, token).toBe(422);
      expect(created.body.field).toBe('auth.token_url');
      const changed = await h.api('PATCH', `/api/v2/endpoints/${ep.body.id}`, { auth: oauth2(token) });
      expect(changed.status, token).toBe(422);
      expect(changed.body.field).toBe('auth.token_url');
    }
    const native = await h.api('PATCH', `/webhooks/endpoint/${tenovos.body.id}`, { url: 'http://2130706433/' });
    expect(native.status).toBe(422);
    expect((await h.api('GET', `/api/v2/endpoints/${ep.body.id}`)).body.url).toBe('http://93.184.215.14/hooks');
  });
});

describe('SSRF: redirects are never followed', () => {
  let h: TestHerald;
  let chaos: ChaosReceiver;
  beforeAll(async () => {
    chaos = await startChaosReceiver();
    // 127.0.0.0/8 is allowed (the test receiver), 10.0.0.0/8 is not.
    h = await startTestHerald({ HERALD_ALLOWED_TARGETS: '127.0.0.0/8', HERALD_RETRY_SCHEDULE: '0,0.1' });
  });
  afterAll(async () => {
    await h.close();
    await chaos.close();
  });

  it('a 302 to http://10.0.0.1/ is a failed attempt, and the next attempt goes to the endpoint again', async () => {
    const ep = await h.api('POST', '/api/v2/endpoints', { url: chaos.urlFor('redirect-private', 'hook'), event_types: ['asset.*'] });
    expect(ep.status).toBe(201);
    const loop = await h.api('POST', '/api/v2/endpoints', { url: chaos.urlFor('redirect-loop', 'hook'), event_types: ['asset.*'] });
    expect((await h.api('POST', '/api/v2/events', { type: 'asset.created' })).status).toBe(202);
    const failed = await eventually(async () => (await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=failed`)).body.data[0], 10_000);
    expect(failed.attempts).toBe(2);
    for (const a of failed.attempt_log) expect(a).toMatchObject({ status_code: 302, error_kind: 'http_status' });
    await eventually(async () => ((await h.api('GET', `/api/v2/endpoints/${loop.body.id}/deliveries?status=failed`)).body.data[0] ? true : undefined), 10_000);
    // Exactly one request per attempt reached each receiver: neither Location was followed.
    expect(chaos.requestsTo('redirect-private')).toHaveLength(2);
    expect(chaos.requestsTo('redirect-loop')).toHaveLength(2);
  });
});

describe('SSRF: checked again at connect time (DNS rebinding)', () => {
  let h: TestHerald;
  let chaos: ChaosReceiver;
  beforeAll(async () => {
    chaos = await startChaosReceiver();
    // The resolver is replaced on this thread's guard below, so the dispatcher must use it:
    // no dispatch thread with a guard of its own.
    h = await startTestHerald({ HERALD_ALLOWED_TARGETS: '', HERALD_RETRY_SCHEDULE: '0,0.1,0.1', HERALD_DISPATCH_THREAD: 'off' });
  });
  afterAll(async () => {
    await h.close();
    await chaos.close();
  });

  it('a name that resolved to a public address when saved and to 127.0.0.1 when delivering is never connected to', async () => {
    // The guard's resolver, replaced: no real DNS is asked. First a public address, then loopback.
    let rebound = false;
    const resolve: Resolver = async (host) => {
      if (host !== 'rebind.herald.test') throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return [{ address: rebound ? '127.0.0.1' : '93.184.215.14', family: 4 }];
    };
    (h.herald.context.guard as unknown as { resolve: Resolver }).resolve = resolve;
    const port = new URL(chaos.url).port;
    const ep = await h.api('POST', '/api/v2/endpoints', { url: `http://rebind.herald.test:${port}/ok/rebind`, event_types: ['asset.*'] });
    expect(ep.status).toBe(201);
    rebound = true;
    expect((await h.api('POST', '/api/v2/events', { type: 'asset.created' })).status).toBe(202);
    const failed = await eventually(async () => (await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=failed`)).body.data[0], 10_000);
    // Blocked is policy, not bad luck: failed at the first attempt, without retries.
    expect(failed.attempts).toBe(1);
    expect(failed.attempt_log[0]).toMatchObject({ status_code: null, error_kind: 'ssrf_blocked' });
    // Any key of the account reads this: it names the kind of address, not the address.
    expect(failed.attempt_log[0].error_message).toContain('destination rebind.herald.test resolves to a loopback address');
    expect(JSON.stringify(failed.attempt_log[0])).not.toMatch(/127\.0\.0\.1/);
    expect(chaos.requests).toHaveLength(0);
  });

  it('an OAuth token URL that rebinds to 127.0.0.1 is never connected to, and fails the delivery without retries', async () => {
    let rebound = false;
    const resolve: Resolver = async (host) => {
      // The endpoint's own host stays public and is never reached: the token comes first.
      if (host === 'hooks.herald.test') return [{ address: '93.184.215.14', family: 4 }];
      if (host === 'token.herald.test') return [{ address: rebound ? '127.0.0.1' : '93.184.215.14', family: 4 }];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    (h.herald.context.guard as unknown as { resolve: Resolver }).resolve = resolve;
    const port = new URL(chaos.url).port;
    const ep = await h.api('POST', '/api/v2/endpoints', {
      url: 'http://hooks.herald.test/hooks',
      event_types: ['asset.*'],
      auth: { type: 'oauth2_client_credentials', token_url: `http://token.herald.test:${port}/ok/token`, client_id: 'c', client_secret: 's' },
    });
    expect(ep.status, JSON.stringify(ep.body)).toBe(201);
    rebound = true;
    expect((await h.api('POST', '/api/v2/events', { type: 'asset.created' })).status).toBe(202);
    const failed = await eventually(async () => (await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?status=failed`)).body.data[0], 10_000);
    expect(failed.attempts).toBe(1);
    expect(failed.attempt_log[0]).toMatchObject({ status_code: null, error_kind: 'oauth' });
    expect(failed.attempt_log[0].error_message).toContain('destination token.herald.test resolves to a loopback address');
    expect(JSON.stringify(failed.attempt_log[0])).not.toMatch(/127\.0\.0\.1/);
    expect(chaos.requests).toHaveLength(0);
  });
});
