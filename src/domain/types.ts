// Pure data shapes shared by the store, the API, ingest and the dispatcher. No I/O here.

export type Role = 'admin' | 'publisher' | 'viewer';
/** `inbox`: the hidden relay endpoint of a Connect inbox (src/inbox/relay.ts). */
export type ProfileName = 'standard' | 'tenovos' | 'mediapocket' | 'cmp' | 'inbox';
export type Ordering = 'none' | 'per_resource';
export type DeliveryStatus = 'pending' | 'in_flight' | 'succeeded' | 'failed';
export type HttpMethod = 'POST' | 'PUT';

export interface Account {
  readonly id: string;
  readonly name: string;
  readonly rateLimitPerSecond: number | null;
  /** Base URL of the account's DAM API, used by profiles that render links (CMP). */
  readonly linkBaseUrl: string | null;
  readonly createdAt: number;
}

export interface Project {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  readonly createdAt: number;
}

/** A JSON Schema, as given: an object. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/**
 * An event type an account registers beside the catalog: events of it may be published and
 * subscribed to like catalog events, and their `data` must match `schema` (null: any data).
 */
export interface CustomEventType {
  readonly accountId: string;
  readonly name: string;
  readonly description: string;
  readonly schema: JsonSchema | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  readonly role: Role;
  /** Operator keys may manage every account. */
  readonly operator: boolean;
  readonly prefix: string;
  readonly createdAt: number;
}

/**
 * How Herald authenticates itself to an OAuth token endpoint (the names of RFC 7591 §2 and
 * OpenID Connect): client_secret_basic, an `Authorization: Basic` header (RFC 6749 §2.3.1, which
 * every token server must accept); client_secret_post, client_id and client_secret in the form.
 */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post';

/** Outbound authentication of an endpoint; credentials are sealed at rest. */
export type EndpointAuth =
  | { readonly type: 'none' }
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  | {
      readonly type: 'oauth2_client_credentials';
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly scope?: string;
      readonly extraParams?: Readonly<Record<string, string>>;
      /** Absent (endpoints stored before it existed): client_secret_post. */
      readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
    };

/** A custom header; `hmac` carries the hex HMAC-SHA256 of the body keyed by `value`. */
export interface EndpointHeader {
  readonly name: string;
  readonly value: string;
  readonly type: 'plain' | 'hidden' | 'hmac';
}

export interface Endpoint {
  readonly id: string;
  readonly accountId: string;
  readonly profile: ProfileName;
  readonly url: string;
  readonly method: HttpMethod;
  readonly description: string;
  readonly eventTypes: readonly string[];
  readonly projectIds: readonly string[];
  readonly userIds: readonly string[];
  /** Current signing secret (`whsec_…`), plaintext in memory only. */
  readonly secret: string;
  readonly previousSecret: string | null;
  readonly previousSecretExpiresAt: number | null;
  readonly headers: readonly EndpointHeader[];
  readonly auth: EndpointAuth;
  readonly rateLimitPerSecond: number | null;
  readonly timeoutMs: number;
  readonly ordering: Ordering;
  readonly disabled: boolean;
  readonly disabledReason: string | null;
  /** Start of the current run of failed attempts (null: the last one succeeded); a failure after a quiet spell restarts it (Store.settle). */
  readonly failingSince: number | null;
  /** Profile-specific fields (e.g. Media Pocket's numeric id and name). */
  readonly profileData: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ResourceRef {
  readonly type: string;
  readonly id: string;
  readonly [key: string]: unknown;
}

export interface Actor {
  readonly id: string;
  readonly [key: string]: unknown;
}

/** The event as the DAM published it, normalised. */
export interface EventInput {
  readonly idempotencyKey?: string;
  readonly type: string;
  readonly occurredAt?: number;
  readonly projectId?: string;
  readonly resource?: ResourceRef;
  readonly actor?: Actor;
  readonly changes?: readonly unknown[];
  readonly links?: Readonly<Record<string, unknown>>;
  readonly data?: unknown;
}

export interface StoredEvent {
  readonly id: string;
  readonly accountId: string;
  readonly idempotencyKey: string | null;
  readonly type: string;
  readonly occurredAt: number;
  readonly receivedAt: number;
  readonly projectId: string | null;
  readonly resourceKey: string | null;
  readonly sequence: number | null;
  /** The canonical (standard profile) body, serialised once at ingest. */
  readonly body: string;
}

export interface Delivery {
  readonly id: string;
  readonly accountId: string;
  readonly eventId: string;
  readonly endpointId: string;
  /** The canonical type of the delivery's event. */
  readonly eventType: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: number | null;
  readonly lastStatusCode: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type AttemptErrorKind =
  | 'timeout'
  | 'dns'
  | 'connect'
  | 'tls'
  | 'http_status'
  | 'ssrf_blocked'
  | 'oauth'
  | 'response_too_large'
  | 'invalid_url'
  | 'internal';

export interface Attempt {
  readonly id: string;
  readonly deliveryId: string;
  readonly attemptNo: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly errorKind: AttemptErrorKind | null;
  readonly errorMessage: string | null;
  /** Request headers as sent, secrets masked. */
  readonly requestHeaders: Readonly<Record<string, string>>;
  /** First 4 KiB of the response body. */
  readonly responseBody: string | null;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}
