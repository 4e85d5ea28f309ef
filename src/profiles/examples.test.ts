import { describe, expect, it } from 'vitest';
import { catalog, findEventType, nameInProfile, subjectOf } from '../catalog/index.js';
import { topicKey } from './tenovos/render.js';
import { examplePayloads, profilesOf } from './examples.js';

describe('example payloads', () => {
  it('render every catalog type for exactly the profiles that carry it', () => {
    for (const def of catalog) {
      const examples = examplePayloads(def);
      expect(Object.keys(examples).sort(), def.name).toEqual([...profilesOf(def)].sort());
      expect(examples.standard, def.name).toMatchObject({ type: def.name });
    }
  });

  it('name the event as each profile does', () => {
    const def = findEventType('asset.created')!;
    const examples = examplePayloads(def) as Record<string, Record<string, unknown>>;
    expect(examples.tenovos.eventType).toBe(nameInProfile(def, 'tenovos'));
    expect(examples.mediapocket.event).toBe(def.names.mediapocket);
    expect(examples.cmp.event_name).toBe(def.names.cmp);
  });

  it('leave out a vendor profile that has no name for the type', () => {
    const withoutVendorNames = catalog.find((d) => d.names.mediapocket === undefined && d.names.cmp === undefined)!;
    expect(Object.keys(examplePayloads(withoutVendorNames)).sort()).toEqual(['standard', 'tenovos']);
  });

  it('are about the object a publisher names for the type, as real deliveries are', () => {
    for (const def of catalog) {
      const examples = examplePayloads(def) as Record<string, Record<string, Record<string, unknown>>>;
      const subject = subjectOf(def.name);
      const id = examples.standard.resource?.id;
      expect(examples.standard.resource?.type, def.name).toBe(subject);
      // Tenovos keys the resource by the topic object, never by a name's middle segment.
      expect(examples.tenovos[topicKey(def.name)]?.id, def.name).toBe(id);
      if (examples.cmp) expect(examples.cmp.data!.asset, def.name).toMatchObject({ id });
    }
    const renditions = examplePayloads(findEventType('asset.renditions.created')!) as Record<string, Record<string, unknown>>;
    expect(renditions.tenovos).not.toHaveProperty('renditions');
    expect(Object.keys(examplePayloads(findEventType('rm.project.created')!).tenovos as object)).toContain('project');
  });

  it("show Herald's own events with what Herald puts in them, and no actor", () => {
    const exhausted = examplePayloads(findEventType('message.attempt.exhausted')!) as Record<string, Record<string, unknown>>;
    expect(exhausted.standard.data).toMatchObject({ message_id: expect.any(String), delivery_id: expect.any(String), endpoint_id: expect.any(String), attempts: 8 });
    expect(exhausted.standard).not.toHaveProperty('actor');
    expect(exhausted.tenovos.message).toMatchObject({ id: 'msg_2a7Hx0failed', deliveryId: 'dlv_2a7Hx0failed', lastStatusCode: 503 });
    const disabled = examplePayloads(findEventType('endpoint.disabled')!) as Record<string, Record<string, unknown>>;
    expect(disabled.standard.data).toMatchObject({ endpoint_id: 'ep_2a7Hx0receiver', reason: expect.any(String) });
  });
});
