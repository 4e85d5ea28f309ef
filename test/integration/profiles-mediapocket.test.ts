// Media Pocket profile (seed 003): /api/v2/admin/webhooks exactly as the seed's examples, its
// error bodies, live queue figures, run logs, custom headers and user restrictions.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { DEFAULT_ACCOUNT_ID } from '../../src/app/bootstrap.js';
import { mediaPocketEndpointId } from '../../src/profiles/mediapocket/routes.js';
import { expectToggleEvents } from './toggle-events-support.js';

let h: TestHerald;
let ok: Receiver;
let failing: Receiver;
let publisherKey: string;
let viewerKey: string;

beforeAll(async () => {
  // One attempt now, the retry an hour later: retry figures stay put while the test reads them.
  h = await startTestHerald({ HERALD_RETRY_SCHEDULE: '0,3600' });
  ok = await startReceiver();
  failing = await startReceiver((_r, _i, res) => void res.writeHead(500).end('boom'));
  publisherKey = (await h.api('POST', '/api/v2/api-keys', { name: 'pub', role: 'publisher' })).body.key;
  viewerKey = (await h.api('POST', '/api/v2/api-keys', { name: 'view', role: 'viewer' })).body.key;
  expect((await h.api('POST', '/api/v2/projects', { id: 'GsrwPNm6nJ7CKRYnQZl6', name: 'Seed project' })).status).toBe(201);
});
afterAll(async () => {
  await h.close();
  await ok.close();
  await failing.close();
});

/** The response object of seed 003's first example. */
const SEED_WEBHOOK = {
  id: 5,
  name: 'Sample Webhook',
  http_url: 'https://example.website.com',
  http_method: 'POST',
  trigger_events: ['ASSET_ADDED'],
  created_at: '2023-11-27T09:42:39.937Z',
  updated_at: '2023-11-27T09:42:39.937Z',
  disabled: false,
  project_id: 'GsrwPNm6nJ7CKRYnQZl6',
  queue_length: 0,
  retry_queue_length: 0,
  latest_run: null,
  webhook_users: [],
  webhook_headers: [],
};

