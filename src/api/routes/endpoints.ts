// Native endpoints API: /api/v2/endpoints
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { buildEndpoint, EndpointInputError, type EndpointInput, patchEndpoint } from '../../domain/endpoint.js';
import { newId } from '../../domain/ids.js';
import type { Endpoint, EndpointAuth, EndpointHeader, EventInput } from '../../domain/types.js';
import { ingestFailure, TEST_SEND_OUTCOME_UNKNOWN, TEST_SEND_UNAVAILABLE } from '../ingest-failure.js';
import { findEventType, isHeraldEvent, subjectOf } from '../../catalog/index.js';
import { generateSecret } from '../../signing/standard-webhooks.js';
import { answers, described } from '../openapi.js';
import { principalOf, requireRole } from '../middleware/auth.js';
import { ApiError, checkRange, instantOf, notFound } from '../middleware/errors.js';
import { EndpointCreate, EndpointPatch, EndpointView, IdParams, PageQuery, RecoverBody, TestSendBody } from '../schemas.js';
import { endpointView, iso } from '../views.js';
import { EndpointCreated, EndpointPage } from '../response-schemas.js';
import { Type, type Static } from 'typebox';
import type { AuthInput } from '../schemas.js';
import { checkEndpointDestinations } from '../destination.js';
import { customTypesOf } from '../custom-events.js';
import { checkEventLimits } from '../event-limits.js';
import { customTypesFor, storedEventTypes } from '../event-type-filter.js';
import { saveEndpointUpdate } from '../../app/endpoint-update.js';
import { expectedIfSent, recordFields, StaleCopyError, withoutReadOnly, type ReadOnlyField } from '../read-only.js';
import { checkIfMatch, etagOf, IF_MATCH, IfMatchHeaders, namesState, preconditionFailed } from '../preconditions.js';
import type { RecoverScope } from '../../store/contract.js';
import { answerRecover, DryRun, fixedScope, IDEMPOTENCY_KEY, KEY_REUSED, RecoverHeaders, RecoveryView, recoveryView } from '../recover.js';
import { answerRotate, overlapText, ROTATED_SINCE, RotateHeaders, RotatedView } from '../rotation.js';

const RecoveryParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }), recovery_id: Type.String({ minLength: 1, maxLength: 100 }) });

type HeadersIn = EndpointCreate['headers'];

/**
 * A header sent without a type is kept hidden: custom headers are how receivers authenticate
 * (header authentication), so their values stay out of the attempt logs unless `plain` is asked.
 */
function headersIn(h: HeadersIn): EndpointHeader[] | undefined {
  if (h === undefined) return undefined;
  if (Array.isArray(h)) return h.map((e) => ({ name: e.name, value: e.value, type: e.type ?? 'hidden' }));
  return Object.entries(h).map(([name, value]) => ({ name, value, type: 'hidden' as const }));
}

function authIn(a: Static<typeof AuthInput> | undefined): EndpointAuth | undefined {
  if (a === undefined) return undefined;
  if (a.type === 'oauth2_client_credentials') {
    return {
      type: a.type,
      tokenUrl: a.token_url,
      clientId: a.client_id,
      clientSecret: a.client_secret,
      scope: a.scope,
      extraParams: a.extra_params,
      tokenEndpointAuthMethod: a.token_endpoint_auth_method,
    };
  }
  return a;
}

function inputOf(body: EndpointPatch): EndpointInput {
  return {
    url: body.url,
    eventTypes: body.event_types,
    description: body.description,
    method: body.method,
    headers: headersIn(body.headers),
    auth: authIn(body.auth),
    rateLimitPerSecond: body.rate_limit_per_second,
    timeoutMs: body.timeout_ms,
    ordering: body.ordering,
    disabled: body.disabled,
    projectIds: body.project_ids,
    userIds: body.user_ids,
  };
}

/** Domain rule violations become a 422 naming the field. */
export function asApiError(err: unknown): never {
  if (err instanceof EndpointInputError) throw new ApiError(422, 'invalid_endpoint', err.message, err.field);
  throw err;
}

export function registerEndpointRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerEndpointCrud(app, ctx);
  registerSecretRoutes(app, ctx);
  registerRecoverRoutes(app, ctx);
  registerTestSend(app, ctx);
}

const admin = { preValidation: requireRole('admin') };

