// Delivery logs and replay: /api/v2/deliveries, /api/v2/endpoints/:id/deliveries, /api/v2/deliveries/:id
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { AppContext } from '../../app/context.js';
import { answers, described } from '../openapi.js';
import { AccountStatsView, DeliveryPage, DeliveryView, DeliveryWithAttempts } from '../response-schemas.js';
import { principalOf, requireRole } from '../middleware/auth.js';
import { storedEventTypes } from '../event-type-filter.js';
import type { DeliveryQuery as DeliveryQueryIn } from '../../store/contract.js';
import { ApiError, checkRange, instantOf, notFound } from '../middleware/errors.js';
import { AccountDeliveryQuery, DeliveryQuery, IdParams } from '../schemas.js';
import { registerStatsRoutes } from './stats.js';
import { deliveryView } from '../views.js';

type Filters = Static<typeof DeliveryQuery>;

/**
 * The store query of the log filters. An event type that no name or wildcard could be is a 400;
 * a custom type's name or a wildcard, over types deleted or never registered too, finds what was
 * logged under it.
 */
function queryOf(q: Filters, endpointId: string | undefined): DeliveryQueryIn {
  const since = q.since === undefined ? undefined : instantOf(q.since, 'since');
  const until = q.until === undefined ? undefined : instantOf(q.until, 'until');
  checkRange(since, until);
  return {
    endpointId,
    status: q.status,
    eventTypes: q.event_type === undefined ? undefined : (storedEventTypes([q.event_type], 'event_type') ?? undefined),
    since,
    until,
    cursor: q.cursor,
    limit: q.limit ?? 50,
  };
}

/** A page of deliveries, each with its attempt log (one query for all of their attempts). */
async function logPage(ctx: AppContext, accountId: string, query: DeliveryQueryIn) {
  const page = await ctx.store.listDeliveries(accountId, query);
  const attempts = await ctx.store.listAttempts(accountId, page.items.map((d) => d.id));
  return {
    data: page.items.map((d) => deliveryView(d, attempts.filter((a) => a.deliveryId === d.id))),
    next_cursor: page.nextCursor,
  };
}

export function registerDeliveryRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(
    '/api/v2/deliveries',
    {
      schema: {
        tags: ['deliveries'],
        description: 'The delivery log of the whole account, newest first, each delivery with its attempts; filters combine (event_id: one event\'s deliveries, by its message id). An endpoint_id of another account answers 404.',
        querystring: AccountDeliveryQuery,
        response: { 200: described('{data, next_cursor}: a page of deliveries, each with its attempt log', DeliveryPage) },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof AccountDeliveryQuery>;
      const { accountId } = principalOf(req);
      if (q.endpoint_id !== undefined && !(await ctx.store.getEndpoint(accountId, q.endpoint_id))) throw notFound('endpoint', q.endpoint_id);
      return logPage(ctx, accountId, { ...queryOf(q, q.endpoint_id), eventId: q.event_id });
    },
  );

  app.get(
    '/api/v2/endpoints/:id/deliveries',
    { schema: { tags: ['deliveries'], description: 'The delivery log of one endpoint, newest first, each delivery with its attempts.', params: IdParams, querystring: DeliveryQuery, response: { 200: described('{data, next_cursor}: a page of the endpoint\'s deliveries, each with its attempt log', DeliveryPage) } } },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const { accountId } = principalOf(req);
      if (!(await ctx.store.getEndpoint(accountId, id))) throw notFound('endpoint', id);
      return logPage(ctx, accountId, queryOf(req.query as Filters, id));
    },
  );

  app.get(
    '/api/v2/deliveries/:id',
    {
      schema: {
        tags: ['deliveries'],
        description: "One delivery of the account with its attempts (credentials in request headers masked). Another account's delivery answers 404.",
        params: IdParams,
        response: { 200: described('the delivery, with its attempt log', DeliveryWithAttempts) },
      },
    },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const { accountId } = principalOf(req);
      const delivery = await ctx.store.getDelivery(accountId, id);
      if (!delivery) throw notFound('delivery', id);
      return deliveryView(delivery, await ctx.store.listAttempts(accountId, [id]));
    },
  );

  app.post(
    '/api/v2/deliveries/:id/retry',
    {
      preValidation: requireRole('admin'),
      schema: {
        tags: ['deliveries'],
        description: 'Queues the delivery for another attempt now, succeeded and failed ones too, and answers 202 with it; 409 while an attempt is running. A pending delivery of a per_resource endpoint keeps its place in its resource\'s order. Admin keys only.',
        params: IdParams,
        response: { 202: described('the delivery, queued (without its attempt log)', DeliveryView), ...answers({ 409: '`in_flight`: an attempt of it is running right now' }) },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof IdParams>;
      const { accountId } = principalOf(req);
      const existing = await ctx.store.getDelivery(accountId, id);
      if (!existing) throw notFound('delivery', id);
      if (existing.status === 'in_flight') throw new ApiError(409, 'in_flight', `delivery ${id} is being attempted right now`);
      const delivery = await ctx.store.retryDelivery(accountId, id, ctx.clock());
      // Its endpoint was deleted in the meantime, and the delivery with it.
      if (!delivery) throw notFound('delivery', id);
      ctx.dispatcher?.notify();
      return reply.status(202).send(deliveryView(delivery));
    },
  );

  app.get(
    '/api/v2/stats',
    {
      schema: {
        tags: ['deliveries'],
        description: "The account's deliveries by status now: pending (waiting, retries included), retrying (the pending ones already tried), in_flight, succeeded, failed.",
        response: { 200: described('{deliveries}: the account\'s deliveries by status now', AccountStatsView) },
      },
    },
    async (req) => {
      const stats = await ctx.store.stats(principalOf(req).accountId);
      return { deliveries: { pending: stats.pending, in_flight: stats.inFlight, succeeded: stats.succeeded, failed: stats.failed, retrying: stats.retrying } };
    },
  );

  // Health and activity are read from the rollup of the attempts logged here.
  registerStatsRoutes(app, ctx);
}
