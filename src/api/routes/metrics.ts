// /metrics in Prometheus text format: the dispatcher's and ingest's status snapshots, queue
// depth from the store, and Node's own process metrics. Values are read at scrape time.
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { AppContext } from '../../app/context.js';

export function registerMetricsRoute(app: FastifyInstance, ctx: AppContext): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'herald_' });

  const deliveries = new Gauge({ name: 'herald_deliveries', help: 'Deliveries in the store by status', labelNames: ['status'], registers: [registry] });
  const dispatcher = new Gauge({ name: 'herald_dispatcher', help: 'Dispatcher of this process: in_flight, waiting, and totals since start', labelNames: ['figure'], registers: [registry] });
  const ingest = new Gauge({ name: 'herald_ingest_queued_events', help: 'Events waiting for their commit in this process', registers: [registry] });
  const ingestBatches = new Gauge({ name: 'herald_ingest_batches', help: 'Group-committed ingest batches since start', registers: [registry] });

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const stats = await ctx.store.stats();
    deliveries.set({ status: 'pending' }, stats.pending);
    deliveries.set({ status: 'retrying' }, stats.retrying);
    deliveries.set({ status: 'in_flight' }, stats.inFlight);
    deliveries.set({ status: 'succeeded' }, stats.succeeded);
    deliveries.set({ status: 'failed' }, stats.failed);
    const d = ctx.dispatcher?.status();
    if (d) {
      for (const figure of ['inFlight', 'waiting', 'claimed', 'succeeded', 'retried', 'failed'] as const) dispatcher.set({ figure }, d[figure]);
    }
    const i = ctx.ingestor.status();
    ingest.set(i.queuedItems);
    ingestBatches.set(i.batches);
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
