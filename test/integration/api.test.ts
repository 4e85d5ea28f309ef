import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestHerald, type TestHerald } from '../helpers.js';

/** Sends `request` as it is over a new connection and returns everything answered until the server closes it. */
function rawExchange(url: string, request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

let h: TestHerald;
beforeAll(async () => {
  h = await startTestHerald({}, { worker: false });
});
afterAll(async () => h.close());

describe('authentication', () => {
  it('answers 401 without a key or with a wrong one, and accepts X-API-Key, Bearer and Basic', async () => {
    const none = await fetch(`${h.url}/api/v2/endpoints`);
    expect(none.status).toBe(401);
    expect((await h.api('GET', '/api/v2/endpoints', undefined, 'wrong-key-wrong-key')).status).toBe(401);
    const bearer = await fetch(`${h.url}/api/v2/endpoints`, { headers: { authorization: 'Bearer test-admin-key-0123456789' } });
    expect(bearer.status).toBe(200);
    const basic = (credentials: string) => fetch(`${h.url}/api/v2/endpoints`, { headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } });
    expect((await basic('anyone:test-admin-key-0123456789')).status).toBe(200);
    expect((await basic('test-admin-key-0123456789:')).status).toBe(200);
    expect((await basic('test-admin-key-0123456789:wrong-key-wrong-key')).status).toBe(401);
    expect((await basic(':')).status).toBe(401);
    expect((await basic('no colon')).status).toBe(401);
  });

  it('answers a key without the role 403 before looking at the body', async () => {
    const viewer = (await h.api('POST', '/api/v2/api-keys', { name: 'viewer', role: 'viewer' })).body.key as string;
    const writes: [string, string, unknown][] = [
      ['POST', '/api/v2/endpoints', {}],
      ['PATCH', '/api/v2/endpoints/ep_nope', { url: 5 }],
      ['POST', '/api/v2/endpoints/ep_nope/recover', {}],
      ['POST', '/api/v2/endpoints/ep_nope/test', { event_type: [] }],
      ['POST', '/api/v2/events', {}],
      ['POST', '/api/v2/events/batch', { events: 'x' }],
      ['POST', '/api/v2/inboxes', { name: [] }],
      ['POST', '/api/v2/deliveries/dlv_nope/retry', undefined],
    ];
    for (const [method, route, body] of writes) {
      const res = await h.api(method, route, body, viewer);
      expect([res.status, res.body.error], `${method} ${route}`).toEqual([403, 'forbidden']);
    }
  });

  it('serves health without a key', async () => {
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
  });
});

