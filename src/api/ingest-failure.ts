// The API's answer when publishing failed, for every route that publishes.
import type { AppContext } from '../app/context.js';
import { IngestOverloadedError, UnknownEventTypeError } from '../ingest/ingestor.js';
import { ApiError } from './middleware/errors.js';

/** What the API answers when publishing failed: the event's fault (422) or Herald's (503). */
export function ingestFailure(ctx: AppContext, err: unknown, typeField: (index: number) => string): ApiError {
  if (err instanceof UnknownEventTypeError) {
    return new ApiError(422, 'unknown_event_type', `${typeField(err.index)}: ${err.message}; see GET /api/v2/event-types`, typeField(err.index));
  }
  if (err instanceof IngestOverloadedError) {
    return new ApiError(503, 'overloaded', 'Herald is behind on ingest; retry shortly', undefined, { 'retry-after': '1' });
  }
  // The store could not commit (disk full, database down): nothing was accepted, so say so.
  ctx.logger.error({ err }, 'ingest commit failed');
  return new ApiError(503, 'store_unavailable', 'events could not be stored; nothing was accepted, retry shortly', undefined, { 'retry-after': '5' });
}
