// Request and response schemas of the native API. The same schemas validate requests and
// generate /openapi.json.
import { Type, type Static } from 'typebox';
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../domain/endpoint.js';
import type { TokenEndpointAuthMethod } from '../domain/types.js';
import { readOnlyDoc, ReadOnlyCreatedAt, ReadOnlyId } from './read-only.js';

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

/** The longest an event's own id may be (EventIn.id), and so the longest id a path may carry. */
export const MAX_PATH_ID_LENGTH = 200;

/** An event is looked up by its message id or by the id it was published with. */
export const EventIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: MAX_PATH_ID_LENGTH }) });

/** Ids, and so cursors, are a prefix and base32 characters: anything else was never a next_cursor. */
export const CURSOR_PATTERN = '^[a-z]+_[0-9a-z_]+$';

/** A page's position: the next_cursor of the page before, which looks as the listed ids do. */
const cursorMatching = (pattern: string) => Type.String({ maxLength: 100, pattern, description: 'next_cursor of the previous page' });

export const Cursor = cursorMatching(CURSOR_PATTERN);

const PageLimit = Type.Integer({ minimum: 1, maximum: 250, default: 50 });

const pageQuery = (cursor: typeof Cursor) => Type.Object({ cursor: Type.Optional(cursor), limit: Type.Optional(PageLimit) });

export const PageQuery = pageQuery(Cursor);

/** The ids a DAM gives its projects (ProjectCreate.id), and so the cursors of their pages. */
export const PROJECT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]*$';

export const ProjectPageQuery = pageQuery(cursorMatching(PROJECT_ID_PATTERN));

/** Custom event types' names (lower-case words joined by dots), and so the cursors of their pages. */
export const CUSTOM_NAME_CURSOR_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$';

/** A page of the account's custom types, by name; their schemas only when asked for. */
export const CustomTypePageQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 200, pattern: CUSTOM_NAME_CURSOR_PATTERN, description: 'next_cursor of the previous page: the name of its last type' })),
  limit: Type.Optional(PageLimit),
  schemas: Type.Optional(Type.Boolean({ default: false, description: 'true: each type with its schema (up to 64 KiB each); false, the default: name, description and times only' })),
});

export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});

const HeaderName = Type.String({ minLength: 1, maxLength: 100 });
const HeaderValue = Type.String({
  maxLength: 4096,
  description:
    'Masked in answers. Sent back as answers show it (the mask of the value stored under that name), it keeps the stored value, unless a secret header turns plain; any other masked value (****, or ending in …) is refused (422). A hidden value is kept only while the URL stays on the same origin (scheme, host and port): an update moving it elsewhere must send it again, or is refused (422 naming headers).',
});

export const HeaderEntry = Type.Object(
  {
    name: HeaderName,
    value: HeaderValue,
    type: Type.Optional(
      Type.Union([Type.Literal('plain'), Type.Literal('hidden'), Type.Literal('hmac')], {
        description: 'hidden (the default): sent as given, masked in attempt logs; plain: shown in attempt logs; hmac: the value is a key, and the header carries the hex HMAC-SHA256 of the body',
      }),
    ),
  },
  { additionalProperties: false },
);

const AuthVariants = Type.Union([
  Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('basic'),
      // RFC 7617: the user id cannot hold a colon (the receiver splits at the first one).
      username: Type.String({ minLength: 1, maxLength: 200, pattern: '^[^:]*$' }),
      password: Type.String({
        maxLength: 500,
        description:
          'Answers show ****; **** sent back keeps the stored password, any other masked value is refused (422). Kept (left out or sent back) only while the URL stays on the same origin (scheme, host and port): an update moving it elsewhere must send the password again, or is refused (422 naming auth).',
      }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('oauth2_client_credentials'),
      token_url: Type.String({ minLength: 1, maxLength: 2048 }),
      client_id: Type.String({ minLength: 1, maxLength: 500 }),
      client_secret: Type.String({
        minLength: 1,
        maxLength: 2000,
        description: 'Answers show ****; **** sent back with the same token_url keeps the stored secret (with another token_url, send it again); any other masked value is refused (422).',
      }),
      scope: Type.Optional(Type.String({ maxLength: 1000 })),
      extra_params: Type.Optional(
        Type.Record(Type.String(), Type.String({ maxLength: 1000 }), {
          description:
            'More form fields of the token request (audience, resource, client_assertion...). Kept as secrets: sealed at rest, values masked in answers (names shown). A value sent back masked as shown, with the same token_url, keeps the one stored under that name; any other masked value is refused (422).',
        }),
      ),
      token_endpoint_auth_method: Type.Optional(
        Type.Unsafe<TokenEndpointAuthMethod>({
          type: 'string',
          enum: [...TOKEN_ENDPOINT_AUTH_METHODS],
          description:
            'How Herald authenticates to token_url (the names of RFC 7591 and OpenID Connect, as providers such as Okta show them). client_secret_post: client_id and client_secret in the form body. client_secret_basic: `Authorization: Basic base64(urlencode(client_id):urlencode(client_secret))` (RFC 6749 §2.3.1; each form-urlencoded first), neither in the body; for token servers that accept only Basic. Absent: on an endpoint that already has OAuth, the method it has; otherwise client_secret_post. Not a secret: answers show it.',
        }),
      ),
    },
    { additionalProperties: false },
  ),
]);

