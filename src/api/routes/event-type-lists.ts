// The event types a page at a time: the catalog alone (/api/v2/event-types/catalog) and the
// account's custom types by name, without their schemas unless asked (/api/v2/event-types/custom).
// GET /api/v2/event-types answers both at once, every custom type with its schema: up to 1,000
// of up to 64 KiB each, tens of MB, where a list of names needs a few tens of KB.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AppContext } from '../../app/context.js';
import { eventTypesByTopic } from '../../catalog/index.js';
import type { ListedEventType } from '../../store/contract.js';
import { principalOf } from '../middleware/auth.js';
import { described } from '../openapi.js';
import { CustomTypePageQuery } from '../schemas.js';
import { Catalog, CustomView, customView } from './event-types.js';

/** A custom type as a page lists it: its schema only when the page was asked with schemas=true. */
const ListedView = Type.Object({ ...CustomView.properties, schema: Type.Optional(CustomView.properties.schema) });

const ListedPage = Type.Object({
  data: Type.Array(ListedView, { description: 'the types after cursor, by name (byte-wise)' }),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as cursor for the next page (the name of the last type here); null on the last page' }),
});

/** The catalog's part of GET /api/v2/event-types. */
const Topics = Type.Object({ topics: Catalog.properties.topics });

function listedView(t: ListedEventType): Static<typeof ListedView> {
  const { schema, ...named } = customView({ ...t, schema: t.schema ?? null });
  return t.schema === undefined ? named : { ...named, schema };
}

export function registerEventTypeListRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(
    '/api/v2/event-types/catalog',
    {
      schema: {
        tags: ['event-types'],
        description: "The event catalog alone, grouped by topic, as in GET /api/v2/event-types but without the account's custom types: the same for every account.",
        response: { 200: described('{topics}: the catalog by topic', Topics) },
      },
    },
    async () => ({ topics: eventTypesByTopic() }),
  );

  app.get(
    '/api/v2/event-types/custom',
    {
      schema: {
        tags: ['event-types'],
        description:
          "The account's custom types a page at a time, by name (byte-wise): name, description and times, and with schemas=true each one's schema too. " +
          'next_cursor is the name of the last type of the page, so a type registered or deleted meanwhile moves no other to another page. ' +
          'A cursor that is not a custom type\'s name is a 400 naming cursor; one naming a type deleted since goes on after it.',
        querystring: CustomTypePageQuery,
        response: { 200: described('{data, next_cursor}: a page of the account\'s custom types', ListedPage) },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof CustomTypePageQuery>;
      const page = await ctx.store.listEventTypePage(principalOf(req).accountId, { cursor: q.cursor, limit: q.limit ?? 50, schemas: q.schemas ?? false });
      return { data: page.items.map(listedView), next_cursor: page.nextCursor };
    },
  );
}