describe('endpoints API', () => {
  it('creates, reads, lists with a cursor, updates and deletes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await h.api('POST', '/api/v2/endpoints', { url: `http://127.0.0.1:9/${i}`, event_types: ['asset.*'], description: `n${i}`, headers: { 'X-Api-Key': 'very-secret-value' } });
      expect(res.status).toBe(201);
      expect(res.body.headers[0].value).not.toContain('very-secret');
      ids.push(res.body.id);
    }
    const page1 = await h.api('GET', '/api/v2/endpoints?limit=2');
    expect(page1.body.data).toHaveLength(2);
    const page2 = await h.api('GET', `/api/v2/endpoints?limit=2&cursor=${page1.body.next_cursor}`);
    const listed = [...page1.body.data, ...page2.body.data].map((e: { id: string }) => e.id);
    expect(listed.sort()).toEqual([...ids].sort());

    const patched = await h.api('PATCH', `/api/v2/endpoints/${ids[0]}`, { description: 'changed', rate_limit_per_second: 10 });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: 'changed', rate_limit_per_second: 10, url: 'http://127.0.0.1:9/0' });
    expect((await h.api('GET', `/api/v2/endpoints/${ids[0]}`)).body.description).toBe('changed');
    expect((await h.api('DELETE', `/api/v2/endpoints/${ids[0]}`)).status).toBe(204);
    expect((await h.api('GET', `/api/v2/endpoints/${ids[0]}`)).status).toBe(404);
  });

  it('rotates the secret and returns the new one once', async () => {
    const ep = await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/', event_types: ['asset.created'] });
    const rotated = await h.api('POST', `/api/v2/endpoints/${ep.body.id}/secret/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(ep.body.secret);
    const got = await h.api('GET', `/api/v2/endpoints/${ep.body.id}`);
    // Answers that hand out a secret, and every other answer of the API, are kept by no cache.
    const key = await h.api('POST', '/api/v2/api-keys', { name: 'no-store', role: 'viewer' });
    const tenovos = await h.api('GET', '/webhooks/endpoint');
    const refused = await h.api('GET', '/api/v2/endpoints', undefined, 'wrong-key');
    expect([tenovos.status, refused.status]).toEqual([200, 401]);
    for (const res of [ep, rotated, got, key, tenovos, refused]) expect(res.headers.get('cache-control')).toBe('no-store');
    expect(JSON.stringify(got.body)).not.toContain(rotated.body.secret.slice(6));
  });

  it('answers outside any route carry no-store too: an unknown path, one that does not decode, an id too long', async () => {
    const unknown = await h.api('GET', '/api/v2/nowhere');
    const undecodable = await h.api('GET', '/api/v2/endpoints/%E0%A4%A');
    const tooLong = await h.api('GET', `/webhooks/endpoint/${'x'.repeat(300)}`);
    const mediaPocket = await h.api('GET', '/api/v2/admin/webhooks/1/nowhere');
    expect([unknown.status, undecodable.status, tooLong.status, mediaPocket.status]).toEqual([404, 400, 414, 404]);
    for (const res of [unknown, undecodable, tooLong, mediaPocket]) expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it.each([
    [{ event_types: ['asset.created'] }, 400, 'url'],
    [{ url: 'http://127.0.0.1/', event_types: [] }, 400, 'event_types'],
    [{ url: 'http://127.0.0.1/', event_types: ['nosuch.event'] }, 422, 'event_types'],
    [{ url: 'ftp://127.0.0.1/', event_types: ['asset.created'] }, 422, 'url'],
    [{ url: 'not a url', event_types: ['asset.created'] }, 422, 'url'],
    [{ url: 'http://127.0.0.1/', event_types: ['asset.created'], timeout_ms: 60_000 }, 400, 'timeout_ms'],
    [{ url: 'http://127.0.0.1/', event_types: ['asset.created'], method: 'GET' }, 400, 'method'],
    [{ url: 'http://127.0.0.1/', event_types: ['asset.created'], headers: { 'webhook-signature': 'x' } }, 422, 'headers'],
    [{ url: 'http://127.0.0.1/', event_types: ['asset.created'], extra: 1 }, 400, 'extra'],
    [{ url: 'http://127.0.0.1/', event_types: ['asset.created'], rate_limit_per_second: 0 }, 400, 'rate_limit_per_second'],
    [{ url: 'http://10.0.0.1/', event_types: ['asset.created'] }, 422, 'url'],
    [{ url: 'http://169.254.169.254/latest/meta-data', event_types: ['asset.created'] }, 422, 'url'],
  ])('rejects %j with %i naming the field', async (body, status, field) => {
    const res = await h.api('POST', '/api/v2/endpoints', body);
    expect(res.status).toBe(status);
    expect(res.body.field).toContain(field);
    expect(res.body.message).toContain(field);
  });

  it('refuses a cursor no page ever returned, naming it, instead of answering an empty last page', async () => {
    for (const cursor of ['', 'a', '%00', 'ep_%20x']) {
      for (const route of ['/api/v2/endpoints', '/api/v2/deliveries', '/api/v2/inboxes']) {
        const res = await h.api('GET', `${route}?cursor=${cursor}`);
        const message = cursor === '%00' ? 'cursor holds a NUL character (U+0000), which is not accepted' : 'querystring field "cursor" is not a cursor: pass the one the previous page returned';
        expect([res.status, res.body.field, res.body.message]).toEqual([400, 'cursor', message]);
      }
    }
    expect((await h.api('GET', '/api/v2/endpoints?cursor=ep_zzzzzzzzzzzzzzzzzzzzzzzzzz')).status).toBe(200);
  });

  it('answers 404 for an unknown endpoint id', async () => {
    expect((await h.api('GET', '/api/v2/endpoints/ep_nope')).status).toBe(404);
    expect((await h.api('PATCH', '/api/v2/endpoints/ep_nope', { description: 'x' })).status).toBe(404);
    expect((await h.api('DELETE', '/api/v2/endpoints/ep_nope')).status).toBe(404);
    // Past the router's limits, in the API's own error shape.
    const long = await h.api('GET', `/api/v2/endpoints/ep_${'x'.repeat(200)}`);
    expect([long.status, long.body]).toEqual([414, { error: 'invalid_request', message: 'a path segment (an id) is longer than 200 characters', field: null }]);
    const bad = await h.api('GET', '/api/v2/endpoints/%E0%A4%A');
    expect([bad.status, bad.body.error]).toEqual([400, 'invalid_request']);
  });

  it('answers a browser outside the API with a page, not JSON', async () => {
    const html = { accept: 'text/html,application/xhtml+xml' };
    const missing = await fetch(`${h.url}/nonexistent-page`, { headers: html });
    expect([missing.status, missing.headers.get('content-type')]).toEqual([404, 'text/html; charset=utf-8']);
    expect(await missing.text()).toContain('No page at this address.');
    const long = await fetch(`${h.url}/endpoints/${'x'.repeat(220)}`, { headers: html });
    expect([long.status, long.headers.get('content-type')]).toEqual([414, 'text/html; charset=utf-8']);
    // The API and clients that ask for JSON keep the JSON answer.
    expect((await (await fetch(`${h.url}/nonexistent-page`)).json()).error).toBe('not_found');
    expect((await (await fetch(`${h.url}/api/v2/nope`, { headers: html })).json()).error).toBe('not_found');
  });
});

describe('OAuth extra params', () => {
  const ASSERTION = 'long-secret-value-of-a-client-assertion-0123456789';
  const oauth = (extra: Record<string, string>) => ({ type: 'oauth2_client_credentials', token_url: 'http://127.0.0.1:9/token', client_id: 'c', client_secret: 'client-secret-1', extra_params: extra });

  it('answers their names with masked values only, to admin and viewer keys alike', async () => {
    const viewer = (await h.api('POST', '/api/v2/api-keys', { name: 'extra params viewer', role: 'viewer' })).body.key as string;
    const created = await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/extra', event_types: ['asset.*'], auth: oauth({ client_assertion: ASSERTION, audience: 'dam' }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const shown = { client_assertion: 'long…', audience: '****' };
    const patched = await h.api('PATCH', `/api/v2/endpoints/${id}`, { description: 'extra params' });
    const answers = [created.body, patched.body];
    for (const key of [ADMIN_KEY, viewer]) {
      const one = await h.api('GET', `/api/v2/endpoints/${id}`, undefined, key);
      const list = await h.api('GET', '/api/v2/endpoints?limit=250', undefined, key);
      expect([one.status, list.status]).toEqual([200, 200]);
      answers.push(one.body, list.body.data.find((e: { id: string }) => e.id === id));
    }
    for (const body of answers) {
      expect(body.auth).toMatchObject({ type: 'oauth2_client_credentials', client_secret: '****', extra_params: shown });
      expect(JSON.stringify(body)).not.toContain(ASSERTION.slice(0, 12));
    }
  });
});

describe('endpoint input errors', () => {
  const base = { url: 'http://127.0.0.1:9/hook', event_types: ['asset.*'] };
  const fieldAndMessage = async (body: unknown) => {
    const res = await h.api('POST', '/api/v2/endpoints', body);
    return [res.status, res.body.field, res.body.message];
  };

  it('names the field of the auth variant the client chose', async () => {
    expect(await fieldAndMessage({ ...base, auth: { type: 'basic', username: 'u' } })).toEqual([400, 'auth.password', 'body field "auth.password" is required']);
    expect(await fieldAndMessage({ ...base, auth: { type: 'basic', username: '', password: 'p' } })).toEqual([400, 'auth.username', expect.stringContaining('auth.username')]);
    expect(await fieldAndMessage({ ...base, auth: { type: 'oauth2_client_credentials', token_url: 'http://127.0.0.1:9/t', client_id: 'c' } })).toEqual([
      400,
      'auth.client_secret',
      'body field "auth.client_secret" is required',
    ]);
    expect(await fieldAndMessage({ ...base, auth: { type: 'kerberos' } })).toEqual([400, 'auth.type', 'body field "auth.type" must be one of the known types']);
    expect(await fieldAndMessage({ ...base, auth: { type: 'none', username: 'u' } })).toEqual([400, 'auth.username', 'body field "auth.username" is not allowed']);
    expect(await fieldAndMessage({ ...base, auth: {} })).toEqual([400, 'auth.type', 'body field "auth.type" is required']);
  });

  it('refuses a wrong type in a body instead of converting it, and still reads query strings as numbers', async () => {
    expect((await fieldAndMessage({ ...base, rate_limit_per_second: true })).slice(0, 2)).toEqual([400, 'rate_limit_per_second']);
    expect((await fieldAndMessage({ ...base, event_types: 'asset.*' })).slice(0, 2)).toEqual([400, 'event_types']);
    expect((await fieldAndMessage({ ...base, timeout_ms: '5000' })).slice(0, 2)).toEqual([400, 'timeout_ms']);
    const listed = await h.api('POST', '/api/v2/events', { type: ['asset.created'] });
    expect([listed.status, listed.body.field]).toEqual([400, 'type']);
    const resource = await h.api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: 5 } });
    expect([resource.status, resource.body.field]).toEqual([400, 'resource.id']);
    const page = await h.api('GET', '/api/v2/endpoints?limit=1');
    expect([page.status, page.body.data.length]).toEqual([200, 1]);
  });

  it('sets a timeout back to the default with null', async () => {
    const ep = await h.api('POST', '/api/v2/endpoints', { ...base, timeout_ms: 5_000 });
    expect(ep.body.timeout_ms).toBe(5_000);
    const reset = await h.api('PATCH', `/api/v2/endpoints/${ep.body.id}`, { timeout_ms: null });
    expect([reset.status, reset.body.timeout_ms]).toEqual([200, 30_000]);
    expect((await fieldAndMessage({ ...base, timeout_ms: 999 })).slice(0, 2)).toEqual([400, 'timeout_ms']);
  });

  it('names the bad entry of the header form sent, and caps both forms at 50 headers', async () => {
    expect(await fieldAndMessage({ ...base, headers: [{ name: 'x-a', value: 'y', type: 'zzz' }] })).toEqual([400, 'headers[0].type', expect.stringContaining('headers[0].type')]);
    expect(await fieldAndMessage({ ...base, headers: [{ name: 'x-a' }] })).toEqual([400, 'headers[0].value', 'body field "headers[0].value" is required']);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`x-h${i}`, 'v']));
    expect((await fieldAndMessage({ ...base, headers: many })).slice(0, 2)).toEqual([400, 'headers']);
    expect((await fieldAndMessage({ ...base, headers: Object.entries(many).map(([name, value]) => ({ name, value })) })).slice(0, 2)).toEqual([400, 'headers']);
    const fifty = Object.fromEntries(Object.entries(many).slice(0, 50));
    const ok = await h.api('POST', '/api/v2/endpoints', { ...base, headers: fifty, auth: { type: 'basic', username: 'u', password: 'p' } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.headers).toHaveLength(50);
    expect(ok.body.auth).toMatchObject({ type: 'basic', username: 'u' });
  });

  it('refuses a header value no HTTP request can carry, and a masked value sent for a new header', async () => {
    for (const value of ['tab\tok but bell\u0007', '€uro']) {
      const res = await h.api('POST', '/api/v2/endpoints', { ...base, headers: { 'X-Api-Key': value } });
      expect([res.status, res.body.field], value).toEqual([422, 'headers']);
      expect(res.body.message).toContain('a character a header cannot carry');
    }
    // A masked value has no stored value to stand for here, whatever the header's type.
    for (const header of [{ name: 'X-Api-Key', value: 'rece…' }, { name: 'X-Api-Key', value: '****' }, { name: 'X-Sig', value: 'clé…', type: 'hmac' }]) {
      const res = await h.api('POST', '/api/v2/endpoints', { ...base, headers: [header] });
      expect([res.status, res.body.field, res.body.message], header.value).toEqual([422, 'headers', expect.stringContaining(`the value of "${header.name}" is a masked value`)]);
    }
    // Tab, Latin-1 and a key for an hmac header (never sent) are fine.
    const ok = await h.api('POST', '/api/v2/endpoints', { ...base, headers: [{ name: 'X-A', value: 'a\tb é' }, { name: 'X-Sig', value: 'clé€', type: 'hmac' }] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('refuses a basic-auth user name with a colon, which the receiver would split in the wrong place', async () => {
    const res = await h.api('POST', '/api/v2/endpoints', { ...base, auth: { type: 'basic', username: 'a:b', password: 'p' } });
    expect([res.status, res.body.field]).toEqual([400, 'auth.username']);
  });

  it('refuses two headers whose names differ only in case: one would silently replace the other', async () => {
    const res = await h.api('POST', '/api/v2/endpoints', { ...base, headers: [{ name: 'X-Sig', value: 'k', type: 'hmac' }, { name: 'x-sig', value: 'v' }] });
    expect([res.status, res.body.field, res.body.message]).toEqual([422, 'headers', 'headers: "x-sig" repeats the header "X-Sig" (header names ignore case)']);
  });
});

describe('an event and its deliveries', () => {
  it('lists the first 250 with the event and continues at /deliveries?event_id= with its cursor', async () => {
    for (let i = 0; i < 251; i++) {
      const res = await h.api('POST', '/api/v2/endpoints', { url: `http://127.0.0.1:9/many/${i}`, event_types: ['user.avatar.removed'] });
      expect(res.status).toBe(201);
    }
    const published = await h.api('POST', '/api/v2/events', { id: 'many-1', type: 'user.avatar.removed' });
    expect(published.body.deliveries).toBe(251);
    const event = await h.api('GET', '/api/v2/events/many-1');
    expect(event.body.deliveries).toHaveLength(250);
    expect(event.body.deliveries_next_cursor).toEqual(expect.any(String));
    const rest = await h.api('GET', `/api/v2/deliveries?event_id=${published.body.id}&cursor=${event.body.deliveries_next_cursor}`);
    expect(rest.status).toBe(200);
    expect(rest.body.next_cursor).toBeNull();
    const ids = new Set([...event.body.deliveries, ...rest.body.data].map((d: { id: string }) => d.id));
    expect(ids.size).toBe(251);
    const one = await h.api('GET', `/api/v2/deliveries?event_id=${published.body.id}&limit=250`);
    expect(one.body.data.every((d: { event_id: string }) => d.event_id === published.body.id)).toBe(true);
  });
});