/**
 * Chosen by `type` (a discriminator): only the variant the client named is checked, so a 400
 * names what is wrong in it ("auth.password is required"), not the first variant's complaint.
 */
export const AuthInput = Type.Unsafe<Static<typeof AuthVariants>>({
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: AuthVariants.anyOf,
});

/**
 * `type: [integer, null]` rather than anyOf: where types are coerced (query strings), an anyOf
 * would turn an invalid 0 into null (unlimited) instead of rejecting it.
 */
export const NullableRate = Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 100_000, description: 'messages per second; null: unlimited' });

const MAX_HEADERS = 50;
const HeaderMap = Type.Record(HeaderName, HeaderValue, { maxProperties: MAX_HEADERS });
const HeaderList = Type.Array(HeaderEntry, { maxItems: MAX_HEADERS });

/**
 * Custom headers as `{name: value}` or as a list of entries with a type. Told apart by their JSON
 * type (if/then/else) rather than a union, so a 400 names the bad entry of the form sent.
 */
const EndpointHeaders = Type.Unsafe<Static<typeof HeaderMap> | Static<typeof HeaderList>>({ if: { type: 'array' }, then: HeaderList, else: HeaderMap });

const EVENT_TYPES_DOC =
  "event types to deliver: names in any profile or of the account's custom types, `topic.*` wildcards (any depth: `asset.*` takes `asset.metadata.updated`), `*` for all; exact and case-sensitive, else 422 naming them";
const EventTypeList = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 500, description: EVENT_TYPES_DOC });
/**
 * A PATCH's event types: empty is what an inbox's relay endpoint shows, so its copy sent back
 * whole passes the schema; on any other endpoint an empty list is refused (422 naming it).
 */
const PatchEventTypeList = Type.Array(EventTypeList.items, { maxItems: 500, description: `${EVENT_TYPES_DOC}; an empty list only as an inbox's relay endpoint shows it (sent back unchanged)` });
const IdList = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 });

const endpointFields = {
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT')])),
  headers: Type.Optional(EndpointHeaders),
  auth: Type.Optional(AuthInput),
  rate_limit_per_second: Type.Optional(NullableRate),
  timeout_ms: Type.Optional(Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1000, maximum: 30_000, description: 'ms to wait for an answer; null: the default (30,000)' })),
  ordering: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('per_resource')])),
  disabled: Type.Optional(Type.Boolean()),
  project_ids: Type.Optional(IdList),
  user_ids: Type.Optional(IdList),
};

export const EndpointCreate = Type.Object(
  { url: Type.String({ minLength: 1, maxLength: 2048 }), event_types: EventTypeList, ...endpointFields },
  { additionalProperties: false },
);
export type EndpointCreate = Static<typeof EndpointCreate>;

/**
 * What answers show of an endpoint and no PATCH sets, taken so that an endpoint read, changed and
 * sent back whole is accepted (see api/read-only.ts). failing_since is not compared with the
 * current one: deliveries move it without changing updated_at, so a copy read a moment before
 * could not match it; only a time it cannot have had is refused.
 */
const endpointReadOnlyFields = {
  id: ReadOnlyId,
  profile: Type.Optional(Type.String({ maxLength: 50, ...readOnlyDoc(' An endpoint keeps the profile of the API that created it.') })),
  secret_hint: Type.Optional(Type.String({ maxLength: 100, ...readOnlyDoc(' POST /api/v2/endpoints/{id}/secret/rotate replaces the secret.') })),
  disabled_reason: Type.Optional(Type.Union([Type.String(), Type.Null()], readOnlyDoc(' Herald sets it along with disabled.'))),
  failing_since: Type.Optional(
    Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description:
        'Read-only, kept by Herald from deliveries (which move it without changing updated_at, so a copy read earlier may show another value): null or a time since the endpoint was created is ignored; a time before it or to come is refused (422 naming it).',
    }),
  ),
  created_at: ReadOnlyCreatedAt,
  updated_at: Type.Optional(
    Type.String({
      format: 'date-time',
      description:
        'Read-only, as answers show it: sent back unchanged (any RFC 3339 text of the same instant) it is ignored; another instant means the endpoint changed after it was read: 409 stale_copy naming it, nothing changed (read it again).',
    }),
  ),
};

export const EndpointPatch = Type.Object(
  { url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })), event_types: Type.Optional(PatchEventTypeList), ...endpointFields, ...endpointReadOnlyFields },
  { additionalProperties: false },
);
export type EndpointPatch = Static<typeof EndpointPatch>;

