// Optimizely CMP profile (seed 004): subscriptions, the Callback-Secret header, thin payloads
// with links from the account's base URL, and "200 or 202 is success".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_ID } from '../../src/app/bootstrap.js';
import { eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { expectToggleEvents } from './toggle-events-support.js';

let h: TestHerald;

beforeAll(async () => {
  h = await startTestHerald({ HERALD_RETRY_SCHEDULE: '0,3600' });
  expect((await h.api('PATCH', `/api/v2/accounts/${DEFAULT_ACCOUNT_ID}`, { link_base_url: 'https://api.cmp.optimizely.com/' })).status).toBe(200);
});
afterAll(() => h.close());

describe('CMP subscriptions: /cmp/v3/webhooks', () => {
  it('registers a callback URL, events and a secret that is never shown again', async () => {
    const res = await h.api('POST', '/cmp/v3/webhooks', { callback_url: 'https://example.website.com/cb', events: ['asset_added', 'asset_modified'], secret: 'abcdefghijklmnopqrstuvwxyz012345' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^ep_/),
      callback_url: 'https://example.website.com/cb',
      events: ['asset_added', 'asset_modified'],
      secret: expect.not.stringContaining('abcdefghijklmnopqrstuvwxyz012345'),
      disabled: false,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const native = await h.api('GET', `/api/v2/endpoints/${res.body.id}`);
    expect(native.body).toMatchObject({ profile: 'cmp', headers: [{ name: 'Callback-Secret', type: 'hidden' }] });
    expect(JSON.stringify(native.body)).not.toContain('abcdefghijklmnopqrstuvwxyz012345');

    expect((await h.api('GET', `/cmp/v3/webhooks/${res.body.id}`)).body).toEqual(res.body);
    const list = await h.api('GET', '/cmp/v3/webhooks');
    expect(list.body.data.map((w: { id: string }) => w.id)).toContain(res.body.id);
  });

  it('validates: secret ≤ 32 characters, known CMP events, an http(s) URL that is not private', async () => {
    const ok = { callback_url: 'https://example.website.com/cb', events: ['asset_added'] };
    expect((await h.api('POST', '/cmp/v3/webhooks', { ...ok, secret: 'x'.repeat(33) })).body).toMatchObject({ error: 'invalid_request', field: 'secret' });
    expect((await h.api('POST', '/cmp/v3/webhooks', { ...ok, events: ['asset.created'] })).status).toBe(400);
    expect((await h.api('POST', '/cmp/v3/webhooks', { ...ok, events: [] })).status).toBe(400);
    expect((await h.api('POST', '/cmp/v3/webhooks', { ...ok, callback_url: 'mailto:x@y.z' })).body).toMatchObject({ error: 'invalid_subscription', field: 'callback_url' });
    expect((await h.api('POST', '/cmp/v3/webhooks', { ...ok, callback_url: 'http://192.168.1.1/' })).body).toMatchObject({ error: 'ssrf_blocked', field: 'callback_url' });
  });

  it('updates (a null secret removes it) and deletes; other ids are 404', async () => {
    const { id } = (await h.api('POST', '/cmp/v3/webhooks', { callback_url: 'https://example.website.com/cb', events: ['asset_added'], secret: 's1' })).body;
    const patched = await h.api('PATCH', `/cmp/v3/webhooks/${id}`, { events: ['asset_removed'], secret: null });
    expect(patched.body).toMatchObject({ events: ['asset_removed'], secret: null });
    expect((await h.api('DELETE', `/cmp/v3/webhooks/${id}`)).status).toBe(204);
    expect((await h.api('GET', `/cmp/v3/webhooks/${id}`)).status).toBe(404);
    const native = await h.api('POST', '/api/v2/endpoints', { url: 'https://example.website.com/n', event_types: ['asset.created'] });
    expect((await h.api('GET', `/cmp/v3/webhooks/${native.body.id}`)).status).toBe(404);
    expect((await h.api('DELETE', `/cmp/v3/webhooks/${native.body.id}`)).status).toBe(404);
  });
  it('shows a filter set through the native API in CMP names, and keeps it when the subscription is sent back as read', async () => {
    const { id } = (await h.api('POST', '/cmp/v3/webhooks', { callback_url: 'https://example.website.com/cb', events: ['asset_added'] })).body;
    // A Media Pocket name, a wildcard, and events CMP has no name for.
    const native = ['ASSET_REMOVED', 'asset.*', 'user.created'];
    expect((await h.api('PATCH', `/api/v2/endpoints/${id}`, { event_types: native })).status).toBe(200);
    const read = (await h.api('GET', `/cmp/v3/webhooks/${id}`)).body;
    expect(read.events).toEqual(['asset_removed', 'asset_added', 'asset_renditions_created', 'asset_modified']);
    const patched = await h.api('PATCH', `/cmp/v3/webhooks/${id}`, { ...read, disabled: true });
    expect(patched.body).toMatchObject({ disabled: true, events: read.events });
    expect((await h.api('GET', `/api/v2/endpoints/${id}`)).body.event_types).toEqual(native);
    await h.api('PATCH', `/cmp/v3/webhooks/${id}`, { events: ['asset_added'] });
    expect((await h.api('GET', `/api/v2/endpoints/${id}`)).body.event_types).toEqual(['asset_added']);
  });

  it('PATCH disabled raises endpoint.disabled and endpoint.enabled, as the native PATCH does', async () => {
    const { id, callback_url } = (await h.api('POST', '/cmp/v3/webhooks', { callback_url: 'https://example.website.com/cb', events: ['asset_added'] })).body;
    await expectToggleEvents(h, id, callback_url, async (disabled) => (await h.api('PATCH', `/cmp/v3/webhooks/${id}`, { disabled })).status, 200);
    expect((await h.api('GET', `/cmp/v3/webhooks/${id}`)).body.disabled).toBe(false);
  });
});

describe('CMP deliveries', () => {
  let receiver: Receiver;
  let status = 202;
  beforeAll(async () => {
    receiver = await startReceiver((_r, _i, res) => void res.writeHead(status).end());
  });
  afterAll(() => receiver.close());

  it('carry the thin payload with account links and the Callback-Secret header; 202 is success', async () => {
    const { id } = (await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${receiver.url}/cmp`, events: ['asset_renditions_created'], secret: 'my-callback-secret' })).body;
    await h.api('POST', '/api/v2/events', {
      type: 'asset_renditions_created',
      resource: { type: 'asset', id: '019a86405de737b4ec3e616a4aeff951', asset_type: 'image', owner_organization_id: '5108c3a9becac35915111191' },
    });
    const [req] = await receiver.waitFor(1);
    expect(req.method).toBe('POST');
    expect(req.headers['callback-secret']).toBe('my-callback-secret');
    expect(JSON.parse(req.body)).toEqual({
      event_name: 'asset_renditions_created',
      data: {
        asset: {
          id: '019a86405de737b4ec3e616a4aeff951',
          owner_organization_id: '5108c3a9becac35915111191',
          type: 'image',
          links: {
            self: 'https://api.cmp.optimizely.com/v3/images/019a86405de737b4ec3e616a4aeff951',
            renditions: 'https://api.cmp.optimizely.com/v3/assets/019a86405de737b4ec3e616a4aeff951/renditions',
          },
        },
      },
    });
    const delivery = await eventually(async () => {
      const d = (await h.api('GET', `/api/v2/endpoints/${id}/deliveries`)).body.data[0];
      return d?.status === 'succeeded' ? d : undefined;
    });
    expect(delivery.attempt_log[0].request_headers['callback-secret']).not.toContain('my-callback-secret');
  });

  it('treat 201 (or any status but 200 and 202) as a failure', async () => {
    status = 201;
    const { id } = (await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${receiver.url}/cmp201`, events: ['asset_removed'] })).body;
    await h.api('POST', '/api/v2/events', { type: 'asset.deleted', resource: { type: 'asset', id: 'gone-1', asset_type: 'video' } });
    const delivery = await eventually(async () => {
      const d = (await h.api('GET', `/api/v2/endpoints/${id}/deliveries`)).body.data[0];
      return d?.attempts === 1 ? d : undefined;
    });
    expect(delivery).toMatchObject({ status: 'pending', last_status_code: 201 });
    const req = receiver.received.find((r) => r.url === '/cmp201')!;
    expect(req.headers['callback-secret']).toBeUndefined();
    expect(JSON.parse(req.body)).toEqual({ event_name: 'asset_removed', data: { asset: { id: 'gone-1', owner_organization_id: DEFAULT_ACCOUNT_ID, type: 'video' } } });
  });
});

