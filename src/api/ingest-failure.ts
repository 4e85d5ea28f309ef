// The API's answer when publishing failed, for every route that publishes.
import type { AppContext } from '../app/context.js';
import { IngestOverloadedError, UnknownEventTypeError } from '../ingest/ingestor.js';
import { OutcomeUnknownError } from '../store/unavailable.js';
import { ApiError } from './middleware/errors.js';

/** The 503 answers of a route that publishes, for /openapi.json. */
export const PUBLISH_UNAVAILABLE =
  '`overloaded` (ingest is behind) or `store_unavailable` (the store could not commit): nothing was accepted. `outcome_unknown`: the commit was sent but never confirmed (the store thread stopped, or the connection to PostgreSQL was lost), so the events may have been stored; retrying with the same event ids is safe. See Retry-After';

/** What the API answers when publishing failed: the event's fault (422) or Herald's (503). */
export function ingestFailure(ctx: AppContext, err: unknown, typeField: (index: number) => string): ApiError {
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
    const message = 'the commit was sent but never confirmed: the events may have been stored; retrying with the same event ids is safe (an id already stored publishes nothing new)';
    return new ApiError(503, 'outcome_unknown', message, undefined, { 'retry-after': '5' });
  }
  // The store could not commit (disk full, database down): nothing was accepted, so say so.
  ctx.logger.error({ err }, 'ingest commit failed');
  return new ApiError(503, 'store_unavailable', 'events could not be stored; nothing was accepted, retry shortly', undefined, { 'retry-after': '5' });
}