export const EndpointView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Type.String(),
  method: Type.String(),
  event_types: Type.Array(Type.String()),
  profile: Type.String(),
  headers: Type.Array(Type.Object({ name: Type.String(), value: Type.String(), type: Type.String() })),
  auth: Type.Object(
    { type: Type.String() },
    { additionalProperties: true, description: 'password and client_secret as ****, extra_params values masked (names shown); sent back as shown, they keep the stored values. OAuth also shows token_endpoint_auth_method (client_secret_post unless set).' },
  ),
  rate_limit_per_second: Type.Union([Type.Integer(), Type.Null()]),
  timeout_ms: Type.Integer(),
  ordering: Type.String(),
  disabled: Type.Boolean(),
  disabled_reason: Type.Union([Type.String(), Type.Null()]),
  failing_since: Type.Union([Type.String(), Type.Null()]),
  project_ids: Type.Array(Type.String()),
  user_ids: Type.Array(Type.String()),
  secret_hint: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
});

const ResourceRef = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 100 }), id: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: true },
);
const Actor = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: true });

export const EventIn = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_PATH_ID_LENGTH })),
    type: Type.String({ minLength: 1, maxLength: 200 }),
    occurred_at: Type.Optional(Type.String({ format: 'date-time' })),
    project_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    resource: Type.Optional(ResourceRef),
    actor: Type.Optional(Actor),
    changes: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1000 })),
    links: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    data: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type EventIn = Static<typeof EventIn>;

export const EventBatchIn = Type.Object({ events: Type.Array(EventIn, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false });
export type EventBatchIn = Static<typeof EventBatchIn>;

export const Accepted = Type.Object({ id: Type.String(), deliveries: Type.Integer(), duplicate: Type.Boolean() });

const deliveryFilters = {
  status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('in_flight'), Type.Literal('succeeded'), Type.Literal('failed')])),
  event_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'an event type in any profile\'s name, a topic.* wildcard, or * (every type); or a custom type\'s name. A custom name or a wildcard finds what was logged under it, deleted or never registered types too. A name no type could have (under message. or endpoint., only the catalog\'s) is a 400' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'created at or after this time' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'created before this time' })),
  cursor: Type.Optional(Cursor),
  limit: Type.Optional(PageLimit),
};

export const DeliveryQuery = Type.Object(deliveryFilters);

export const AccountDeliveryQuery = Type.Object({
  endpoint_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  event_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'one event\'s deliveries, by its message id' })),
  ...deliveryFilters,
});

export const RecoverBody = Type.Object(
  {
    since: Type.String({ format: 'date-time', description: 'deliveries created at or after this time' }),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'and before this time (default: now)' })),
    event_types: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 500, description: 'only these event types: names in any profile or of the account\'s custom types, `topic.*` wildcards, `*` (default: every type). As in the delivery log, a custom name or a wildcard selects what was stored under it, deleted types too; a name no type could have (under message. or endpoint., only the catalog\'s) is a 400' }),
    ),
    statuses: Type.Optional(
      Type.Array(Type.Union([Type.Literal('failed'), Type.Literal('succeeded')]), {
        minItems: 1,
        maxItems: 2,
        uniqueItems: true,
        description: 'which final statuses to re-queue: `failed` (the default) and `succeeded` to replay what was delivered',
      }),
    ),
    dry_run: Type.Optional(Type.Boolean({ description: 'count what would be re-queued (200 {would_requeue}) and change nothing' })),
  },
  { additionalProperties: false },
);

const Hours = (max: number, fallback: number) => Type.Optional(Type.Integer({ minimum: 1, maximum: max, default: fallback, description: 'window in hours, up to now' }));

export const EndpointStatsQuery = Type.Object({ hours: Hours(168, 24) });

export const BatchStatsQuery = Type.Object({
  ids: Type.String({ minLength: 1, maxLength: 100 * 101, description: 'comma-separated endpoint ids, 1 to 100; unknown ones are left out' }),
  hours: Hours(168, 24),
});

export const ActivityQuery = Type.Object({ hours: Hours(24, 6), endpoint_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) });

export const TestSendBody = Type.Object(
  {
    event_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a catalog event type or one of the account\'s custom types; default asset.created' })),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the event\'s data' })),
  },
  { additionalProperties: false },
);

const Count = Type.Integer({ minimum: 0 });
const NullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const EndpointStatsView = Type.Object({
  endpoint_id: Type.String(),
  window_hours: Type.Integer(),
  queue: Type.Object({ pending: Count, retrying: Count, in_flight: Count }, { description: 'pending: never tried; retrying: pending, tried at least once' }),
  attempts: Type.Object({ succeeded: Count, retried: Count, failed: Count }, { description: 'attempts in the window; retried: failed and retried later; failed: final' }),
  success_rate: Type.Union([Type.Number(), Type.Null()], { description: 'succeeded attempts / all attempts in the window; null without attempts' }),
  last_attempt_at: NullableTime,
  latency_ms: Type.Union([Type.Object({ avg: Type.Number(), max: Type.Number() }), Type.Null()]),
});

export const ActivityView = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  bucket_seconds: Type.Integer(),
  data: Type.Array(
    Type.Object({
      at: Type.String({ format: 'date-time' }),
      succeeded: Count,
      retried: Count,
      failed: Count,
      latency_avg_ms: Type.Union([Type.Number(), Type.Null()]),
      latency_max_ms: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});
