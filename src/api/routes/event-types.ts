import type { FastifyInstance } from 'fastify';
import { eventTypesByTopic } from '../../catalog/index.js';

export function registerEventTypeRoutes(app: FastifyInstance): void {
  app.get('/api/v2/event-types', { schema: { tags: ['event-types'] } }, async () => ({ topics: eventTypesByTopic() }));
}
