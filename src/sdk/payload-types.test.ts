// The receiver SDK's payload types: generated from the catalog and checked in. They must be up to
// date, and every event rendered by every profile must carry the names and shape they declare.
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { catalog } from '../catalog/index.js';
import { cmpPayload } from '../profiles/cmp/render.js';
import { mediaPocketPayload } from '../profiles/mediapocket/render.js';
import { tenovosPayload } from '../profiles/tenovos/render.js';
import type { CanonicalEvent } from '../profiles/types.js';
import {
  eventTypeNames,
  type CmpPayload,
  type HeraldEventType,
  type MediaPocketPayload,
  type PayloadOf,
  type StandardPayload,
  type SystemEventData,
  type TenovosPayload,
  type TestEventData,
} from '../signing/payload-types.js';
import type { VerifiedWebhook } from '../signing/verify.js';
import { verify } from '../signing/verify.js';
import { renderPayloadTypes } from './gen-payload-types.js';

const names = eventTypeNames as Record<string, { tenovos: string; mediapocket: string; cmp: string; tenovosKey: string }>;

function canonical(type: string, over: Partial<CanonicalEvent> = {}): CanonicalEvent {
  return {
    id: 'msg_1',
    type,
    timestamp: '2024-05-01T10:00:00.000Z',
    sequence: 3,
    resource: { type: type.split('.')[0], id: 'r1', name: 'thing' },
    actor: { id: 'u1', first_name: 'Ada', last_name: 'Lovelace' },
    data: { note: 'x' },
    ...over,
  };
}

describe('generated payload types', () => {
  it('are up to date with the catalog (regenerate: npm run build && node scripts/gen-types.mjs)', () => {
    const file = readFileSync(new URL('../signing/payload-types.ts', import.meta.url), 'utf8');
    expect(file === renderPayloadTypes(), 'src/signing/payload-types.ts is stale: npm run build && node scripts/gen-types.mjs').toBe(true);
  });

  it('name every catalog event, once', () => {
    expect(Object.keys(eventTypeNames).sort()).toEqual(catalog.map((d) => d.name).sort());
  });

  it.each(catalog.map((d) => [d.name]))('%s: each profile renders the declared name and shape', (type) => {
    const n = names[type];
    const ev = canonical(type);

    const tenovos = tenovosPayload(ev);
    expect(tenovos.eventType).toBe(n.tenovos);
    expect(tenovos[n.tenovosKey]).toEqual(expect.any(Object));
    expect(tenovos.event).toMatchObject({ id: 'msg_1', time: ev.timestamp, sequence: 3, user: { id: 'u1', firstName: 'Ada', lastName: 'Lovelace' } });
    if (n.tenovosKey === 'version') expect(tenovos.version).toMatchObject({ latest: expect.any(Boolean) });

    const mp = mediaPocketPayload(ev, { id: 7, name: 'hook' });
    expect(mp).toMatchObject({ id: 'msg_1', event: n.mediapocket, timestamp: ev.timestamp, sequence: 3, webhook: { id: 7, name: 'hook' }, project_id: null, user: ev.actor, object: ev.resource, data: ev.data });

    const cmp = cmpPayload(ev, { account: { id: 'acc_1', linkBaseUrl: 'https://dam.example' } }) as { event_name: string; data: { asset: Record<string, unknown>; attributes_changed?: unknown } };
    expect(cmp.event_name).toBe(n.cmp);
    expect(cmp.data.asset).toMatchObject({ id: 'r1', owner_organization_id: 'acc_1', type: expect.any(String) });
    if (n.cmp === 'asset_removed') expect(Object.keys(cmp.data.asset).sort()).toEqual(['id', 'owner_organization_id', 'type']);
    else expect(cmp.data.asset.links).toMatchObject({ self: expect.any(String) });
    if (n.cmp === 'asset_added' || n.cmp === 'asset_modified') expect(cmp.data.asset.source).toMatchObject({ links: expect.any(Object) });
    if (n.cmp === 'asset_renditions_created') expect(cmp.data.asset.links).toMatchObject({ renditions: expect.any(String) });
    if (n.cmp === 'asset_modified') expect(cmp.data.attributes_changed).toEqual(expect.any(Array));
  });

  it('type payloads by event: names, discriminants and shapes (checked by tsc)', () => {
    expectTypeOf<StandardPayload<'asset.created'>['type']>().toEqualTypeOf<'asset.created'>();
    expectTypeOf<TenovosPayload<'asset.created'>['eventType']>().toEqualTypeOf<'asset.created'>();
    expectTypeOf<TenovosPayload<'metadata.template.updated'>['template']>().toMatchTypeOf<{ readonly id?: string }>();
    expectTypeOf<TenovosPayload<'version.created'>['version']['latest']>().toEqualTypeOf<boolean>();
    expectTypeOf<MediaPocketPayload<'asset.created'>['event']>().toEqualTypeOf<'ASSET_ADDED'>();
    expectTypeOf<CmpPayload<'asset.metadata.updated'>['event_name']>().toEqualTypeOf<'asset_modified'>();
    expectTypeOf<CmpPayload<'asset.metadata.updated'>['data']['attributes_changed']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<CmpPayload<'asset.renditions.created'>['data']['asset']['links']['renditions']>().toEqualTypeOf<string>();
    // Herald's own events carry their data, or the test data when sent from POST /endpoints/:id/test.
    expectTypeOf<StandardPayload<'endpoint.disabled'>['data']>().toEqualTypeOf<SystemEventData['endpoint.disabled'] | TestEventData>();
    expectTypeOf<TestEventData>().toEqualTypeOf<{ readonly test: true }>();
    expectTypeOf<MediaPocketPayload<'message.attempt.exhausted'>['data']>().toEqualTypeOf<SystemEventData['message.attempt.exhausted'] | TestEventData | Record<string, never>>();
    const attempts = (p: StandardPayload<'message.attempt.exhausted'>) => ('test' in p.data ? undefined : p.data.attempts);
    expectTypeOf(attempts).returns.toEqualTypeOf<number | undefined>();
    expectTypeOf<StandardPayload<'asset.created'>['data']>().toEqualTypeOf<unknown>();
    expectTypeOf<PayloadOf<'cmp', 'asset.created'>>().toEqualTypeOf<CmpPayload<'asset.created'>>();
    expectTypeOf<'asset.created'>().toMatchTypeOf<HeraldEventType>();
    expectTypeOf<'no.such.event'>().not.toMatchTypeOf<HeraldEventType>();

    // A union narrows on its discriminant.
    const narrow = (p: StandardPayload) => (p.type === 'message.attempt.exhausted' && !('test' in p.data) ? p.data.delivery_id : undefined);
    expectTypeOf(narrow).returns.toEqualTypeOf<string | undefined>();
    expectTypeOf(verify<StandardPayload<'asset.created'>>).returns.toEqualTypeOf<VerifiedWebhook<StandardPayload<'asset.created'>>>();
  });
});
