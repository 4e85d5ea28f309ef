// Tenovos webhooks API (seeds 000–002), over core endpoints with profile 'tenovos'.
//
//   POST   /webhooks/endpoint                      [{description, eventTypes, url, rateLimit?}] (1–50) → 200 {id, ids}
//   GET    /webhooks/endpoint                      → {data, iterator, done}
//   GET    /webhooks/endpoint/{id}                 → the endpoint
//   PATCH  /webhooks/endpoint/{id}                 → 204
//   DELETE /webhooks/endpoint/{id}                 → 204
//   PUT    /webhooks/endpoint/oauth/{endpointId}   {clientId, tokenUrl, clientSecret, extraParams?, scope?, tokenEndpointAuthMethod?} → 204
//   DELETE /webhooks/endpoint/oauth/{endpointId}   → 204 (back to no authentication)
//   GET    /webhooks/endpoint/{id}/secret          → {key} (the whsec_ signing secret; Svix-style)
//   POST   /webhooks/endpoint/{id}/secret/rotate   → 204 (the previous secret keeps signing for 24 h)
//   POST   /webhooks/endpoint/{id}/recover         {since} → 202 {requeued}
//
// The create call takes an array. Each element becomes its own endpoint (its own id, secret and
// OAuth settings, which is what `PUT .../oauth/{endpointId}` addresses). The answer keeps the
// seed's `{id}` shape: `id` is the first (for the usual one-element array, the only) endpoint's
// id, and `ids` lists every created id in request order. The array is all or nothing: every
// element is validated before any endpoint is stored.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { checkDestination } from '../../api/destination.js';
import { answers, described } from '../../api/openapi.js';
import { principalOf, requireRole } from '../../api/middleware/auth.js';
import { ApiError, instantOf, notFound } from '../../api/middleware/errors.js';
import { Cursor } from '../../api/schemas.js';
import { iso, maskedValues } from '../../api/views.js';
import { expectedIfSent, readOnlyDoc, ReadOnlyCreatedAt, recordFields, ReadOnlyId, ReadOnlyUpdatedAt, staleCopy, withoutReadOnly, type ReadOnlyField } from '../../api/read-only.js';
import type { AppContext } from '../../app/context.js';
import { saveEndpointUpdate } from '../../app/endpoint-update.js';
import { buildEndpoint, checkUrl, EndpointInputError, patchEndpoint, TOKEN_ENDPOINT_AUTH_METHODS, tokenEndpointAuthMethod } from '../../domain/endpoint.js';
import { newId } from '../../domain/ids.js';
import type { Endpoint, EndpointAuth, TokenEndpointAuthMethod } from '../../domain/types.js';
import { generateSecret } from '../../signing/standard-webhooks.js';
import { failedSince } from '../../store/queries.js';
import { credentialElsewhere } from '../shared.js';
import { answerRecover, IDEMPOTENCY_KEY, KEY_REUSED, RecoverHeaders, RecoveryView } from '../../api/recover.js';
import { answerRotate, overlapText, ROTATED_SINCE, RotateHeaders } from '../../api/rotation.js';
import { customTypesFor } from '../../api/event-type-filter.js';

const TAGS = ['tenovos'];

const Description = Type.String({ minLength: 5, maxLength: 100 });
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
  minItems: 1,
  maxItems: 500,
  description: 'Event type names (asset.created, ...) or wildcards (asset.*); see GET /api/v2/event-types.',
});
const Url = Type.String({ minLength: 1, maxLength: 2048 });
// `type: [integer, null]` rather than a union, so the API's type coercion cannot turn 0 into null.
const RateLimit = Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 100_000, description: 'Messages per second; null or absent: unlimited.' });

