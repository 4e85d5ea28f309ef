import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { eventTypesByTopic, findEventType, nameInProfile } from '../../catalog/index.js';
import { examplePayloads, profilesOf } from '../../profiles/examples.js';
import { notFound } from '../middleware/errors.js';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) });

export function registerEventTypeRoutes(app: FastifyInstance): void {
  app.get('/api/v2/event-types', { schema: { tags: ['event-types'], description: 'The event catalog, grouped by topic: every type with its description and its name in each profile.' } }, async () => ({ topics: eventTypesByTopic() }));

  app.get(
    '/api/v2/event-types/:name',
    {
      schema: {
        tags: ['event-types'],
        params: NameParams,
        description:
          'One event type by its canonical name or any profile\'s name: its description, its name in each profile that carries it, ' +
          'and an example body per profile, rendered by the same code that renders deliveries. The catalog is the same for every account.',
      },
    },
    async (req) => {
      const { name } = req.params as Static<typeof NameParams>;
      const def = findEventType(name);
      if (!def) throw notFound('event type', name);
      const carried = profilesOf(def);
      return {
        name: def.name,
        topic: def.topic,
        description: def.description,
        names: Object.fromEntries(carried.map((p) => [p, nameInProfile(def, p)])),
        examples: examplePayloads(def),
      };
    },
  );
}