describe('CMP secret sent back as read', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver((_r, _i, res) => void res.writeHead(200).end());
  });
  afterAll(() => receiver.close());

  it('keeps the stored secret when the subscription is sent back with the secret as answers show it (abcd…), and refuses another masked value in CMP\'s format', async () => {
    const secret = 'round-trip-secret-0001';
    const created = await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${receiver.url}/cmp-round-trip`, events: ['asset_added'], secret });
    expect(created.status).toBe(201);
    const { id } = created.body;
    const read = (await h.api('GET', `/cmp/v3/webhooks/${id}`)).body;
    expect(read.secret).toBe('roun…');

    // GET, change the events, send the editable fields back as read.
    const { callback_url, secret: shown, disabled } = read;
    const saved = await h.api('PATCH', `/cmp/v3/webhooks/${id}`, { callback_url, events: ['asset_added', 'asset_removed'], secret: shown, disabled });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body).toMatchObject({ events: ['asset_added', 'asset_removed'], secret: 'roun…' });

    for (const other of ['abcd…', 'round…', '****']) {
      const refused = await h.api('PATCH', `/cmp/v3/webhooks/${id}`, { secret: other });
      expect(refused.status, other).toBe(422);
      expect(refused.body, other).toEqual({ error: 'invalid_subscription', message: expect.stringMatching(/^secret is a masked value/), field: 'secret' });
    }
    const onCreate = await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${receiver.url}/cmp-masked`, events: ['asset_added'], secret: 'roun…' });
    expect(onCreate.body).toMatchObject({ error: 'invalid_subscription', field: 'secret' });
    expect(onCreate.status).toBe(422);

    // Deliveries still carry the secret stored at first.
    expect((await h.api('POST', '/api/v2/events', { type: 'asset_removed', resource: { type: 'asset', id: 'round-trip-1', asset_type: 'image' } })).status).toBe(202);
    const req = await eventually(async () => receiver.received.find((r) => r.url === '/cmp-round-trip'));
    expect(req.headers['callback-secret']).toBe(secret);
  });
});

