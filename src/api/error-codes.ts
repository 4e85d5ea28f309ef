// Every `error` code the API answers in its {error, message, field} shape, with the statuses it
// comes with. Clients branch on these codes, so the README lists exactly these (a test holds the
// two together) and ApiError takes no other: a new code has to be added, and documented, here.

export const ERROR_STATUSES = {
  invalid_request: [400, 414],
  unauthorized: [401],
  forbidden: [403],
  not_found: [404],
  timeout: [408],
  conflict: [409],
  endpoint_disabled: [409],
  event_type_in_use: [409],
  in_flight: [409],
  managed_by_inbox: [409],
  operator_key: [409],
  rotated_since: [409],
  stale_copy: [409],
  precondition_failed: [412],
  event_too_large: [413],
  payload_too_large: [413],
  unsupported_media_type: [415],
  idempotency_key_reused: [422],
  invalid_account: [422],
  invalid_endpoint: [422],
  invalid_event_data: [422],
  invalid_event_type: [422],
  invalid_inbox: [422],
  invalid_schema: [422],
  invalid_subscription: [422],
  invalid_url: [422],
  reserved_event_type: [422],
  ssrf_blocked: [422],
  unknown_event_type: [422],
  rate_limited: [429],
  headers_too_large: [431],
  internal: [500],
  outcome_unknown: [503],
  overloaded: [503],
  store_unavailable: [503],
} as const satisfies Record<string, readonly number[]>;

export type ErrorCode = keyof typeof ERROR_STATUSES;
