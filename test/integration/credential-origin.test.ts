// Credentials Herald sends in clear to an endpoint's URL (a basic password, hidden header values)
// stay with the origin (scheme, host, port) they were given for. A key that may change an
// endpoint but never read its credentials (answers mask them) must not be able to point it at a
// server of its own and receive them with the next delivery: an update moving the URL to another
// origin has to send them again, in every API. Receivers are real servers on 127.0.0.1; each one
// listens on its own port, so each is an origin of its own.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const open: { close(): Promise<void> }[] = [];
async function herald(): Promise<TestHerald> {
  const h = await startTestHerald();
  open.push(h);
  return h;
}
async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  open.push(r);
  return r;
}
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

const MOVED = 'must be sent again when the URL moves to another origin';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const hmac = (key: string, body: string) => createHmac('sha256', key).update(body).digest('hex');
/** http://127.0.0.1:<port> → its port. */
const portOf = (url: string) => new URL(url).port;

/** Publishes one asset.created event and waits for `r` to have received `n` requests in all; the last one. */
async function deliveredTo(h: TestHerald, r: Receiver, n: number) {
  expect((await h.api('POST', '/api/v2/events', { type: 'asset.created' })).status).toBe(202);
  return (await r.waitFor(n)).at(-1)!;
}

describe('native PATCH /api/v2/endpoints/:id', () => {
  async function securedEndpoint(h: TestHerald, url: string) {
    const ep = await h.api('POST', '/api/v2/endpoints', {
      url,
      event_types: ['asset.created'],
      auth: { type: 'basic', username: 'dam', password: 'pa55word-xyz' },
      headers: [
        { name: 'X-Api-Key', value: 'header-secret-1234567', type: 'hidden' },
        { name: 'X-Team', value: 'media', type: 'plain' },
        { name: 'X-Signature', value: 'hmac-key-abcdefghijklmnop', type: 'hmac' },
      ],
    });
    expect(ep.status, JSON.stringify(ep.body)).toBe(201);
    return `/api/v2/endpoints/${ep.body.id}`;
  }

  /** Herald, two receivers (two origins), and the secured endpoint at the first one, with its route and its answer. */
  async function securedAtA() {
    const h = await herald();
    const a = await receiver();
    const b = await receiver();
    const route = await securedEndpoint(h, `${a.url}/hooks`);
    return { h, a, b, route, read: (await h.api('GET', route)).body };
  }

  it('refuses a URL on another origin that would keep the basic password or hidden header values, naming the field; a path change keeps them', async () => {
    const { h, a, b, route, read } = await securedAtA();

    const refusals: [Record<string, unknown>, string][] = [
      // Another port, the credentials left out.
      [{ url: `${b.url}/hooks` }, 'auth'],
      // Sent back masked, as answers show them: they would be kept, so the same.
      [{ url: b.url, auth: read.auth, headers: read.headers }, 'auth'],
      // A new password, but the hidden header left out or sent back masked.
      [{ url: b.url, auth: { type: 'basic', username: 'dam', password: 'new-pass' } }, 'headers'],
      [{ url: b.url, auth: { type: 'basic', username: 'dam', password: 'new-pass' }, headers: read.headers }, 'headers'],
      // Another scheme or host is another origin too.
      [{ url: `https://127.0.0.1:${portOf(a.url)}/hooks` }, 'auth'],
      [{ url: `http://localhost:${portOf(a.url)}/hooks` }, 'auth'],
    ];
    for (const [body, field] of refusals) {
      const refused = await h.api('PATCH', route, body);
      expect([refused.status, refused.body.error, refused.body.field], JSON.stringify(body)).toEqual([422, 'invalid_endpoint', field]);
      expect(refused.body.message).toContain(MOVED);
    }
    const headersRefused = await h.api('PATCH', route, refusals[2][0]);
    expect(headersRefused.body.message).toMatch(/^headers: the value of "X-Api-Key" must be sent again/);
    expect((await h.api('GET', route)).body.url).toBe(`${a.url}/hooks`);

    // The same origin, another path: the same server, which keeps them.
    const moved = await h.api('PATCH', route, { url: `${a.url}/moved` });
    expect([moved.status, moved.body.url]).toEqual([200, `${a.url}/moved`]);
    const req = await deliveredTo(h, a, 1);
    expect(req.url).toBe('/moved');
    expect([req.headers.authorization, req.headers['x-api-key'], req.headers['x-team']]).toEqual([basic('dam', 'pa55word-xyz'), 'header-secret-1234567', 'media']);
    expect(req.headers['x-signature']).toBe(hmac('hmac-key-abcdefghijklmnop', req.body));
    expect(b.received).toHaveLength(0);
  });

  it('moves to another origin when the same request sends the credentials again, and the next delivery carries the new ones there', async () => {
    const { h, a, b, route, read } = await securedAtA();
    expect((await h.api('PATCH', route, { url: `${b.url}/in` })).status).toBe(422);

    // The plain header sent back as read and the hmac key are kept: neither reveals a secret there.
    const headers = read.headers.map((x: { name: string }) => (x.name === 'X-Api-Key' ? { name: 'X-Api-Key', value: 'key-for-b-7654321', type: 'hidden' } : x));
    const accepted = await h.api('PATCH', route, { url: `${b.url}/in`, auth: { type: 'basic', username: 'dam-b', password: 'pass-for-b' }, headers });
    expect([accepted.status, accepted.body.url], JSON.stringify(accepted.body)).toEqual([200, `${b.url}/in`]);
    expect(JSON.stringify(accepted.body)).not.toContain('pass-for-b');

    const req = await deliveredTo(h, b, 1);
    expect(req.url).toBe('/in');
    expect([req.headers.authorization, req.headers['x-api-key'], req.headers['x-team']]).toEqual([basic('dam-b', 'pass-for-b'), 'key-for-b-7654321', 'media']);
    expect(req.headers['x-signature']).toBe(hmac('hmac-key-abcdefghijklmnop', req.body));
    expect(a.received).toHaveLength(0);

    // Credentials removed with the move leave nothing to carry over.
    const c = await receiver();
    expect((await h.api('PATCH', route, { url: c.url, auth: { type: 'none' }, headers: [] })).status).toBe(200);
    const bare = await deliveredTo(h, c, 1);
    expect([bare.headers.authorization, bare.headers['x-api-key']]).toEqual([undefined, undefined]);
  });
});