/** Create, list, read, change and delete endpoints. */
function registerEndpointCrud(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/v2/endpoints', { preValidation: [admin.preValidation, refuseReadOnlyOnCreate], schema: { tags: ['endpoints'], description: 'Subscribes a URL to event types (exact names or topic.* wildcards); answers 201 with the endpoint and its signing secret, shown this once. The fields answers show that Herald sets (id, profile, secret_hint, disabled_reason, failing_since, created_at, updated_at) are refused (422 naming the field). Admin keys only.', body: EndpointCreate, response: { 201: described('the endpoint, with its signing secret (shown this once)', EndpointCreated), ...answers({ 422: ENDPOINT_REFUSED }) } } }, async (req, reply) => {
    const { accountId } = principalOf(req);
    const body = req.body as EndpointCreate;
    const secret = generateSecret();
    let endpoint;
    try {
      const customEventTypes = await customTypesFor(ctx.store, accountId, body.event_types);
      endpoint = buildEndpoint({ ...inputOf(body), url: body.url, eventTypes: body.event_types, customEventTypes }, { id: newId('ep'), accountId, profile: 'standard', secret, now: ctx.clock() });
    } catch (err) {
      asApiError(err);
    }
    await checkEndpointDestinations(ctx, endpoint, accountId);
    await ctx.store.createEndpoint(endpoint);
    return reply.status(201).send({ ...endpointView(endpoint), secret });
  });

  app.get('/api/v2/endpoints', { schema: { tags: ['endpoints'], description: 'The account\'s endpoints, newest first, a page at a time (credentials masked).', querystring: PageQuery, response: { 200: described('{data, next_cursor}: a page of endpoints (credentials masked), as GET /api/v2/endpoints/{id} shows each', EndpointPage) } } }, async (req) => {
    const q = req.query as Static<typeof PageQuery>;
    const page = await ctx.store.listEndpoints(principalOf(req).accountId, { cursor: q.cursor, limit: q.limit ?? 50 });
    return { data: page.items.map(endpointView), next_cursor: page.nextCursor };
  });

  app.get('/api/v2/endpoints/:id', { schema: { tags: ['endpoints'], description: 'One endpoint (credentials masked), with its ETag: send it back in If-Match to change or delete the endpoint only as read. Another account\'s endpoint answers 404.', params: IdParams, response: { 200: described('the endpoint (credentials masked), with its ETag', EndpointView) } } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    const endpoint = await ctx.store.getEndpoint(principalOf(req).accountId, id);
    if (!endpoint) throw notFound('endpoint', id);
    return withEtag(reply, endpoint);
  });

  app.patch('/api/v2/endpoints/:id', { ...admin, schema: { tags: ['endpoints'], description: 'Changes the given fields of an endpoint; credentials left out, or sent back masked as answers show them, are kept (OAuth ones only with the same token_url; a basic password and hidden header values, sent in clear to the URL, only while the url stays on the same origin: scheme, host and port, else 422 naming auth or headers); any other masked value is refused (422). The fields answers show that no PATCH sets (id, profile, secret_hint, disabled_reason, created_at, updated_at) may be sent back as read, and are ignored, so an endpoint read, changed and sent back whole is taken; another value is refused (422 naming it), but an updated_at other than the current one means the endpoint changed after it was read: 409 stale_copy naming updated_at; failing_since, which deliveries move, is ignored when it is null or a time since the endpoint was created (a copy read earlier may show it), else refused (422). An inbox\'s relay endpoint takes disabled alone: its other fields sent back as read are left as they are, one changed is a 409 managed_by_inbox naming it. With If-Match (the ETag a GET answered) the change is made only if the endpoint is still as read, else 412. Admin keys only.', params: IdParams, headers: IfMatchHeaders, body: EndpointPatch, response: { 200: described('the endpoint (credentials masked), with its new ETag', EndpointView), ...answers({ 409: `${INBOX_RELAY}; ${STALE_COPY}`, 412: PRECONDITION_FAILED, 422: ENDPOINT_REFUSED }) } } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    const existing = await ctx.store.getEndpoint(accountId, id);
    if (!existing) throw notFound('endpoint', id);
    const ifMatch = ifMatchOf(req);
    checkIfMatch(ifMatch, endpointEtag(existing), 'endpoint');
    const body = relayPatch(editable(req.body as EndpointPatch, existing, ctx.clock()), existing);
    const customEventTypes = await customTypesFor(ctx.store, accountId, body.event_types);
    let updated;
    try {
      updated = patchEndpoint(existing, { ...inputOf(body), customEventTypes }, ctx.clock());
    } catch (err) {
      asApiError(err);
    }
    await checkEndpointDestinations(ctx, updated, accountId, existing);
    // A client that named the state it read (If-Match, updated_at) has the store check it is
    // still the state in the write itself: checked above only, a change committed since the
    // read (a racing PATCH) would be undone.
    const expected = namesState(ifMatch) ? { updatedAt: existing.updatedAt } : expectedIfSent(req.body as object, 'updated_at', existing);
    if (!(await saveEndpointUpdate(ctx, updated, existing, expected))) {
      return changedSinceRead(ctx, accountId, id, ifMatch);
    }
    // As stored: what another writer changed meanwhile (a worker disabling it) was kept.
    return withEtag(reply, (await ctx.store.getEndpoint(accountId, id)) ?? updated);
  });

  app.delete('/api/v2/endpoints/:id', { ...admin, schema: { tags: ['endpoints'], description: 'Deletes an endpoint at once; its deliveries and their attempts are purged afterwards by the worker jobs, and none is shown or sent meanwhile. With If-Match (the ETag a GET answered) only if the endpoint is still as read, else 412; a repeat is a 404. Admin keys only.', params: IdParams, headers: IfMatchHeaders, response: answers({ 204: 'deleted; its deliveries and their attempts are purged afterwards', 409: INBOX_RELAY, 412: PRECONDITION_FAILED }) } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    const existing = await ctx.store.getEndpoint(accountId, id);
    const ifMatch = ifMatchOf(req);
    if (existing) {
      checkIfMatch(ifMatch, endpointEtag(existing), 'endpoint');
      refuseRelay(existing);
    }
    // Deleted only as read, checked by the store with the deletion (as PATCH).
    const expected = existing && namesState(ifMatch) ? { updatedAt: existing.updatedAt } : undefined;
    if (!(await ctx.store.deleteEndpoint(accountId, id, expected))) {
      if (expected) return changedSinceRead(ctx, accountId, id, ifMatch);
      throw notFound('endpoint', id);
    }
    ctx.endpointChanged(id);
    return reply.status(204).send();
  });
}