const EndpointIn = Type.Object(
  { description: Description, eventTypes: EventTypes, url: Url, rateLimit: Type.Optional(RateLimit) },
  { additionalProperties: false },
);
const CreateBody = Type.Array(EndpointIn, { minItems: 1, maxItems: 50 });
const Created = Type.Object({
  id: Type.String({ description: 'Id of the first created endpoint (the only one for a one-element array).' }),
  ids: Type.Array(Type.String(), { description: 'Ids of every created endpoint, in request order.' }),
});
// How Herald authenticates to tokenUrl: the native auth.token_endpoint_auth_method, camelCased like
// the other fields of seed 002's body (which has none for it: a Herald extension).
/** Where a Tenovos endpoint's OAuth settings change: not in its PATCH. */
const OAUTH_ROUTES = 'Set with PUT /webhooks/endpoint/oauth/{endpointId}, removed with DELETE there.';
const TOKEN_AUTH_METHOD_DOC =
  'How Herald authenticates to tokenUrl (Herald extension; the native auth.token_endpoint_auth_method). client_secret_post: clientId and clientSecret in the form body. client_secret_basic: HTTP Basic (RFC 6749 §2.3.1), for token servers that take only that.';
const tokenAuthMethod = (description: string) => Type.Unsafe<TokenEndpointAuthMethod>({ type: 'string', enum: [...TOKEN_ENDPOINT_AUTH_METHODS], description });
const OAuthBody = Type.Object(
  {
    clientId: Type.String({ minLength: 1, maxLength: 500 }),
    tokenUrl: Type.String({ minLength: 1, maxLength: 2048 }),
    clientSecret: Type.String({ minLength: 1, maxLength: 2000, description: 'Never returned. **** (as the native API shows it) with the same tokenUrl keeps the stored secret; any other masked value is refused (422).' }),
    extraParams: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]), {
        description: 'More form fields of the token request. Sealed at rest and masked when read; a value sent back masked as read, with the same tokenUrl, keeps the stored one, any other masked value is refused (422).',
      }),
    ),
    scope: Type.Optional(
      Type.Union([Type.String({ maxLength: 1000 }), Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 }), Type.Null()], {
        description: 'A space-separated string or an array of scopes (joined with spaces; empty entries dropped). null (as GET /webhooks/endpoint/{id} shows no scope): no scope.',
      }),
    ),
    tokenEndpointAuthMethod: Type.Optional(tokenAuthMethod(`${TOKEN_AUTH_METHOD_DOC} Absent: the endpoint's current method (client_secret_post for one without OAuth).`)),
  },
  { additionalProperties: false },
);
const OAuthView = Type.Object({
  clientId: Type.String(),
  tokenUrl: Type.String(),
  scope: Type.Union([Type.String(), Type.Null()]),
  extraParams: Type.Record(Type.String(), Type.String(), { description: 'Values masked (names shown).' }),
  tokenEndpointAuthMethod: tokenAuthMethod(TOKEN_AUTH_METHOD_DOC),
});
const EndpointView = Type.Object({
  id: Type.String(),
  description: Type.String(),
  eventTypes: Type.Array(Type.String()),
  url: Type.String(),
  rateLimit: Type.Union([Type.Integer(), Type.Null()]),
  disabled: Type.Boolean(),
  disabledReason: Type.Union([Type.String(), Type.Null()]),
  oauth: Type.Union([OAuthView, Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
// The fields of the GET that no PATCH sets are taken too, so that an endpoint read, changed and
// sent back whole is accepted (see api/read-only.ts).
const PatchBody = Type.Object(
  {
    description: Type.Optional(Description),
    eventTypes: Type.Optional(EventTypes),
    url: Type.Optional(Url),
    rateLimit: Type.Optional(RateLimit),
    disabled: Type.Optional(Type.Boolean({ description: 'Herald extension: pause or resume deliveries.' })),
    id: ReadOnlyId,
    disabledReason: Type.Optional(Type.Union([Type.String(), Type.Null()], readOnlyDoc(' Herald sets it along with disabled.'))),
    oauth: Type.Optional(Type.Union([OAuthView, Type.Null()], readOnlyDoc(` ${OAUTH_ROUTES}`))),
    createdAt: ReadOnlyCreatedAt,
    updatedAt: ReadOnlyUpdatedAt,
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250, default: 50 })),
  iterator: Type.Optional(Cursor),
});
const ListView = Type.Object({ data: Type.Array(EndpointView), iterator: Type.Union([Type.String(), Type.Null()]), done: Type.Boolean() });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
const EndpointIdParams = Type.Object({ endpointId: Type.String({ minLength: 1, maxLength: 100 }) });
const RecoverBody = Type.Object({ since: Type.String({ format: 'date-time' }) }, { additionalProperties: false });

/** Core field names → Tenovos field names, for error messages. */
const FIELD_NAMES: Readonly<Record<string, string>> = { url: 'url', event_types: 'eventTypes', 'auth.token_url': 'tokenUrl', 'auth.client_secret': 'clientSecret', 'auth.extra_params': 'extraParams' };

const TENOVOS_REFUSED =
  '`invalid_endpoint`: a field breaks a rule; `ssrf_blocked` or `invalid_url`: the url (or tokenUrl) is refused by the SSRF guard. `field` names it, in Tenovos\' names (`[2].url` in a create)';

function tenovosError(err: unknown, prefix = ''): never {
  if (err instanceof EndpointInputError) {
    const field = FIELD_NAMES[err.field] ?? err.field;
    const message = err.message.startsWith(err.field) ? field + err.message.slice(err.field.length) : err.message;
    throw new ApiError(422, 'invalid_endpoint', `${prefix}${message}`, `${prefix}${field}`);
  }
  throw err;
}

export function tenovosView(e: Endpoint): Static<typeof EndpointView> {
  return {
    id: e.id,
    description: e.description,
    eventTypes: [...e.eventTypes],
    url: e.url,
    rateLimit: e.rateLimitPerSecond,
    disabled: e.disabled,
    disabledReason: e.disabledReason,
    oauth:
      e.auth.type === 'oauth2_client_credentials'
        ? {
            clientId: e.auth.clientId,
            tokenUrl: e.auth.tokenUrl,
            scope: e.auth.scope ?? null,
            extraParams: maskedValues(e.auth.extraParams ?? {}),
            tokenEndpointAuthMethod: tokenEndpointAuthMethod(e.auth),
          }
        : null,
    createdAt: iso(e.createdAt)!,
    updatedAt: iso(e.updatedAt)!,
  };
}

/** What the GET shows of `e` and no PATCH sets: sent back as read, ignored (see api/read-only.ts). */
function readOnlyFields(e: Endpoint): ReadOnlyField[] {
  const view = tenovosView(e);
  return [
    ...recordFields(e, { id: 'id', createdAt: 'createdAt', updatedAt: 'updatedAt' }),
    { name: 'disabledReason', shown: view.disabledReason, note: 'Herald sets it along with disabled' },
    { name: 'oauth', shown: view.oauth, note: OAUTH_ROUTES },
  ];
}

/**
 * OAuth body → core auth; the scope array of the seed (`["read", "write"]`) becomes "read write",
 * and null (how the GET shows no scope, so an oauth object read and written back) none.
 * Without tokenEndpointAuthMethod the core keeps the endpoint's current method.
 */
export function oauthAuth(body: Static<typeof OAuthBody>): EndpointAuth {
  const scopes = Array.isArray(body.scope) ? body.scope : body.scope === undefined || body.scope === null ? [] : [body.scope];
  const scope = scopes.map((s) => s.trim()).filter((s) => s.length > 0).join(' ');
  const extra = Object.entries(body.extraParams ?? {}).map(([k, v]) => [k, String(v)] as const);
  return {
    type: 'oauth2_client_credentials',
    tokenUrl: body.tokenUrl,
    clientId: body.clientId,
    clientSecret: body.clientSecret,
    ...(scope ? { scope } : {}),
    ...(extra.length > 0 ? { extraParams: Object.fromEntries(extra) } : {}),
    ...(body.tokenEndpointAuthMethod ? { tokenEndpointAuthMethod: body.tokenEndpointAuthMethod } : {}),
  };
}

/**
 * Tenovos' own base paths, where its routes answer as well as at the root: `/v2`, the path of its
 * API servers (`https://api.tenovos.io/v2`, seed 000), and `/content-store-v1`, under which seed
 * 002 documents the OAuth route. A client that keeps either and only changes the host finds every
 * Tenovos route there.
 */
export const TENOVOS_BASE_PATHS: readonly string[] = ['/v2', '/content-store-v1'];

/** The OpenAPI tag of the Tenovos routes, which are documented once, at the root. */
export const TENOVOS_TAG = {
  name: TAGS[0],
  description: `Tenovos webhooks API (seeds 000–002). Every route also answers under ${TENOVOS_BASE_PATHS.join(' and ')} (Tenovos' base paths), with the same keys and roles; documented once, at the root.`,
};

export function registerTenovosRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerSubscriptionRoutes(app, ctx);
  registerCredentialRoutes(app, ctx);
  registerRecoverRoute(app, ctx);
}

