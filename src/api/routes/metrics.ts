// /metrics in Prometheus text format (see README "Observability" for every metric).
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../app/context.js';

export function registerMetricsRoute(app: FastifyInstance, ctx: AppContext): void {
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const body = await ctx.metrics.render();
    return reply.type(ctx.metrics.contentType).send(body);
  });
}
