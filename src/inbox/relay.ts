// Forwarding captured requests through Herald's own dispatcher.
//
// An inbox with a forward_url owns a hidden core endpoint of profile `inbox` (url = forward_url,
// no event filter, so ingest never matches it). Each capture stores, in the same transaction, an
// internal event of type `inbox.request` whose body is the envelope below, and one delivery to
// that endpoint. The dispatcher then treats it like any delivery: SSRF guard at connect time,
// rate limits, retries on the schedule, attempt logs, replay, health.
//
// This renderer turns the envelope back into the captured request: the original body byte for
// byte (base64 in the envelope, because captured bodies need not be UTF-8) and its content-type.
// Herald adds its own webhook-id / webhook-timestamp / webhook-signature (signed with the relay
// endpoint's secret, shown once when the inbox is created) and user-agent, like on any delivery.
// The method is the endpoint's (POST); the original method and path travel in headers.
import { standardRenderer } from '../profiles/standard/render.js';
import type { ProfileRenderer, Rendered } from '../profiles/types.js';
import { INBOX_RELAY_EVENT_TYPE, type InboxRequest } from './types.js';

/** Incoming header carrying how many inbox relays a request went through already. */
export const HOPS_HEADER = 'x-herald-inbox-hops';
/** A capture that already went through this many relays is stored but not relayed again (loops). */
export const MAX_RELAY_HOPS = 5;

export interface RelayEnvelope {
  readonly v: 1;
  readonly inbox_id: string;
  readonly request_id: string;
  readonly method: string;
  /** Path below the token, with `?query` when there was one. */
  readonly path: string;
  readonly content_type: string | null;
  readonly body_base64: string;
  /** Relays this request will have gone through once sent (incoming hops + 1). */
  readonly hops: number;
}

/** Relays a request already carried; a missing or malformed header counts as none. */
export function incomingHops(value: string | readonly string[] | undefined): number {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string' || !/^\d{1,3}$/.test(raw.trim())) return 0;
  return Number(raw.trim());
}

export function relayEnvelope(req: InboxRequest, hops: number): string {
  const contentType = req.headers['content-type'];
  const envelope: RelayEnvelope = {
    v: 1,
    inbox_id: req.inboxId,
    request_id: req.id,
    method: req.method,
    path: req.query === '' ? req.path : `${req.path}?${req.query}`,
    content_type: typeof contentType === 'string' ? contentType : Array.isArray(contentType) ? (contentType[0] ?? null) : null,
    body_base64: req.body.toString('base64'),
    hops,
  };
  return JSON.stringify(envelope);
}

/** Header values must be visible ASCII: anything else is percent-encoded. */
function headerSafe(value: string): string {
  return value.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c)).slice(0, 2048);
}

function parseEnvelope(body: string): RelayEnvelope | undefined {
  try {
    const env = JSON.parse(body) as Partial<RelayEnvelope>;
    if (env.v !== 1 || typeof env.body_base64 !== 'string') return undefined;
    return env as RelayEnvelope;
  } catch {
    return undefined;
  }
}

export function renderRelay(body: string): Rendered | undefined {
  const env = parseEnvelope(body);
  if (!env) return undefined;
  const bytes = Buffer.from(env.body_base64, 'base64');
  return {
    body: bytes.toString('utf8'),
    rawBody: bytes,
    contentType: env.content_type === null ? null : headerSafe(env.content_type) || null,
    headers: {
      'x-herald-inbox-id': headerSafe(String(env.inbox_id)),
      'x-herald-inbox-request-id': headerSafe(String(env.request_id)),
      'x-herald-original-method': headerSafe(String(env.method)),
      'x-herald-original-path': headerSafe(String(env.path)),
      [HOPS_HEADER]: String(Number(env.hops) || 1),
    },
  };
}

/**
 * Profile `inbox`. Anything that is not a relay envelope (an event routed here because someone
 * gave the hidden endpoint an event filter) is sent like the standard profile would.
 */
export const inboxRelayRenderer: ProfileRenderer = {
  render: (input) => (input.delivery.eventType === INBOX_RELAY_EVENT_TYPE ? renderRelay(input.delivery.body) : undefined) ?? standardRenderer.render(input),
};
