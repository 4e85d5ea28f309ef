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

export interface CatalogDto {
  readonly topics: readonly {
    readonly topic: { readonly id: string; readonly title: string; readonly description: string };
    readonly event_types: readonly {
      readonly name: string;
      readonly description: string;
      readonly names: { readonly tenovos?: string; readonly mediapocket?: string; readonly cmp?: string };
    }[];
  }[];
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

export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly cls: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly labelX: number;
  readonly valueY: number;
}

export interface Chart {
  readonly width: number;
  readonly height: number;
  readonly baseline: number;
  readonly bars: readonly Bar[];
}

/** Geometry of the activity bar chart (succeeded, failed, pending), in SVG user units. */
export function activityChart(stats: StatsDto['deliveries']): Chart {
  const width = 420;
  const height = 220;
  const top = 24;
  const baseline = 190;
  const series = [
    { label: 'Succeeded', value: stats.succeeded, cls: 'bar-succeeded' },
    { label: 'Failed', value: stats.failed, cls: 'bar-failed' },
    { label: 'Pending', value: stats.pending + stats.in_flight, cls: 'bar-pending' },
  ];
  const max = Math.max(1, ...series.map((s) => s.value));
  const slot = width / series.length;
  const barWidth = 72;
  const bars = series.map((s, i) => {
    const h = s.value === 0 ? 0 : Math.max(2, Math.round(((baseline - top) * s.value) / max));
    const x = Math.round(i * slot + (slot - barWidth) / 2);
    return { ...s, x, y: baseline - h, width: barWidth, height: h, labelX: x + barWidth / 2, valueY: baseline - h - 6 };
  });
  return { width, height, baseline, bars };
}
