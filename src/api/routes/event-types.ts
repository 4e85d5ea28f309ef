// The event catalog, and the custom event types an account registers beside it: /api/v2/event-types
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AppContext } from '../../app/context.js';
import { compileDataSchema, customNameProblem, MAX_CUSTOM_NAME_LENGTH, SchemaError } from '../../catalog/custom.js';
import { eventTypesByTopic, findEventType, nameInProfile, profiles } from '../../catalog/index.js';
import type { CustomEventType, Endpoint, JsonSchema } from '../../domain/types.js';
import { examplePayloads, profilesOf } from '../../profiles/examples.js';
import { nestingDepth } from '../event-limits.js';
import { customTypesNamed } from '../event-type-filter.js';
import { principalOf, requireRole } from '../middleware/auth.js';
import { ApiError, notFound } from '../middleware/errors.js';
import { answers, described } from '../openapi.js';
import { iso } from '../views.js';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) });

/** An account may register this many custom types: every filter check of its endpoints may read them all. */
export const MAX_CUSTOM_TYPES = 1_000;
/** A schema's size as JSON, and how deep it nests: it is compiled into code and run on every event of its type. */
const MAX_SCHEMA_BYTES = 64 * 1024;
const MAX_SCHEMA_DEPTH = 32;
/** Endpoints named in the refusal to delete a type they subscribe to. */
const SUBSCRIBERS_NAMED = 10;

const Schema = Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
  description: `A JSON Schema (draft-07) the data of every event of this type must match, or null for any data. Up to ${MAX_SCHEMA_BYTES / 1024} KiB, nested at most ${MAX_SCHEMA_DEPTH} levels; pattern and patternProperties are refused (a regular expression chosen here would run on every event published). uniqueItems needs no maxItems: items are compared in time linear in the array's size, and a repeat is named at the repeating item (data.parts[3]).`,
});
const Description = Type.String({ maxLength: 1000 });
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: MAX_CUSTOM_NAME_LENGTH, description: 'Lower-case words joined by dots, at least two (acme.widget.built); not a catalog name, nor under message. or endpoint.' }),
    description: Type.Optional(Description),
    schema: Type.Optional(Schema),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object({ description: Type.Optional(Description), schema: Type.Optional(Schema) }, { additionalProperties: false });
export const CustomView = Type.Object({
  name: Type.String(),
  custom: Type.Literal(true),
  description: Type.String(),
  schema: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  created_at: Type.String(),
  updated_at: Type.String(),
});

/** An event type's name in each profile that carries it (a profile without one is left out). */
const profileNames = (carriers: readonly string[]) =>
  Type.Object(Object.fromEntries(carriers.map((p) => [p, Type.Optional(Type.String())])), { description: 'its name in each profile that carries it' });

export const Catalog = Type.Object({
  topics: Type.Array(
    Type.Object({
      topic: Type.Object({ id: Type.String(), title: Type.String(), description: Type.String() }),
      event_types: Type.Array(Type.Object({ name: Type.String({ description: 'the canonical name' }), description: Type.String(), names: profileNames(['tenovos', 'mediapocket', 'cmp']) })),
    }),
  ),
  custom: Type.Array(CustomView, { description: "the account's custom types, by name" }),
});

const CatalogType = Type.Object({
  name: Type.String({ description: 'the canonical name' }),
  topic: Type.String(),
  description: Type.String(),
  names: profileNames(profiles),
  examples: Type.Record(Type.String(), Type.Unknown(), { description: 'an example body per profile that carries the type, by profile' }),
});

export function customView(t: CustomEventType): Static<typeof CustomView> {
  return { name: t.name, custom: true, description: t.description, schema: t.schema, created_at: iso(t.createdAt)!, updated_at: iso(t.updatedAt)! };
}

/** The schema as stored, once it is known to compile; a 422 naming the part at fault otherwise. */
function checkedSchema(schema: JsonSchema | null | undefined): JsonSchema | null {
  if (schema === undefined || schema === null) return null;
  if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES) throw new ApiError(422, 'invalid_schema', `schema is larger than ${MAX_SCHEMA_BYTES / 1024} KiB`, 'schema');
  if (nestingDepth(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH) throw new ApiError(422, 'invalid_schema', `schema is nested deeper than ${MAX_SCHEMA_DEPTH} levels`, 'schema');
  try {
    compileDataSchema(schema);
  } catch (err) {
    if (err instanceof SchemaError) throw new ApiError(422, 'invalid_schema', `${err.problem.path}: ${err.problem.message}`, err.problem.path);
    throw err;
  }
  return schema;
}

/** The ids of the account's endpoints whose filter names `name` itself (a wildcard does not count). */
async function subscribersOf(ctx: AppContext, accountId: string, name: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  // Bounded: 1,000 pages of 250 is more endpoints than an account has.
  for (let page = 0; page < 1_000; page++) {
    const { items, nextCursor } = await ctx.store.listEndpoints(accountId, { cursor, limit: 250 });
    ids.push(...items.filter((e: Endpoint) => e.eventTypes.includes(name)).map((e) => e.id));
    if (nextCursor === null) break;
    cursor = nextCursor;
  }
  return ids;
}

async function loadCustom(ctx: AppContext, accountId: string, name: string): Promise<CustomEventType> {
  if (findEventType(name)) throw new ApiError(422, 'invalid_event_type', `${name} is in the event catalog, which no account changes`, 'name');
  const [type] = await ctx.store.getEventTypes(accountId, [name]);
  if (!type) throw notFound('event type', name);
  return type;
}

export function registerEventTypeRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerCatalogReads(app, ctx);
  registerCustomTypes(app, ctx);
}

