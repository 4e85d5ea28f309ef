// Tenovos profile (seeds 000–002): the subscription API and what a Tenovos endpoint receives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { expectToggleEvents } from './toggle-events-support.js';

let h: TestHerald;
let receiver: Receiver;
let tokens: Receiver;

beforeAll(async () => {
  h = await startTestHerald();
  receiver = await startReceiver();
  tokens = await startReceiver((_r, _i, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'tok-123', token_type: 'Bearer', expires_in: 3600 })));
});
afterAll(async () => {
  await h.close();
  await receiver.close();
  await tokens.close();
});

const sub = (over: Record<string, unknown> = {}) => ({ description: 'Asset events', eventTypes: ['asset.created'], url: 'https://example.website.com/hooks', rateLimit: 10, ...over });

describe('Tenovos subscriptions: POST /webhooks/endpoint', () => {
  it('creates one endpoint per array element and answers 200 {id} (+ ids)', async () => {
    const res = await h.api('POST', '/webhooks/endpoint', [sub(), sub({ description: 'User events', eventTypes: ['user.created', 'user.updated'], rateLimit: null })]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: expect.stringMatching(/^ep_/), ids: [res.body.id, expect.stringMatching(/^ep_/)] });
    const second = await h.api('GET', `/webhooks/endpoint/${res.body.ids[1]}`);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: res.body.ids[1], description: 'User events', eventTypes: ['user.created', 'user.updated'], rateLimit: null, disabled: false, oauth: null });
    const native = await h.api('GET', `/api/v2/endpoints/${res.body.id}`);
    expect(native.body).toMatchObject({ profile: 'tenovos', rate_limit_per_second: 10 });
  });

  it('accepts 50 and refuses 0 or 51 elements', async () => {
    expect((await h.api('POST', '/webhooks/endpoint', Array.from({ length: 50 }, () => sub()))).status).toBe(200);
    expect((await h.api('POST', '/webhooks/endpoint', [])).status).toBe(400);
    expect((await h.api('POST', '/webhooks/endpoint', Array.from({ length: 51 }, () => sub()))).status).toBe(400);
  });

  it('validates description length (5–100) and names the element', async () => {
    const short = await h.api('POST', '/webhooks/endpoint', [sub(), sub({ description: 'abc' })]);
    expect(short.status).toBe(400);
    expect(short.body).toMatchObject({ error: 'invalid_request', field: '[1].description' });
    expect((await h.api('POST', '/webhooks/endpoint', [sub({ description: 'x'.repeat(101) })])).status).toBe(400);
    expect((await h.api('POST', '/webhooks/endpoint', [sub({ rateLimit: 0 })])).status).toBe(400);
    expect((await h.api('POST', '/webhooks/endpoint', [sub({ rateLimit: 'fast' })])).status).toBe(400);
  });

  it('is all or nothing: an unknown event type in one element creates none (422)', async () => {
    const before = (await h.api('GET', '/webhooks/endpoint?limit=250')).body.data.length;
    const res = await h.api('POST', '/webhooks/endpoint', [sub(), sub({ eventTypes: ['asset.exploded'] })]);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: 'invalid_endpoint', field: '[1].eventTypes' });
    expect((await h.api('GET', '/webhooks/endpoint?limit=250')).body.data.length).toBe(before);
  });

  it('refuses private destinations (SSRF) with 422', async () => {
    const res = await h.api('POST', '/webhooks/endpoint', [sub({ url: 'http://169.254.169.254/latest' })]);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: 'ssrf_blocked', field: '[0].url' });
  });

  it('needs an admin key to create (403 for a viewer) and a key at all (401)', async () => {
    const viewer = await h.api('POST', '/api/v2/api-keys', { name: 'viewer', role: 'viewer' });
    expect((await h.api('POST', '/webhooks/endpoint', [sub()], viewer.body.key)).status).toBe(403);
    expect((await h.api('GET', '/webhooks/endpoint', undefined, viewer.body.key)).status).toBe(200);
    expect((await h.api('GET', '/webhooks/endpoint', undefined, 'wrong-key')).status).toBe(401);
  });
});

