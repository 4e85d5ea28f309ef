// Media Pocket admin webhooks API (seed 003), over core endpoints with profile 'mediapocket'.
//
//   POST   /api/v2/admin/webhooks              → 200 {"webhook": {...}}
//   GET    /api/v2/admin/webhooks              → 200 {"webhooks": [...]}
//   GET    /api/v2/admin/webhooks/:id          → 200 {"webhook": {...}}
//   PUT    /api/v2/admin/webhooks/:id          → 200 {"webhook": {...}}   (PATCH alike; both partial, as Rails' update)
//   DELETE /api/v2/admin/webhooks/:id          → 200 {"webhook": {...}}   (the webhook as it was)
//   GET    /api/v2/admin/webhooks/:id/success  → 200 {"success_log": [...], "next_cursor"}
//   GET    /api/v2/admin/webhooks/:id/failed   → 200 {"failed_log": [...], "next_cursor"}
//
// Errors are Media Pocket's: `{"error": "..."}` — 401 for a key that is not admin, 404
// `{"error": "project not found"}`, 404 `{"error": "Couldn't find Webhook with 'id'=<id>"}`,
// 422 `{"error": "Invalid parameter 'http_url' value nil: Must be a String"}`.
//
// The numeric `id` comes from a per-account counter (never reused); the core endpoint id is
// derived from it (`ep_mp_<account>_<n>`), so a lookup by number is one primary-key read.
// `queue_length` (waiting for a first attempt or in flight), `retry_queue_length` (waiting for a
// retry) and `latest_run` (start of the latest attempt) are read live from the store.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { checkDestination } from '../../api/destination.js';
import { principalOf, requireRole } from '../../api/middleware/auth.js';
import { ApiError } from '../../api/middleware/errors.js';
import { described } from '../../api/openapi.js';
import { Cursor } from '../../api/schemas.js';
import { iso } from '../../api/views.js';
import type { AppContext } from '../../app/context.js';
import { saveEndpointUpdate } from '../../app/endpoint-update.js';
import { filterInProfile } from '../../catalog/index.js';
import { buildEndpoint, EndpointInputError, patchEndpoint, type EndpointInput } from '../../domain/endpoint.js';
import type { Endpoint, EndpointHeader } from '../../domain/types.js';
import { mask } from '../../signing/secretbox.js';
import { generateSecret } from '../../signing/standard-webhooks.js';
import type { EndpointAttempt, Store } from '../../store/contract.js';
import { credentialElsewhere, eventName, eventTypesSent } from '../shared.js';
import {
  HeaderType,
  invalidParam,
  MediaPocketError,
  type WebhookParams,
  WebhookCreateBody,
  WebhookUpdateBody,
  webhookValidatorCompiler,
} from './validation.js';

const TAGS = ['mediapocket'];
export const COUNTER = 'mediapocket.webhook';

export function mediaPocketEndpointId(accountId: string, n: number): string {
  return `ep_mp_${accountId}_${n}`;
}

// ---- response schemas -----------------------------------------------------------------------

