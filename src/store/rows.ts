// Row <-> domain mapping shared by both drivers. Credentials are sealed here, so the
// database only ever holds ciphertext for secrets, header values and auth configs.
import type {
  Account,
  ApiKeyRecord,
  Attempt,
  AttemptErrorKind,
  CustomEventType,
  Delivery,
  DeliveryStatus,
  Endpoint,
  EndpointAuth,
  EndpointHeader,
  HttpMethod,
  Ordering,
  Page,
  ProfileName,
  Project,
  Role,
  StoredEvent,
} from '../domain/types.js';
import type { CapturedHeaders, Inbox, InboxRequest, SignatureCheck } from '../inbox/types.js';
import type { ClaimedDelivery, IngestItem, IngestLease, ListedEventType, Notice, NoticeKind, RecoverableStatus, Recovery, Sealer, Settlement, UiSession } from './contract.js';

type Num = number | string | bigint | null;

/** pg returns BIGINT as string; SQLite as number. */
export function num(value: Num): number {
  return value === null ? 0 : Number(value);
}

export function numOrNull(value: Num | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

export interface AccountRow {
  id: string;
  name: string;
  rate_limit_per_second: Num;
  link_base_url: string | null;
  created_at: Num;
}

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    name: row.name,
    rateLimitPerSecond: numOrNull(row.rate_limit_per_second),
    linkBaseUrl: row.link_base_url,
    createdAt: num(row.created_at),
  };
}

export interface ProjectRow {
  id: string;
  account_id: string;
  name: string;
  created_at: Num;
}

export function toProject(row: ProjectRow): Project {
  return { id: row.id, accountId: row.account_id, name: row.name, createdAt: num(row.created_at) };
}

export interface EventTypeRow {
  account_id: string;
  name: string;
  description: string;
  schema: string | null;
  created_at: Num;
  updated_at: Num;
}

