import { describe, expect, it } from 'vitest';
import { catalog, findEventType, nameInProfile } from '../catalog/index.js';
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
});
