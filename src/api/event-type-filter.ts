// Event type patterns a request filters by (a recover's event_types, the delivery log's
// event_type), read like an endpoint's filter: names in any profile or of the account's custom
// types, `topic.*` and `*`.
import { hasCustomNameShape } from '../catalog/custom.js';
import { findEventType, validateFilterPatterns } from '../catalog/index.js';
import { eventTypesSelected, unknownEventTypes } from '../domain/endpoint.js';
import type { Store } from '../store/contract.js';
import { ApiError } from './middleware/errors.js';

/**
 * The names of the account's custom event types, when `patterns` need them: read from the store
 * only if some pattern names nothing in the catalog, so a catalog filter costs no query.
 */
export async function customTypesFor(store: Pick<Store, 'listEventTypes'>, accountId: string, patterns: readonly string[] | undefined): Promise<string[]> {
  if (patterns === undefined || validateFilterPatterns(patterns).ok) return [];
  return (await store.listEventTypes(accountId)).map((t) => t.name);
}

/** The type names `patterns` select (null: every type), or a 400 naming `field`. */
export function selectedEventTypes(patterns: readonly string[], field: string, custom: readonly string[] = []): string[] | null {
  const problem = unknownEventTypes(patterns, field, custom);
  if (problem) throw new ApiError(400, 'invalid_request', problem, field);
  return eventTypesSelected(patterns, custom);
}

/**
 * The type names a filter of logged deliveries by `pattern` selects (undefined: every type), or a
 * 400 naming `field`. The log keeps what was delivered under a custom type after the type is
 * deleted, so a name outside the catalog with a custom type's shape selects what was logged under
 * it, a type now or not (nothing, if nothing was): such a name is stored as it is named, so it
 * needs no store read either. Catalog names in any profile and wildcards read as everywhere else.
 */
export async function loggedEventTypes(store: Pick<Store, 'listEventTypes'>, accountId: string, pattern: string, field: string): Promise<string[] | undefined> {
  if (findEventType(pattern) === undefined && hasCustomNameShape(pattern)) return [pattern];
  const patterns = [pattern];
  return selectedEventTypes(patterns, field, await customTypesFor(store, accountId, patterns)) ?? undefined;
}