export function toEventType(row: EventTypeRow): CustomEventType {
  return {
    accountId: row.account_id,
    name: row.name,
    description: row.description,
    schema: row.schema === null ? null : (JSON.parse(row.schema) as CustomEventType['schema']),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/** The columns a page of custom types reads: the schema only when asked for. */
export const eventTypePageColumns = (schemas: boolean): string => `account_id, name, description, created_at, updated_at${schemas ? ', schema' : ''}`;

/** A page of custom types read by eventTypePageColumns, `limit` + 1 rows asked: the next cursor is the last name kept. */
export function toEventTypePage(rows: (Omit<EventTypeRow, 'schema'> & { schema?: string | null })[], limit: number): Page<ListedEventType> {
  const kept = rows.slice(0, limit);
  const items = kept.map((row): ListedEventType => {
    const type = toEventType({ ...row, schema: row.schema ?? null });
    if (row.schema !== undefined) return type;
    const { schema: _unread, ...named } = type;
    return named;
  });
  return { items, nextCursor: rows.length > limit ? kept[kept.length - 1]!.name : null };
}

/** The columns of a custom event type, in EVENT_TYPE_COLUMNS order. */
export function eventTypeValues(t: CustomEventType): unknown[] {
  return [t.accountId, t.name, t.description, t.schema === null ? null : JSON.stringify(t.schema), t.createdAt, t.updatedAt];
}

export const EVENT_TYPE_COLUMNS = 'account_id, name, description, schema, created_at, updated_at';

export interface ApiKeyRow {
  id: string;
  account_id: string;
  name: string;
  role: string;
  operator: number | boolean;
  hash: string;
  prefix: string;
  created_at: Num;
}

export function toApiKey(row: ApiKeyRow): ApiKeyRecord & { hash: string } {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    role: row.role as Role,
    operator: Boolean(row.operator),
    prefix: row.prefix,
    hash: row.hash,
    createdAt: num(row.created_at),
  };
}

export interface EndpointRow {
  id: string;
  account_id: string;
  profile: string;
  url: string;
  method: string;
  description: string;
  event_types: string;
  project_ids: string;
  user_ids: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Num;
  headers: string;
  auth: string;
  rate_limit_per_second: Num;
  timeout_ms: Num;
  ordering: string;
  disabled: number | boolean;
  disabled_reason: string | null;
  failing_since: Num;
  profile_data: string;
  created_at: Num;
  updated_at: Num;
}

/** Pending notices, oldest first (ids sort by creation). */
export const PENDING_NOTICES_SQL = 'SELECT id, account_id, event_id, endpoint_id, event_type, notice FROM deliveries WHERE notice IS NOT NULL ORDER BY id LIMIT';

export interface NoticeRow {
  readonly id: string;
  readonly account_id: string;
  readonly event_id: string;
  readonly endpoint_id: string;
  readonly event_type: string;
  readonly notice: string;
}

interface RecordedNotice {
  readonly kind: NoticeKind;
  readonly attempts: number;
  readonly status: number | null;
  readonly error: string | null;
}

/**
 * What a failed settlement owes, as the delivery keeps it: the failed attempt's facts are kept
 * with it, since a replay may change the delivery's own before the notice is carried out.
 */
export function recordedNotice(s: Settlement): string | null {
  if (s.outcome !== 'failed' || !s.notice) return null;
  const recorded: RecordedNotice = { kind: s.notice, attempts: s.attempt.attemptNo, status: s.attempt.statusCode, error: s.attempt.errorKind };
  return JSON.stringify(recorded);
}

export function toNotice(r: NoticeRow): Notice {
  const recorded = JSON.parse(r.notice) as RecordedNotice;
  return {
    kind: recorded.kind,
    deliveryId: r.id,
    accountId: r.account_id,
    eventId: r.event_id,
    endpointId: r.endpoint_id,
    eventType: r.event_type,
    attempts: recorded.attempts,
    lastStatusCode: recorded.status,
    lastErrorKind: recorded.error,
    recorded: r.notice,
  };
}

/** One sealed credential, if any is stored: an endpoint's signing secret or an inbox's token. */
export const ONE_SEALED_SQL = 'SELECT secret AS sealed FROM endpoints UNION ALL SELECT token FROM inboxes LIMIT 1';

/** Whether `sealer` opens `sealed` (a wrong key fails its authentication). */
export function opens(sealer: Sealer, sealed: string | undefined): boolean {
  if (sealed === undefined) return true;
  try {
    sealer.open(sealed);
    return true;
  } catch {
    return false;
  }
}

export function endpointToRow(e: Endpoint, sealer: Sealer): EndpointRow {
  return {
    id: e.id,
    account_id: e.accountId,
    profile: e.profile,
    url: e.url,
    method: e.method,
    description: e.description,
    event_types: JSON.stringify(e.eventTypes),
    project_ids: JSON.stringify(e.projectIds),
    user_ids: JSON.stringify(e.userIds),
    secret: sealer.seal(e.secret),
    previous_secret: e.previousSecret === null ? null : sealer.seal(e.previousSecret),
    previous_secret_expires_at: e.previousSecretExpiresAt,
    headers: e.headers.length === 0 ? '[]' : sealer.seal(JSON.stringify(e.headers)),
    auth: e.auth.type === 'none' ? '{"type":"none"}' : sealer.seal(JSON.stringify(e.auth)),
    rate_limit_per_second: e.rateLimitPerSecond,
    timeout_ms: e.timeoutMs,
    ordering: e.ordering,
    disabled: e.disabled ? 1 : 0,
    disabled_reason: e.disabledReason,
    failing_since: e.failingSince,
    profile_data: JSON.stringify(e.profileData),
    created_at: e.createdAt,
    updated_at: e.updatedAt,
  };
}

/** Seals nothing: rows built with it compare credentials by their plaintext. */
const UNSEALED: Sealer = { seal: (plaintext) => plaintext, open: (sealed) => sealed };

/** Columns an update may write: all but the identity and the creation time. */
export type EndpointUpdate = Partial<Omit<EndpointRow, 'id' | 'account_id' | 'created_at'>>;

/**
 * The columns `after` changes from `before`, sealed for storage, and `updated_at`. An update
 * writes only these: the endpoint was read before a slow step (a DNS check of its URL), and
 * writing every column back would undo what changed meanwhile (a worker disabling it after a
 * 410, its health, a secret rotation).
 */
export function endpointChanges(before: Endpoint, after: Endpoint, sealer: Sealer): EndpointUpdate {
  const was = endpointToRow(before, UNSEALED);
  const now = endpointToRow(after, UNSEALED);
  const sealed = endpointToRow(after, sealer);
  const out: Record<string, unknown> = { updated_at: sealed.updated_at };
  for (const column of Object.keys(now) as (keyof EndpointRow)[]) {
    if (column === 'id' || column === 'account_id' || column === 'created_at') continue;
    if (was[column] !== now[column]) out[column] = sealed[column];
  }
  return out as EndpointUpdate;
}

function openJson<T>(value: string, sealer: Sealer): T {
  return JSON.parse(value.startsWith('[') || value.startsWith('{') ? value : sealer.open(value)) as T;
}

export function toEndpoint(row: EndpointRow, sealer: Sealer): Endpoint {
  return {
    id: row.id,
    accountId: row.account_id,
    profile: row.profile as ProfileName,
    url: row.url,
    method: row.method as HttpMethod,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as string[],
    projectIds: JSON.parse(row.project_ids) as string[],
    userIds: JSON.parse(row.user_ids) as string[],
    secret: sealer.open(row.secret),
    previousSecret: row.previous_secret === null ? null : sealer.open(row.previous_secret),
    previousSecretExpiresAt: numOrNull(row.previous_secret_expires_at),
    headers: openJson<EndpointHeader[]>(row.headers, sealer),
    auth: openJson<EndpointAuth>(row.auth, sealer),
    rateLimitPerSecond: numOrNull(row.rate_limit_per_second),
    timeoutMs: num(row.timeout_ms),
    ordering: row.ordering as Ordering,
    disabled: Boolean(row.disabled),
    disabledReason: row.disabled_reason,
    failingSince: numOrNull(row.failing_since),
    profileData: JSON.parse(row.profile_data) as Record<string, unknown>,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export interface EventRow {
  id: string;
  account_id: string;
  idempotency_key: string | null;
  type: string;
  occurred_at: Num;
  received_at: Num;
  project_id: string | null;
  resource_key: string | null;
  sequence: Num;
  body: string;
}

export function toEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    accountId: row.account_id,
    idempotencyKey: row.idempotency_key,
    type: row.type,
    occurredAt: num(row.occurred_at),
    receivedAt: num(row.received_at),
    projectId: row.project_id,
    resourceKey: row.resource_key,
    sequence: numOrNull(row.sequence),
    body: row.body,
  };
}

export interface DeliveryRow {
  id: string;
  account_id: string;
  event_id: string;
  endpoint_id: string;
  event_type: string;
  status: string;
  attempts: Num;
  next_attempt_at: Num;
  last_status_code: Num;
  last_error: string | null;
  created_at: Num;
  updated_at: Num;
}

export function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    accountId: row.account_id,
    eventId: row.event_id,
    endpointId: row.endpoint_id,
    eventType: row.event_type,
    status: row.status as DeliveryStatus,
    attempts: num(row.attempts),
    nextAttemptAt: row.status === 'pending' ? numOrNull(row.next_attempt_at) : null,
    lastStatusCode: numOrNull(row.last_status_code),
    lastError: row.last_error,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  attempt_no: Num;
  started_at: Num;
  duration_ms: Num;
  status_code: Num;
  error_kind: string | null;
  error_message: string | null;
  request_headers: string;
  response_body: string | null;
}