describe('Tenovos subscriptions: PATCH, GET, DELETE', () => {
  it('PATCH answers 204 and changes only what is sent', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [sub()])).body;
    const res = await h.api('PATCH', `/webhooks/endpoint/${id}`, { eventTypes: ['asset.*'], rateLimit: 50 });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body).toMatchObject({ description: 'Asset events', eventTypes: ['asset.*'], rateLimit: 50, url: 'https://example.website.com/hooks' });
    expect((await h.api('PATCH', `/webhooks/endpoint/${id}`, { description: 'no' })).status).toBe(400);
    expect((await h.api('PATCH', `/webhooks/endpoint/${id}`, { url: 'ftp://x' })).status).toBe(422);
  });

  it('PATCH disabled raises endpoint.disabled and endpoint.enabled, as the native PATCH does', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [sub()])).body;
    await expectToggleEvents(h, id, sub().url, async (disabled) => (await h.api('PATCH', `/webhooks/endpoint/${id}`, { disabled })).status, 204);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body).toMatchObject({ disabled: false, disabledReason: null });
  });

  it('lists Tenovos endpoints only, with an iterator', async () => {
    await h.api('POST', '/api/v2/endpoints', { url: 'https://example.website.com/native', event_types: ['asset.created'] });
    const page = await h.api('GET', '/webhooks/endpoint?limit=2');
    expect(page.status).toBe(200);
    expect(page.body.data).toHaveLength(2);
    expect(page.body).toMatchObject({ done: false, iterator: expect.any(String) });
    const all = await h.api('GET', '/webhooks/endpoint?limit=250');
    expect(all.body.data.every((e: { url: string }) => e.url !== 'https://example.website.com/native')).toBe(true);
  });

  it('DELETE answers 204, then 404; unknown and native ids are 404', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [sub()])).body;
    expect((await h.api('DELETE', `/webhooks/endpoint/${id}`)).status).toBe(204);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).status).toBe(404);
    expect((await h.api('DELETE', `/webhooks/endpoint/${id}`)).status).toBe(404);
    const native = await h.api('POST', '/api/v2/endpoints', { url: 'https://example.website.com/n', event_types: ['asset.created'] });
    expect((await h.api('GET', `/webhooks/endpoint/${native.body.id}`)).status).toBe(404);
    expect((await h.api('PATCH', `/webhooks/endpoint/ep_nope`, { rateLimit: 1 })).status).toBe(404);
  });
});