const admin = { preValidation: requireRole('admin') };

/** The catalog (with the account's custom types) and one type by any of its names. */
function registerCatalogReads(app: FastifyInstance, ctx: AppContext): void {
  app.get(
    '/api/v2/event-types',
    { schema: { tags: ['event-types'], description: "The event catalog, grouped by topic: every type with its description and its name in each profile; and `custom`, the account's own types, by name.", response: { 200: described('{topics, custom}: the catalog by topic, and the account\'s custom types', Catalog) } } },
    async (req) => ({ topics: eventTypesByTopic(), custom: (await ctx.store.listEventTypes(principalOf(req).accountId)).map(customView) }),
  );

  app.get(
    '/api/v2/event-types/:name',
    {
      schema: {
        tags: ['event-types'],
        params: NameParams,
        description:
          'One event type by its canonical name or any profile\'s name: its description, its name in each profile that carries it, ' +
          'and an example body per profile, rendered by the same code that renders deliveries. The catalog is the same for every account. ' +
          'A custom type of the account answers as registered (`custom: true`, its schema).',
        response: { 200: described('a catalog type with its names and examples, or a custom type as registered', Type.Union([CatalogType, CustomView])) },
      },
    },
    async (req) => {
      const { name } = req.params as Static<typeof NameParams>;
      const def = findEventType(name);
      if (!def) return customView(await loadCustom(ctx, principalOf(req).accountId, name));
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

/** The account's own event types: registered, changed and deleted (not while a filter names them). */
function registerCustomTypes(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/api/v2/event-types',
    {
      ...admin,
      schema: {
        tags: ['event-types'],
        description: `Registers a custom event type: events of it may then be published and subscribed to (by name, or by a wildcard over it) like catalog events, and their data must match its schema (else 422 invalid_event_data naming the path at fault). At most ${MAX_CUSTOM_TYPES} per account. Admin keys only.`,
        body: CreateBody,
        response: {
          201: described('the custom type registered', CustomView),
          ...answers({ 409: '`conflict`: the account has a custom type of this name', 422: '`invalid_event_type`: a name that is in the catalog, under message. or endpoint., not lower-case dotted, or one too many; `invalid_schema`: a schema Herald cannot run, `field` naming the part at fault' }),
        },
      },
    },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const body = req.body as Static<typeof CreateBody>;
      const problem = customNameProblem(body.name);
      if (problem) throw new ApiError(422, 'invalid_event_type', problem, 'name');
      const schema = checkedSchema(body.schema);
      if ((await customTypesNamed(ctx.store, accountId)).length >= MAX_CUSTOM_TYPES) {
        throw new ApiError(422, 'invalid_event_type', `the account has ${MAX_CUSTOM_TYPES} custom event types, the most it may have`, 'name');
      }
      const now = ctx.clock();
      const type: CustomEventType = { accountId, name: body.name, description: body.description ?? '', schema, createdAt: now, updatedAt: now };
      if (!(await ctx.store.createEventType(type))) throw new ApiError(409, 'conflict', `event type ${body.name} already exists`, 'name');
      return reply.status(201).send(customView(type));
    },
  );

  app.patch(
    '/api/v2/event-types/:name',
    {
      ...admin,
      schema: {
        tags: ['event-types'],
        description: 'Changes the description or the schema (null: any data) of a custom type. A new schema applies to events published from then on; those accepted before are delivered as they are. Admin keys only.',
        params: NameParams,
        body: PatchBody,
        response: { 200: described('the custom type as changed', CustomView), ...answers({ 422: '`invalid_event_type`: a catalog type; `invalid_schema`: a schema Herald cannot run, `field` naming the part at fault' }) },
      },
    },
    async (req) => {
      const { name } = req.params as Static<typeof NameParams>;
      const { accountId } = principalOf(req);
      const body = req.body as Static<typeof PatchBody>;
      const before = await loadCustom(ctx, accountId, name);
      const schema = body.schema === undefined ? before.schema : checkedSchema(body.schema);
      const type: CustomEventType = { ...before, description: body.description ?? before.description, schema, updatedAt: ctx.clock() };
      if (!(await ctx.store.updateEventType(type))) throw notFound('event type', name);
      return customView(type);
    },
  );

  app.delete(
    '/api/v2/event-types/:name',
    {
      ...admin,
      schema: {
        tags: ['event-types'],
        description:
          'Deletes a custom type: publishing it is then refused (422 unknown_event_type); events accepted before are delivered. While an endpoint names the type in its filter, the delete is refused (409 event_type_in_use, naming the endpoints): take it out of their filters first. A wildcard over it does not hold it. Admin keys only.',
        params: NameParams,
        response: answers({ 204: 'deleted', 409: '`event_type_in_use`: endpoints subscribe to the type by name', 422: '`invalid_event_type`: a catalog type' }),
      },
    },
    async (req, reply) => {
      const { name } = req.params as Static<typeof NameParams>;
      const { accountId } = principalOf(req);
      await loadCustom(ctx, accountId, name);
      const subscribers = await subscribersOf(ctx, accountId, name);
      if (subscribers.length > 0) {
        const named = subscribers.slice(0, SUBSCRIBERS_NAMED).join(', ') + (subscribers.length > SUBSCRIBERS_NAMED ? `, and ${subscribers.length - SUBSCRIBERS_NAMED} more` : '');
        throw new ApiError(409, 'event_type_in_use', `${name} is in the filter of ${subscribers.length === 1 ? 'endpoint' : `${subscribers.length} endpoints`} ${named}; take it out of their event types first`);
      }
      if (!(await ctx.store.deleteEventType(accountId, name))) throw notFound('event type', name);
      return reply.status(204).send();
    },
  );
}