export function toAttempt(row: AttemptRow): Attempt {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    attemptNo: num(row.attempt_no),
    startedAt: num(row.started_at),
    durationMs: num(row.duration_ms),
    statusCode: numOrNull(row.status_code),
    errorKind: row.error_kind as AttemptErrorKind | null,
    errorMessage: row.error_message,
    requestHeaders: JSON.parse(row.request_headers) as Record<string, string>,
    responseBody: row.response_body,
  };
}

export interface InboxRow {
  id: string;
  account_id: string;
  name: string;
  token_hash: string;
  token: string;
  signing_secret: string | null;
  forward_url: string | null;
  forward_endpoint_id: string | null;
  created_at: Num;
  updated_at: Num;
}

/** The token and signing secret are sealed; the hash stays clear (it is the lookup key). */
export function inboxToRow(i: Inbox, sealer: Sealer): InboxRow {
  return {
    id: i.id,
    account_id: i.accountId,
    name: i.name,
    token_hash: i.tokenHash,
    token: sealer.seal(i.token),
    signing_secret: i.signingSecret === null ? null : sealer.seal(i.signingSecret),
    forward_url: i.forwardUrl,
    forward_endpoint_id: i.forwardEndpointId,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
  };
}

export function toInbox(row: InboxRow, sealer: Sealer): Inbox {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    tokenHash: row.token_hash,
    token: sealer.open(row.token),
    signingSecret: row.signing_secret === null ? null : sealer.open(row.signing_secret),
    forwardUrl: row.forward_url,
    forwardEndpointId: row.forward_endpoint_id,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export interface InboxRequestRow {
  id: string;
  inbox_id: string;
  account_id: string;
  method: string;
  path: string;
  query: string;
  headers: string;
  body: Buffer | Uint8Array;
  body_size: Num;
  truncated: number | boolean;
  source_ip: string | null;
  received_at: Num;
  signature: string | null;
  relay_message_id: string | null;
}

/** Column order of inbox_requests, for both drivers' inserts. */
export const INBOX_REQUEST_COLUMNS = [
  'id',
  'inbox_id',
  'account_id',
  'method',
  'path',
  'query',
  'headers',
  'body',
  'body_size',
  'truncated',
  'source_ip',
  'received_at',
  'signature',
  'relay_message_id',
] as const;

export function inboxRequestValues(r: InboxRequest): unknown[] {
  return [
    r.id,
    r.inboxId,
    r.accountId,
    r.method,
    r.path,
    r.query,
    JSON.stringify(r.headers),
    r.body,
    r.bodySize,
    r.truncated,
    r.sourceIp,
    r.receivedAt,
    r.signature === null ? null : JSON.stringify(r.signature),
    r.relayMessageId,
  ];
}

export function toInboxRequest(row: InboxRequestRow): InboxRequest {
  const body = row.body;
  return {
    id: row.id,
    inboxId: row.inbox_id,
    accountId: row.account_id,
    method: row.method,
    path: row.path,
    query: row.query,
    headers: JSON.parse(row.headers) as CapturedHeaders,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    bodySize: num(row.body_size),
    truncated: Boolean(row.truncated),
    sourceIp: row.source_ip,
    receivedAt: num(row.received_at),
    signature: row.signature === null ? null : (JSON.parse(row.signature) as SignatureCheck),
    relayMessageId: row.relay_message_id,
  };
}

/** Fetch limit + 1 rows; the extra one only says whether there is a next page. */
export function toPage<R extends { id: string }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), nextCursor: more ? kept[kept.length - 1].id : null };
}