const Webhook = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  http_url: Type.String(),
  http_method: Type.String(),
  trigger_events: Type.Array(Type.String(), { description: 'The filter in Media Pocket names: a wildcard set through the native API as the trigger events it selects; events Media Pocket has no name for are left out.' }),
  created_at: Type.String(),
  updated_at: Type.String(),
  disabled: Type.Boolean(),
  project_id: Type.Union([Type.String(), Type.Null()]),
  queue_length: Type.Integer({ description: 'Deliveries waiting for their first attempt or in flight.' }),
  retry_queue_length: Type.Integer({ description: 'Deliveries waiting for a retry.' }),
  latest_run: Type.Union([Type.String(), Type.Null()], { description: 'Start of the latest attempt.' }),
  webhook_users: Type.Array(Type.Object({ user_id: Type.String() })),
  webhook_headers: Type.Array(Type.Object({ key: Type.String(), value: Type.String({ description: 'Masked unless plain.' }), type: HeaderType })),
});
type Webhook = Static<typeof Webhook>;
const One = Type.Object({ webhook: Webhook });
// Media Pocket's error shape, {error} alone; each status says what it answers, for /openapi.json.
const errorBody = (description: string) => Type.Object({ error: Type.String() }, { description });
const Unauthorized = errorBody('no API key, or not an admin key: {"error": …}');
const NotFound = errorBody('no such webhook (or, for project_id, no such project): {"error": "Couldn\'t find Webhook with \'id\'=7"}, {"error": "project not found"}');
const Invalid = errorBody('a param missing or not valid, in Apipie\'s words: {"error": "Invalid parameter \'http_url\' value nil: Must be a String"}');
const IdParams = Type.Object({ id: Type.String({ maxLength: 100, description: 'The numeric webhook id' }) });
const LogQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250, default: 50 })),
  cursor: Type.Optional(Cursor),
});
const LogEntry = Type.Object({
  id: Type.String(),
  delivery_id: Type.String(),
  event_id: Type.String(),
  event: Type.String({ description: 'Trigger event (Media Pocket name).' }),
  attempt: Type.Integer(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Error kind: timeout, dns, connect, tls, http_status, ...' }),
  error_message: Type.Union([Type.String(), Type.Null()]),
  duration_ms: Type.Integer(),
  request_headers: Type.Record(Type.String(), Type.String()),
  response_body: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
});
const errors = { 401: Unauthorized, 404: NotFound, 422: Invalid };

// ---- helpers ---------------------------------------------------------------------------------

function notFoundWebhook(id: string): MediaPocketError {
  return new MediaPocketError(404, `Couldn't find Webhook with 'id'=${id}`);
}

function mpIdOf(e: Endpoint): number {
  return Number(e.profileData.mp_id);
}

function logEntry(a: EndpointAttempt, eventName: (type: string) => string): Static<typeof LogEntry> {
  return {
    id: a.id,
    delivery_id: a.deliveryId,
    event_id: a.eventId,
    event: eventName(a.eventType),
    attempt: a.attemptNo,
    status_code: a.statusCode,
    error: a.errorKind,
    error_message: a.errorMessage,
    duration_ms: a.durationMs,
    request_headers: { ...a.requestHeaders },
    response_body: a.responseBody,
    created_at: iso(a.startedAt)!,
  };
}

/** Core field → Media Pocket param, for domain validation errors. */
const PARAM_OF: Readonly<Record<string, keyof WebhookParams>> = { url: 'http_url', event_types: 'trigger_events', headers: 'webhook_headers' };

function mediaPocketInputError(err: unknown, params: WebhookParams): never {
  if (err instanceof EndpointInputError) {
    const param = PARAM_OF[err.field] ?? err.field;
    throw invalidParam(param, (params as Record<string, unknown>)[param], withoutField(err.message, err.field));
  }
  if (err instanceof ApiError && err.field === 'url') throw invalidParam('http_url', params.http_url, withoutField(err.message, 'url'));
  throw err;
}

/** The core's message names its own field (`url: …`); Media Pocket's names the param instead. */
function withoutField(message: string, field: string): string {
  if (message.startsWith(`${field}: `)) return message.slice(field.length + 2);
  return message.startsWith(field) ? message.slice(field.length).trim() : message;
}

/**
 * `webhook_headers` → core headers. hidden and hmac values are secrets: on update, an entry
 * without a value keeps the stored value of that key, as long as it stays a secret: turning one
 * plain needs its value again, or it would be shown. Such an entry goes to the core as the masked
 * value answers show, which the core's rule for every API (patchEndpoint) resolves to the stored
 * value, as it does for an entry sent back masked: so the core knows the value was kept, not sent,
 * and refuses to keep a hidden one for an http_url on another origin.
 */
function headersIn(list: NonNullable<WebhookParams['webhook_headers']>, existing: readonly EndpointHeader[]): EndpointHeader[] {
  return list.map((h) => {
    const type = h.type ?? 'plain';
    const before = existing.find((e) => e.name.toLowerCase() === h.key.toLowerCase() && e.type !== 'plain');
    const keep = before && type !== 'plain' && (h.value === undefined || h.value === null);
    const value = keep ? mask(before.value) : h.value;
    if (typeof value !== 'string') throw invalidParam('value', h.value ?? null, 'Must be a String');
    return { name: h.key, value, type };
  });
}

function usersIn(list: NonNullable<WebhookParams['webhook_users']>): string[] {
  return [...new Set(list.map((u) => (typeof u === 'string' ? u : u.user_id)))];
}

// ---- routes ----------------------------------------------------------------------------------

export function registerMediaPocketRoutes(app: FastifyInstance, ctx: AppContext): void {
  void app.register(async (mp) => {
    mp.setErrorHandler(mediaPocketErrorHandler);
    routes(mp, ctx);
  });
}

function mediaPocketErrorHandler(err: FastifyError & { validation?: { instancePath?: string; params?: Record<string, unknown> }[] }, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof MediaPocketError) return reply.status(err.statusCode).send({ error: err.message });
  if (err instanceof ApiError) {
    if (err.headers) void reply.headers(err.headers);
    return reply.status(err.statusCode).send({ error: err.message });
  }
  if (err.validation && err.validation.length > 0) {
    // Path and query parameters (the body has its own validator).
    const issue = err.validation[0];
    const name = (issue.instancePath ?? '').split('/').filter(Boolean)[0] ?? String(issue.params?.missingProperty ?? 'parameter');
    const source = (err.validationContext === 'querystring' ? req.query : req.params) as Record<string, unknown> | undefined;
    return reply.status(422).send({ error: invalidParam(name, source?.[name], err.message.replace(/^[a-z]+\/\S*\s*/, '') || 'is invalid').message });
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) return reply.status(status).send({ error: err instanceof SyntaxError ? 'body is not valid JSON' : (err.message || 'Bad Request').slice(0, 200) });
  req.log.error({ err }, 'request failed');
  return reply.status(500).send({ error: 'Internal Server Error' });
}