describe('product profiles', () => {
  it('Tenovos PATCH: a url on another origin is refused while the endpoint has basic auth or hidden headers (set through the native API), a path change is not', async () => {
    const h = await herald();
    const a = await receiver();
    const b = await receiver();
    const created = await h.api('POST', '/webhooks/endpoint', [{ description: 'Secured', eventTypes: ['asset.created'], url: `${a.url}/t` }]);
    const id = created.body.id as string;
    const native = `/api/v2/endpoints/${id}`;
    expect((await h.api('PATCH', native, { auth: { type: 'basic', username: 'tenovos', password: 's3cret-pw' }, headers: { 'X-Api-Key': 'k-123-secret' } })).status).toBe(200);

    const refused = await h.api('PATCH', `/webhooks/endpoint/${id}`, { url: b.url });
    expect([refused.status, refused.body.error, refused.body.field]).toEqual([422, 'invalid_endpoint', 'auth']);
    expect(refused.body.message).toContain(MOVED);
    // Tenovos' API has no field for them: the answer says where they go.
    expect(refused.body.message).toContain(`send it with the new URL through PATCH /api/v2/endpoints/${id}`);

    expect((await h.api('PATCH', `/webhooks/endpoint/${id}`, { url: `${a.url}/t2` })).status).toBe(204);
    const kept = await deliveredTo(h, a, 1);
    expect([kept.url, kept.headers.authorization, kept.headers['x-api-key']]).toEqual(['/t2', basic('tenovos', 's3cret-pw'), 'k-123-secret']);

    // Without basic auth, the hidden header alone still holds the move.
    expect((await h.api('PATCH', native, { auth: { type: 'none' } })).status).toBe(200);
    const headers = await h.api('PATCH', `/webhooks/endpoint/${id}`, { url: b.url });
    expect([headers.status, headers.body.field]).toEqual([422, 'headers']);
    expect(headers.body.message).toMatch(new RegExp(`^headers: the value of "X-Api-Key" ${MOVED} .*; this API has no field for it: send it with the new URL through PATCH /api/v2/endpoints/${id}$`));

    // Through the native API, with the new URL and the credentials again.
    expect((await h.api('PATCH', native, { url: b.url, headers: { 'X-Api-Key': 'k-456-for-b' } })).status).toBe(200);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body.url).toBe(b.url);
    const moved = await deliveredTo(h, b, 1);
    expect([moved.headers.authorization, moved.headers['x-api-key']]).toEqual([undefined, 'k-456-for-b']);
    expect(a.received).toHaveLength(1);
  });

  it('Media Pocket PUT/PATCH: an http_url on another origin needs hidden webhook_headers values again; a value-less or masked entry keeps them only on the same origin', async () => {
    const h = await herald();
    const a = await receiver();
    const b = await receiver();
    const stored = [
      { key: 'X-Token', value: 'mp-hidden-secret-1', type: 'hidden' },
      { key: 'X-Sig', value: 'mp-hmac-key-123456', type: 'hmac' },
    ];
    const { webhook } = (await h.api('POST', '/api/v2/admin/webhooks', { name: 'Secured', http_url: `${a.url}/mp`, http_method: 'POST', trigger_events: ['ASSET_ADDED'], webhook_headers: stored })).body;
    const route = `/api/v2/admin/webhooks/${webhook.id}`;
    const masked = (await h.api('GET', route)).body.webhook.webhook_headers;
    const valueless = [{ key: 'X-Token', type: 'hidden' }, { key: 'X-Sig', type: 'hmac' }];

    for (const [method, body] of [
      ['PUT', { http_url: b.url }],
      ['PATCH', { http_url: b.url, webhook_headers: valueless }],
      ['PUT', { http_url: b.url, webhook_headers: masked }],
    ] as const) {
      const refused = await h.api(method, route, body);
      expect(refused.status, JSON.stringify(body)).toBe(422);
      expect(refused.body).toEqual({ error: expect.stringMatching(/^Invalid parameter 'webhook_headers' value .*: the value of "X-Token" must be sent again when the URL moves to another origin/) });
      expect(JSON.stringify(refused.body)).not.toContain('mp-hidden-secret-1');
    }

    // Same origin, another path: the value-less entries keep both.
    expect((await h.api('PATCH', route, { http_url: `${a.url}/mp2`, webhook_headers: valueless })).status).toBe(200);
    const kept = await deliveredTo(h, a, 1);
    expect([kept.url, kept.headers['x-token'], kept.headers['x-sig']]).toEqual(['/mp2', 'mp-hidden-secret-1', hmac('mp-hmac-key-123456', kept.body)]);

    // A new hidden value with the new origin; the hmac key may stay (a signature does not reveal it).
    const moved = await h.api('PUT', route, { http_url: b.url, webhook_headers: [{ key: 'X-Token', value: 'mp-hidden-for-b', type: 'hidden' }, { key: 'X-Sig', type: 'hmac' }] });
    expect([moved.status, moved.body.webhook?.http_url], JSON.stringify(moved.body)).toEqual([200, b.url]);
    const there = await deliveredTo(h, b, 1);
    expect([there.headers['x-token'], there.headers['x-sig']]).toEqual(['mp-hidden-for-b', hmac('mp-hmac-key-123456', there.body)]);
    expect(a.received).toHaveLength(1);

    // Basic auth (set through the native API, Media Pocket's has no param for it) holds the move as well.
    const { id } = (await h.api('GET', '/api/v2/endpoints')).body.data.find((e: { url: string }) => e.url === b.url);
    expect((await h.api('PATCH', `/api/v2/endpoints/${id}`, { auth: { type: 'basic', username: 'mp', password: 'mp-basic-pw' } })).status).toBe(200);
    const auth = await h.api('PATCH', route, { http_url: a.url, webhook_headers: [{ key: 'X-Token', value: 'mp-hidden-for-a', type: 'hidden' }] });
    expect(auth.status).toBe(422);
    expect(auth.body.error).toBe(`Invalid parameter 'auth' value nil: the basic password ${MOVED} (${b.url} → ${a.url}): a credential sent in clear is kept only for the origin it was given for; this API has no field for it: send it with the new URL through PATCH /api/v2/endpoints/${id}`);
  });

  it('CMP PATCH: a callback_url on another origin needs the secret again, in CMP\'s error shape; a path change keeps it', async () => {
    const h = await herald();
    const a = await receiver();
    const b = await receiver();
    const sub = (await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${a.url}/cmp`, events: ['asset_added'], secret: 'cb-sec1' })).body;
    expect(sub.secret).toBe('****');
    const route = `/cmp/v3/webhooks/${sub.id}`;

    for (const body of [{ callback_url: b.url }, { callback_url: b.url, secret: sub.secret }]) {
      const refused = await h.api('PATCH', route, body);
      expect([refused.status, refused.body.error, refused.body.field], JSON.stringify(body)).toEqual([422, 'invalid_subscription', 'secret']);
      expect(refused.body.message).toMatch(/^secret\b/);
      expect(refused.body.message).toContain(MOVED);
    }

    expect((await h.api('PATCH', route, { callback_url: `${a.url}/cmp2` })).status).toBe(200);
    const kept = await deliveredTo(h, a, 1);
    expect([kept.url, kept.headers['callback-secret']]).toEqual(['/cmp2', 'cb-sec1']);

    const moved = await h.api('PATCH', route, { callback_url: b.url, secret: 'cb-secret-for-b' });
    expect([moved.status, moved.body.callback_url]).toEqual([200, b.url]);
    const there = await deliveredTo(h, b, 1);
    expect(there.headers['callback-secret']).toBe('cb-secret-for-b');
    expect(a.received).toHaveLength(1);

    // Basic auth (set through the native API, CMP's has no field for it) holds the move as well.
    expect((await h.api('PATCH', `/api/v2/endpoints/${sub.id}`, { auth: { type: 'basic', username: 'cmp', password: 'cmp-basic-pw' } })).status).toBe(200);
    const auth = await h.api('PATCH', route, { callback_url: a.url, secret: 'cb-secret-for-a' });
    expect([auth.status, auth.body.error, auth.body.field]).toEqual([422, 'invalid_subscription', 'auth']);
    expect(auth.body.message).toContain(`${MOVED} (${b.url} → ${a.url})`);
    expect(auth.body.message).toContain(`send it with the new URL through PATCH /api/v2/endpoints/${sub.id}`);
  });
});
