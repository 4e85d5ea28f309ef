// /metrics in Prometheus text format (see README "Observability" for every metric).
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../app/context.js';

// For /openapi.json; `security: []`: no key. The body is text, sent as rendered.
const METRICS = {
  tags: ['probes'],
  security: [],
  summary: 'Metrics',
  response: {
    200: {
      description: 'every metric in the Prometheus text exposition format (0.0.4); README "Observability" lists them',
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
  },
};

export function registerMetricsRoute(app: FastifyInstance, ctx: AppContext): void {
  app.get('/metrics', { schema: METRICS }, async (_req, reply) => {
    const body = await ctx.metrics.render();
    return reply.type(ctx.metrics.contentType).send(body);
  });
}
