// Tenovos payloads (seeds 000, 001): `{eventType, event: {id, time, user}, <topic>: {...}}`.
//
// Mapping from the canonical event (src/ingest/render.ts):
//   eventType        the Tenovos name (= the canonical name; Herald-only events keep theirs)
//   event.id         the message id (also the `webhook-id` header)
//   event.time       the canonical `timestamp` (when the event occurred), ISO 8601
//   event.sequence   the per-resource sequence, null when the event names no resource; always present
//   event.user       from `actor`: {id, firstName, lastName} (first_name/firstName, last_name/lastName,
//                    or `name` split at its first space; `email` added when the actor has one);
//                    all null when the event has no actor
//   event.projectId  the project id, only when the event has one
//   <topic>          the object the event is about, keyed by the topic (topicKey below): the
//                    resource's summary fields and the event's `data` (an object; other values go
//                    under `data`), keys camelCased at the first level (`version_number` →
//                    `versionNumber`; nested values untouched), `id` = the resource id.
//                    When the resource is of another type than the topic (a `version.created`
//                    about an asset), the resource gets its own key (`asset: {id, ...}`) and the
//                    topic object is built from `data` alone.
//   version          for `version.created`: always carries `latest` (default true) and
//                    `versionNumber` (default null)
//   changes          the canonical `changes`, only when present
import { subjectOf } from '../../catalog/index.js';
import { successStatuses } from '../../delivery/errors.js';
import type { CanonicalEvent, ProfileRenderer } from '../types.js';
import { camelKey, camelKeys, eventName, isRecord, personName, str, type Json } from '../shared.js';

/** The payload key of the object an event is about. */
export function topicKey(type: string): string {
  return camelKey(subjectOf(type));
}

function user(actor: CanonicalEvent['actor']): Json {
  const { firstName, lastName } = personName(actor);
  const out: Json = { id: actor?.id ?? null, firstName, lastName };
  const email = str(actor?.email);
  if (email) out.email = email;
  return out;
}

function dataObject(data: unknown): Json {
  if (isRecord(data)) return camelKeys(data);
  if (data === undefined || data === null) return {};
  return { data };
}

export function tenovosPayload(ev: CanonicalEvent): Json {
  const type = eventName(ev.type, 'tenovos');
  const key = topicKey(ev.type);
  const event: Json = { id: ev.id, time: ev.timestamp, sequence: ev.sequence ?? null, user: user(ev.actor) };
  if (ev.project_id !== undefined) event.projectId = ev.project_id;
  const out: Json = { eventType: type, event };

  const data = dataObject(ev.data);
  if (ev.resource) {
    const { type: resourceType, id, ...summary } = ev.resource;
    const resourceKey = camelKey(resourceType);
    if (resourceKey === key) {
      // `id` first, and always the resource's.
      const topic: Json = { id, ...data, ...camelKeys(summary) };
      topic.id = id;
      out[key] = topic;
    } else {
      out[resourceKey] = { id, ...camelKeys(summary) };
      out[key] = data;
    }
  } else {
    out[key] = data;
  }
  if (key === 'version') {
    const v = out[key] as Json;
    out[key] = { latest: v.latest ?? true, versionNumber: v.versionNumber ?? v.version ?? null, ...v };
  }
  if (ev.changes !== undefined) out.changes = ev.changes;
  return out;
}

export const tenovosRenderer: ProfileRenderer = {
  render: ({ event }) => ({ body: JSON.stringify(tenovosPayload(event())), headers: {} }),
  // Tenovos counts a delivery done only on "a status 200 OK" (seed 001); any other answer is retried.
  isSuccess: successStatuses(200),
};