describe('Seed 002: PUT /webhooks/endpoint/oauth/{endpointId}', () => {
  it('replays the seed request: 204, stored, the secret never returned, the scope array joined', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [sub()])).body;
    const res = await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, {
      clientId: 'FbhKdCwuiItoSSRJpKXc6cjhpJFVy7JbB',
      tokenUrl: 'https://yourauthprovider.com/oauth/token',
      clientSecret: '458Gfd7774Gb1niGYu1JT9xfQobecM0i5UGOp_F5BU6DdGFEDCvz7r0xObfdf458Bn',
      extraParams: { audience: 'http://yourdomain.tenovos.io' },
      scope: [''],
    });
    expect(res.status).toBe(204);
    const got = await h.api('GET', `/webhooks/endpoint/${id}`);
    expect(got.body.oauth).toEqual({
      clientId: 'FbhKdCwuiItoSSRJpKXc6cjhpJFVy7JbB',
      tokenUrl: 'https://yourauthprovider.com/oauth/token',
      scope: null,
      extraParams: { audience: 'http…' },
      tokenEndpointAuthMethod: 'client_secret_post',
    });
    const native = await h.api('GET', `/api/v2/endpoints/${id}`);
    expect(native.body.auth).toMatchObject({ type: 'oauth2_client_credentials', client_secret: '****', extra_params: { audience: 'http…' } });
    expect(JSON.stringify([got.body, native.body])).not.toContain('458Gfd7774Gb1niGYu1JT9xfQobecM0i5UGOp');
    expect(JSON.stringify([got.body, native.body])).not.toContain('yourdomain');

    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { clientId: 'c', tokenUrl: 'https://a.example/t', clientSecret: 's', scope: ['read', 'write'] })).status).toBe(204);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body.oauth.scope).toBe('read write');
  });

  it('reads extraParams back masked; sent back as read they keep the stored values, other masked values are refused', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [sub()])).body;
    const body = { clientId: 'c', tokenUrl: 'https://a.example/t', clientSecret: 's' };
    const assertion = 'long-secret-value-of-a-client-assertion-0123456789';
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, extraParams: { client_assertion: assertion, audience: 'dam' } })).status).toBe(204);
    const viewer = (await h.api('POST', '/api/v2/api-keys', { name: 'tenovos extra viewer', role: 'viewer' })).body.key as string;
    const read = await h.api('GET', `/webhooks/endpoint/${id}`, undefined, viewer);
    expect(read.body.oauth.extraParams).toEqual({ client_assertion: 'long…', audience: '****' });
    const list = await h.api('GET', '/webhooks/endpoint?limit=250');
    expect(JSON.stringify([read.body, list.body])).not.toContain(assertion.slice(0, 12));

    // Stored as the mask, 'long…' would read back as '****': it reads 'long…', so the secret was kept.
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, clientSecret: 's-2', extraParams: read.body.oauth.extraParams })).status).toBe(204);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body.oauth.extraParams).toEqual({ client_assertion: 'long…', audience: '****' });
    for (const extraParams of [{ client_assertion: 'abcd…' }, { other: '****' }]) {
      const refused = await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, extraParams });
      expect([refused.status, refused.body.field], JSON.stringify(extraParams)).toEqual([422, 'extraParams']);
      expect(refused.body.message).toMatch(/^extraParams: the value of "\w+" is a masked value/);
    }
  });

  it('takes the oauth object back as GET shows it: scope null is no scope', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [sub()])).body;
    const body = { clientId: 'c', tokenUrl: 'https://a.example/t', clientSecret: 's' };
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, body)).status).toBe(204);
    const { oauth } = (await h.api('GET', `/webhooks/endpoint/${id}`)).body;
    expect(oauth.scope).toBeNull();
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...oauth, clientSecret: '****' })).status).toBe(204);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body.oauth).toEqual(oauth);
    expect((await h.api('GET', `/api/v2/endpoints/${id}`)).body.auth.scope).toBeUndefined();
    // null replaces a scope as an absent one does.
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, scope: 'read' })).status).toBe(204);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body.oauth.scope).toBe('read');
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, scope: null })).status).toBe(204);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body.oauth.scope).toBeNull();
    // The other validation holds: neither another type nor a null elsewhere.
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, scope: 5 })).status).toBe(400);
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, scope: [null] })).status).toBe(400);
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, clientId: null })).status).toBe(400);
  });

  it('shows how Herald authenticates to tokenUrl (tokenEndpointAuthMethod, the native auth.token_endpoint_auth_method) and takes it; a PUT without it keeps it', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [sub()])).body;
    const body = { clientId: 'c', tokenUrl: 'https://a.example/t', clientSecret: 's' };
    const methods = async () => {
      const [tenovos, native] = await Promise.all([h.api('GET', `/webhooks/endpoint/${id}`), h.api('GET', `/api/v2/endpoints/${id}`)]);
      return [tenovos.body.oauth.tokenEndpointAuthMethod, native.body.auth.token_endpoint_auth_method];
    };
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, body)).status).toBe(204);
    expect(await methods()).toEqual(['client_secret_post', 'client_secret_post']);

    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, tokenEndpointAuthMethod: 'client_secret_basic' })).status).toBe(204);
    expect(await methods()).toEqual(['client_secret_basic', 'client_secret_basic']);
    // Sent back as read (the secret as the native API shows it), or without the field: kept.
    const { oauth } = (await h.api('GET', `/webhooks/endpoint/${id}`)).body;
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { clientId: oauth.clientId, tokenUrl: oauth.tokenUrl, clientSecret: '****', extraParams: oauth.extraParams, tokenEndpointAuthMethod: oauth.tokenEndpointAuthMethod })).status).toBe(204);
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, clientSecret: 's-2' })).status).toBe(204);
    expect(await methods()).toEqual(['client_secret_basic', 'client_secret_basic']);

    // Set through the native API, it reads the same here.
    const native = (await h.api('GET', `/api/v2/endpoints/${id}`)).body.auth;
    expect((await h.api('PATCH', `/api/v2/endpoints/${id}`, { auth: { ...native, token_endpoint_auth_method: 'client_secret_post' } })).status).toBe(200);
    expect(await methods()).toEqual(['client_secret_post', 'client_secret_post']);

    const refused = await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, tokenEndpointAuthMethod: 'private_key_jwt' });
    expect(refused).toMatchObject({ status: 400, body: { field: 'tokenEndpointAuthMethod' } });
    expect(refused.body.message).toContain('client_secret_post, client_secret_basic');
  });

  it("answers at Tenovos' own base path too, with the same keys and roles, documented once", async () => {
    const { id } = (await h.api('POST', '/content-store-v1/webhooks/endpoint', [sub()])).body;
    expect((await h.api('PUT', `/content-store-v1/webhooks/endpoint/oauth/${id}`, { clientId: 'c', tokenUrl: 'https://a.example/t', clientSecret: 's' })).status).toBe(204);
    expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body.oauth).toMatchObject({ clientId: 'c' });
    expect((await h.api('GET', `/content-store-v1/webhooks/endpoint/${id}`)).body).toMatchObject({ id, oauth: { clientId: 'c' } });
    expect((await fetch(`${h.url}/content-store-v1/webhooks/endpoint`)).status).toBe(401);
    const viewer = (await h.api('POST', '/api/v2/api-keys', { name: 'tenovos viewer', role: 'viewer' })).body.key as string;
    expect((await h.api('DELETE', `/content-store-v1/webhooks/endpoint/${id}`, undefined, viewer)).status).toBe(403);
    const doc = (await h.api('GET', '/openapi.json')).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/content-store-v1'))).toEqual([]);
    expect(doc.paths['/webhooks/endpoint/oauth/{endpointId}']).toBeDefined();
  });

  it("answers under /v2, the path of Tenovos' API servers (seed 000): a create and list round trip, documented once", async () => {
    const created = await h.api('POST', '/v2/webhooks/endpoint', [sub({ description: 'Created under /v2' })]);
    expect(created.status).toBe(200);
    const listed = await h.api('GET', '/v2/webhooks/endpoint?limit=250');
    expect(listed.status).toBe(200);
    expect(listed.body.data).toContainEqual(expect.objectContaining({ id: created.body.id, description: 'Created under /v2' }));
    expect((await h.api('GET', `/webhooks/endpoint/${created.body.id}`)).body).toMatchObject({ id: created.body.id, description: 'Created under /v2' });
    expect((await fetch(`${h.url}/v2/webhooks/endpoint`)).status).toBe(401);
    const doc = (await h.api('GET', '/openapi.json')).body as { paths: Record<string, unknown>; tags: unknown[] };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/v2/'))).toEqual([]);
    expect(doc.tags).toContainEqual({ name: 'tenovos', description: expect.stringContaining('under /v2 and /content-store-v1') });
    expect(await (await fetch(`${h.url}/docs`)).text()).toContain('under /v2 and /content-store-v1');
  });

  it('answers 404 for an unknown endpoint, 400 for a missing field, 422 for a bad or private token URL', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [sub()])).body;
    const body = { clientId: 'c', tokenUrl: 'https://a.example/t', clientSecret: 's' };
    expect((await h.api('PUT', '/webhooks/endpoint/oauth/ep_unknown', body)).status).toBe(404);
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { clientId: 'c', tokenUrl: 'https://a.example/t' })).status).toBe(400);
    const bad = await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, tokenUrl: 'not a url' });
    expect(bad).toMatchObject({ status: 422, body: { field: 'tokenUrl' } });
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { ...body, tokenUrl: 'http://10.1.2.3/token' })).status).toBe(422);
  });
});