/** Same keys, same JSON types (null stays null), as the seed's object. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return 'array';
  if (value === null) return null;
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, shapeOf(v)]).sort());
  return typeof value;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('seed 003 examples, replayed', () => {
  it('Successful request (with project_id) → 200 {webhook} of the same shape', async () => {
    const res = await h.api('POST', '/api/v2/admin/webhooks', {
      name: 'Sample Webhook',
      http_url: 'https://example.website.com',
      http_method: 'POST',
      trigger_events: ['ASSET_ADDED'],
      project_id: 'GsrwPNm6nJ7CKRYnQZl6',
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['webhook']);
    expect(shapeOf(res.body.webhook)).toEqual(shapeOf(SEED_WEBHOOK));
    expect(Object.keys(res.body.webhook)).toEqual(Object.keys(SEED_WEBHOOK));
    expect(res.body.webhook).toEqual({ ...SEED_WEBHOOK, id: expect.any(Number), created_at: expect.stringMatching(ISO), updated_at: res.body.webhook.created_at });
  });

  it('Successful request (without project_id) → project_id null, the next numeric id', async () => {
    const first = await h.api('POST', '/api/v2/admin/webhooks', { name: 'Sample Webhook', http_url: 'https://example.website.com', http_method: 'POST', trigger_events: ['ASSET_ADDED'] });
    const res = await h.api('POST', '/api/v2/admin/webhooks', { name: 'Sample Webhook', http_url: 'https://example.website.com', http_method: 'POST', trigger_events: ['ASSET_ADDED'] });
    expect(res.status).toBe(200);
    expect(res.body.webhook).toEqual({ ...SEED_WEBHOOK, project_id: null, id: first.body.webhook.id + 1, created_at: expect.stringMatching(ISO), updated_at: expect.stringMatching(ISO) });
  });

  it('Not admin user → 401', async () => {
    const body = { name: 'Sample Webhook', http_url: 'https://example.website.com', http_method: 'POST', trigger_events: ['ASSET_ADDED'] };
    for (const key of [publisherKey, viewerKey]) {
      const res = await h.api('POST', '/api/v2/admin/webhooks', body, key);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: expect.any(String) });
    }
    // Also without a body at all (the seed shows none), and on the other admin routes.
    expect((await h.api('POST', '/api/v2/admin/webhooks', undefined, viewerKey)).status).toBe(401);
    expect((await h.api('GET', '/api/v2/admin/webhooks', undefined, viewerKey)).status).toBe(401);
    expect((await h.api('GET', '/api/v2/admin/webhooks', undefined, 'no-such-key')).status).toBe(401);
  });

  it('Missing parameters (http_url null) → 422 with the exact error body', async () => {
    const res = await h.api('POST', '/api/v2/admin/webhooks', { name: 'Sample Webhook', http_url: null, http_method: 'POST', trigger_events: ['ASSET_ADDED'] });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ error: "Invalid parameter 'http_url' value nil: Must be a String" });
  });

  it('Project not found → 404 with the exact error body', async () => {
    const res = await h.api('POST', '/api/v2/admin/webhooks', {
      name: 'Sample Webhook',
      http_url: 'https://example.website.com',
      http_method: 'POST',
      trigger_events: ['ASSET_ADDED'],
      project_id: 'test_id',
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'project not found' });
  });
});

describe('more 422s in the same format', () => {
  const base = { name: 'W', http_url: 'https://example.website.com', http_method: 'POST', trigger_events: ['ASSET_ADDED'] };
  it.each([
    [{ ...base, name: undefined }, 'Missing parameter name'],
    [{ ...base, http_method: 'GET' }, `Invalid parameter 'http_method' value "GET": Must be one of: POST, PUT`],
    [{ ...base, http_method: 1 }, `Invalid parameter 'http_method' value 1: Must be a String`],
    [{ ...base, project_id: 7 }, `Invalid parameter 'project_id' value 7: Must be a String`],
    [{ ...base, disabled: 'yes' }, `Invalid parameter 'disabled' value "yes": Must be one of: true, false`],
    [{ ...base, http_url: 'ftp://example.website.com' }, `Invalid parameter 'http_url' value "ftp://example.website.com": must be an http or https URL`],
    [{ ...base, http_url: 'http://169.254.169.254/' }, expect.stringMatching(/^Invalid parameter 'http_url' value "http:\/\/169\.254\.169\.254\/": destination /)],
    [{ ...base, webhook_headers: [{ key: 'Content-Type', value: 'x' }] }, expect.stringMatching(/^Invalid parameter 'webhook_headers' value \[\{"key"=>"Content-Type", "value"=>"\[FILTERED\]"\}\]: /)],
  ])('%j → 422', async (body, error) => {
    const res = await h.api('POST', '/api/v2/admin/webhooks', body);
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ error });
  });

  it('trigger_events outside the seed list', async () => {
    const res = await h.api('POST', '/api/v2/admin/webhooks', { ...base, trigger_events: ['asset.created'] });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatch(/^Invalid parameter 'trigger_events' value \["asset\.created"\]: Must be an array of \["ASSET_REMOVED_FAVORITE", /);
  });
});

describe('list, get, update, delete', () => {
  it('GET list → {"webhooks": [...]} in id order, get one, 404 with the Rails message', async () => {
    const created = await h.api('POST', '/api/v2/admin/webhooks', { name: 'Listed', http_url: 'https://example.website.com/l', http_method: 'PUT', trigger_events: ['USER_ADDED', 'ASSET_REMOVED'] });
    const list = await h.api('GET', '/api/v2/admin/webhooks');
    expect(list.status).toBe(200);
    expect(Object.keys(list.body)).toEqual(['webhooks']);
    const ids = list.body.webhooks.map((w: { id: number }) => w.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => a - b));
    expect(list.body.webhooks).toContainEqual(created.body.webhook);
    const one = await h.api('GET', `/api/v2/admin/webhooks/${created.body.webhook.id}`);
    expect(one).toMatchObject({ status: 200, body: { webhook: created.body.webhook } });
    for (const id of ['999999', 'abc', '0']) {
      const missing = await h.api('GET', `/api/v2/admin/webhooks/${id}`);
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ error: `Couldn't find Webhook with 'id'=${id}` });
    }
    // Refused before any route runs (an id too long, a path that does not decode): still Media Pocket's shape.
    for (const [path, status] of [[`/api/v2/admin/webhooks/${'1'.repeat(201)}`, 414], ['/api/v2/admin/webhooks/%ff', 400], ['/api/v2/admin/webhooks/1/nope', 404]] as const) {
      const refused = await h.api('GET', path);
      expect([refused.status, Object.keys(refused.body)], path).toEqual([status, ['error']]);
    }
  });

  it('PUT and PATCH update only the params sent; 404 and 422 as on create', async () => {
    const { webhook } = (await h.api('POST', '/api/v2/admin/webhooks', { name: 'Before', http_url: 'https://example.website.com/u', http_method: 'POST', trigger_events: ['ASSET_ADDED'] })).body;
    const put = await h.api('PUT', `/api/v2/admin/webhooks/${webhook.id}`, { name: 'After', project_id: 'GsrwPNm6nJ7CKRYnQZl6' });
    expect(put.status).toBe(200);
    expect(put.body.webhook).toMatchObject({ id: webhook.id, name: 'After', http_url: 'https://example.website.com/u', project_id: 'GsrwPNm6nJ7CKRYnQZl6' });
    const patch = await h.api('PATCH', `/api/v2/admin/webhooks/${webhook.id}`, { disabled: true, project_id: null, trigger_events: ['ASSET_ADDED', 'ASSET_DOWNLOADED'] });
    expect(patch.body.webhook).toMatchObject({ name: 'After', disabled: true, project_id: null, trigger_events: ['ASSET_ADDED', 'ASSET_DOWNLOADED'] });
    expect((await h.api('PATCH', `/api/v2/admin/webhooks/${webhook.id}`, { project_id: 'test_id' })).body).toEqual({ error: 'project not found' });
    expect((await h.api('PUT', `/api/v2/admin/webhooks/${webhook.id}`, { http_url: null })).body).toEqual({ error: "Invalid parameter 'http_url' value nil: Must be a String" });
    expect((await h.api('PUT', '/api/v2/admin/webhooks/424242', { name: 'x' })).body).toEqual({ error: "Couldn't find Webhook with 'id'=424242" });
  });

  it('shows a filter set through the native API in Media Pocket names, and keeps it when the webhook is sent back as read', async () => {
    const { webhook } = (await h.api('POST', '/api/v2/admin/webhooks', { name: 'Native filter', http_url: 'https://example.website.com/n', http_method: 'POST', trigger_events: ['ASSET_ADDED'] })).body;
    const id = mediaPocketEndpointId(DEFAULT_ACCOUNT_ID, webhook.id);
    // A canonical name, a wildcard, and an event Media Pocket has no name for.
    const native = ['asset.deleted', 'collection.*', 'version.created'];
    expect((await h.api('PATCH', `/api/v2/endpoints/${id}`, { event_types: native })).status).toBe(200);
    const read = (await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}`)).body.webhook;
    expect(read.trigger_events).toEqual(['ASSET_REMOVED', 'COLLECTION_CREATED', 'COLLECTION_DELETED', 'ASSET_ADDED_TO_COLLECTION', 'ASSET_REMOVED_FROM_COLLECTION', 'COLLECTION_UPDATED_METADATA', 'COLLECTION_ADDED_FAVORITE', 'COLLECTION_REMOVED_FAVORITE', 'COLLECTION_PUBLIC', 'COLLECTION_PRIVATE']);
    // Sent back whole, another param changed: the filter stays as set, not narrowed to these names.
    const put = await h.api('PUT', `/api/v2/admin/webhooks/${webhook.id}`, { ...read, name: 'Renamed' });
    expect(put.body.webhook).toMatchObject({ name: 'Renamed', trigger_events: read.trigger_events });
    expect((await h.api('GET', `/api/v2/endpoints/${id}`)).body.event_types).toEqual(native);
    // Other names replace it.
    await h.api('PATCH', `/api/v2/admin/webhooks/${webhook.id}`, { trigger_events: ['ASSET_REMOVED'] });
    expect((await h.api('GET', `/api/v2/endpoints/${id}`)).body.event_types).toEqual(['ASSET_REMOVED']);
  });

  it('disabled sent with PUT or PATCH raises endpoint.disabled and endpoint.enabled, as the native PATCH does', async () => {
    const { webhook } = (await h.api('POST', '/api/v2/admin/webhooks', { name: 'Toggled', http_url: 'https://example.website.com/t', http_method: 'POST', trigger_events: ['ASSET_ADDED'] })).body;
    const path = `/api/v2/admin/webhooks/${webhook.id}`;
    await expectToggleEvents(h, mediaPocketEndpointId(DEFAULT_ACCOUNT_ID, webhook.id), webhook.http_url, async (disabled) => (await h.api(disabled ? 'PUT' : 'PATCH', path, { disabled })).status, 200);
    expect((await h.api('GET', path)).body.webhook.disabled).toBe(false);
  });

  it('DELETE answers the webhook as it was, then 404; ids are never reused', async () => {
    const { webhook } = (await h.api('POST', '/api/v2/admin/webhooks', { name: 'Doomed', http_url: 'https://example.website.com/d', http_method: 'POST', trigger_events: ['ASSET_ADDED'] })).body;
    const del = await h.api('DELETE', `/api/v2/admin/webhooks/${webhook.id}`);
    expect(del).toMatchObject({ status: 200, body: { webhook: { id: webhook.id, name: 'Doomed' } } });
    expect((await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}`)).status).toBe(404);
    expect((await h.api('DELETE', `/api/v2/admin/webhooks/${webhook.id}`)).status).toBe(404);
    const next = await h.api('POST', '/api/v2/admin/webhooks', { name: 'Next', http_url: 'https://example.website.com/d', http_method: 'POST', trigger_events: ['ASSET_ADDED'] });
    expect(next.body.webhook.id).toBe(webhook.id + 1);
  });

  it('numbers webhooks per account', async () => {
    const other = (await h.api('POST', '/api/v2/accounts', { name: 'Other' })).body;
    // The operator acts on the new account with X-Herald-Account.
    const res = await fetch(`${h.url}/api/v2/admin/webhooks`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY, 'x-herald-account': other.id, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'First', http_url: 'https://example.website.com', http_method: 'POST', trigger_events: ['ASSET_ADDED'] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { webhook: { id: number } }).webhook.id).toBe(1);
  });
});

describe('deliveries to Media Pocket webhooks', () => {
  it('use http_method, send plain/hidden/hmac headers, mask secrets in answers and logs, and log successful runs', async () => {
    const created = await h.api('POST', '/api/v2/admin/webhooks', {
      name: 'Headers',
      http_url: `${ok.url}/mp`,
      http_method: 'PUT',
      trigger_events: ['ASSET_EDITED_METADATA'],
      webhook_headers: [
        { key: 'X-Plain', value: 'visible', type: 'plain' },
        { key: 'X-Hidden', value: 'hidden-value-1234567890', type: 'hidden' },
        { key: 'X-Signature', value: 'hmac-key-abcdefghijklmnop', type: 'hmac' },
        { key: 'X-Default', value: 'plain-by-default' },
      ],
    });
    expect(created.status).toBe(200);
    const { webhook } = created.body;
    expect(webhook.webhook_headers).toEqual([
      { key: 'X-Plain', value: 'visible', type: 'plain' },
      { key: 'X-Hidden', value: expect.not.stringContaining('hidden-value-1234567890'), type: 'hidden' },
      { key: 'X-Signature', value: expect.not.stringContaining('hmac-key-abcdefghijklmnop'), type: 'hmac' },
      { key: 'X-Default', value: 'plain-by-default', type: 'plain' },
    ]);

    const published = await h.api('POST', '/api/v2/events', { type: 'ASSET_EDITED_METADATA', resource: { type: 'asset', id: 'a-9' }, changes: ['title'], data: { title: 'New' } });
    const [req] = await ok.waitFor(1);
    expect(req.method).toBe('PUT');
    expect(req.headers['x-plain']).toBe('visible');
    expect(req.headers['x-hidden']).toBe('hidden-value-1234567890');
    expect(req.headers['x-default']).toBe('plain-by-default');
    expect(req.headers['x-signature']).toBe(createHmac('sha256', 'hmac-key-abcdefghijklmnop').update(req.body).digest('hex'));
    expect(JSON.parse(req.body)).toEqual({
      id: published.body.id,
      event: 'ASSET_EDITED_METADATA',
      timestamp: expect.stringMatching(ISO),
      sequence: 1,
      webhook: { id: webhook.id, name: 'Headers' },
      project_id: null,
      user: null,
      object: { type: 'asset', id: 'a-9' },
      data: { title: 'New' },
      changes: ['title'],
    });

    const log = await eventually(async () => {
      const r = await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}/success`);
      return r.body.success_log.length > 0 ? r.body : undefined;
    });
    expect(Object.keys(log)).toEqual(['success_log', 'next_cursor']);
    expect(log.success_log[0]).toMatchObject({ event: 'ASSET_EDITED_METADATA', event_id: published.body.id, attempt: 1, status_code: 200, error: null });
    expect(JSON.stringify(log)).not.toContain('hidden-value-1234567890');
    expect((await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}/failed`)).body).toEqual({ failed_log: [], next_cursor: null });
    const after = (await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}`)).body.webhook;
    expect(after).toMatchObject({ queue_length: 0, retry_queue_length: 0, latest_run: log.success_log[0].created_at });

    // Sending the headers back as shown keeps the secrets.
    await h.api('PATCH', `/api/v2/admin/webhooks/${webhook.id}`, { webhook_headers: after.webhook_headers });
    await h.api('POST', '/api/v2/events', { type: 'ASSET_EDITED_METADATA', resource: { type: 'asset', id: 'a-9' } });
    const [, second] = await ok.waitFor(2);
    expect(second.headers['x-hidden']).toBe('hidden-value-1234567890');
    expect(second.headers['x-signature']).toBe(createHmac('sha256', 'hmac-key-abcdefghijklmnop').update(second.body).digest('hex'));

    // A hidden header turned plain without its value would show the kept secret: refused.
    const unhidden = await h.api('PATCH', `/api/v2/admin/webhooks/${webhook.id}`, { webhook_headers: [{ key: 'X-Hidden', type: 'plain' }] });
    expect(unhidden.status).toBe(422);
    expect(JSON.stringify(unhidden.body)).not.toContain('hidden-value-1234567890');
    expect(JSON.stringify((await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}`)).body)).not.toContain('hidden-value-1234567890');
    const replaced = await h.api('PATCH', `/api/v2/admin/webhooks/${webhook.id}`, { webhook_headers: [{ key: 'X-Hidden', value: 'now-public', type: 'plain' }] });
    expect(replaced.body.webhook.webhook_headers).toEqual([{ key: 'X-Hidden', value: 'now-public', type: 'plain' }]);
  });

  it('restrict to webhook_users and project_id', async () => {
    const receiver = await startReceiver();
    try {
      const { webhook } = (
        await h.api('POST', '/api/v2/admin/webhooks', {
          name: 'Users',
          http_url: `${receiver.url}/u`,
          http_method: 'POST',
          trigger_events: ['ASSET_DOWNLOADED'],
          project_id: 'GsrwPNm6nJ7CKRYnQZl6',
          webhook_users: ['u-allowed', { user_id: 'u-also' }],
        })
      ).body;
      expect(webhook.webhook_users).toEqual([{ user_id: 'u-allowed' }, { user_id: 'u-also' }]);
      const send = (actor: string, project?: string) =>
        h.api('POST', '/api/v2/events', { type: 'asset.downloaded', actor: { id: actor }, resource: { type: 'asset', id: 'a-1' }, ...(project ? { project_id: project } : {}) });
      expect((await send('u-other', 'GsrwPNm6nJ7CKRYnQZl6')).body.deliveries).toBe(0);
      expect((await send('u-allowed')).body.deliveries).toBe(0);
      expect((await send('u-also', 'GsrwPNm6nJ7CKRYnQZl6')).body.deliveries).toBe(1);
      const [req] = await receiver.waitFor(1);
      expect(JSON.parse(req.body)).toMatchObject({ event: 'ASSET_DOWNLOADED', user: { id: 'u-also' }, project_id: 'GsrwPNm6nJ7CKRYnQZl6' });
    } finally {
      await receiver.close();
    }
  });

  it('report live retry figures, the latest run and failed runs', async () => {
    const { webhook } = (await h.api('POST', '/api/v2/admin/webhooks', { name: 'Failing', http_url: `${failing.url}/f`, http_method: 'POST', trigger_events: ['USER_ADDED'] })).body;
    await h.api('POST', '/api/v2/events', { type: 'USER_ADDED', resource: { type: 'user', id: 'u-5' } });
    const failed = await eventually(async () => {
      const r = await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}/failed`);
      return r.body.failed_log.length > 0 ? r.body.failed_log : undefined;
    });
    expect(failed[0]).toMatchObject({ event: 'USER_ADDED', attempt: 1, status_code: 500, error: 'http_status', response_body: 'boom' });
    const now = (await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}`)).body.webhook;
    expect(now).toMatchObject({ queue_length: 0, retry_queue_length: 1, latest_run: failed[0].created_at });
    expect((await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}/success`)).body.success_log).toEqual([]);
    expect((await h.api('GET', `/api/v2/admin/webhooks/${webhook.id}/failed?limit=abc`)).status).toBe(422);
  });
});

describe('queue_length without a dispatcher', () => {
  it('counts deliveries waiting for their first attempt', async () => {
    const idle = await startTestHerald({}, { worker: false });
    try {
      const { webhook } = (await idle.api('POST', '/api/v2/admin/webhooks', { name: 'Idle', http_url: 'https://example.website.com', http_method: 'POST', trigger_events: ['ASSET_ADDED'] })).body;
      for (let i = 0; i < 3; i++) await idle.api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: `a-${i}` } });
      expect((await idle.api('GET', `/api/v2/admin/webhooks/${webhook.id}`)).body.webhook).toMatchObject({ queue_length: 3, retry_queue_length: 0, latest_run: null });
    } finally {
      await idle.close();
    }
  });
});
