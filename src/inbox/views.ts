// How inboxes and captured requests look in API responses and streams.
import { isUtf8 } from 'node:buffer';
import { mask } from '../signing/secretbox.js';
import { inboxUrl } from './token.js';
import type { Inbox, InboxRequest } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** Bodies larger than this are left out of list pages (fetch the request itself for them). */
export const LIST_BODY_LIMIT = 64 * 1024;

export function inboxView(i: Inbox, baseUrl: string): Record<string, unknown> {
  return {
    id: i.id,
    name: i.name,
    url: inboxUrl(baseUrl, i.token),
    forward_url: i.forwardUrl,
    forward_endpoint_id: i.forwardEndpointId,
    signing_secret_hint: i.signingSecret === null ? null : mask(i.signingSecret),
    created_at: iso(i.createdAt),
    updated_at: iso(i.updatedAt),
  };
}

/** The body as text when it is UTF-8, else base64 (`body_encoding` says which). */
function bodyFields(body: Buffer): { body: string; body_encoding: 'utf8' | 'base64' } {
  return isUtf8(body) ? { body: body.toString('utf8'), body_encoding: 'utf8' } : { body: body.toString('base64'), body_encoding: 'base64' };
}

export function inboxRequestView(r: InboxRequest, options: { listing?: boolean } = {}): Record<string, unknown> {
  const omitted = options.listing === true && r.body.length > LIST_BODY_LIMIT;
  return {
    id: r.id,
    inbox_id: r.inboxId,
    method: r.method,
    path: r.path,
    query: r.query,
    headers: r.headers,
    ...(omitted ? { body: null, body_encoding: null, body_omitted: true } : bodyFields(r.body)),
    body_size: r.bodySize,
    truncated: r.truncated,
    source_ip: r.sourceIp,
    received_at: iso(r.receivedAt),
    signature: r.signature === null ? null : r.signature.verified ? { verified: true, webhook_id: r.signature.webhookId } : { verified: false, code: r.signature.code, message: r.signature.message },
    relay_message_id: r.relayMessageId,
  };
}
