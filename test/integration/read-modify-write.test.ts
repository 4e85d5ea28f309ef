// Read it, change it, write it back: an object read from any API's GET, with one field changed and
// sent back whole to its update route, is taken. The fields answers show and no update sets (ids,
// times, state Herald keeps) are ignored when sent back as read, and refused, naming the field in
// the API's own error shape, when sent back with another value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../helpers.js';

let h: TestHerald;

beforeAll(async () => {
  h = await startTestHerald({}, { worker: false });
});
afterAll(() => h.close());

const URL = 'https://example.website.com/hooks';
const LONG_AGO = '2020-01-01T00:00:00.000Z';

/** The same instant in another RFC 3339 form: an offset for Z. */
const withOffset = (time: string) => time.replace(/Z$/, '+00:00');

/** What an API answers for `field` sent back changed: 422 naming it, in the API's {error, message, field}. */
const readOnlyRefusal = (error: string, field: string) => [422, { error, message: expect.stringMatching(new RegExp(`^${field} is read-only`)), field }];

/** updated_at moves on: the time is kept to the millisecond, so a later change needs a later one. */
const aMomentLater = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('native PATCH /api/v2/endpoints/:id', () => {
  async function created(): Promise<{ id: string; route: string; read: Record<string, unknown> }> {
    const body = { url: URL, event_types: ['asset.*'], description: 'before', headers: { 'X-Api-Key': 'k-0123456789' }, auth: { type: 'basic', username: 'u', password: 'p-secret' } };
    const { id } = (await h.api('POST', '/api/v2/endpoints', body)).body;
    const route = `/api/v2/endpoints/${id}`;
    return { id, route, read: (await h.api('GET', route)).body };
  }

  it('takes the endpoint as GET showed it, one field changed; read-only times in another form of the same instant too', async () => {
    const { route, read } = await created();
    await aMomentLater();
    const saved = await h.api('PATCH', route, { ...read, description: 'after', created_at: withOffset(read.created_at as string) });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body).toEqual({ ...read, description: 'after', updated_at: expect.any(String) });
    expect(saved.body.updated_at).not.toBe(read.updated_at);
  });

  it('refuses a read-only field sent back with another value (422 naming it) and changes nothing', async () => {
    const { id, route, read } = await created();
    const changed: [string, unknown][] = [
      ['id', 'ep_someone_else'],
      ['profile', 'tenovos'],
      ['secret_hint', 'whsec_abcd…'],
      ['disabled_reason', 'maintenance'],
      ['created_at', LONG_AGO],
      ['updated_at', LONG_AGO],
    ];
    for (const [field, value] of changed) {
      const refused = await h.api('PATCH', route, { ...read, description: 'after', [field]: value });
      expect([refused.status, refused.body], field).toEqual(readOnlyRefusal('invalid_endpoint', field));
    }
    expect((await h.api('GET', route)).body).toEqual(read);
    // failing_since moves with deliveries, without updated_at: whatever is sent, it is ignored.
    expect((await h.api('PATCH', `/api/v2/endpoints/${id}`, { failing_since: LONG_AGO })).body.failing_since).toBeNull();
  });

  it('refuses a copy read before another change: its updated_at is no longer the endpoint\'s', async () => {
    const { route, read } = await created();
    await aMomentLater();
    expect((await h.api('PATCH', route, { disabled: true })).status).toBe(200);
    const stale = await h.api('PATCH', route, { ...read, description: 'after' });
    expect([stale.status, stale.body.field]).toEqual([422, 'updated_at']);
    expect(stale.body.message).toMatch(/changed after it was read/);
    expect((await h.api('GET', route)).body).toMatchObject({ description: 'before', disabled: true });
  });
});

describe('CMP PATCH /cmp/v3/webhooks/:id', () => {
  it('takes the subscription as GET showed it, one field changed, and refuses another id or time (422 invalid_subscription)', async () => {
    const { id } = (await h.api('POST', '/cmp/v3/webhooks', { callback_url: URL, events: ['asset_added'], secret: 'cmp-secret-0123' })).body;
    const route = `/cmp/v3/webhooks/${id}`;
    const read = (await h.api('GET', route)).body;
    for (const [field, value] of [['id', 'ep_someone_else'], ['created_at', LONG_AGO], ['updated_at', LONG_AGO]]) {
      const refused = await h.api('PATCH', route, { ...read, events: ['asset_removed'], [field]: value });
      expect([refused.status, refused.body], field).toEqual(readOnlyRefusal('invalid_subscription', field));
    }
    await aMomentLater();
    const saved = await h.api('PATCH', route, { ...read, events: ['asset_removed'] });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body).toEqual({ ...read, events: ['asset_removed'], updated_at: expect.any(String) });
  });
});

describe('Tenovos PATCH /webhooks/endpoint/:id', () => {
  it('takes the endpoint as GET showed it, OAuth settings included, one field changed, and refuses what no PATCH sets changed (422 naming it)', async () => {
    const { id } = (await h.api('POST', '/webhooks/endpoint', [{ description: 'Asset events', eventTypes: ['asset.created'], url: URL, rateLimit: 10 }])).body;
    const route = `/webhooks/endpoint/${id}`;
    const oauth = { clientId: 'c', tokenUrl: 'https://a.example/t', clientSecret: 's', extraParams: { audience: 'https://api.example' } };
    expect((await h.api('PUT', `/webhooks/endpoint/oauth/${id}`, oauth)).status).toBe(204);
    const read = (await h.api('GET', route)).body;
    const changed: [string, unknown][] = [
      ['id', 'ep_someone_else'],
      ['disabledReason', 'maintenance'],
      ['oauth', { ...read.oauth, clientId: 'other' }],
      ['oauth', null],
      ['createdAt', LONG_AGO],
      ['updatedAt', LONG_AGO],
    ];
    for (const [field, value] of changed) {
      const refused = await h.api('PATCH', route, { ...read, description: 'Changed events', [field]: value });
      expect([refused.status, refused.body], field).toEqual(readOnlyRefusal('invalid_endpoint', field));
    }
    expect((await h.api('PATCH', route, { ...read, oauth: { ...read.oauth, clientId: 'other' } })).body.message).toContain('PUT /webhooks/endpoint/oauth/');

    await aMomentLater();
    expect((await h.api('PATCH', route, { ...read, description: 'Changed events' })).status).toBe(204);
    expect((await h.api('GET', route)).body).toEqual({ ...read, description: 'Changed events', updatedAt: expect.any(String) });
  });
});

describe('Media Pocket PUT /api/v2/admin/webhooks/:id', () => {
  it('takes the webhook as GET showed it, wrapped as answered, one param changed', async () => {
    const created = await h.api('POST', '/api/v2/admin/webhooks', {
      name: 'Before',
      http_url: URL,
      http_method: 'POST',
      trigger_events: ['ASSET_ADDED'],
      webhook_headers: [{ key: 'X-Token', value: 'tok-0123456789', type: 'hidden' }],
    });
    const route = `/api/v2/admin/webhooks/${created.body.webhook.id}`;
    const read = (await h.api('GET', route)).body;
    const saved = await h.api('PUT', route, { webhook: { ...read.webhook, name: 'After' } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body.webhook).toEqual({ ...read.webhook, name: 'After', updated_at: expect.any(String) });
  });
});
