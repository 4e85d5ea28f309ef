// Example payloads of an event type as each profile delivers it, for the catalog API and the
// admin UI. They are rendered by the very renderers the dispatcher uses, from one sample event,
// so an example can never drift from what a receiver gets.
import { withSequence } from '../domain/canonical-body.js';
import { buildEndpoint } from '../domain/endpoint.js';
import type { Account, EventInput, ProfileName } from '../domain/types.js';
import { type EventTypeDef, nameInProfile, type Profile, profiles } from '../catalog/index.js';
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

/** The object an event is about: `metadata.template.created` is about a template. */
function resourceTypeOf(def: EventTypeDef): string {
  const parts = def.name.split('.');
  return parts.length >= 3 ? parts[parts.length - 2] : parts[0];
}

function sampleEvent(def: EventTypeDef): EventInput {
  const type = resourceTypeOf(def);
  return {
    type: def.name,
    occurredAt: SAMPLE_TIME,
    projectId: 'prj_marketing',
    resource: { type, id: `${type}_01HZX4`, name: `Spring campaign ${type}` },
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
