import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  canonicalNameFromMediaPocket,
  catalog,
  compileFilter,
  eventTypesByTopic,
  filterInProfile,
  findEventType,
  isKnownEventType,
  mediaPocketTriggerEvents,
  nameInProfile,
  topics,
  validateFilterPatterns,
} from './index.js';

// ---------------------------------------------------------------------------------------------
// The seeds are the source of truth: read them at run time rather than trusting a copied list.

function seedsDir(): string {
  const candidates = [
    fileURLToPath(new URL('../../../shared/seeds/', import.meta.url)), // src/catalog -> /work/shared
    path.resolve(process.cwd(), '../shared/seeds'), // run from the repo root
  ];
  const found = candidates.find((dir) => existsSync(dir));
  if (!found) throw new Error(`seeds not found; looked in ${candidates.join(', ')}`);
  return found;
}

/** Seed files are named `NNN_<hash>.txt`; find one by its number. */
function readSeed(number: string): string {
  const dir = seedsDir();
  const file = readdirSync(dir).find((f) => f.startsWith(`${number}_`));
  if (!file) throw new Error(`seed ${number} not found in ${dir}`);
  return readFileSync(path.join(dir, file), 'utf8');
}

/** Tenovos: the `[POST asset.created](...)` link texts. */
function tenovosSeedNames(): string[] {
  return [...readSeed('000').matchAll(/\[POST ([a-z][a-z.]*)\]/g)].map((m) => m[1]);
}

/** Media Pocket: the curly-quoted values of the trigger_events "Must be an array of [...]". */
function mediaPocketSeedNames(): string[] {
  const seed = readSeed('003');
  const list = /Must be an array of \[([^\]]*)\]/.exec(seed);
  if (!list) throw new Error('trigger_events list not found in seed 003');
  return [...list[1].matchAll(/“([A-Z0-9_]+)”/g)].map((m) => m[1]);
}

/** CMP: each event section starts with its name alone on a line (sometimes right after a `}`). */
function cmpSeedNames(): string[] {
  return [...readSeed('004').matchAll(/(?:^|\})([a-z]+(?:_[a-z]+)+)[ \t]*$/gm)].map((m) => m[1]);
}

// ---------------------------------------------------------------------------------------------

describe('catalog covers every seed name', () => {
  it('finds every Tenovos event of seed 000, under its own name as canonical', () => {
    const names = tenovosSeedNames();
    expect(names.length).toBeGreaterThanOrEqual(55);
    for (const name of names) {
      const def = findEventType(name);
      expect(def, name).toBeDefined();
      expect(def?.name).toBe(name);
      expect(def?.names.tenovos).toBe(name);
    }
    const inCatalog = catalog.flatMap((d) => (d.names.tenovos ? [d.names.tenovos] : []));
    expect(new Set(inCatalog)).toEqual(new Set(names));
  });

  // DESIGN.md says "121 enums", but seed 003 lists 123 distinct values: a count that ignores
  // digits misses ASSET_UPDATED_PROXY_MP4 and ASSET_FINISHED_PROXY_MP4. The seed wins.
  it('finds all 123 Media Pocket trigger events of seed 003, in seed order', () => {
    const names = mediaPocketSeedNames();
    expect(names).toHaveLength(123);
    expect(new Set(names).size).toBe(123);
    expect(names).toContain('ASSET_UPDATED_PROXY_MP4');
    for (const name of names) expect(findEventType(name)?.names.mediapocket, name).toBe(name);
    expect(mediaPocketTriggerEvents).toEqual(names);
    expect(catalog.filter((d) => d.names.mediapocket)).toHaveLength(123);
  });

  it('finds the 4 CMP events of seed 004', () => {
    const names = cmpSeedNames();
    expect(names).toEqual(['asset_added', 'asset_removed', 'asset_modified', 'asset_renditions_created']);
    for (const name of names) expect(findEventType(name)?.names.cmp, name).toBe(name);
    expect(catalog.filter((d) => d.names.cmp)).toHaveLength(4);
  });

  it('includes Herald system events', () => {
    for (const name of ['message.attempt.exhausted', 'endpoint.disabled', 'endpoint.enabled']) {
      expect(findEventType(name)?.name).toBe(name);
    }
    expect(findEventType('message.attempt.exhausted')?.topic).toBe('message');
    expect(findEventType('endpoint.disabled')?.topic).toBe('endpoint');
  });
});

