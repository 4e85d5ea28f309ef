// Own inboxes are always reachable: with an empty HERALD_ALLOWED_TARGETS (loopback refused), an
// endpoint may still target its own account's inbox on this Herald, and is delivered to; another
// account's inbox, or any other path on Herald's own address, stays refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/signing/verify.js';
import { ADMIN_KEY, eventually, startTestHerald, type TestHerald } from '../helpers.js';

let h: TestHerald;

async function call(method: string, route: string, body?: unknown, key = ADMIN_KEY, headers: Record<string, string> = {}) {
  const res = await fetch(h.url + route, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  h = await startTestHerald({ HERALD_ALLOWED_TARGETS: '' });
});
afterAll(() => h.close());

describe('own inbox as a destination without an allow-list', () => {
  it('accepts an endpoint pointing at its own inbox and delivers to it, signed', async () => {
    const inbox = (await call('POST', '/api/v2/inboxes', { name: 'own' })).body;
    const endpoint = await call('POST', '/api/v2/endpoints', { url: inbox.url, event_types: ['asset.*'] });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
    // Verify what arrives with the endpoint's secret.
    await call('PATCH', `/api/v2/inboxes/${inbox.id}`, { signing_secret: endpoint.body.secret });

    const published = await call('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: 'a1' }, data: { filename: 'logo.png' } });
    expect(published.status).toBe(202);
    const captured = await eventually(async () => (await call('GET', `/api/v2/inboxes/${inbox.id}/requests`)).body.data[0]);
    expect(captured.signature).toEqual({ verified: true, webhook_id: published.body.id });
    expect(JSON.parse(captured.body)).toMatchObject({ id: published.body.id, type: 'asset.created', data: { filename: 'logo.png' } });
    expect(captured.headers['webhook-id']).toBe(published.body.id);
    expect(() => verify({ headers: captured.headers, body: captured.body, secret: endpoint.body.secret })).not.toThrow();

    const delivery = await eventually(async () => {
      const d = (await call('GET', `/api/v2/endpoints/${endpoint.body.id}/deliveries`)).body.data[0];
      return d?.status === 'succeeded' ? d : undefined;
    });
    expect(delivery.attempt_log[0].status_code).toBe(200);
  });

  it("refuses another account's inbox, and any other path on Herald's own address", async () => {
    const account = await call('POST', '/api/v2/accounts', { name: 'Other' });
    const otherKey = (await call('POST', '/api/v2/api-keys', { name: 'other admin', role: 'admin' }, ADMIN_KEY, { 'x-herald-account': account.body.id })).body.key;
    const theirs = (await call('POST', '/api/v2/inboxes', { name: 'theirs' }, otherKey)).body;

    const refused = await call('POST', '/api/v2/endpoints', { url: theirs.url, event_types: ['asset.*'] });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ error: 'ssrf_blocked', field: 'url' });

    for (const url of [`${h.url}/api/v2/events`, `${h.url}/in/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`, `${h.url}/healthz`]) {
      expect((await call('POST', '/api/v2/endpoints', { url, event_types: ['asset.*'] })).status, url).toBe(422);
    }
    // Herald's own host spelled so that this resolver may not know it (a trailing dot) is checked
    // all the same: connect time would let it through to any path.
    const port = new URL(h.url).port;
    for (const url of [`http://localhost.:${port}/api/v2/events`, `http://LOCALHOST.:${port}/in/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`]) {
      const res = await call('POST', '/api/v2/endpoints', { url, event_types: ['asset.*'] });
      expect(res.status, url).toBe(422);
      expect(res.body.field).toBe('url');
    }
    // A path that only looks like the inbox after normalisation is not an inbox path.
    const mine = (await call('POST', '/api/v2/inboxes', { name: 'mine' })).body;
    expect((await call('POST', '/api/v2/endpoints', { url: `${mine.url}/%2e%2e/%2e%2e/api/v2/events`, event_types: ['asset.*'] })).status).toBe(422);
    // Changing an own-inbox endpoint to another account's inbox is refused too.
    const ok = await call('POST', '/api/v2/endpoints', { url: mine.url, event_types: ['asset.*'] });
    expect(ok.status).toBe(201);
    expect((await call('PATCH', `/api/v2/endpoints/${ok.body.id}`, { url: theirs.url })).status).toBe(422);
    // The same holds for the other account the other way round, and for inbox forwarding.
    expect((await call('POST', '/api/v2/endpoints', { url: mine.url, event_types: ['asset.*'] }, otherKey)).status).toBe(422);
    expect((await call('POST', '/api/v2/inboxes', { name: 'fwd', forward_url: theirs.url })).status).toBe(422);
    expect((await call('POST', '/api/v2/inboxes', { name: 'fwd', forward_url: mine.url })).status).toBe(201);
  });

  it('still refuses loopback destinations that are not Herald', async () => {
    const res = await call('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/hook', event_types: ['asset.*'] });
    expect(res.status).toBe(422);
  });
});