describe('Tenovos deliveries', () => {
  it('are Tenovos-shaped, Standard Webhooks signed, and carry the OAuth token', async () => {
    const created = await h.api('POST', '/webhooks/endpoint', [sub({ url: `${receiver.url}/tenovos`, eventTypes: ['version.created'] })]);
    const id = created.body.id as string;
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { clientId: 'client-1', tokenUrl: `${tokens.url}/oauth/token`, clientSecret: 'shh', scope: ['webhooks'] })).status).toBe(204);
    const { key } = (await h.api('GET', `/webhooks/endpoint/${id}/secret`)).body;
    expect(key).toMatch(/^whsec_/);

    const published = await h.api('POST', '/api/v2/events', {
      type: 'version.created',
      resource: { type: 'asset', id: 'a-77', filename: 'hero.png' },
      actor: { id: 'u-1', first_name: 'Ada', last_name: 'Lovelace' },
      data: { version_number: 2 },
    });
    expect(published.status).toBe(202);
    const [req] = await receiver.waitFor(1);
    expect(req.headers.authorization).toBe('Bearer tok-123');
    const token = new URLSearchParams(tokens.received[0].body);
    expect(Object.fromEntries(token)).toMatchObject({ grant_type: 'client_credentials', client_id: 'client-1', client_secret: 'shh', scope: 'webhooks' });
    const payload = new Webhook(key).verify(req.body, req.headers as Record<string, string>);
    expect(payload).toEqual({
      eventType: 'version.created',
      event: { id: published.body.id, time: expect.any(String), sequence: 1, user: { id: 'u-1', firstName: 'Ada', lastName: 'Lovelace' } },
      asset: { id: 'a-77', filename: 'hero.png' },
      version: { latest: true, versionNumber: 2 },
    });
  });

  it('carry basic auth and a custom header set with the native PATCH (seed 001: anonymous, basic or header authentication)', async () => {
    const basic = await startReceiver();
    try {
      const { id } = (await h.api('POST', '/webhooks/endpoint', [sub({ url: `${basic.url}/tenovos`, eventTypes: ['storyboard.created'] })])).body;
      const patched = await h.api('PATCH', `/api/v2/endpoints/${id}`, { auth: { type: 'basic', username: 'tenovos', password: 'pa55-word' }, headers: { 'X-Api-Key': 'header-secret' } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ profile: 'tenovos', auth: { type: 'basic', username: 'tenovos', password: '****' } });
      expect((await h.api('GET', `/webhooks/endpoint/${id}`)).body.oauth).toBeNull();
      await h.api('POST', '/api/v2/events', { type: 'storyboard.created', resource: { type: 'storyboard', id: 'sb-1' } });
      const [req] = await basic.waitFor(1);
      expect(req.headers.authorization).toBe(`Basic ${Buffer.from('tenovos:pa55-word').toString('base64')}`);
      expect(req.headers['x-api-key']).toBe('header-secret');
      expect(JSON.parse(req.body)).toMatchObject({ eventType: 'storyboard.created', storyboard: { id: 'sb-1' } });
    } finally {
      await basic.close();
    }
  });

  it('count only a 200 as delivered: a 204 is retried, as Tenovos does ("a status 200 OK")', async () => {
    const noContent = await startReceiver((_r, _i, res) => void res.writeHead(204).end());
    try {
      const created = await h.api('POST', '/webhooks/endpoint', [sub({ url: `${noContent.url}/tenovos`, eventTypes: ['collection.created'] })]);
      const native = await h.api('POST', '/api/v2/endpoints', { url: `${noContent.url}/native`, event_types: ['collection.created'] });
      await h.api('POST', '/api/v2/events', { type: 'collection.created', resource: { type: 'collection', id: 'c-1' } });
      await noContent.waitFor(2);
      const state = async (endpointId: string) => {
        for (let i = 0; i < 200; i++) {
          const [d] = (await h.api('GET', `/api/v2/deliveries?endpoint_id=${endpointId}`)).body.data;
          if (d && d.status !== 'in_flight' && d.attempt_log.length > 0) return [d.status, d.attempt_log[0].status_code];
          await new Promise((r) => setTimeout(r, 25));
        }
        return null;
      };
      expect(await state(created.body.id)).toEqual(['pending', 204]);
      // The native profile takes any 2xx.
      expect(await state(native.body.id)).toEqual(['succeeded', 204]);
    } finally {
      await noContent.close();
    }
  });
});
