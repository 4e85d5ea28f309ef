// The API's answer when publishing failed, for every route that publishes.
import type { AppContext } from '../app/context.js';
import { IngestOverloadedError, UnknownEventTypeError } from '../ingest/ingestor.js';
import { storeErrorLevel } from '../observability/logger.js';
import { OutcomeUnknownError } from '../store/unavailable.js';
import { ApiError } from './middleware/errors.js';

/** The 503 answers of a route that publishes, for /openapi.json; `outcomeUnknown` says what may have happened, and what to do. */
function unavailable(outcomeUnknown: string): string {
  return `\`overloaded\` (ingest is behind) or \`store_unavailable\` (the store could not commit): nothing was accepted. \`outcome_unknown\`: the commit was sent but never confirmed (the store thread stopped, or the connection to PostgreSQL was lost), so ${outcomeUnknown}. See Retry-After`;
}

export const PUBLISH_UNAVAILABLE = unavailable('the events may have been stored; retrying with the same event ids is safe');

/**
 * What a test send whose commit was never confirmed may have done. A test send takes no event id,
 * so sending it again is no safe retry: it would deliver a second test event.
 */
export const TEST_SEND_OUTCOME_UNKNOWN = "the test event may have been stored and delivered; check the endpoint's deliveries before sending another";

export const TEST_SEND_UNAVAILABLE = unavailable(TEST_SEND_OUTCOME_UNKNOWN);

/** What may have happened to a publish whose commit was never confirmed, for a client that gave its events ids. */
const PUBLISH_OUTCOME_UNKNOWN = 'the events may have been stored; retrying with the same event ids is safe (an id already stored publishes nothing new)';

/**
 * What the API answers when publishing failed: the event's fault (422) or Herald's (503).
 * `outcomeUnknown`: what the route's client is told when the commit may have happened.
 */
export function ingestFailure(ctx: AppContext, err: unknown, typeField: (index: number) => string, outcomeUnknown = PUBLISH_OUTCOME_UNKNOWN): ApiError {
  if (err instanceof UnknownEventTypeError) {
    return new ApiError(422, 'unknown_event_type', `${typeField(err.index)}: ${err.message}; see GET /api/v2/event-types`, typeField(err.index));
  }
  if (err instanceof IngestOverloadedError) {
    return new ApiError(503, 'overloaded', 'Herald is behind on ingest; retry shortly', undefined, { 'retry-after': '1' });
  }
  // The commit was sent but never confirmed (the store's thread stopped, the connection to
  // PostgreSQL was lost): it may have happened. Saying that nothing was accepted would have a
  // client without ids publish the events twice.
  if (err instanceof OutcomeUnknownError) {
    ctx.logger.error({ err }, 'ingest commit outcome unknown');
    return new ApiError(503, 'outcome_unknown', `the commit was sent but never confirmed: ${outcomeUnknown}`, undefined, { 'retry-after': '5' });
  }
  // The store could not commit (disk full, database down): nothing was accepted, so say so.
  ctx.logger[storeErrorLevel(err)]({ err }, 'ingest commit failed');
  return new ApiError(503, 'store_unavailable', 'events could not be stored; nothing was accepted, retry shortly', undefined, { 'retry-after': '5' });
}
