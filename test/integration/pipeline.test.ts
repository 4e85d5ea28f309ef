import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

let h: TestHerald;
let receiver: Receiver;

beforeEach(async () => {
  h = await startTestHerald();
  receiver = await startReceiver();
});
afterEach(async () => {
  await h.close();
  await receiver.close();
});

describe('publish → fan-out → signed delivery', () => {
  it('delivers a published event with a Standard Webhooks signature that the standardwebhooks library verifies', async () => {
    const created = await h.api('POST', '/api/v2/endpoints', { url: receiver.url + '/hook', event_types: ['asset.created'] });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);

    const published = await h.api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: 'a1' }, data: { filename: 'x.png' } });
    expect(published.status).toBe(202);
    expect(published.body.deliveries).toBe(1);

    const [req] = await receiver.waitFor(1);
    expect(req.headers['webhook-id']).toBe(published.body.id);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^Herald\//);
    const payload = new Webhook(created.body.secret).verify(req.body, req.headers as Record<string, string>) as Record<string, unknown>;
    expect(payload).toMatchObject({ id: published.body.id, type: 'asset.created', sequence: 1, data: { filename: 'x.png' } });
  });
});