/** The signing secret: rotated, and read in full. */
function registerSecretRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/v2/endpoints/:id/secret/rotate', { ...admin, schema: { tags: ['endpoints'], description: `Replaces the signing secret and returns the new one; the previous secret keeps signing alongside it for ${overlapText(ctx.config.rotationOverlapMs)} (HERALD_ROTATION_OVERLAP_SECONDS), until previous_secret_expires_at. Only one previous secret is kept. With an Idempotency-Key, a repeat (from any API process) rotates nothing again and answers as the first did, but with secret_hint in place of the secret, shown once (header Idempotent-Replayed), while the secret it set is still the endpoint's; once a later rotation replaced it, 409 rotated_since. A key is remembered for HERALD_RETENTION_DAYS. Admin keys only.`, params: IdParams, headers: RotateHeaders, response: { 200: described('the new secret in full (a repeat of an Idempotency-Key: its secret_hint), and when the previous one stops signing', RotatedView), ...answers({ 409: ROTATED_SINCE }) } } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    const existing = await ctx.store.getEndpoint(accountId, id);
    if (!existing) throw notFound('endpoint', id);
    return answerRotate(ctx, reply, existing, (req.headers as Static<typeof RotateHeaders>)[IDEMPOTENCY_KEY]);
  });


  app.get(
    '/api/v2/endpoints/:id/secret',
    {
      ...admin,
      schema: {
        tags: ['endpoints'],
        description: 'The signing secret in full (everywhere else it is masked), and when the rotated-out one stops signing.',
        params: IdParams,
        response: { 200: described('the secret in full, and when the previous one stops signing (null: none does)', Type.Object({ secret: Type.String(), previous_secret_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) })) },
      },
    },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const endpoint = await ctx.store.getEndpoint(principalOf(req).accountId, id);
      if (!endpoint) throw notFound('endpoint', id);
      // Still valid = still signing; an expired previous secret is no longer anyone's concern.
      const expires = endpoint.previousSecretExpiresAt !== null && endpoint.previousSecretExpiresAt > ctx.clock() ? endpoint.previousSecretExpiresAt : null;
      return { secret: endpoint.secret, previous_secret_expires_at: iso(expires) };
    },
  );
}

/** Re-queueing failed (or delivered) deliveries, and following a recover that goes on. */
function registerRecoverRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/api/v2/endpoints/:id/recover',
    {
      ...admin,
      schema: {
        tags: ['endpoints'],
        description:
          'Re-queue the failed deliveries of the endpoint created from `since` (to `until`, at most now; of `event_types`), and with `statuses` the succeeded ones too, to replay them. Answers 202 with the recovery once it is done or after about 2 s, whichever is first: `status` running or done, `total` counted when it began, `requeued` so far; a running one goes on and `Location` (GET /api/v2/endpoints/{id}/recoveries/{recovery_id}) follows it. A repeat with the same Idempotency-Key, or of the same request while it runs, answers with that recovery (header Idempotent-Replayed) and re-queues nothing again. With `dry_run` only count them (200 {would_requeue, until}: pass that until back to recover exactly those). Pending and in-flight deliveries are left alone.',
        params: IdParams,
        headers: RecoverHeaders,
        body: RecoverBody,
        response: {
          200: described('dry_run: what a recover would re-queue, nothing changed', DryRun),
          202: described('the recovery: running (follow Location) or done', RecoveryView),
          ...answers({ 422: KEY_REUSED }),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof IdParams>;
      const { accountId } = principalOf(req);
      if (!(await ctx.store.getEndpoint(accountId, id))) throw notFound('endpoint', id);
      const body = req.body as Static<typeof RecoverBody>;
      const scope = recoverScopeOf(body);
      if (body.dry_run === true) {
        const fixed = fixedScope(scope, ctx.clock());
        return reply.status(200).send({ would_requeue: await ctx.store.countRecoverable(accountId, id, fixed), until: iso(fixed.until) });
      }
      return answerRecover(ctx, reply, { accountId, endpointId: id }, scope, (req.headers as Static<typeof RecoverHeaders>)[IDEMPOTENCY_KEY]);
    },
  );

  app.get(
    '/api/v2/endpoints/:id/recoveries/:recovery_id',
    {
      schema: {
        tags: ['endpoints'],
        description: 'How far a recover of the endpoint has got: `requeued` of `total`, `status` running or done.',
        params: RecoveryParams,
        response: { 200: described('the recovery: `requeued` of `total`, running or done', RecoveryView) },
      },
    },
    async (req) => {
      const { id, recovery_id: recoveryId } = req.params as Static<typeof RecoveryParams>;
      const recovery = await ctx.store.getRecovery(principalOf(req).accountId, id, recoveryId);
      if (!recovery) throw notFound('recovery', recoveryId);
      return recoveryView(recovery);
    },
  );
}

function registerTestSend(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/api/v2/endpoints/:id/test',
    {
      // The role first; then the body is optional: without one, the defaults.
      preValidation: [
        admin.preValidation,
        async (req: FastifyRequest) => {
          req.body ??= {};
        },
      ],
      schema: {
        tags: ['endpoints'],
        description: `Send a test event to this endpoint only, whatever its event filter, through the normal queue (signed, retried, logged). Default type ${TEST_EVENT_TYPE}. 409 when the endpoint is disabled.`,
        params: IdParams,
        body: TestSendBody,
        response: {
          202: described('queued: the test message and its one delivery', Type.Object({ message_id: Type.String(), delivery_id: Type.String() })),
          ...answers({ 409: '`endpoint_disabled`: the endpoint is disabled', 422: TEST_SEND_REFUSED }),
          503: { description: TEST_SEND_UNAVAILABLE },
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof IdParams>;
      const { accountId } = principalOf(req);
      const endpoint = await ctx.store.getEndpoint(accountId, id);
      if (!endpoint) throw notFound('endpoint', id);
      if (endpoint.disabled) throw new ApiError(409, 'endpoint_disabled', `endpoint ${id} is disabled; enable it to send a test event`);
      const sent = await sendTestEvent(ctx, endpoint, req.body as Static<typeof TestSendBody>);
      return reply.status(202).send(sent);
    },
  );
}

/** Members of an endpoint's view that move with deliveries, without its change time. */
const LIVE: readonly string[] = ['failing_since'];

const endpointEtag = (e: Endpoint): string => etagOf(endpointView(e), LIVE);

const ifMatchOf = (req: FastifyRequest): string | undefined => (req.headers as Static<typeof IfMatchHeaders>)[IF_MATCH];

/** The endpoint as answers show it, its ETag in the header. */
function withEtag(reply: FastifyReply, e: Endpoint): Record<string, unknown> {
  const view = endpointView(e);
  void reply.header('etag', etagOf(view, LIVE));
  return view;
}

/**
 * Throws what a conditional write that found the endpoint changed since it was read answers: 404
 * when it is gone, 412 with its ETag now for If-Match, else 409 stale_copy (a body's updated_at).
 */
async function changedSinceRead(ctx: AppContext, accountId: string, id: string, ifMatch: string | undefined): Promise<never> {
  const now = await ctx.store.getEndpoint(accountId, id);
  if (!now) throw notFound('endpoint', id);
  if (namesState(ifMatch)) throw preconditionFailed(endpointEtag(now), 'endpoint');
  throw staleCopy('updated_at', now);
}

/** The 409 of a body whose `field` (its updated_at) is not the endpoint's `e`'s now. */
function staleCopy(field: string, e: Endpoint): ApiError {
  const at = iso(e.updatedAt)!;
  return new ApiError(409, 'stale_copy', `${field}: the endpoint changed after this copy was read (its updated_at is now ${at}); read it again and send your change with that, or leave ${field} out`, field);
}

/**
 * A PATCH body without what answers show of `e` and no PATCH sets, sent back as read (422 naming
 * one sent back changed, 409 for a stale updated_at): an endpoint read, changed and sent back
 * whole is taken.
 */
function editable(body: EndpointPatch, e: Endpoint, now: number): EndpointPatch {
  const view = endpointView(e);
  const readOnly: ReadOnlyField[] = [
    ...recordFields(e),
    { name: 'profile', shown: view.profile, note: 'an endpoint keeps the profile of the API that created it' },
    { name: 'secret_hint', shown: view.secret_hint, note: 'POST /api/v2/endpoints/{id}/secret/rotate replaces the secret' },
    { name: 'disabled_reason', shown: view.disabled_reason, note: 'Herald sets it along with disabled' },
    { name: 'failing_since', shown: view.failing_since, live: true, couldShow: (sent) => sent === null || wasFailingSince(sent, e, now), note: FAILING_SINCE_NOTE },
  ];
  try {
    return withoutReadOnly(body, readOnly);
  } catch (err) {
    // A copy read before the endpoint's last change: sent back whole, it would undo that change.
    if (err instanceof StaleCopyError) throw staleCopy(err.field, e);
    return asApiError(err);
  }
}

const ENDPOINT_REFUSED =
  '`invalid_endpoint`: a field breaks a rule (a URL that is not http(s), an unknown event type, a masked value in place of a credential, a credential not sent again for a URL on another origin, a field answers show sent back changed, or named in a create); ' +
  '`ssrf_blocked` (or `invalid_url`): the URL (or OAuth token_url) is refused by the SSRF guard: a private or loopback address not in HERALD_ALLOWED_TARGETS. `field` names it';
const INBOX_RELAY = "`managed_by_inbox`: the endpoint relays an inbox's captures: change it through the inbox (a PATCH may change disabled alone; `field` names another sent changed)";
const STALE_COPY = '`stale_copy`: updated_at is not the endpoint\'s: it changed after the copy sent was read; `field` names updated_at';
const PRECONDITION_FAILED = '`precondition_failed`: If-Match names no ETag the endpoint has now: it changed after it was read; the answer\'s ETag header is the current one';
const TEST_SEND_REFUSED =
  '`unknown_event_type`: event_type is neither in the catalog nor one of the account\'s custom types; `reserved_event_type`: data given for one of Herald\'s own types; `invalid_event_data`: data does not match the custom type\'s schema. `field` names it';

/** An inbox's relay endpoint is its inbox's to change and delete (forward_url), not the API's. */
function refuseRelay(endpoint: Endpoint, field?: string): void {
  if (endpoint.profile === 'inbox') {
    const what = field === undefined ? '' : `${field}: it is the inbox's (send it back as read, or leave it out); `;
    throw new ApiError(409, 'managed_by_inbox', `${what}this endpoint relays an inbox's captures; change or remove it through the inbox's forward_url`, field);
  }
}

