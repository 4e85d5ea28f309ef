// Media Pocket payloads. Seed 003 documents the admin API but no payload, so Herald sends the
// canonical event in Media Pocket's naming (its `trigger_events` value, snake_case keys):
//
//   {
//     "id": "msg_…",                      message id (also the webhook-id header)
//     "event": "ASSET_ADDED",             the Media Pocket name (canonical name if it has none)
//     "timestamp": "2024-…Z",             when the event occurred
//     "sequence": 3,                      per-resource sequence; null without a resource
//     "webhook": {"id": 5, "name": "…"},  the subscription that matched
//     "project_id": "…" | null,
//     "user": {"id": "…", …} | null,      the actor as published
//     "object": {"type": "asset", "id": "…", …} | null,   the resource as published
//     "data": {…},                        the event's data as published ({} when none)
//     "changes": […], "links": {…}        only when the event has them
//   }
import type { Endpoint } from '../../domain/types.js';
import type { CanonicalEvent, ProfileRenderer } from '../types.js';
import { eventName, type Json } from '../shared.js';

export interface MediaPocketWebhookRef {
  readonly id: number | null;
  readonly name: string;
}

export function webhookRef(endpoint: Pick<Endpoint, 'profileData' | 'description'>): MediaPocketWebhookRef {
  const id = endpoint.profileData.mp_id;
  return { id: typeof id === 'number' ? id : null, name: endpoint.description };
}

export function mediaPocketPayload(ev: CanonicalEvent, webhook: MediaPocketWebhookRef): Json {
  const out: Json = {
    id: ev.id,
    event: eventName(ev.type, 'mediapocket'),
    timestamp: ev.timestamp,
    sequence: ev.sequence ?? null,
    webhook: { id: webhook.id, name: webhook.name },
    project_id: ev.project_id ?? null,
    user: ev.actor ?? null,
    object: ev.resource ?? null,
    data: ev.data ?? {},
  };
  if (ev.changes !== undefined) out.changes = ev.changes;
  if (ev.links !== undefined) out.links = ev.links;
  return out;
}

export const mediaPocketRenderer: ProfileRenderer = {
  render: ({ event, endpoint }) => ({ body: JSON.stringify(mediaPocketPayload(event(), webhookRef(endpoint))), headers: {} }),
};