function routes(app: FastifyInstance, ctx: AppContext): void {
  registerWebhooks(app, ctx);
  registerRunLogs(app, ctx);
}

// The role is checked before the body, so a non-admin key gets its 401 whatever it sends.
const admin = { preValidation: requireRole('admin', 401) };

/** Create, list, read, update (PUT or PATCH) and delete webhooks. */
function registerWebhooks(app: FastifyInstance, ctx: AppContext): void {
  const { store } = ctx;

  app.post(
    '/api/v2/admin/webhooks',
    {
      ...admin,
      validatorCompiler: webhookValidatorCompiler('create'),
      schema: {
        tags: TAGS,
        summary: 'Create a webhook (Media Pocket)',
        description: 'Seed 003. 401 for a key that is not admin; 404 {"error": "project not found"}; 422 {"error": "Invalid parameter \'http_url\' value nil: Must be a String"}.',
        body: WebhookCreateBody,
        response: { 200: described('{webhook}: the webhook created', One), ...errors },
      },
    },
    async (req) => {
      const { accountId } = principalOf(req);
      const p = req.body as WebhookParams;
      await checkProject(store, accountId, p.project_id);
      const now = ctx.clock();
      let draft: Endpoint;
      try {
        const input = inputOf(p);
        draft = buildEndpoint({ ...input, url: p.http_url!, eventTypes: p.trigger_events! }, { id: 'pending', accountId, profile: 'mediapocket', secret: generateSecret(), now });
        await checkDestination(ctx, draft.url, accountId);
      } catch (err) {
        mediaPocketInputError(err, p);
      }
      const n = await store.nextCounter(accountId, COUNTER);
      const endpoint: Endpoint = { ...draft, id: mediaPocketEndpointId(accountId, n), profileData: { mp_id: n } };
      await store.createEndpoint(endpoint);
      return { webhook: await view(store, endpoint) };
    },
  );

  app.get(
    '/api/v2/admin/webhooks',
    { ...admin, schema: { tags: TAGS, summary: 'List webhooks (Media Pocket)', response: { 200: described('{webhooks}: every webhook of the account', Type.Object({ webhooks: Type.Array(Webhook) })), 401: Unauthorized } } },
    async (req) => {
      const { accountId } = principalOf(req);
      const all: Endpoint[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listEndpoints(accountId, { profile: 'mediapocket', cursor, limit: 250 });
        all.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      all.sort((a, b) => mpIdOf(a) - mpIdOf(b));
      return { webhooks: await Promise.all(all.map((e) => view(store, e))) };
    },
  );

  app.get(
    '/api/v2/admin/webhooks/:id',
    { ...admin, schema: { tags: TAGS, summary: 'Get a webhook (Media Pocket)', params: IdParams, response: { 200: described('{webhook}: the webhook', One), 401: Unauthorized, 404: NotFound } } },
    async (req) => ({ webhook: await view(store, await load(store, principalOf(req).accountId, (req.params as Static<typeof IdParams>).id)) }),
  );

  const update = async (req: FastifyRequest) => {
    const { accountId } = principalOf(req);
    const existing = await load(store, accountId, (req.params as Static<typeof IdParams>).id);
    const p = req.body as WebhookParams;
    await checkProject(store, accountId, p.project_id);
    let updated: Endpoint;
    try {
      updated = patchEndpoint(existing, inputOf(p, existing), ctx.clock());
      if (updated.url !== existing.url) await checkDestination(ctx, updated.url, accountId);
    } catch (err) {
      mediaPocketInputError(credentialElsewhere(err, existing.id, ['auth']), p);
    }
    await saveEndpointUpdate(ctx, updated, existing);
    return { webhook: await view(store, updated) };
  };
  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: '/api/v2/admin/webhooks/:id',
      ...admin,
      validatorCompiler: webhookValidatorCompiler('update'),
      schema: {
        tags: TAGS,
        summary: `Update a webhook (Media Pocket, ${method})`,
        description: 'Only the params sent change. trigger_events as the webhook shows them keeps its filter as it was set (through the native API it may hold a wildcard, or events Media Pocket has no name for). webhook_headers replaces the list; a hidden or hmac entry without a value (or with the masked value shown) keeps its stored value, a hidden one only while http_url stays on the same origin (scheme, host and port): moving it elsewhere needs hidden values again (422 naming webhook_headers).',
        params: IdParams,
        body: WebhookUpdateBody,
        response: { 200: described('{webhook}: the webhook as changed', One), ...errors },
      },
      handler: update,
    });
  }

  app.delete(
    '/api/v2/admin/webhooks/:id',
    { ...admin, schema: { tags: TAGS, summary: 'Delete a webhook (Media Pocket)', description: 'Answers the webhook as it was.', params: IdParams, response: { 200: described('{webhook}: the webhook as it was before its deletion', One), 401: Unauthorized, 404: NotFound } } },
    async (req) => {
      const { accountId } = principalOf(req);
      const { id } = req.params as Static<typeof IdParams>;
      const existing = await load(store, accountId, id);
      const last = await view(store, existing);
      if (!(await store.deleteEndpoint(accountId, existing.id))) throw notFoundWebhook(id);
      ctx.endpointChanged(existing.id);
      return { webhook: last };
    },
  );
}

