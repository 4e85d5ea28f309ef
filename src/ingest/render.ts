import type { CanonicalBody } from '../domain/canonical-body.js';
import type { EventInput } from '../domain/types.js';

/**
 * The canonical (standard profile) body of an event, serialised once at ingest and stored:
 * the dispatcher sends these bytes as they are to every standard endpoint. The per-resource
 * sequence is only known inside the store's transaction, so the body is kept as the two parts
 * either side of it (plain data: it crosses to the store's thread as it is).
 */
export function renderCanonical(messageId: string, type: string, event: EventInput, occurredAt: number): CanonicalBody {
  const head = `{"id":${JSON.stringify(messageId)},"type":${JSON.stringify(type)},"timestamp":"${new Date(occurredAt).toISOString()}"`;
  const rest: Record<string, unknown> = {};
  if (event.projectId !== undefined) rest.project_id = event.projectId;
  if (event.resource !== undefined) rest.resource = event.resource;
  if (event.actor !== undefined) rest.actor = event.actor;
  if (event.changes !== undefined) rest.changes = event.changes;
  if (event.links !== undefined) rest.links = event.links;
  rest.data = event.data ?? {};
  return { head, tail: `,${JSON.stringify(rest).slice(1)}` };
}

