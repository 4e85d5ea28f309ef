// What the admin UI reads from the public API, and the plain values its templates show.
// Templates only print; everything that needs a decision is prepared here.

export interface EndpointDto {
  readonly id: string;
  readonly url: string;
  readonly description: string;
  readonly method: string;
  readonly event_types: readonly string[];
  readonly profile: string;
  readonly headers: readonly { readonly name: string; readonly value: string; readonly type: string }[];
  readonly auth: { readonly type: string } & Readonly<Record<string, unknown>>;
  readonly rate_limit_per_second: number | null;
  readonly timeout_ms: number;
  readonly ordering: string;
  readonly disabled: boolean;
  readonly disabled_reason: string | null;
  readonly failing_since: string | null;
  readonly project_ids: readonly string[];
  readonly user_ids: readonly string[];
  readonly secret_hint: string;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface AttemptDto {
  readonly id: string;
  readonly attempt: number;
  readonly started_at: string | null;
  readonly duration_ms: number;
  readonly status_code: number | null;
  readonly error_kind: string | null;
  readonly error_message: string | null;
  readonly request_headers: Readonly<Record<string, string>> | null;
  readonly response_body: string | null;
}

export interface DeliveryDto {
  readonly id: string;
  readonly event_id: string;
  readonly event_type?: string;
  readonly endpoint_id: string;
  readonly status: string;
  readonly attempts: number;
  readonly next_attempt_at: string | null;
  readonly last_status_code: number | null;
  readonly last_error: string | null;
  readonly created_at: string | null;
  readonly updated_at: string | null;
  readonly attempt_log?: readonly AttemptDto[];
}

export interface ListDto<T> {
  readonly data: readonly T[];
  readonly next_cursor: string | null;
}

export interface StatsDto {
  readonly deliveries: { readonly pending: number; readonly in_flight: number; readonly succeeded: number; readonly failed: number; readonly retrying: number };
}

export interface EndpointStatsDto {
  readonly endpoint_id: string;
  readonly window_hours: number;
  readonly queue: { readonly pending: number; readonly retrying: number; readonly in_flight: number };
  readonly attempts: { readonly succeeded: number; readonly retried: number; readonly failed: number };
  readonly success_rate: number | null;
  readonly last_attempt_at: string | null;
  readonly latency_ms: { readonly avg: number; readonly max: number } | null;
}

export interface ActivityPoint {
  readonly at: string;
  readonly succeeded: number;
  readonly retried: number;
  readonly failed: number;
  readonly latency_avg_ms: number | null;
  readonly latency_max_ms: number | null;
}

export interface ActivityDto {
  readonly from: string;
  readonly to: string;
  readonly bucket_seconds: number;
  readonly data: readonly ActivityPoint[];
}

export interface EventTypeDetailDto {
  readonly name: string;
  readonly topic: string;
  readonly description: string;
  readonly names: Readonly<Record<string, string>>;
  readonly examples: Readonly<Record<string, unknown>>;
}

/** An event type the account registered itself (`custom` of GET /api/v2/event-types, or one by name). */
export interface CustomEventTypeDto {
  readonly name: string;
  readonly custom: true;
  readonly description: string;
  /** The JSON Schema its events' data must match; null: any data. */
  readonly schema: Readonly<Record<string, unknown>> | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface InboxDto {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly forward_url: string | null;
  readonly forward_endpoint_id: string | null;
  readonly signing_secret_hint: string | null;
  readonly created_at: string;
}

export interface InboxRequestDto {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  readonly body_encoding: string | null;
  readonly body_size: number;
  readonly received_at: string;
  readonly signature: { readonly verified: boolean; readonly code?: string; readonly message?: string } | null;
}

export interface CatalogDto {
  readonly topics: readonly {
    readonly topic: { readonly id: string; readonly title: string; readonly description: string };
    readonly event_types: readonly {
      readonly name: string;
      readonly description: string;
      readonly names: { readonly tenovos?: string; readonly mediapocket?: string; readonly cmp?: string };
    }[];
  }[];
  /** The account's own types, by name. */
  readonly custom: readonly CustomEventTypeDto[];
}

/** A recover as the API reports it (GET /api/v2/endpoints/:id/recoveries/:recovery_id). */
export interface RecoveryDto {
  readonly id: string;
  readonly status: 'running' | 'done';
  readonly total: number;
  readonly requeued: number;
}

export interface RotatedDto {
  readonly id: string;
  readonly secret: string;
  readonly previous_secret_expires_at: string;
}

/** `2024-05-01T12:03:04.567Z` → `2024-05-01 12:03:04 UTC`; empty for null. */
export function formatTime(value: string | null | undefined): string {
  if (!value) return '';
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export const DELIVERY_STATUSES = ['pending', 'in_flight', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export function isDeliveryStatus(value: unknown): value is DeliveryStatus {
  return typeof value === 'string' && (DELIVERY_STATUSES as readonly string[]).includes(value);
}

const RESPONSE_PREVIEW_BYTES = 4096;

/** The first 4 KiB of a recorded response body (the API stores no more; this is a guard). */
export function responsePreview(body: string | null): string {
  if (!body) return '';
  const bytes = Buffer.from(body, 'utf8');
  return bytes.length <= RESPONSE_PREVIEW_BYTES ? body : bytes.subarray(0, RESPONSE_PREVIEW_BYTES).toString('utf8');
}

/** Settings of an endpoint as label/value rows; credentials arrive masked from the API. */
export function endpointSettings(e: EndpointDto): [string, string][] {
  const auth = Object.entries(e.auth)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return [
    ['ID', e.id],
    ['URL', e.url],
    ['Method', e.method],
    ['Description', e.description || '—'],
    ['Profile', e.profile],
    ['Event types', e.event_types.join(', ')],
    ['Signing secret', e.secret_hint],
    ['Authentication', auth],
    ['Custom headers', e.headers.length ? e.headers.map((h) => `${h.name}: ${h.value}${h.type === 'plain' ? '' : ` (${h.type})`}`).join(', ') : 'none'],
    ['Rate limit', e.rate_limit_per_second === null ? 'unlimited' : `${e.rate_limit_per_second} messages/s`],
    ['Timeout', `${e.timeout_ms} ms`],
    ['Ordering', e.ordering],
    ['Projects', e.project_ids.length ? e.project_ids.join(', ') : 'all'],
    ['Users', e.user_ids.length ? e.user_ids.join(', ') : 'all'],
    ['Created', formatTime(e.created_at)],
    ['Updated', formatTime(e.updated_at)],
  ];
}

/** `0.9876` → `98.8 %`; a dash when there were no attempts. */
export function formatRate(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${(Math.round(rate * 1000) / 10).toFixed(1)} %`;
}

/** A JSON value as indented text for a `<pre>` block. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Longest schema the catalog page shows inline; a longer one is on its type's page. */
const INLINE_SCHEMA_CHARS = 4096;

/** A custom type as a row of the catalog page: its schema inline when short, else its size. */
export interface CustomTypeRow {
  readonly name: string;
  readonly description: string;
  /** The schema as pretty JSON; null when there is none or it is too long to show inline. */
  readonly schema: string | null;
  /** `any data` (no schema), or how large a schema shown only on its page is; '' when inline. */
  readonly schemaNote: string;
}

export function customTypeRows(types: readonly CustomEventTypeDto[]): CustomTypeRow[] {
  return types.map((t) => {
    if (t.schema === null) return { name: t.name, description: t.description, schema: null, schemaNote: 'any data (no schema)' };
    const json = prettyJson(t.schema);
    if (json.length <= INLINE_SCHEMA_CHARS) return { name: t.name, description: t.description, schema: json, schemaNote: '' };
    return { name: t.name, description: t.description, schema: null, schemaNote: `a schema of ${Math.ceil(json.length / 1024)} KiB: open the type to read it` };
  });
}
