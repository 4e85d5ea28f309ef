import type { EventInput } from '../domain/types.js';

/**
 * The canonical (standard profile) body of an event, serialised once at ingest and stored:
 * the dispatcher sends these bytes as they are to every standard endpoint.
 */
export function renderCanonical(messageId: string, type: string, event: EventInput, occurredAt: number, sequence: number | null): string {
  const body: Record<string, unknown> = {
    id: messageId,
    type,
    timestamp: new Date(occurredAt).toISOString(),
  };
  if (sequence !== null) body.sequence = sequence;
  if (event.projectId !== undefined) body.project_id = event.projectId;
  if (event.resource !== undefined) body.resource = event.resource;
  if (event.actor !== undefined) body.actor = event.actor;
  if (event.changes !== undefined) body.changes = event.changes;
  if (event.links !== undefined) body.links = event.links;
  body.data = event.data ?? {};
  return JSON.stringify(body);
}