const admin = { preValidation: requireRole('admin') };

/** The account's Tenovos endpoint, or 404: an endpoint of another profile is not found here. */
async function load(ctx: AppContext, accountId: string, id: string): Promise<Endpoint> {
  const endpoint = await ctx.store.getEndpoint(accountId, id);
  if (!endpoint || endpoint.profile !== 'tenovos') throw notFound('endpoint', id);
  return endpoint;
}

/** Create, list, read, update and delete subscriptions. */
function registerSubscriptionRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/webhooks/endpoint',
    {
      ...admin,
      schema: {
        tags: TAGS,
        summary: 'Create endpoint subscriptions (Tenovos)',
        description:
          'An array of 1–50 subscriptions; each becomes its own endpoint. Answers 200 {id, ids}: `id` is the first endpoint\'s id (the seed\'s shape), `ids` all of them in request order. All or nothing.',
        body: CreateBody,
        response: { 200: described('{id, ids}: the endpoints created', Created), ...answers({ 422: TENOVOS_REFUSED }) },
      },
    },
    async (req) => createSubscriptions(ctx, principalOf(req).accountId, req.body as Static<typeof CreateBody>),
  );

  app.get(
    '/webhooks/endpoint',
    { schema: { tags: TAGS, summary: 'List endpoint subscriptions (Tenovos)', querystring: ListQuery, response: { 200: described('a page of subscriptions; `iterator` continues it while `done` is false', ListView) } } },
    async (req) => {
      const q = req.query as Static<typeof ListQuery>;
      const page = await ctx.store.listEndpoints(principalOf(req).accountId, { profile: 'tenovos', cursor: q.iterator, limit: q.limit ?? 50 });
      return { data: page.items.map(tenovosView), iterator: page.nextCursor, done: page.nextCursor === null };
    },
  );

  app.get(
    '/webhooks/endpoint/:id',
    { schema: { tags: TAGS, summary: 'Get an endpoint subscription (Tenovos)', params: IdParams, response: { 200: described('the subscription (credentials masked)', EndpointView) } } },
    async (req) => tenovosView(await load(ctx, principalOf(req).accountId, (req.params as Static<typeof IdParams>).id)),
  );

  app.patch(
    '/webhooks/endpoint/:id',
    {
      ...admin,
      schema: {
        tags: TAGS,
        summary: 'Update an endpoint subscription (Tenovos)',
        description:
          'A url on another origin (scheme, host and port) is refused (422 naming auth or headers) while the endpoint has basic authentication or hidden headers: those are sent in clear to the url, and are kept only for the origin they were given for. Send them again with the new url through PATCH /api/v2/endpoints/{id}. The fields of the GET that no PATCH sets (id, disabledReason, oauth, createdAt, updatedAt) may be sent back as read, and are ignored, so an endpoint read, changed and sent back whole is taken; another value is refused (422 naming it).',
        params: IdParams,
        body: PatchBody,
        response: { 204: described('updated', Type.Null()), ...answers({ 422: TENOVOS_REFUSED }) },
      },
    },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const existing = await load(ctx, accountId, (req.params as Static<typeof IdParams>).id);
      const customEventTypes = await customTypesFor(ctx.store, accountId, (req.body as Static<typeof PatchBody>).eventTypes);
      let updated: Endpoint;
      try {
        const body = withoutReadOnly(req.body as Static<typeof PatchBody>, readOnlyFields(existing));
        updated = patchEndpoint(
          existing,
          { url: body.url, eventTypes: body.eventTypes, description: body.description, rateLimitPerSecond: body.rateLimit, disabled: body.disabled, customEventTypes },
          ctx.clock(),
        );
      } catch (err) {
        // Basic auth and headers of a Tenovos endpoint are set through the native API.
        tenovosError(credentialElsewhere(err, existing.id, ['auth', 'headers']));
      }
      if (updated.url !== existing.url) await checkDestination(ctx, updated.url, accountId);
      if (!(await saveEndpointUpdate(ctx, updated, existing, expectedIfSent(req.body as object, 'updatedAt', existing)))) {
        await load(ctx, accountId, existing.id);
        tenovosError(staleCopy('updatedAt'));
      }
      return reply.status(204).send();
    },
  );

  app.delete(
    '/webhooks/endpoint/:id',
    { ...admin, schema: { tags: TAGS, summary: 'Delete an endpoint subscription (Tenovos)', params: IdParams, response: { 204: described('deleted', Type.Null()) } } },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const { id } = req.params as Static<typeof IdParams>;
      await load(ctx, accountId, id);
      if (!(await ctx.store.deleteEndpoint(accountId, id))) throw notFound('endpoint', id);
      ctx.endpointChanged(id);
      return reply.status(204).send();
    },
  );
}

