// Native endpoints API: /api/v2/endpoints
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../app/context.js';
import { buildEndpoint, EndpointInputError, type EndpointInput, patchEndpoint, rotateSecret } from '../../domain/endpoint.js';
import { newId } from '../../domain/ids.js';
import type { EndpointAuth, EndpointHeader } from '../../domain/types.js';
import { generateSecret } from '../../signing/standard-webhooks.js';
import { principalOf, requireRole } from '../middleware/auth.js';
import { ApiError, instantOf, notFound } from '../middleware/errors.js';
import { EndpointCreate, EndpointPatch, EndpointView, IdParams, PageQuery, RecoverBody } from '../schemas.js';
import { endpointView } from '../views.js';
import type { Static } from 'typebox';
import type { AuthInput } from '../schemas.js';
import { checkDestination } from '../destination.js';
import { raiseSystemEvent } from '../../app/system-events.js';

type HeadersIn = EndpointCreate['headers'];

function headersIn(h: HeadersIn): EndpointHeader[] | undefined {
  if (h === undefined) return undefined;
  if (Array.isArray(h)) return h.map((e) => ({ name: e.name, value: e.value, type: e.type ?? 'plain' }));
  return Object.entries(h).map(([name, value]) => ({ name, value, type: 'plain' as const }));
}

function authIn(a: Static<typeof AuthInput> | undefined): EndpointAuth | undefined {
  if (a === undefined) return undefined;
  if (a.type === 'oauth2_client_credentials') {
    return { type: a.type, tokenUrl: a.token_url, clientId: a.client_id, clientSecret: a.client_secret, scope: a.scope, extraParams: a.extra_params };
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
  const admin = { preHandler: requireRole('admin') };

  app.post('/api/v2/endpoints', { ...admin, schema: { tags: ['endpoints'], body: EndpointCreate } }, async (req, reply) => {
    const { accountId } = principalOf(req);
    const body = req.body as EndpointCreate;
    const secret = generateSecret();
    let endpoint;
    try {
      endpoint = buildEndpoint({ ...inputOf(body), url: body.url, eventTypes: body.event_types }, { id: newId('ep'), accountId, profile: 'standard', secret, now: ctx.clock() });
    } catch (err) {
      asApiError(err);
    }
    await checkDestination(ctx, endpoint.url, accountId);
    await ctx.store.createEndpoint(endpoint);
    return reply.status(201).send({ ...endpointView(endpoint), secret });
  });

  app.get('/api/v2/endpoints', { schema: { tags: ['endpoints'], querystring: PageQuery } }, async (req) => {
    const q = req.query as Static<typeof PageQuery>;
    const page = await ctx.store.listEndpoints(principalOf(req).accountId, { cursor: q.cursor, limit: q.limit ?? 50 });
    return { data: page.items.map(endpointView), next_cursor: page.nextCursor };
  });

  app.get('/api/v2/endpoints/:id', { schema: { tags: ['endpoints'], params: IdParams, response: { 200: EndpointView } } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    const endpoint = await ctx.store.getEndpoint(principalOf(req).accountId, id);
    if (!endpoint) throw notFound('endpoint', id);
    return endpointView(endpoint);
  });

  app.patch('/api/v2/endpoints/:id', { ...admin, schema: { tags: ['endpoints'], params: IdParams, body: EndpointPatch } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    const existing = await ctx.store.getEndpoint(accountId, id);
    if (!existing) throw notFound('endpoint', id);
    let updated;
    try {
      updated = patchEndpoint(existing, inputOf(req.body as EndpointPatch), ctx.clock());
    } catch (err) {
      asApiError(err);
    }
    if (updated.url !== existing.url) await checkDestination(ctx, updated.url, accountId);
    await ctx.store.updateEndpoint(updated);
    ctx.endpointChanged(id);
    if (existing.disabled !== updated.disabled) {
      await raiseSystemEvent(ctx, accountId, updated.disabled ? 'endpoint.disabled' : 'endpoint.enabled', { endpoint_id: id, url: updated.url, reason: updated.disabledReason });
    }
    return endpointView(updated);
  });

  app.delete('/api/v2/endpoints/:id', { ...admin, schema: { tags: ['endpoints'], params: IdParams } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    if (!(await ctx.store.deleteEndpoint(principalOf(req).accountId, id))) throw notFound('endpoint', id);
    ctx.endpointChanged(id);
    return reply.status(204).send();
  });

  app.post('/api/v2/endpoints/:id/secret/rotate', { ...admin, schema: { tags: ['endpoints'], params: IdParams } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    const existing = await ctx.store.getEndpoint(accountId, id);
    if (!existing) throw notFound('endpoint', id);
    const secret = generateSecret();
    const rotated = rotateSecret(existing, secret, ctx.clock(), ctx.config.rotationOverlapMs);
    await ctx.store.updateEndpoint(rotated);
    ctx.endpointChanged(id);
    return { id, secret, previous_secret_expires_at: new Date(rotated.previousSecretExpiresAt!).toISOString() };
  });

  app.post('/api/v2/endpoints/:id/recover', { ...admin, schema: { tags: ['endpoints'], params: IdParams, body: RecoverBody } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    if (!(await ctx.store.getEndpoint(accountId, id))) throw notFound('endpoint', id);
    const since = instantOf((req.body as Static<typeof RecoverBody>).since, 'since');
    const requeued = await ctx.store.recoverEndpoint(accountId, id, since, ctx.clock());
    ctx.dispatcher?.notify();
    return reply.status(202).send({ requeued });
  });
}