/**
 * What a PATCH of `e` may change when it relays an inbox: disabled alone (pausing it). Its other
 * fields, sent back as answers show them (a whole copy read, disabled changed), are the inbox's
 * and left as they are; one sent changed is refused (409 naming it).
 */
function relayPatch(body: EndpointPatch, e: Endpoint): EndpointPatch {
  if (e.profile !== 'inbox') return body;
  const view: Record<string, unknown> = endpointView(e);
  const changed = Object.entries(body).find(([name, value]) => name !== 'disabled' && !isDeepStrictEqual(value, view[name]));
  if (changed) refuseRelay(e, changed[0]);
  return body.disabled === undefined ? {} : { disabled: body.disabled };
}

/** What answers show of an endpoint and Herald sets: a new endpoint has none of them yet. */
const SET_BY_HERALD = ['id', 'profile', 'secret_hint', 'disabled_reason', 'failing_since', 'created_at', 'updated_at'];

/**
 * A create naming a field Herald sets: 422 naming it, as a PATCH answers one sent changed (before
 * the schema, which knows no such field and would answer that it is not allowed).
 */
async function refuseReadOnlyOnCreate(req: FastifyRequest): Promise<void> {
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const named = SET_BY_HERALD.find((name) => Object.hasOwn(body, name));
  if (named !== undefined) throw new ApiError(422, 'invalid_endpoint', `${named} is read-only: Herald sets it; leave it out of a new endpoint`, named);
}

