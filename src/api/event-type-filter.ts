// Event type patterns a request gives: an endpoint's filter (names in any profile or of the
// account's custom types, `topic.*` and `*`), and those that select stored deliveries (a
// recover's event_types, the delivery log's event_type), which find types deleted since too.
import { couldBeCustomName, couldBeginCustomName } from '../catalog/custom.js';
import { findEventType, validateFilterPatterns } from '../catalog/index.js';
import type { ListedEventType, Store } from '../store/contract.js';
import { ApiError } from './middleware/errors.js';

/**
 * The names of the account's custom event types, when `patterns` need them: read from the store
 * only if some pattern names nothing in the catalog, so a catalog filter costs no query.
 */
export async function customTypesFor(store: Pick<Store, 'listEventTypePage'>, accountId: string, patterns: readonly string[] | undefined): Promise<string[]> {
  if (patterns === undefined || validateFilterPatterns(patterns).ok) return [];
  return (await customTypesNamed(store, accountId)).map((t) => t.name);
}

/** Every custom type of the account by name, without the schemas (up to 64 KiB each) nothing here needs. */
export async function customTypesNamed(store: Pick<Store, 'listEventTypePage'>, accountId: string): Promise<ListedEventType[]> {
  const types: ListedEventType[] = [];
  let cursor: string | undefined;
  // An account has at most 1,000; two creates at once may each pass that check.
  do {
    const page = await store.listEventTypePage(accountId, { cursor, limit: 1_000, schemas: false });
    types.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return types;
}

/**
 * What one pattern selects among stored deliveries: a name in any profile as its canonical name;
 * a name a custom type may have as it is (a type now, deleted, or never one); a `topic.*`
 * wildcard over the catalog's names or over such a name's first words as it is, every type
 * stored under the prefix. Undefined when it could select nothing: no event type could be named
 * so (`message.foo`: Herald's topics hold the catalog's names only).
 */
function storedPattern(pattern: string): string | undefined {
  const def = findEventType(pattern);
  if (def) return def.name;
  if (couldBeCustomName(pattern)) return pattern;
  if (!pattern.endsWith('.*')) return undefined;
  return validateFilterPatterns([pattern]).ok || couldBeginCustomName(pattern.slice(0, -2)) ? pattern : undefined;
}

/**
 * The event types a filter of stored deliveries by `patterns` selects (the delivery log's
 * event_type, a recover's event_types), as the store reads them: canonical names and `prefix.*`
 * wildcards; null for `*`, every type. Deliveries stay after their custom type is deleted, so
 * names and wildcards select what was stored under them, registered or not: no store read. A
 * pattern no type could have is a 400 naming `field`.
 */
export function storedEventTypes(patterns: readonly string[], field: string): string[] | null {
  if (patterns.includes('*')) return null;
  const stored = patterns.map(storedPattern);
  const invalid = patterns.filter((_, i) => stored[i] === undefined);
  if (invalid.length > 0) {
    const names = [...new Set(invalid)].map((p) => JSON.stringify(p)).join(', ');
    throw new ApiError(400, 'invalid_request', `${field} has unknown event types: ${names}`, field);
  }
  return [...new Set(stored as string[])];
}
