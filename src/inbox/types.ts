// Connect inboxes: pure data shapes shared by the store, the API and the capture route.

/** Event type of the internal events that carry a captured request to an inbox's relay endpoint. */
export const INBOX_RELAY_EVENT_TYPE = 'inbox.request';

export interface Inbox {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  /** The secret part of the public URL `/in/<token>`; plaintext in memory only (sealed at rest). */
  readonly token: string;
  /** SHA-256 (hex) of the token: what the capture route looks the inbox up by. */
  readonly tokenHash: string;
  /** Standard Webhooks secret (`whsec_…`) captures are verified with; sealed at rest. */
  readonly signingSecret: string | null;
  /** Where captures are relayed to, through the hidden endpoint below. */
  readonly forwardUrl: string | null;
  /** The relay endpoint (profile `inbox`); null when not forwarding (or the endpoint was deleted). */
  readonly forwardEndpointId: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The Standard Webhooks verification of one capture, when the inbox has a signing secret. */
export type SignatureCheck =
  | { readonly verified: true; readonly webhookId: string }
  | { readonly verified: false; readonly code: string; readonly message: string };

export type CapturedHeaders = Readonly<Record<string, string | readonly string[]>>;

export interface InboxRequest {
  readonly id: string;
  readonly inboxId: string;
  readonly accountId: string;
  readonly method: string;
  /** The path below `/in/<token>` (`/` when none); the token itself is never stored here. */
  readonly path: string;
  /** The raw query string without `?` ('' when none). */
  readonly query: string;
  readonly headers: CapturedHeaders;
  /** The body exactly as received (empty when none or when it was over the limit). */
  readonly body: Buffer;
  /** Bytes announced or received; larger than body.length when truncated. */
  readonly bodySize: number;
  /** The body was over the limit: it was answered 413 and only the request line and headers kept. */
  readonly truncated: boolean;
  readonly sourceIp: string | null;
  readonly receivedAt: number;
  readonly signature: SignatureCheck | null;
  /** The message relaying this capture to the inbox's forward_url (GET /api/v2/events/:id). */
  readonly relayMessageId: string | null;
}

/** What relays one capture: an internal event and one delivery to the relay endpoint. */
export interface InboxRelay {
  readonly messageId: string;
  readonly endpointId: string;
  /** The relay envelope (see relay.ts), stored as the event body. */
  readonly body: string;
}