describe('ingest API', () => {
  it('answers 422 naming the index for an unknown type in a batch', async () => {
    const res = await h.api('POST', '/api/v2/events/batch', { events: [{ type: 'asset.created' }, { type: 'nope.nope' }] });
    expect(res.status).toBe(422);
    expect(res.body.field).toBe('events[1].type');
  });

  it('rejects malformed JSON, empty batches and oversized batches with 400', async () => {
    const bad = await fetch(`${h.url}/api/v2/events`, { method: 'POST', headers: { 'x-api-key': 'test-admin-key-0123456789', 'content-type': 'application/json' }, body: '{"type":' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).not.toMatch(/at .*\.js/);
    expect((await h.api('POST', '/api/v2/events/batch', { events: [] })).status).toBe(400);
    const tooMany = await h.api('POST', '/api/v2/events/batch', { events: Array.from({ length: 1001 }, () => ({ type: 'asset.created' })) });
    expect(tooMany.status).toBe(400);
  });

  it('reads an empty JSON body as none, and names a refused key or an encoding it cannot read', async () => {
    const raw = (route: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${h.url}${route}`, { method: 'POST', headers: { 'x-api-key': 'test-admin-key-0123456789', 'content-type': 'application/json', ...headers }, body });
    const ep = await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/empty', event_types: ['asset.*'] });
    // Optional bodies: nothing sent with the content-type a client library adds anyway.
    expect((await raw(`/api/v2/endpoints/${ep.body.id}/secret/rotate`, '')).status).toBe(200);
    expect((await raw(`/api/v2/endpoints/${ep.body.id}/test`, '')).status).toBe(202);
    // fetch() labels `body: ''` text/plain: still no body.
    expect((await raw(`/api/v2/endpoints/${ep.body.id}/secret/rotate`, '', { 'content-type': 'text/plain;charset=UTF-8' })).status).toBe(200);
    const required = await raw('/api/v2/events', '');
    expect(required.status).toBe(400);
    expect((await required.json()).message).toMatch(/body/);
    const proto = await raw('/api/v2/events', '{"type":"asset.created","data":{"__proto__":{"x":1}}}');
    expect([proto.status, (await proto.json()).message]).toEqual([400, 'body has a key that is refused: __proto__, or constructor.prototype']);
    const gzip = await raw('/api/v2/events', '\u001f\u008b', { 'content-encoding': 'gzip' });
    expect([gzip.status, (await gzip.json()).error]).toEqual([415, 'unsupported_media_type']);
  });

  it("refuses Herald's own event types and ids posing as message ids, naming the field", async () => {
    const own = await h.api('POST', '/api/v2/events', { type: 'endpoint.disabled', data: { endpoint_id: 'ep_x' } });
    expect([own.status, own.body.error, own.body.field]).toEqual([422, 'reserved_event_type', 'type']);
    const inBatch = await h.api('POST', '/api/v2/events/batch', { events: [{ type: 'asset.created' }, { type: 'message.attempt.exhausted' }] });
    expect([inBatch.status, inBatch.body.field]).toEqual([422, 'events[1].type']);
    const other = await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const posing = await h.api('POST', '/api/v2/events', { id: other.body.id, type: 'asset.deleted' });
    expect([posing.status, posing.body.field]).toEqual([400, 'id']);
    expect((await h.api('GET', `/api/v2/events/${other.body.id}`)).body.type).toBe('asset.created');
    // Herald's own events are published under herald: ids; taking one first would suppress them.
    const taken = await h.api('POST', '/api/v2/events/batch', { events: [{ id: 'herald:exhausted:dlv_x:1', type: 'asset.created' }] });
    expect([taken.status, taken.body.field]).toEqual([400, 'events[0].id']);
    // A test send may use them, to try a receiver's handler, but only with the test data.
    const ep = await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/own-types', event_types: ['*'] });
    const forged = await h.api('POST', `/api/v2/endpoints/${ep.body.id}/test`, { event_type: 'endpoint.disabled', data: { endpoint_id: 'ep_victim' } });
    expect([forged.status, forged.body.error, forged.body.field]).toEqual([422, 'reserved_event_type', 'data']);
    const trial = await h.api('POST', `/api/v2/endpoints/${ep.body.id}/test`, { event_type: 'endpoint.disabled' });
    expect(trial.status).toBe(202);
    const sent = await h.api('GET', `/api/v2/events/${trial.body.message_id}`);
    expect([sent.body.payload.data, sent.body.payload.resource]).toEqual([{ test: true }, { type: 'endpoint', id: 'herald-test' }]);
  });

  it('pages projects by their own ids, which are cursors too', async () => {
    for (const id of ['Alpha-1', 'beta.2', 'gamma:3']) expect((await h.api('POST', '/api/v2/projects', { id, name: id })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = '';
    for (let page = 0; page < 10 && cursor !== null; page++) {
      const res = await h.api('GET', `/api/v2/projects?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((p: { id: string }) => p.id));
      cursor = res.body.next_cursor;
    }
    expect(seen).toEqual(expect.arrayContaining(['Alpha-1', 'beta.2', 'gamma:3']));
    expect((await h.api('GET', '/api/v2/projects?cursor=%20x')).body.field).toBe('cursor');
  });

  it('refuses two events with the same id in one batch instead of dropping one', async () => {
    const res = await h.api('POST', '/api/v2/events/batch', { events: [{ id: 'twice', type: 'asset.created' }, { type: 'asset.created' }, { id: 'twice', type: 'asset.deleted' }] });
    expect([res.status, res.body.field]).toEqual([400, 'events[2].id']);
    expect(res.body.message).toBe('events[2].id repeats events[0].id in the same batch');
    expect((await h.api('GET', '/api/v2/events/twice')).status).toBe(404);
  });

  it('finds an event by an id as long as publishing allows', async () => {
    const id = `k${'x'.repeat(199)}`;
    expect((await h.api('POST', '/api/v2/events', { id, type: 'asset.created' })).status).toBe(202);
    const found = await h.api('GET', `/api/v2/events/${id}`);
    expect([found.status, found.body.type]).toEqual([200, 'asset.created']);
    expect((await h.api('POST', '/api/v2/events', { id: `${id}y`, type: 'asset.created' })).body.field).toBe('id');
  });

  it('counts the 256 KiB event limit in bytes as delivered, not in characters', async () => {
    // 100,000 three-byte characters: 293 KiB as UTF-8, under 256 Ki characters.
    const res = await h.api('POST', '/api/v2/events', { type: 'asset.created', data: { title: 'ロ'.repeat(100_000) } });
    expect([res.status, res.body.error]).toEqual([413, 'event_too_large']);
    expect((await h.api('POST', '/api/v2/events', { type: 'asset.created', data: { title: 'ロ'.repeat(80_000) } })).status).toBe(202);
  });

  it('answers every error in one shape, field included (null when no field is at fault)', async () => {
    const post = (body: string, contentType: string) =>
      fetch(`${h.url}/api/v2/events`, { method: 'POST', headers: { 'x-api-key': 'test-admin-key-0123456789', 'content-type': contentType }, body });
    const plain = await post('{"type":"asset.created"}', 'text/plain');
    expect([plain.status, await plain.json()]).toEqual([415, { error: 'unsupported_media_type', message: 'content-type "text/plain" is not supported; send application/json', field: null }]);
    expect((await h.api('GET', '/api/v2/nope')).body).toEqual({ error: 'not_found', message: 'no route GET /api/v2/nope', field: null });
    expect((await h.api('GET', '/api/v2/endpoints/ep_none')).body).toEqual({ error: 'not_found', message: 'endpoint "ep_none" not found', field: null });
    const range = await h.api('GET', '/api/v2/deliveries?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z');
    expect([range.status, range.body]).toEqual([400, { error: 'invalid_request', message: 'until must be later than since', field: 'until' }]);
    // Not even HTTP: no route was reached, and the answer still has the API's shape.
    const raw = await rawExchange(h.url, 'NOT HTTP AT ALL\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toMatch(/\r\nX-Request-Id: req_\w+\r\n/);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'invalid_request', message: 'the request is not valid HTTP', field: null });
    // HTTP/1.1 without Host: refused in the same shape, with a request id (Node's own refusal had an empty body).
    const hostless = await rawExchange(h.url, `GET /api/v2/event-types HTTP/1.1\r\nx-api-key: ${ADMIN_KEY}\r\nConnection: close\r\n\r\n`);
    expect(hostless).toMatch(/^HTTP\/1\.1 400 /);
    expect(hostless).toMatch(/\r\nx-request-id: req_\w+\r\n/i);
    expect(JSON.parse(hostless.slice(hostless.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'invalid_request', message: 'the request has no Host header', field: 'host' });
  });

  it("answers the profiles' paths in JSON even to a browser, which gets HTML pages only from the admin UI's", async () => {
    for (const path of ['/webhooks/endpoint/%ff', '/cmp/v3/nope', `/cmp/v3/webhooks/${'a'.repeat(201)}`, '/content-store-v1/webhooks/x/y', '/v2/webhooks/x/y']) {
      const res = await fetch(`${h.url}${path}`, { headers: { accept: 'text/html,application/json', 'x-api-key': ADMIN_KEY } });
      expect([res.status >= 400, res.headers.get('content-type')], path).toEqual([true, expect.stringMatching(/^application\/json/)]);
      await res.body?.cancel();
    }
    const page = await fetch(`${h.url}/no-such-page`, { headers: { accept: 'text/html' } });
    expect([page.status, page.headers.get('content-type')]).toEqual([404, expect.stringMatching(/^text\/html/)]);
    await page.body?.cancel();
  });

  it('rejects a body over 1 MiB with 413', async () => {
    const res = await h.api('POST', '/api/v2/events', { type: 'asset.created', data: { blob: 'x'.repeat(1_100_000) } });
    expect(res.status).toBe(413);
  });

  it('lists the catalog grouped by topic', async () => {
    const res = await h.api('GET', '/api/v2/event-types');
    const asset = res.body.topics.find((t: { topic: { id: string } }) => t.topic.id === 'asset');
    expect(asset.event_types.map((e: { name: string }) => e.name)).toContain('asset.created');
  });

  it('serves an OpenAPI document covering the native routes', async () => {
    const doc = await (await fetch(`${h.url}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v2/endpoints', '/api/v2/events', '/api/v2/events/batch', '/api/v2/endpoints/{id}/recover']));
  });
});

describe('docs page', () => {
  it('renders every OpenAPI path as readable HTML', async () => {
    const res = await fetch(`${h.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    const doc = await (await fetch(`${h.url}/openapi.json`)).json();
    for (const path of Object.keys(doc.paths)) expect(html).toContain(`<code>${path}</code>`);
    // Each route's description, as the native routes give one.
    expect(html).toContain('<p>Subscribes a URL to event types');
  });

  it('may not be framed by another site', async () => {
    const res = await fetch(`${h.url}/docs`);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('metrics', () => {
  it('exposes queue depth and process metrics in Prometheus format', async () => {
    await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/m', event_types: ['user.created'] });
    await h.api('POST', '/api/v2/events', { type: 'user.created' });
    const res = await fetch(`${h.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    // Pending untried, waiting for a retry, or leased right now: the delivery is in one of them.
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
    expect(gauge('herald_queue_depth') + gauge('herald_retry_queue_depth') + gauge('herald_leased_deliveries')).toBeGreaterThanOrEqual(1);
    expect(gauge('herald_events_ingested_total')).toBeGreaterThanOrEqual(1);
    expect(text).toContain('herald_process_resident_memory_bytes');
  });
});

describe('a request that never finishes arriving', () => {
  let slow: TestHerald;
  beforeAll(async () => {
    slow = await startTestHerald({ HERALD_REQUEST_TIMEOUT_MS: '1000' }, { worker: false });
  });
  afterAll(async () => {
    await slow.close();
  });

  it('is answered 408 and closed after HERALD_REQUEST_TIMEOUT_MS, without a key too', async () => {
    // A body announced and never sent: before, the connection stayed open for as long as the client kept it.
    const answers = await Promise.all(
      [`/api/v2/events HTTP/1.1\r\nx-api-key: ${ADMIN_KEY}`, '/nope HTTP/1.1'].map((target) =>
        rawExchange(slow.url, `POST ${target}\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{`),
      ),
    );
    for (const raw of answers) {
      expect(raw).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'timeout', message: 'the request did not arrive in time', field: null });
    }
  });
});
