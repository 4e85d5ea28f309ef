// Event catalog API: look-up by any profile's name, per-profile naming, grouping for
// GET /api/v2/event-types, and compiled subscription filters. Pure and synchronous; all indexes
// are built once at import.

import { eventTypes, heraldEventNames, mediaPocketTriggerEvents, topics } from './data.js';
import type { EventTypeDef, ProfileNames, TopicDef } from './types.js';

export type { EventTypeDef, ProfileNames, TopicDef } from './types.js';
export { topics, mediaPocketTriggerEvents };
export { canonicalNameFromMediaPocket, subjectOf } from './naming.js';

/** Payload/naming style of an endpoint. `standard` uses canonical names. */
export type Profile = 'standard' | 'tenovos' | 'mediapocket' | 'cmp';

export const profiles: readonly Profile[] = Object.freeze(['standard', 'tenovos', 'mediapocket', 'cmp']);

export const catalog: readonly EventTypeDef[] = eventTypes;

// ---------------------------------------------------------------------------------------------
// Look-up

/** Every name an entry answers to: canonical first, then each profile's name. */
function allNamesOf(def: EventTypeDef): string[] {
  const names = [def.name, def.names.tenovos, def.names.mediapocket, def.names.cmp];
  return names.filter((n): n is string => n !== undefined);
}

/** canonical or profile name -> entry. Throws if one name would point at two entries. */
function indexByAnyName(defs: readonly EventTypeDef[]): ReadonlyMap<string, EventTypeDef> {
  const index = new Map<string, EventTypeDef>();
  for (const def of defs) {
    for (const name of allNamesOf(def)) {
      const existing = index.get(name);
      if (existing && existing !== def) {
        throw new Error(`catalog: "${name}" names both ${existing.name} and ${def.name}`);
      }
      index.set(name, def);
    }
  }
  return index;
}

const byAnyName = indexByAnyName(catalog);

/** The entry for a canonical name or any profile's name (exact, case-sensitive match). */
export function findEventType(name: string): EventTypeDef | undefined {
  return byAnyName.get(name);
}

/** True when `name` is a canonical name or any profile's name of a catalog entry. */
export function isKnownEventType(name: string): boolean {
  return byAnyName.has(name);
}

/** True for the events Herald raises itself (endpoint.disabled, message.attempt.exhausted, …). */
export function isHeraldEvent(name: string): boolean {
  const def = byAnyName.get(name);
  return def !== undefined && heraldEventNames.has(def.name);
}

/**
 * The name under which `def` is delivered to an endpoint of `profile`.
 *
 * - `standard`: the canonical name.
 * - `tenovos`: the Tenovos name, or else the canonical name. Tenovos names are the canonical
 *   names, and canonical names of events Tenovos lacks (`asset.favorite.added`,
 *   `message.attempt.exhausted`) follow the same `topic.action` style, so a Tenovos-profile
 *   endpoint can subscribe to and receive them as they are.
 * - `mediapocket`, `cmp`: that profile's name, or undefined when the profile has no such event;
 *   the caller decides (skip the event, or fall back to the canonical name).
 */
export function nameInProfile(def: EventTypeDef, profile: Profile): string | undefined {
  switch (profile) {
    case 'standard':
      return def.name;
    case 'tenovos':
      return def.names.tenovos ?? def.name;
    case 'mediapocket':
      return def.names.mediapocket;
    case 'cmp':
      return def.names.cmp;
  }
}

/**
 * A filter as the subscription API of a profile that takes only its own names shows it (Media
 * Pocket's `trigger_events`, CMP's `events`): a name in any profile as this profile names it, a
 * wildcard or `*` as this profile's names of the events it selects, in catalog order; an event
 * this profile has no name for is left out (the API could not take it back). Each name once.
 */
