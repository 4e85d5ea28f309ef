import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../types.js';
import { tenovosPayload, tenovosRenderer, topicKey } from './render.js';

const base = { id: 'msg_01', timestamp: '2024-05-01T10:00:00.000Z' } as const;
const actor = { id: 'u-42', first_name: 'Ada', last_name: 'Lovelace' };

describe('Tenovos payloads: {eventType, event: {id, time, user}, <topic>: {...}}', () => {
  it('asset.created: the asset from the resource and data', () => {
    const ev: CanonicalEvent = {
      ...base,
      type: 'asset.created',
      sequence: 1,
      resource: { type: 'asset', id: 'a-1', filename: 'hero.png' },
      actor,
      data: { file_size: 2048, mime_type: 'image/png' },
    };
    expect(tenovosPayload(ev)).toEqual({
      eventType: 'asset.created',
      event: { id: 'msg_01', time: '2024-05-01T10:00:00.000Z', sequence: 1, user: { id: 'u-42', firstName: 'Ada', lastName: 'Lovelace' } },
      asset: { id: 'a-1', filename: 'hero.png', fileSize: 2048, mimeType: 'image/png' },
    });
  });

  it('version.created: the asset and version {latest, versionNumber}', () => {
    const ev: CanonicalEvent = {
      ...base,
      type: 'version.created',
      sequence: 7,
      resource: { type: 'asset', id: 'a-1', filename: 'hero.png' },
      actor: { id: 'u-42', firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' },
      data: { version_number: 3 },
    };
    expect(tenovosPayload(ev)).toEqual({
      eventType: 'version.created',
      event: { id: 'msg_01', time: '2024-05-01T10:00:00.000Z', sequence: 7, user: { id: 'u-42', firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' } },
      asset: { id: 'a-1', filename: 'hero.png' },
      version: { latest: true, versionNumber: 3 },
    });
  });

  it('version.created keeps latest: false when published', () => {
    const ev: CanonicalEvent = { ...base, type: 'version.created', resource: { type: 'asset', id: 'a-1' }, data: { versionNumber: 2, latest: false } };
    expect(tenovosPayload(ev).version).toEqual({ latest: false, versionNumber: 2 });
  });

  it('metadata.template.updated: keyed by the object (template), with changes', () => {
    const ev: CanonicalEvent = {
      ...base,
      type: 'metadata.template.updated',
      sequence: 2,
      resource: { type: 'template', id: 't-9', name: 'Products' },
      actor: { id: 'u-1', name: 'Grace Brewster Hopper' },
      changes: [{ field: 'name', from: 'Product', to: 'Products' }],
      data: {},
    };
    expect(tenovosPayload(ev)).toEqual({
      eventType: 'metadata.template.updated',
      event: { id: 'msg_01', time: '2024-05-01T10:00:00.000Z', sequence: 2, user: { id: 'u-1', firstName: 'Grace', lastName: 'Brewster Hopper' } },
      template: { id: 't-9', name: 'Products' },
      changes: [{ field: 'name', from: 'Product', to: 'Products' }],
    });
  });

  it('without actor, resource or sequence: user fields and sequence are null, the topic comes from data', () => {
    const ev: CanonicalEvent = { ...base, type: 'user.created', project_id: 'p-1', data: { id: 'u-7', first_name: 'Alan' } };
    expect(tenovosPayload(ev)).toEqual({
      eventType: 'user.created',
      event: { id: 'msg_01', time: '2024-05-01T10:00:00.000Z', sequence: null, user: { id: null, firstName: null, lastName: null }, projectId: 'p-1' },
      user: { id: 'u-7', firstName: 'Alan' },
    });
  });

  it('a Media Pocket-only event keeps its canonical name and a non-object data goes under data', () => {
    const ev: CanonicalEvent = { ...base, type: 'asset.favorite.added', sequence: 4, resource: { type: 'asset', id: 'a-1' }, data: ['x'] };
    expect(tenovosPayload(ev)).toMatchObject({ eventType: 'asset.favorite.added', asset: { id: 'a-1', data: ['x'] } });
  });

  it('names the topic object after the first segment, or the second for metadata, rm and security', () => {
    expect(['asset.metadata.updated', 'collection.assets.updated', 'rm.agreement.created', 'security.role.deleted', 'storyboard.shared', 'drop_folder.incoming_asset.added'].map(topicKey)).toEqual([
      'asset',
      'collection',
      'agreement',
      'role',
      'storyboard',
      'dropFolder',
    ]);
  });

  it('renders the JSON body and no profile headers', () => {
    const ev: CanonicalEvent = { ...base, type: 'asset.deleted', sequence: 3, resource: { type: 'asset', id: 'a-1' }, data: {} };
    const out = tenovosRenderer.render({ event: () => ev } as never);
    expect(out.headers).toEqual({});
    expect(JSON.parse(out.body)).toEqual(tenovosPayload(ev));
  });
});