/** Successful and failed runs of a webhook, newest first. */
function registerRunLogs(app: FastifyInstance, ctx: AppContext): void {
  const { store } = ctx;
  for (const [path, key, outcome] of [
    ['success', 'success_log', 'succeeded'],
    ['failed', 'failed_log', 'failed'],
  ] as const) {
    app.get(
      `/api/v2/admin/webhooks/:id/${path}`,
      {
        ...admin,
        schema: {
          tags: TAGS,
          summary: `${outcome === 'succeeded' ? 'Successful' : 'Failed'} runs of a webhook (Media Pocket)`,
          description: `Every ${outcome === 'succeeded' ? 'successful' : 'failed'} attempt, newest first (a retried message appears once per failed attempt). Page with limit and cursor (= next_cursor).`,
          params: IdParams,
          querystring: LogQuery,
          response: { 200: described(`{${key}, next_cursor}: a page of ${outcome === 'succeeded' ? 'successful' : 'failed'} attempts, newest first`, Type.Object({ [key]: Type.Array(LogEntry), next_cursor: Type.Union([Type.String(), Type.Null()]) })), 401: Unauthorized, 404: NotFound },
        },
      },
      async (req) => {
        const { accountId } = principalOf(req);
        const endpoint = await load(store, accountId, (req.params as Static<typeof IdParams>).id);
        const q = req.query as Static<typeof LogQuery>;
        const page = await store.listEndpointAttempts(accountId, endpoint.id, { outcome, cursor: q.cursor, limit: q.limit ?? 50 });
        return { [key]: page.items.map((a) => logEntry(a, mediaPocketName)), next_cursor: page.nextCursor };
      },
    );
  }
}