export function filterInProfile(patterns: readonly string[], profile: 'mediapocket' | 'cmp'): string[] {
  const out = new Set<string>();
  for (const pattern of patterns) {
    const exact = findEventType(pattern);
    const accepts = exact ? undefined : compileFilter([pattern]);
    for (const def of exact ? [exact] : catalog.filter((d) => accepts!(d.name))) {
      const name = nameInProfile(def, profile);
      if (name !== undefined) out.add(name);
    }
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// Listing

export interface EventTypeSummary {
  readonly name: string;
  readonly description: string;
  readonly names: ProfileNames;
}

export interface TopicGroup {
  readonly topic: TopicDef;
  readonly event_types: readonly EventTypeSummary[];
}

function groupByTopic(): readonly TopicGroup[] {
  return Object.freeze(
    topics.map((topic) =>
      Object.freeze({
        topic,
        event_types: Object.freeze(
          catalog
            .filter((def) => def.topic === topic.id)
            .map(({ name, description, names }) => Object.freeze({ name, description, names })),
        ),
      }),
    ),
  );
}

const grouped = groupByTopic();

/** Topics in display order, each with its event types in catalog order (GET /api/v2/event-types). */
export function eventTypesByTopic(): readonly TopicGroup[] {
  return grouped;
}

// ---------------------------------------------------------------------------------------------
// Filters

export type EventFilter = (canonicalType: string) => boolean;

const MATCH_ALL = '*';

/** `asset.*` -> `asset.`; undefined when the pattern is not a `<prefix>.*` wildcard. */
function wildcardPrefix(pattern: string): string | undefined {
  return pattern.length > 2 && pattern.endsWith('.*') ? pattern.slice(0, -1) : undefined;
}

/**
 * Compiles subscription patterns into a predicate over canonical event types.
 *
 * Patterns: `*` (everything); `<prefix>.*` (every type starting with `<prefix>.`, at any depth);
 * otherwise an exact name, translated to canonical when it is any profile's name. Unknown exact
 * names are kept verbatim so account-registered custom types match; reject typos beforehand
 * with validateFilterPatterns(). No patterns match nothing.
 */
export function compileFilter(patterns: readonly string[]): EventFilter {
  if (patterns.includes(MATCH_ALL)) return () => true;

  const exact = new Set<string>();
  const prefixes = new Set<string>();
  for (const pattern of patterns) {
    const prefix = wildcardPrefix(pattern);
    if (prefix !== undefined) prefixes.add(prefix);
    else exact.add(findEventType(pattern)?.name ?? pattern);
  }

  if (prefixes.size === 0) return (type) => exact.has(type);
  const prefixList = [...prefixes];
  return (type) => exact.has(type) || prefixList.some((p) => type.startsWith(p));
}

/** Every proper dotted prefix of `name`, with its trailing dot: `a.b.c` -> `a.`, `a.b.`. */
function dottedPrefixes(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) out.push(name.slice(0, i + 1));
  return out;
}

const catalogPrefixes: ReadonlySet<string> = new Set(catalog.flatMap((def) => dottedPrefixes(def.name)));

export type FilterValidation = { ok: true } | { ok: false; invalid: string[] };

/**
 * Checks subscription patterns: each must be `*`, a known name in any profile, or `<prefix>.*`
 * where some event name starts with `<prefix>.`. `customTypes` are the account's registered
 * custom event types, accepted like catalog names.
 */
export function validateFilterPatterns(
  patterns: readonly string[],
  customTypes: Iterable<string> = [],
): FilterValidation {
  const custom = new Set(customTypes);
  const customPrefixes = new Set([...custom].flatMap(dottedPrefixes));

  const isValid = (pattern: string): boolean => {
    if (pattern === MATCH_ALL) return true;
    const prefix = wildcardPrefix(pattern);
    if (prefix !== undefined) return catalogPrefixes.has(prefix) || customPrefixes.has(prefix);
    return isKnownEventType(pattern) || custom.has(pattern);
  };

  const invalid = [...new Set(patterns.filter((p) => !isValid(p)))];
  return invalid.length === 0 ? { ok: true } : { ok: false, invalid };
}
