// Read it, change it, write it back: an object read from any API's GET, with one field changed and
// sent back whole to its update route, is taken. The fields answers show and no update sets (ids,
// times, state Herald keeps) are ignored when sent back as read, and refused, naming the field in
// the API's own error shape, when sent back with another value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestHerald, type TestHerald } from '../helpers.js';

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

  it('refuses a read-only field sent back with another value (422 naming it; 409 stale_copy for updated_at) and changes nothing', async () => {
    const { id, route, read } = await created();
    const changed: [string, unknown][] = [
      ['id', 'ep_someone_else'],
      ['profile', 'tenovos'],
      ['secret_hint', 'whsec_abcd…'],
      ['disabled_reason', 'maintenance'],
      ['created_at', LONG_AGO],
    ];
    for (const [field, value] of changed) {
      const refused = await h.api('PATCH', route, { ...read, description: 'after', [field]: value });
      expect([refused.status, refused.body], field).toEqual(readOnlyRefusal('invalid_endpoint', field));
    }
    const stale = await h.api('PATCH', route, { ...read, description: 'after', updated_at: LONG_AGO });
    expect([stale.status, stale.body.error, stale.body.field]).toEqual([409, 'stale_copy', 'updated_at']);
    expect((await h.api('GET', route)).body).toEqual(read);
    // failing_since moves with deliveries, without updated_at: any value a copy read earlier could
    // show is ignored; a time before the endpoint was created, or to come, is refused.
    const route2 = `/api/v2/endpoints/${id}`;
    for (const sent of [null, new Date().toISOString(), withOffset(read.created_at as string)]) {
      const taken = await h.api('PATCH', route2, { ...read, description: 'after', failing_since: sent, updated_at: undefined });
      expect([taken.status, taken.body.failing_since], String(sent)).toEqual([200, null]);
    }
    for (const sent of [LONG_AGO, new Date(Date.now() + 3_600_000).toISOString()]) {
      const refused = await h.api('PATCH', route2, { description: 'again', failing_since: sent });
      expect([refused.status, refused.body], sent).toEqual(readOnlyRefusal('invalid_endpoint', 'failing_since'));
    }
    expect((await h.api('GET', route2)).body.description).toBe('after');
  });

  it('refuses, on create, each field Herald sets (422 naming it, as a PATCH refuses one sent changed)', async () => {
    const { read } = await created();
    for (const field of ['id', 'profile', 'secret_hint', 'disabled_reason', 'failing_since', 'created_at', 'updated_at']) {
      const refused = await h.api('POST', '/api/v2/endpoints', { url: URL, event_types: ['asset.*'], [field]: read[field] });
      expect([refused.status, refused.body], field).toEqual(readOnlyRefusal('invalid_endpoint', field));
    }
  });

  it("takes an inbox's relay endpoint as GET showed it with disabled changed, and refuses another field changed (409 naming it)", async () => {
    const inbox = (await h.api('POST', '/api/v2/inboxes', { name: 'relay', forward_url: 'http://127.0.0.1:9/relay' })).body;
    const route = `/api/v2/endpoints/${inbox.forward_endpoint_id}`;
    const read = (await h.api('GET', route)).body;
    await aMomentLater();
    const paused = await h.api('PATCH', route, { ...read, disabled: true });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toEqual({ ...read, disabled: true, disabled_reason: expect.anything(), updated_at: expect.any(String) });
    const changed = await h.api('PATCH', route, { ...paused.body, description: 'mine now' });
    expect([changed.status, changed.body.error, changed.body.field]).toEqual([409, 'managed_by_inbox', 'description']);
    expect((await h.api('GET', route)).body).toEqual(paused.body);
  });

  it('refuses a copy read before another change as a conflict (409 stale_copy naming updated_at): its updated_at is no longer the endpoint\'s', async () => {
    const { route, read } = await created();
    await aMomentLater();
    const changed = await h.api('PATCH', route, { disabled: true });
    expect(changed.status).toBe(200);
    const stale = await h.api('PATCH', route, { ...read, description: 'after' });
    expect([stale.status, stale.body.error, stale.body.field]).toEqual([409, 'stale_copy', 'updated_at']);
    expect(stale.body.message).toBe(`updated_at: the endpoint changed after this copy was read (its updated_at is now ${changed.body.updated_at}); read it again and send your change with that, or leave updated_at out`);
    expect((await h.api('GET', route)).body).toMatchObject({ description: 'before', disabled: true });
  });
});