describe('catalog invariants', () => {
  it('has unique canonical names', () => {
    const names = catalog.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('maps no name (canonical or profile) to two entries', () => {
    const owner = new Map<string, string>();
    for (const def of catalog) {
      const names = new Set([def.name, ...Object.values(def.names)]);
      for (const name of names) {
        expect(owner.get(name) ?? def.name, `${name} is used by ${owner.get(name)} and ${def.name}`).toBe(def.name);
        owner.set(name, def.name);
      }
    }
  });

  it('gives every entry a declared topic equal to its first name segment', () => {
    const ids = new Set(topics.map((t) => t.id));
    expect(ids.size).toBe(topics.length);
    for (const def of catalog) {
      expect(ids.has(def.topic), `${def.name}: topic ${def.topic}`).toBe(true);
      expect(def.name.split('.')[0]).toBe(def.topic);
    }
  });

  it('uses lower-case dotted canonical names and non-empty descriptions', () => {
    for (const def of catalog) {
      expect(def.name).toMatch(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/);
      expect(def.description.length, def.name).toBeGreaterThan(10);
    }
  });

  it('keeps the cross-profile equivalents', () => {
    const same: [string, string | undefined, string | undefined][] = [
      ['asset.created', 'ASSET_ADDED', 'asset_added'],
      ['asset.deleted', 'ASSET_REMOVED', 'asset_removed'],
      ['asset.metadata.updated', 'ASSET_EDITED_METADATA', 'asset_modified'],
      ['asset.renditions.created', undefined, 'asset_renditions_created'],
      ['asset.downloaded', 'ASSET_DOWNLOADED', undefined],
      ['asset.restored', 'ASSET_RESTORED', undefined],
      ['asset.purged', 'ASSET_PURGED', undefined],
      ['collection.created', 'COLLECTION_CREATED', undefined],
      ['collection.deleted', 'COLLECTION_DELETED', undefined],
      ['user.created', 'USER_ADDED', undefined],
      ['user.updated', 'USER_EDITED', undefined],
    ];
    for (const [canonical, mediapocket, cmp] of same) {
      const def = findEventType(canonical);
      expect(def?.names.mediapocket, canonical).toBe(mediapocket);
      expect(def?.names.cmp, canonical).toBe(cmp);
    }
  });
});

describe('naming rule', () => {
  it.each([
    ['ASSET_ADDED_FAVORITE', 'asset.favorite.added'],
    ['ASSET_ADDED_COMMENT', 'asset.comment.added'],
    ['ASSET_APPROVED', 'asset.approved'],
    ['ASSET_FINISHED_IMAGE_PREVIEW', 'asset.image_preview.finished'],
    ['ASSET_REMOVE_MEDIA_QUEUED', 'asset.remove_media.queued'],
    ['ASSET_ADDED_TO_COLLECTION', 'collection.asset.added'],
    ['ASSET_REMOVED_FROM_COLLECTION', 'collection.asset.removed'],
    ['INCOMING_ASSET_ADDED_TO_DROP_FOLDER', 'drop_folder.incoming_asset.added'],
    ['USER_GROUP_USER_LINKED', 'user_group.user.linked'],
    ['DROP_FOLDER_EDITED_METADATA', 'drop_folder.metadata.edited'],
    ['STARTED_DAG_ACTION_RUN', 'dag_action.run.started'],
    ['PROJECT_PRIVATE', 'project.private'],
    ['LOADER_PING', 'loader.ping'],
  ])('%s -> %s', (mediaPocketName, canonical) => {
    expect(canonicalNameFromMediaPocket(mediaPocketName)).toBe(canonical);
    expect(findEventType(mediaPocketName)?.name).toBe(canonical);
  });

  it('gives every Media Pocket-only event its rule-derived name', () => {
    for (const def of catalog) {
      if (def.names.mediapocket && !def.names.tenovos) {
        expect(def.name).toBe(canonicalNameFromMediaPocket(def.names.mediapocket));
      }
    }
  });

  it('rejects a name without an action word', () => {
    expect(() => canonicalNameFromMediaPocket('ASSET_FROBNICATE')).toThrow(/action word/);
  });
});

describe('look-up and profiles', () => {
  it('is exact and case-sensitive', () => {
    expect(findEventType('Asset.Created')).toBeUndefined();
    expect(findEventType('asset_added ')).toBeUndefined();
    expect(isKnownEventType('ASSET_ADDED')).toBe(true);
    expect(isKnownEventType('asset.added')).toBe(false);
  });

  it('names an entry per profile', () => {
    const created = findEventType('asset.created')!;
    expect(nameInProfile(created, 'standard')).toBe('asset.created');
    expect(nameInProfile(created, 'tenovos')).toBe('asset.created');
    expect(nameInProfile(created, 'mediapocket')).toBe('ASSET_ADDED');
    expect(nameInProfile(created, 'cmp')).toBe('asset_added');

    const favorite = findEventType('ASSET_ADDED_FAVORITE')!;
    expect(nameInProfile(favorite, 'tenovos')).toBe('asset.favorite.added');
    expect(nameInProfile(favorite, 'cmp')).toBeUndefined();
    expect(nameInProfile(findEventType('version.created')!, 'mediapocket')).toBeUndefined();
  });

  it('groups event types by topic for the listing API', () => {
    const groups = eventTypesByTopic();
    expect(groups.map((g) => g.topic.id)).toEqual(topics.map((t) => t.id));
    for (const group of groups) expect(group.event_types.length, group.topic.id).toBeGreaterThan(0);
    expect(groups.reduce((n, g) => n + g.event_types.length, 0)).toBe(catalog.length);
    const asset = groups.find((g) => g.topic.id === 'asset')!;
    expect(asset.event_types[0]).toEqual({
      name: 'asset.created',
      description: 'An asset was created.',
      names: { tenovos: 'asset.created', mediapocket: 'ASSET_ADDED', cmp: 'asset_added' },
    });
  });
});

describe('filters', () => {
  it('matches exact canonical names only', () => {
    const f = compileFilter(['asset.created', 'user.updated']);
    expect(f('asset.created')).toBe(true);
    expect(f('user.updated')).toBe(true);
    expect(f('asset.deleted')).toBe(false);
    expect(f('asset.created.extra')).toBe(false);
  });

  it('matches topic wildcards at any depth, without matching look-alike topics', () => {
    const f = compileFilter(['asset.*']);
    expect(f('asset.created')).toBe(true);
    expect(f('asset.metadata.updated')).toBe(true);
    expect(f('asset.favorite.added')).toBe(true);
    expect(f('collection.created')).toBe(false);
    expect(f('assets.created')).toBe(false);
    expect(f('asset')).toBe(false);

    const deep = compileFilter(['metadata.template.*']);
    expect(deep('metadata.template.updated')).toBe(true);
    expect(deep('metadata.group.updated')).toBe(false);
  });

  it('matches everything with *', () => {
    const f = compileFilter(['user.created', '*']);
    for (const def of catalog) expect(f(def.name)).toBe(true);
    expect(f('custom.thing.happened')).toBe(true);
  });

  it('matches nothing without patterns', () => {
    expect(compileFilter([])('asset.created')).toBe(false);
  });

  it('translates profile names to canonical names', () => {
    const f = compileFilter(['ASSET_ADDED', 'asset_modified', 'ASSET_ADDED_TO_COLLECTION', 'USER_GROUP_ADDED']);
    expect(f('asset.created')).toBe(true);
    expect(f('asset.metadata.updated')).toBe(true);
    expect(f('collection.asset.added')).toBe(true);
    expect(f('security.group.created')).toBe(true);
    expect(f('asset.deleted')).toBe(false);
    expect(f('ASSET_ADDED')).toBe(false); // the predicate takes canonical types only
  });

  it('keeps unknown exact names so custom event types match', () => {
    expect(compileFilter(['acme.widget.built'])('acme.widget.built')).toBe(true);
  });
});

describe('filterInProfile', () => {
  it('names each pattern as the profile does: exact names translated, wildcards expanded, the rest left out', () => {
    expect(filterInProfile(['ASSET_ADDED', 'ASSET_EDITED_METADATA'], 'mediapocket')).toEqual(['ASSET_ADDED', 'ASSET_EDITED_METADATA']);
    expect(filterInProfile(['asset.created', 'asset_removed', 'version.created', 'acme.widget.built'], 'mediapocket')).toEqual(['ASSET_ADDED', 'ASSET_REMOVED']);
    expect(filterInProfile(['asset.metadata.*', 'ASSET_EDITED_METADATA'], 'mediapocket')).toEqual(['ASSET_EDITED_METADATA']);
    expect(filterInProfile(['*'], 'cmp')).toEqual(['asset_added', 'asset_removed', 'asset_renditions_created', 'asset_modified']);
    expect(filterInProfile(['*'], 'mediapocket')).toHaveLength(123);
    expect(filterInProfile(['user.*', 'collection.created'], 'cmp')).toEqual([]);
  });
});

describe('validateFilterPatterns', () => {
  it('accepts *, names of any profile and wildcards over existing prefixes', () => {
    expect(
      validateFilterPatterns([
        '*',
        'asset.created',
        'ASSET_ADDED',
        'asset_renditions_created',
        'asset.*',
        'metadata.template.*',
        'drop_folder.*',
        'message.*',
      ]),
    ).toEqual({ ok: true });
  });

  it('rejects unknown names and wildcards, listing each once', () => {
    expect(
      validateFilterPatterns(['asset.created', 'asset.added', 'nosuch.*', 'asset.created.*', '.*', 'asset.added', 'ASSET_*']),
    ).toEqual({ ok: false, invalid: ['asset.added', 'nosuch.*', 'asset.created.*', '.*', 'ASSET_*'] });
  });

  it('accepts an account\'s custom types and their prefixes', () => {
    expect(validateFilterPatterns(['acme.widget.built', 'acme.*'], ['acme.widget.built'])).toEqual({ ok: true });
    expect(validateFilterPatterns(['acme.*'])).toEqual({ ok: false, invalid: ['acme.*'] });
  });
});
