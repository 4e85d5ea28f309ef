// Example payloads of an event type as each profile delivers it, for the catalog API and the
// admin UI. They are rendered by the very renderers the dispatcher uses, from one sample event,
// so an example can never drift from what a receiver gets.
import { withSequence } from '../domain/canonical-body.js';
import { buildEndpoint } from '../domain/endpoint.js';
import type { Account, EventInput, ProfileName } from '../domain/types.js';
import { type EventTypeDef, nameInProfile, type Profile, profiles, subjectOf } from '../catalog/index.js';
import { topicOfName } from '../catalog/naming.js';
import { renderCanonical } from '../ingest/render.js';
import type { ClaimedDelivery } from '../store/contract.js';
import type { CanonicalEvent } from './types.js';
import { rendererFor } from './index.js';

const SAMPLE_TIME = Date.UTC(2026, 0, 15, 9, 30, 0);
const SAMPLE_MESSAGE_ID = 'msg_2a7Hx0example';

const sampleAccount: Account = {
  id: 'acc_example',
  name: 'Example DAM',
  rateLimitPerSecond: null,
  linkBaseUrl: 'https://dam.example.com',
  createdAt: SAMPLE_TIME,
};

/** What Herald's own events carry (app/system-events.ts and its callers), by their subject. */
const SYSTEM_SAMPLES: Readonly<Record<string, Pick<EventInput, 'resource' | 'data'>>> = {
  message: {
    resource: { type: 'message', id: 'msg_2a7Hx0failed' },
    data: {
      message_id: 'msg_2a7Hx0failed',
      delivery_id: 'dlv_2a7Hx0failed',
      endpoint_id: 'ep_2a7Hx0receiver',
      event_type: 'asset.created',
      attempts: 8,
      last_status_code: 503,
      last_error_kind: 'http_status',
    },
  },
  endpoint: {
    resource: { type: 'endpoint', id: 'ep_2a7Hx0receiver' },
    data: { endpoint_id: 'ep_2a7Hx0receiver', url: 'https://receiver.example.com/webhooks', reason: 'every attempt failed for 5 days (since 2026-01-10T09:30:00.000Z)' },
  },
};

/** Herald's own events have no actor or project; a DAM's carry both. */
function sampleEvent(def: EventTypeDef): EventInput {
  const system = SYSTEM_SAMPLES[topicOfName(def.name)];
  if (system) return { type: def.name, occurredAt: SAMPLE_TIME, ...system };
  const subject = subjectOf(def.name);
  return {
    type: def.name,
    occurredAt: SAMPLE_TIME,
    projectId: 'prj_marketing',
    resource: { type: subject, id: `${subject}_01HZX4`, name: `Spring campaign ${subject}` },
    actor: { id: 'usr_42', name: 'Ada Lovelace', email: 'ada@example.com' },
    data: { title: 'Spring campaign hero image' },
  };
}

/** The profiles an event type reaches: a vendor profile only carries the events it has a name for. */
export function profilesOf(def: EventTypeDef): Profile[] {
  return profiles.filter((p) => nameInProfile(def, p) !== undefined);
}

/** Body of `def` as delivered to an endpoint of each profile that carries it, parsed as JSON. */
export function examplePayloads(def: EventTypeDef): Partial<Record<Profile, unknown>> {
  const body = withSequence(renderCanonical(SAMPLE_MESSAGE_ID, def.name, sampleEvent(def), SAMPLE_TIME), 1);
  const parsed = JSON.parse(body) as CanonicalEvent;
  const out: Partial<Record<Profile, unknown>> = {};
  for (const profile of profilesOf(def)) {
    const endpoint = buildEndpoint(
      { url: 'https://receiver.example.com/webhooks', eventTypes: [def.name], description: 'Example endpoint', profileData: { mp_id: 7 } },
      { id: 'ep_example', accountId: sampleAccount.id, profile: profile as ProfileName, secret: 'whsec_example', now: SAMPLE_TIME },
    );
    const delivery: ClaimedDelivery = {
      id: 'dlv_example',
      accountId: sampleAccount.id,
      eventId: SAMPLE_MESSAGE_ID,
      endpointId: endpoint.id,
      attempts: 0,
      claimNo: 1,
      eventType: def.name,
      body,
      sequence: 1,
      resourceKey: null,
      projectId: 'prj_marketing',
      createdAt: SAMPLE_TIME,
    };
    const rendered = rendererFor(profile).render({ delivery, endpoint, account: sampleAccount, event: () => parsed });
    out[profile] = JSON.parse(rendered.body) as unknown;
  }
  return out;
}
