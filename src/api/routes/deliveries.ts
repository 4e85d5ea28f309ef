// Delivery logs and replay: /api/v2/endpoints/:id/deliveries, /api/v2/deliveries/:id
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { AppContext } from '../../app/context.js';
import { principalOf, requireRole } from '../middleware/auth.js';
import { ApiError, notFound } from '../middleware/errors.js';
import { DeliveryQuery, IdParams } from '../schemas.js';
import { deliveryView } from '../views.js';

export function registerDeliveryRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/v2/endpoints/:id/deliveries', { schema: { tags: ['deliveries'], params: IdParams, querystring: DeliveryQuery } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    const q = req.query as Static<typeof DeliveryQuery>;
    const { accountId } = principalOf(req);
    if (!(await ctx.store.getEndpoint(accountId, id))) throw notFound('endpoint', id);
    const page = await ctx.store.listDeliveries(accountId, { endpointId: id, status: q.status, cursor: q.cursor, limit: q.limit ?? 50 });
    const attempts = await ctx.store.listAttempts(accountId, page.items.map((d) => d.id));
    return {
      data: page.items.map((d) => deliveryView(d, attempts.filter((a) => a.deliveryId === d.id))),
      next_cursor: page.nextCursor,
    };
  });

  app.get('/api/v2/deliveries/:id', { schema: { tags: ['deliveries'], params: IdParams } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    const delivery = await ctx.store.getDelivery(accountId, id);
    if (!delivery) throw notFound('delivery', id);
    return deliveryView(delivery, await ctx.store.listAttempts(accountId, [id]));
  });

  app.post('/api/v2/deliveries/:id/retry', { preHandler: requireRole('admin'), schema: { tags: ['deliveries'], params: IdParams } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    const existing = await ctx.store.getDelivery(accountId, id);
    if (!existing) throw notFound('delivery', id);
    if (existing.status === 'in_flight') throw new ApiError(409, 'in_flight', `delivery ${id} is being attempted right now`);
    const delivery = await ctx.store.retryDelivery(accountId, id, ctx.clock());
    ctx.dispatcher?.notify();
    return reply.status(202).send(deliveryView(delivery!));
  });

  app.get('/api/v2/stats', { schema: { tags: ['deliveries'] } }, async (req) => {
    const stats = await ctx.store.stats(principalOf(req).accountId);
    return { deliveries: { pending: stats.pending, in_flight: stats.inFlight, succeeded: stats.succeeded, failed: stats.failed, retrying: stats.retrying } };
  });
}