describe('CMP secret with the mask character inside', () => {
  it('is a 422 naming secret, as the native API refuses such a header value, on create and on update', async () => {
    const body = { callback_url: 'https://example.website.com/cb', events: ['asset_added'] };
    const { id } = (await h.api('POST', '/cmp/v3/webhooks', { ...body, secret: 'round-trip-secret-0002' })).body;
    const refusal = { error: 'invalid_subscription', message: expect.stringMatching(/^secret has a character a header cannot carry .*"…"/), field: 'secret' };
    // A mask with something typed after it, and a … pasted into a secret.
    for (const secret of ['roun…x', 'ab…cd', '…abcd']) {
      const created = await h.api('POST', '/cmp/v3/webhooks', { ...body, secret });
      expect([created.status, created.body], secret).toEqual([422, refusal]);
      const patched = await h.api('PATCH', `/cmp/v3/webhooks/${id}`, { secret });
      expect([patched.status, patched.body], secret).toEqual([422, refusal]);
    }
    expect((await h.api('GET', `/cmp/v3/webhooks/${id}`)).body.secret).toBe('roun…');
  });
});

describe('CMP payload fields, delivered', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver((_r, _i, res) => void res.writeHead(200).end());
  });
  afterAll(() => receiver.close());

  async function deliveredTo(path: string, events: string[], event: Record<string, unknown>): Promise<{ event_name: string; data: Record<string, unknown> }> {
    expect((await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${receiver.url}${path}`, events })).status).toBe(201);
    expect((await h.api('POST', '/api/v2/events', event)).status).toBe(202);
    const req = await eventually(async () => receiver.received.find((r) => r.url === path));
    return JSON.parse(req.body);
  }

  it('asset.type is one of the five CMP types: a publisher type CMP lacks gives way to the filename, and the link follows', async () => {
    const body = await deliveredTo('/cmp-type', ['asset_added'], {
      type: 'asset.created',
      resource: { type: 'asset', id: 'doc-1', asset_type: 'document' },
      data: { filename: 'logo.PNG' },
    });
    expect(body.data.asset).toMatchObject({ id: 'doc-1', type: 'image', links: { self: 'https://api.cmp.optimizely.com/v3/images/doc-1' } });
  });

  it('asset_modified without changes: attributes_changed names the fields the metadata update set', async () => {
    const body = await deliveredTo('/cmp-attrs', ['asset_modified'], {
      type: 'asset.metadata.updated',
      resource: { type: 'asset', id: 'img-7', asset_type: 'image' },
      data: { title: 'Spring hero', alt_text: 'A meadow', filename: 'hero.png' },
    });
    expect(body).toMatchObject({ event_name: 'asset_modified', data: { asset: { id: 'img-7', type: 'image' }, attributes_changed: ['title', 'alt_text'] } });
  });

  it('owner_organization_id is the one the event carries (here in data), else the account id', async () => {
    const body = await deliveredTo('/cmp-owner', ['asset_removed'], {
      type: 'asset.deleted',
      resource: { type: 'asset', id: 'art-3', asset_type: 'article' },
      data: { owner_organization_id: '5108c3a9becac35915111191' },
    });
    expect(body).toEqual({ event_name: 'asset_removed', data: { asset: { id: 'art-3', owner_organization_id: '5108c3a9becac35915111191', type: 'article' } } });
  });
});