/** OAuth2 client credentials and the signing secret. */
function registerCredentialRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.put(
    '/webhooks/endpoint/oauth/:endpointId',
    {
      ...admin,
      schema: {
        tags: TAGS,
        summary: 'Set OAuth2 client credentials for an endpoint (Tenovos)',
        description:
          'Herald fetches a token from tokenUrl (client credentials grant) and sends it as a Bearer token with every delivery. The client secret is sealed at rest and never returned; extraParams values are sealed and read back masked. clientId and clientSecret go to tokenUrl in the form body (client_secret_post) or, with tokenEndpointAuthMethod client_secret_basic, with HTTP Basic (for token servers that take only that). tokenEndpointAuthMethod is a Herald extension, the native auth.token_endpoint_auth_method, shown in GET /webhooks/endpoint/{id}: a PUT without it keeps the current method.',
        params: EndpointIdParams,
        body: OAuthBody,
        response: { 204: described('set: deliveries from now on carry a token from tokenUrl', Type.Null()), ...answers({ 422: TENOVOS_REFUSED }) },
      },
    },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const existing = await load(ctx, accountId, (req.params as Static<typeof EndpointIdParams>).endpointId);
      const body = req.body as Static<typeof OAuthBody>;
      try {
        checkUrl(body.tokenUrl, 'tokenUrl');
      } catch (err) {
        tenovosError(err);
      }
      await checkDestination(ctx, body.tokenUrl, accountId, 'tokenUrl');
      let updated: Endpoint;
      try {
        updated = patchEndpoint(existing, { auth: oauthAuth(body) }, ctx.clock());
      } catch (err) {
        tenovosError(err);
      }
      await saveEndpointUpdate(ctx, updated, existing);
      return reply.status(204).send();
    },
  );

  app.delete(
    '/webhooks/endpoint/oauth/:endpointId',
    { ...admin, schema: { tags: TAGS, summary: 'Remove OAuth2 from an endpoint (Tenovos)', params: EndpointIdParams, response: { 204: described('removed: deliveries carry no token', Type.Null()) } } },
    async (req, reply) => {
      const existing = await load(ctx, principalOf(req).accountId, (req.params as Static<typeof EndpointIdParams>).endpointId);
      await saveEndpointUpdate(ctx, patchEndpoint(existing, { auth: { type: 'none' } }, ctx.clock()), existing);
      return reply.status(204).send();
    },
  );

  app.get(
    '/webhooks/endpoint/:id/secret',
    {
      ...admin,
      schema: {
        tags: TAGS,
        summary: "The endpoint's signing secret (Tenovos)",
        description: 'The whsec_ secret that signs deliveries (Standard Webhooks webhook-signature header).',
        params: IdParams,
        response: { 200: described('{key}: the whsec_ secret', Type.Object({ key: Type.String() })) },
      },
    },
    async (req) => ({ key: (await load(ctx, principalOf(req).accountId, (req.params as Static<typeof IdParams>).id)).secret }),
  );

  app.post(
    '/webhooks/endpoint/:id/secret/rotate',
    {
      ...admin,
      schema: {
        tags: TAGS,
        summary: "Rotate the endpoint's signing secret (Tenovos)",
        description: `A new secret signs from now on; the previous one also signs for ${overlapText(ctx.config.rotationOverlapMs)} (HERALD_ROTATION_OVERLAP_SECONDS). With an Idempotency-Key, a repeat (a retry after a timeout, from any API process) rotates nothing again and answers 204 with header Idempotent-Replayed; once a later rotation replaced the key's, 409 rotated_since. A key is remembered for HERALD_RETENTION_DAYS.`,
        params: IdParams,
        headers: RotateHeaders,
        response: { 204: described('rotated (or, repeated with its Idempotency-Key, rotated before)', Type.Null()), ...answers({ 409: ROTATED_SINCE }) },
      },
    },
    async (req, reply) => {
      const existing = await load(ctx, principalOf(req).accountId, (req.params as Static<typeof IdParams>).id);
      // The native answer carries the secret; Tenovos reads it with GET .../secret instead.
      await answerRotate(ctx, reply, existing, (req.headers as Static<typeof RotateHeaders>)[IDEMPOTENCY_KEY]);
      return reply.status(204).send();
    },
  );
}

