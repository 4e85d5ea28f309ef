// One event, every shape: a single published event reaches endpoints of all four profiles, each
// in its own payload shape and with its own headers, all signed with Standard Webhooks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_ACCOUNT_ID } from '../../src/app/bootstrap.js';
import { startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

let h: TestHerald;
let receiver: Receiver;

beforeAll(async () => {
  h = await startTestHerald();
  receiver = await startReceiver();
  await h.api('PATCH', `/api/v2/accounts/${DEFAULT_ACCOUNT_ID}`, { link_base_url: 'https://dam.example.com' });
});
afterAll(async () => {
  await h.close();
  await receiver.close();
});

describe('one event, every shape', () => {
  it('fans one asset.created out to standard, tenovos, mediapocket and cmp endpoints, each in its own shape', async () => {
    const standard = await h.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/standard`, event_types: ['asset.*'] });
    const tenovos = await h.api('POST', '/webhooks/endpoint', [{ description: 'Tenovos receiver', eventTypes: ['asset.created'], url: `${receiver.url}/tenovos` }]);
    const mediapocket = await h.api('POST', '/api/v2/admin/webhooks', {
      name: 'MP receiver',
      http_url: `${receiver.url}/mediapocket`,
      http_method: 'POST',
      trigger_events: ['ASSET_ADDED'],
      webhook_headers: [{ key: 'X-MP-Token', value: 'mp-token-value-123456', type: 'hidden' }],
    });
    const cmp = await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${receiver.url}/cmp`, events: ['asset_added'], secret: 'cmp-secret' });
    expect([standard.status, tenovos.status, mediapocket.status, cmp.status]).toEqual([201, 200, 200, 201]);

    const secrets: Record<string, string> = {
      '/standard': standard.body.secret,
      '/tenovos': (await h.api('GET', `/webhooks/endpoint/${tenovos.body.id}/secret`)).body.key,
      // Media Pocket and CMP have no secret of their own to show: the native API's rotation hands one out.
      '/mediapocket': (await h.api('POST', `/api/v2/endpoints/ep_mp_${DEFAULT_ACCOUNT_ID}_${mediapocket.body.webhook.id}/secret/rotate`)).body.secret,
      '/cmp': (await h.api('POST', `/api/v2/endpoints/${cmp.body.id}/secret/rotate`)).body.secret,
    };
    for (const secret of Object.values(secrets)) expect(secret).toMatch(/^whsec_/);

    const published = await h.api('POST', '/api/v2/events', {
      type: 'asset.created',
      occurred_at: '2024-05-01T10:00:00.000Z',
      resource: { type: 'asset', id: 'a-1', filename: 'hero.png', asset_type: 'image', owner_organization_id: 'org-1' },
      actor: { id: 'u-1', first_name: 'Ada', last_name: 'Lovelace' },
      data: { size: 2048 },
    });
    expect(published.status).toBe(202);
    expect(published.body.deliveries).toBe(4);
    const msgId = published.body.id as string;

    const got = Object.fromEntries((await receiver.waitFor(4)).map((r) => [r.url, r]));
    expect(Object.keys(got).sort()).toEqual(['/cmp', '/mediapocket', '/standard', '/tenovos']);
    for (const [path, r] of Object.entries(got)) {
      expect(r.headers['webhook-id']).toBe(msgId);
      expect(r.headers['content-type']).toBe('application/json');
      // Every profile is signed (Standard Webhooks), whatever its payload shape.
      expect(new Webhook(secrets[path]).verify(r.body, r.headers as Record<string, string>)).toEqual(JSON.parse(r.body));
    }

    // standard: the canonical body, verified with the endpoint's secret
    expect(new Webhook(secrets['/standard']).verify(got['/standard'].body, got['/standard'].headers as Record<string, string>)).toEqual({
      id: msgId,
      type: 'asset.created',
      timestamp: '2024-05-01T10:00:00.000Z',
      sequence: 1,
      resource: { type: 'asset', id: 'a-1', filename: 'hero.png', asset_type: 'image', owner_organization_id: 'org-1' },
      actor: { id: 'u-1', first_name: 'Ada', last_name: 'Lovelace' },
      data: { size: 2048 },
    });

    // tenovos: {eventType, event, asset}, verified with its own secret
    expect(new Webhook(secrets['/tenovos']).verify(got['/tenovos'].body, got['/tenovos'].headers as Record<string, string>)).toEqual({
      eventType: 'asset.created',
      event: { id: msgId, time: '2024-05-01T10:00:00.000Z', sequence: 1, user: { id: 'u-1', firstName: 'Ada', lastName: 'Lovelace' } },
      asset: { id: 'a-1', filename: 'hero.png', assetType: 'image', ownerOrganizationId: 'org-1', size: 2048 },
    });

    // mediapocket: ASSET_ADDED with the webhook's numeric id and its custom header
    expect(got['/mediapocket'].headers['x-mp-token']).toBe('mp-token-value-123456');
    expect(JSON.parse(got['/mediapocket'].body)).toEqual({
      id: msgId,
      event: 'ASSET_ADDED',
      timestamp: '2024-05-01T10:00:00.000Z',
      sequence: 1,
      webhook: { id: mediapocket.body.webhook.id, name: 'MP receiver' },
      project_id: null,
      user: { id: 'u-1', first_name: 'Ada', last_name: 'Lovelace' },
      object: { type: 'asset', id: 'a-1', filename: 'hero.png', asset_type: 'image', owner_organization_id: 'org-1' },
      data: { size: 2048 },
    });

    // cmp: thin asset_added with links from the account's base URL and the Callback-Secret header
    expect(got['/cmp'].headers['callback-secret']).toBe('cmp-secret');
    expect(JSON.parse(got['/cmp'].body)).toEqual({
      event_name: 'asset_added',
      data: {
        asset: {
          id: 'a-1',
          owner_organization_id: 'org-1',
          type: 'image',
          source: { id: null, type: null, links: { self: null } },
          links: { self: 'https://dam.example.com/v3/images/a-1' },
        },
      },
    });

    // Profile headers stay with their profile.
    for (const path of ['/standard', '/tenovos', '/mediapocket']) expect(got[path].headers['callback-secret']).toBeUndefined();
    for (const path of ['/standard', '/tenovos', '/cmp']) expect(got[path].headers['x-mp-token']).toBeUndefined();
  });
});