describe('native endpoint ETag and If-Match', () => {
  async function created(): Promise<{ route: string; etag: string }> {
    const { id } = (await h.api('POST', '/api/v2/endpoints', { url: URL, event_types: ['asset.*'], description: 'before' })).body;
    const route = `/api/v2/endpoints/${id}`;
    const read = await h.api('GET', route);
    return { route, etag: read.headers.get('etag')! };
  }
  const withIfMatch = async (method: string, route: string, ifMatch: string, body?: unknown) => {
    const res = await fetch(h.url + route, {
      method,
      headers: { 'x-api-key': ADMIN_KEY, 'if-match': ifMatch, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, etag: res.headers.get('etag') };
  };

  it('GET and PATCH answer a strong ETag, the same while the endpoint is unchanged, another once it changes', async () => {
    const { route, etag } = await created();
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect((await h.api('GET', route)).headers.get('etag')).toBe(etag);
    const saved = await h.api('PATCH', route, { description: 'after' });
    expect(saved.status).toBe(200);
    const next = saved.headers.get('etag');
    expect(next).not.toBe(etag);
    expect((await h.api('GET', route)).headers.get('etag')).toBe(next);
  });

  it('PATCH with If-Match: made when it names the current ETag (or *, or a list holding it); 412 naming If-Match with the current ETag otherwise, and nothing changed', async () => {
    const { route, etag } = await created();
    const first = await withIfMatch('PATCH', route, etag, { description: 'first' });
    expect([first.status, first.body.description]).toEqual([200, 'first']);
    const stale = await withIfMatch('PATCH', route, etag, { description: 'second' });
    expect([stale.status, stale.body.error, stale.body.field, stale.etag]).toEqual([412, 'precondition_failed', 'If-Match', first.etag]);
    expect(stale.body.message).toMatch(/changed after it was read/);
    // If-Match compares strongly: a weak tag of the same value does not match.
    expect((await withIfMatch('PATCH', route, `W/${first.etag}`, { description: 'weak' })).status).toBe(412);
    expect((await h.api('GET', route)).body.description).toBe('first');
    const listed = await withIfMatch('PATCH', route, `"other", ${first.etag}`, { description: 'listed' });
    expect([listed.status, listed.body.description]).toEqual([200, 'listed']);
    expect((await withIfMatch('PATCH', route, '*', { description: 'any' })).status).toBe(200);
    const malformed = await withIfMatch('PATCH', route, first.etag!.slice(1, -1), { description: 'unquoted' });
    expect([malformed.status, malformed.body.error, malformed.body.field]).toEqual([400, 'invalid_request', 'If-Match']);
  });

  it('DELETE with If-Match: 412 while the endpoint changed after it was read, deleted with the current ETag', async () => {
    const { route, etag } = await created();
    const changed = await h.api('PATCH', route, { description: 'changed meanwhile' });
    const refused = await withIfMatch('DELETE', route, etag);
    expect([refused.status, refused.body.error, refused.body.field]).toEqual([412, 'precondition_failed', 'If-Match']);
    expect((await h.api('GET', route)).status).toBe(200);
    expect((await withIfMatch('DELETE', route, changed.headers.get('etag')!)).status).toBe(204);
    expect((await withIfMatch('DELETE', route, '*')).status).toBe(404);
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
