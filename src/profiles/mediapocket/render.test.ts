import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../types.js';
import { mediaPocketPayload, mediaPocketRenderer, webhookRef } from './render.js';

const webhook = { id: 5, name: 'Sample Webhook' };

describe('Media Pocket payloads', () => {
  it('ASSET_ADDED: Media Pocket event name, the webhook, and the event as published', () => {
    const ev: CanonicalEvent = {
      id: 'msg_01',
      type: 'asset.created',
      timestamp: '2023-11-27T09:42:39.937Z',
      sequence: 1,
      project_id: 'GsrwPNm6nJ7CKRYnQZl6',
      resource: { type: 'asset', id: 'a-1', filename: 'hero.png' },
      actor: { id: 'u-42', first_name: 'Ada' },
      data: { size: 2048 },
    };
    expect(mediaPocketPayload(ev, webhook)).toEqual({
      id: 'msg_01',
      event: 'ASSET_ADDED',
      timestamp: '2023-11-27T09:42:39.937Z',
      sequence: 1,
      webhook: { id: 5, name: 'Sample Webhook' },
      project_id: 'GsrwPNm6nJ7CKRYnQZl6',
      user: { id: 'u-42', first_name: 'Ada' },
      object: { type: 'asset', id: 'a-1', filename: 'hero.png' },
      data: { size: 2048 },
    });
  });

  it('ASSET_EDITED_METADATA with changes; rule-named events use their Media Pocket name', () => {
    const changes = [{ field: 'title', from: 'a', to: 'b' }];
    const edited: CanonicalEvent = { id: 'm2', type: 'asset.metadata.updated', timestamp: 't', resource: { type: 'asset', id: 'a-1' }, changes, data: {} };
    expect(mediaPocketPayload(edited, webhook)).toMatchObject({ event: 'ASSET_EDITED_METADATA', changes, user: null, project_id: null });
    const fav: CanonicalEvent = { id: 'm3', type: 'collection.asset.added', timestamp: 't', data: {} };
    expect(mediaPocketPayload(fav, webhook)).toMatchObject({ event: 'ASSET_ADDED_TO_COLLECTION', object: null, sequence: null });
  });

  it('an event Media Pocket has no name for keeps its canonical name', () => {
    const ev: CanonicalEvent = { id: 'm4', type: 'rm.project.created', timestamp: 't', data: {} };
    expect(mediaPocketPayload(ev, webhook).event).toBe('rm.project.created');
  });

  it('reads the webhook id and name from the endpoint', () => {
    expect(webhookRef({ profileData: { mp_id: 9 }, description: 'Hook' })).toEqual({ id: 9, name: 'Hook' });
    const out = mediaPocketRenderer.render({
      event: () => ({ id: 'm', type: 'user.created', timestamp: 't', data: {} }),
      endpoint: { profileData: { mp_id: 9 }, description: 'Hook' },
    } as never);
    expect(JSON.parse(out.body)).toMatchObject({ event: 'USER_ADDED', webhook: { id: 9, name: 'Hook' } });
  });
});
