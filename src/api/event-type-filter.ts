// Event type patterns a request filters by (a recover's event_types, the delivery log's
// event_type), read like an endpoint's filter: names in any profile or of the account's custom
// types, `topic.*` and `*`.
import { validateFilterPatterns } from '../catalog/index.js';
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