export function resourceKeyOf(resource: { type: string; id: string } | undefined): string | null {
  return resource ? `${resource.type}:${resource.id}` : null;
}

/**
 * The lease a new delivery is created under, if any: one marked leased by an ingest that has a
 * lease, unless it is ordered (it waits for its chain's head, and only a claim may take it).
 */
export function leaseOf(endpoint: IngestItem['endpoints'][number], ordered: boolean, lease: IngestLease | undefined): IngestLease | undefined {
  return endpoint.leased === true && !ordered ? lease : undefined;
}

/** A delivery created leased by the ingest of `item`, as a claim would have returned it. */
export function leasedDelivery(item: IngestItem, d: { id: string; endpointId: string; body: string; sequence: number | null; resourceKey: string | null; now: number }): ClaimedDelivery {
  return {
    id: d.id,
    accountId: item.accountId,
    eventId: item.messageId,
    endpointId: d.endpointId,
    attempts: 0,
    // Created under the ingest's lease, before any claim (the column's default).
    claimNo: 0,
    eventType: item.event.type,
    body: d.body,
    sequence: d.sequence,
    resourceKey: d.resourceKey,
    projectId: item.event.projectId ?? null,
    createdAt: d.now,
  };
}

export interface UiSessionRow {
  api_key_id: string;
  sealed_key: string;
  expires_at: number | string;
}

export function toUiSession(row: UiSessionRow, sealer: Sealer): UiSession {
  return { apiKeyId: row.api_key_id, key: sealer.open(row.sealed_key), expiresAt: num(row.expires_at) };
}

export interface RecoveryRow {
  id: string;
  account_id: string;
  endpoint_id: string;
  idempotency_key: string | null;
  request: string;
  since: Num;
  until: Num;
  /** JSON text in SQLite, an array in PostgreSQL. */
  event_types: string | string[] | null;
  statuses: string | string[];
  status: string;
  total: Num;
  requeued: Num;
  created_at: Num;
  updated_at: Num;
  finished_at: Num;
}

function listOf(value: string | string[]): string[] {
  return typeof value === 'string' ? (JSON.parse(value) as string[]) : value;
}

export function toRecovery(row: RecoveryRow): Recovery {
  return {
    id: row.id,
    accountId: row.account_id,
    endpointId: row.endpoint_id,
    idempotencyKey: row.idempotency_key,
    request: row.request,
    scope: {
      since: num(row.since),
      until: num(row.until),
      eventTypes: row.event_types === null ? null : listOf(row.event_types),
      statuses: listOf(row.statuses) as RecoverableStatus[],
      // Recorded as its creation time: when it was asked for.
      asOf: num(row.created_at),
    },
    status: row.status === 'done' ? 'done' : 'running',
    total: num(row.total),
    requeued: num(row.requeued),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
    finishedAt: numOrNull(row.finished_at),
  };
}
