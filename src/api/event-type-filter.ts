// Event type patterns a request filters by (a recover's event_types, the delivery log's
// event_type), read like an endpoint's filter: names in any profile, `topic.*` and `*`.
import { eventTypesSelected, unknownEventTypes } from '../domain/endpoint.js';
import { ApiError } from './middleware/errors.js';

/** The canonical types `patterns` select (null: every type), or a 400 naming `field`. */
export function selectedEventTypes(patterns: readonly string[], field: string): string[] | null {
  const problem = unknownEventTypes(patterns, field);
  if (problem) throw new ApiError(400, 'invalid_request', problem, field);
  return eventTypesSelected(patterns);
}
