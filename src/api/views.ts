// How domain records look in API responses: snake_case, ISO times, credentials masked.
import { tokenEndpointAuthMethod } from '../domain/endpoint.js';
import type { Attempt, Delivery, Endpoint, EndpointAuth, StoredEvent } from '../domain/types.js';
import type { ActivityMinute, AttemptTotals, EndpointHealth } from '../store/contract.js';
import { FULLY_MASKED, mask } from '../signing/secretbox.js';

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Names shown, values masked: for maps of credentials such as OAuth extra params. */
export function maskedValues(values: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, mask(value)]));
}

function authView(auth: EndpointAuth): Record<string, unknown> {
  switch (auth.type) {
    case 'none':
      return { type: 'none' };
    case 'basic':
      return { type: 'basic', username: auth.username, password: FULLY_MASKED };
    case 'oauth2_client_credentials':
      return {
        type: auth.type,
        token_url: auth.tokenUrl,
        client_id: auth.clientId,
        client_secret: FULLY_MASKED,
        ...(auth.scope !== undefined ? { scope: auth.scope } : {}),
        ...(auth.extraParams ? { extra_params: maskedValues(auth.extraParams) } : {}),
        token_endpoint_auth_method: tokenEndpointAuthMethod(auth),
      };
  }
}

export function endpointView(e: Endpoint): Record<string, unknown> {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    method: e.method,
    event_types: e.eventTypes,
    profile: e.profile,
    headers: e.headers.map((h) => ({ name: h.name, value: mask(h.value), type: h.type })),
    auth: authView(e.auth),
    rate_limit_per_second: e.rateLimitPerSecond,
    timeout_ms: e.timeoutMs,
    ordering: e.ordering,
    disabled: e.disabled,
    disabled_reason: e.disabledReason,
    failing_since: iso(e.failingSince),
    project_ids: e.projectIds,
    user_ids: e.userIds,
    secret_hint: mask(e.secret),
    created_at: iso(e.createdAt)!,
    updated_at: iso(e.updatedAt)!,
  };
}

export function attemptView(a: Attempt): Record<string, unknown> {
  return {
    id: a.id,
    attempt: a.attemptNo,
    started_at: iso(a.startedAt),
    duration_ms: a.durationMs,
    status_code: a.statusCode,
    error_kind: a.errorKind,
    error_message: a.errorMessage,
    request_headers: a.requestHeaders,
    response_body: a.responseBody,
  };
}

export function deliveryView(d: Delivery, attempts?: readonly Attempt[]): Record<string, unknown> {
  return {
    id: d.id,
    event_id: d.eventId,
    endpoint_id: d.endpointId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: iso(d.nextAttemptAt),
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
    ...(attempts ? { attempt_log: attempts.map(attemptView) } : {}),
  };
}

export function eventView(e: StoredEvent): Record<string, unknown> {
  return {
    id: e.id,
    idempotency_key: e.idempotencyKey,
    type: e.type,
    occurred_at: iso(e.occurredAt),
    received_at: iso(e.receivedAt),
    project_id: e.projectId,
    sequence: e.sequence,
    payload: JSON.parse(e.body) as unknown,
  };
}

const attemptCount = (t: AttemptTotals): number => t.succeeded + t.retried + t.failed;

/** Milliseconds to one decimal: averages need no more. */
const ms = (value: number): number => Math.round(value * 10) / 10;

export function endpointStatsView(h: EndpointHealth, windowHours: number): Record<string, unknown> {
  const n = attemptCount(h.attempts);
  return {
    endpoint_id: h.endpointId,
    window_hours: windowHours,
    queue: { pending: h.queue.pending, retrying: h.queue.retrying, in_flight: h.queue.inFlight },
    attempts: { succeeded: h.attempts.succeeded, retried: h.attempts.retried, failed: h.attempts.failed },
    success_rate: n === 0 ? null : h.attempts.succeeded / n,
    last_attempt_at: iso(h.lastAttemptAt),
    latency_ms: n === 0 ? null : { avg: ms(h.attempts.latencySumMs / n), max: h.attempts.latencyMaxMs },
  };
}

/** One entry per minute from `from` (a minute start) for `minutes` minutes, zeros where nothing happened. */
export function activityView(rows: readonly ActivityMinute[], from: number, minutes: number, minuteMs: number): Record<string, unknown>[] {
  const byMinute = new Map(rows.map((r) => [r.minute, r]));
  return Array.from({ length: minutes }, (_, i) => {
    const at = from + i * minuteMs;
    const r = byMinute.get(at);
    const n = r ? attemptCount(r) : 0;
    return {
      at: iso(at),
      succeeded: r?.succeeded ?? 0,
      retried: r?.retried ?? 0,
      failed: r?.failed ?? 0,
      latency_avg_ms: r && n > 0 ? ms(r.latencySumMs / n) : null,
      latency_max_ms: r && n > 0 ? r.latencyMaxMs : null,
    };
  });
}
