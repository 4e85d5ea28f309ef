// How domain records look in API responses: snake_case, ISO times, credentials masked.
import type { Attempt, Delivery, Endpoint, EndpointAuth, StoredEvent } from '../domain/types.js';
import { mask } from '../signing/secretbox.js';

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function authView(auth: EndpointAuth): Record<string, unknown> {
  switch (auth.type) {
    case 'none':
      return { type: 'none' };
    case 'basic':
      return { type: 'basic', username: auth.username, password: '****' };
    case 'oauth2_client_credentials':
      return {
        type: auth.type,
        token_url: auth.tokenUrl,
        client_id: auth.clientId,
        client_secret: '****',
        ...(auth.scope !== undefined ? { scope: auth.scope } : {}),
        ...(auth.extraParams ? { extra_params: auth.extraParams } : {}),
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