const FAILING_SINCE_NOTE = "deliveries move it: a copy's earlier value (a time since the endpoint was created, or null) is ignored";

/** Whether `sent` is a time failing_since could have shown of `e` by `now`: not before its creation, nor to come. */
function wasFailingSince(sent: unknown, e: Endpoint, now: number): boolean {
  const at = typeof sent === 'string' ? Date.parse(sent) : Number.NaN;
  return at >= e.createdAt && at <= now;
}

/** The event type of a test send when none is given: the most common DAM event. */
const TEST_EVENT_TYPE = 'asset.created';

async function sendTestEvent(ctx: AppContext, endpoint: Endpoint, body: Static<typeof TestSendBody>): Promise<{ message_id: string; delivery_id: string }> {
  checkEventLimits(body, 'body');
  const type = body.event_type ?? TEST_EVENT_TYPE;
  // Receivers may trust Herald's own types: a test of one carries the test data, nothing chosen.
  if (isHeraldEvent(type) && body.data !== undefined) {
    throw new ApiError(422, 'reserved_event_type', `data: a test of ${type}, raised by Herald itself, carries no data of your own`, 'data');
  }
  // A resource of the event's own topic, so every profile renders the payload it would for real.
  const subject = subjectOf(findEventType(type)?.name ?? type);
  const event: EventInput = { type, resource: { type: subject, id: 'herald-test' }, data: body.data ?? { test: true } };
  const custom = await customTypesOf(ctx.store, endpoint.accountId, [event], () => '');
  let out;
  try {
    out = await ctx.ingestor.publishTo(endpoint.accountId, event, [{ id: endpoint.id, ordered: endpoint.ordering === 'per_resource' }], custom);
  } catch (err) {
    throw ingestFailure(ctx, err, () => 'event_type', TEST_SEND_OUTCOME_UNKNOWN);
  }
  const [delivery] = (await ctx.store.listDeliveries(endpoint.accountId, { eventId: out.id, limit: 1 })).items;
  // Deleted in the meantime (its deliveries went with it).
  if (!delivery) throw notFound('endpoint', endpoint.id);
  return { message_id: out.id, delivery_id: delivery.id };
}

/**
 * A recover's scope from its body. Event type patterns select deliveries as the log's filter
 * does: by the names they are stored under, deleted custom types' too, and wildcards over them.
 */
function recoverScopeOf(body: Static<typeof RecoverBody>): RecoverScope {
  const since = instantOf(body.since, 'since');
  const until = body.until === undefined ? null : instantOf(body.until, 'until');
  checkRange(since, until);
  const eventTypes = body.event_types === undefined ? null : storedEventTypes(body.event_types, 'event_types');
  return { since, until, eventTypes, statuses: body.statuses ?? ['failed'] };
}