/** The account's Media Pocket webhook of this number, or 404. */
async function load(store: Store, accountId: string, id: string): Promise<Endpoint> {
  if (!/^[1-9]\d{0,14}$/.test(id)) throw notFoundWebhook(id);
  const e = await store.getEndpoint(accountId, mediaPocketEndpointId(accountId, Number(id)));
  if (!e || e.profile !== 'mediapocket') throw notFoundWebhook(id);
  return e;
}

/** The webhook as Media Pocket shows it, with its queue lengths and latest run. */
async function view(store: Store, e: Endpoint): Promise<Webhook> {
  const [stats, latest] = await Promise.all([
    store.queueDepth(e.accountId, e.id),
    store.listEndpointAttempts(e.accountId, e.id, { limit: 1 }),
  ]);
  const run = latest?.items[0];
  return {
    id: mpIdOf(e),
    name: e.description,
    http_url: e.url,
    http_method: e.method,
    trigger_events: filterInProfile(e.eventTypes, 'mediapocket'),
    created_at: iso(e.createdAt)!,
    updated_at: iso(e.updatedAt)!,
    disabled: e.disabled,
    project_id: e.projectIds[0] ?? null,
    queue_length: stats.pending - stats.retrying + stats.inFlight,
    retry_queue_length: stats.retrying,
    latest_run: run ? iso(run.startedAt) : null,
    webhook_users: e.userIds.map((user_id) => ({ user_id })),
    webhook_headers: e.headers.map((h) => ({ key: h.name, value: h.type === 'plain' ? h.value : mask(h.value), type: h.type })),
  };
}

/** A named project must exist (404 project not found). */
async function checkProject(store: Store, accountId: string, projectId: string | null | undefined): Promise<void> {
  if (typeof projectId === 'string' && !(await store.getProject(accountId, projectId))) throw new MediaPocketError(404, 'project not found');
}

/** The endpoint fields a create or update sets (`existing`: an update, whose filter is kept as shown). */
function inputOf(p: WebhookParams, existing?: Endpoint): EndpointInput {
  return {
    url: p.http_url,
    method: p.http_method,
    description: p.name,
    eventTypes: existing ? eventTypesSent(p.trigger_events, existing.eventTypes, 'mediapocket') : p.trigger_events,
    projectIds: p.project_id === undefined ? undefined : p.project_id === null ? [] : [p.project_id],
    disabled: p.disabled,
    userIds: p.webhook_users === undefined ? undefined : usersIn(p.webhook_users),
    headers: p.webhook_headers === undefined ? undefined : headersIn(p.webhook_headers, existing?.headers ?? []),
  };
}

const mediaPocketName = (type: string) => eventName(type, 'mediapocket');
