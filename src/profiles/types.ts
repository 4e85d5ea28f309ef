import type { Account, Endpoint } from '../domain/types.js';
import type { ClaimedDelivery } from '../store/contract.js';

/** The canonical body as stored at ingest, parsed (once per message, shared by profiles). */
export interface CanonicalEvent {
  readonly id: string;
  readonly type: string;
  readonly timestamp: string;
  readonly sequence?: number;
  readonly project_id?: string;
  readonly resource?: { readonly type: string; readonly id: string; readonly [k: string]: unknown };
  readonly actor?: { readonly id: string; readonly [k: string]: unknown };
  readonly changes?: readonly unknown[];
  readonly links?: Readonly<Record<string, unknown>>;
  readonly data: unknown;
}

export interface RenderInput {
  readonly delivery: ClaimedDelivery;
  readonly endpoint: Endpoint;
  readonly account: Account | undefined;
  readonly event: () => CanonicalEvent;
}

export interface Rendered {
  readonly body: string;
  /** Sent instead of `body` when present: a Connect inbox relays captured bodies byte for byte. */
  readonly rawBody?: Buffer;
  /** The content-type to send: undefined = application/json, null = none. */
  readonly contentType?: string | null;
  /** Profile headers (e.g. CMP's Callback-Secret); Herald's own headers are added after. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface ProfileRenderer {
  render(input: RenderInput): Rendered;
  /** Which statuses count as delivered; default any 2xx. */
  readonly isSuccess?: (status: number) => boolean;
}