function registerRecoverRoute(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/webhooks/endpoint/:id/recover',
    {
      ...admin,
      schema: {
        tags: TAGS,
        summary: 'Recover failed messages (Tenovos)',
        description:
          'Re-queues every failed message of the endpoint created since `since` (up to now). Answers 202 once done or after about 2 s: `requeued` so far of `total`, `status` running or done; a running one goes on and `Location` follows it (GET /api/v2/endpoints/{id}/recoveries/{recovery_id}). A repeat with the same Idempotency-Key, or of the same request while it runs, answers with that recovery and re-queues nothing again.',
        params: IdParams,
        headers: RecoverHeaders,
        body: RecoverBody,
        response: { 202: described('the recovery: running (follow Location) or done', RecoveryView), ...answers({ 422: KEY_REUSED }) },
      },
    },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const { id } = req.params as Static<typeof IdParams>;
      await load(ctx, accountId, id);
      const since = instantOf((req.body as Static<typeof RecoverBody>).since, 'since');
      return answerRecover(ctx, reply, { accountId, endpointId: id }, failedSince(since), (req.headers as Static<typeof RecoverHeaders>)[IDEMPOTENCY_KEY]);
    },
  );
}

/** Every subscription becomes an endpoint, all or none: those created are deleted again if one fails. */
async function createSubscriptions(ctx: AppContext, accountId: string, items: Static<typeof CreateBody>): Promise<Static<typeof Created>> {
  const now = ctx.clock();
  const endpoints: Endpoint[] = [];
  const customEventTypes = await customTypesFor(ctx.store, accountId, items.flatMap((item) => item.eventTypes));
  for (const [i, item] of items.entries()) {
    try {
      endpoints.push(
        buildEndpoint(
          { url: item.url, eventTypes: item.eventTypes, description: item.description, rateLimitPerSecond: item.rateLimit ?? null, customEventTypes },
          { id: newId('ep', now), accountId, profile: 'tenovos', secret: generateSecret(), now },
        ),
      );
    } catch (err) {
      tenovosError(err, `[${i}].`);
    }
  }
  // Each distinct destination is resolved once, all at the same time.
  const firstIndex = new Map<string, number>();
  items.forEach((item, i) => firstIndex.has(item.url) || firstIndex.set(item.url, i));
  await Promise.all([...firstIndex].map(([url, i]) => checkDestination(ctx, url, accountId, `[${i}].url`)));
  const created: Endpoint[] = [];
  try {
    for (const e of endpoints) {
      await ctx.store.createEndpoint(e);
      created.push(e);
    }
  } catch (err) {
    for (const e of created) await ctx.store.deleteEndpoint(accountId, e.id).catch(() => false);
    throw err;
  }
  return { id: created[0].id, ids: created.map((e) => e.id) };
}
