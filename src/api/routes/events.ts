// Ingest and event lookup: /api/v2/events
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AppContext } from '../../app/context.js';
import { isHeraldEvent } from '../../catalog/index.js';
import type { EventInput } from '../../domain/types.js';
import { customTypesOf } from '../custom-events.js';
import { checkEventLimits, eventField } from '../event-limits.js';
import { ingestFailure, PUBLISH_UNAVAILABLE } from '../ingest-failure.js';
import { answers, described } from '../openapi.js';
import { EventDetailView } from '../response-schemas.js';
import { principalOf, requireRole } from '../middleware/auth.js';
import { ApiError, instantOf, notFound } from '../middleware/errors.js';
import { Accepted, EventBatchIn, EventIdParams, EventIn } from '../schemas.js';
import { eventView } from '../views.js';

/** Deliveries listed with an event; the rest are a page away (deliveries_next_cursor). */
const EVENT_DELIVERIES_SHOWN = 250;

const PUBLISHED = '{id, deliveries, duplicate}: the message id, how many deliveries it made, and whether the id was published before';
const UNPUBLISHABLE = "an event type neither in the catalog nor registered by the account (`unknown_event_type`), one only Herald raises (`reserved_event_type`), or data that does not match its custom type's schema (`invalid_event_data`, naming the path at fault: `events[3].data.size`); `field` names it";

/** A message id's shape (msg_ and 26 base32 characters): GET /events/:id reads such an id as one. */
const MESSAGE_ID = /^msg_[0-9a-z]{26}$/;
/** Herald's own events are published under ids of this prefix; taking one would suppress them. */
const HERALD_ID_PREFIX = 'herald:';

/** 400/422 for what no publisher may send: Herald's own event types, and ids that pose as message ids or as Herald's own. */
function checkPublishable(e: EventIn, field: string): void {
  if (isHeraldEvent(e.type)) {
    const at = eventField(field, 'type');
    throw new ApiError(422, 'reserved_event_type', `${at}: ${e.type} is raised by Herald itself and cannot be published`, at);
  }
  if (e.id !== undefined && MESSAGE_ID.test(e.id)) {
    const at = eventField(field, 'id');
    throw new ApiError(400, 'invalid_request', `${at} has the form of a Herald message id (msg_…); choose another`, at);
  }
  if (e.id?.startsWith(HERALD_ID_PREFIX)) {
    const at = eventField(field, 'id');
    throw new ApiError(400, 'invalid_request', `${at}: ids starting with ${HERALD_ID_PREFIX} are Herald's own; choose another`, at);
  }
}

/** 400 naming the second of two events in one batch with the same id: one of them would be dropped. */
function checkDistinctIds(events: readonly EventIn[]): void {
  const seen = new Map<string, number>();
  events.forEach((e, i) => {
    if (e.id === undefined) return;
    const first = seen.get(e.id);
    if (first !== undefined) throw new ApiError(400, 'invalid_request', `events[${i}].id repeats events[${first}].id in the same batch`, `events[${i}].id`);
    seen.set(e.id, i);
  });
}

function toInput(e: EventIn, field: string): EventInput {
  checkEventLimits(e, field);
  checkPublishable(e, field);
  return {
    idempotencyKey: e.id,
    type: e.type,
    occurredAt: e.occurred_at === undefined ? undefined : instantOf(e.occurred_at, eventField(field, 'occurred_at')),
    projectId: e.project_id,
    resource: e.resource,
    actor: e.actor,
    changes: e.changes,
    links: e.links,
    data: e.data,
  };
}

async function publish(ctx: AppContext, accountId: string, events: EventInput[], prefix: (i: number) => string) {
  const custom = await customTypesOf(ctx.store, accountId, events, prefix);
  try {
    return await ctx.ingestor.publish(accountId, events, custom);
  } catch (err) {
    throw ingestFailure(ctx, err, (i) => `${prefix(i)}type`);
  }
}

export function registerEventRoutes(app: FastifyInstance, ctx: AppContext): void {
  const publisher = { preValidation: requireRole('publisher') };

  app.post('/api/v2/events', { ...publisher, schema: { tags: ['events'], description: 'Publishes one event; 202 once it and its deliveries are committed. The same id again returns the first message and creates nothing.', body: EventIn, response: { 202: described(PUBLISHED, Accepted), ...answers({ 422: UNPUBLISHABLE, 503: PUBLISH_UNAVAILABLE }) } } }, async (req, reply) => {
    const [out] = await publish(ctx, principalOf(req).accountId, [toInput(req.body as EventIn, 'body')], () => '');
    return reply.status(202).send(out);
  });

  app.post('/api/v2/events/batch', { ...publisher, schema: { tags: ['events'], description: 'Publishes up to 1,000 events in one commit; 202 with one result per event, in order.', body: EventBatchIn, response: { 202: described(`{data}: per event, in order, ${PUBLISHED}`, Type.Object({ data: Type.Array(Accepted) })), ...answers({ 422: UNPUBLISHABLE, 503: PUBLISH_UNAVAILABLE }) } } }, async (req, reply) => {
    const { events } = req.body as EventBatchIn;
    checkDistinctIds(events);
    const inputs = events.map((e, i) => toInput(e, `events[${i}]`));
    const out = await publish(ctx, principalOf(req).accountId, inputs, (i) => `events[${i}].`);
    return reply.status(202).send({ data: out });
  });

  app.get('/api/v2/events/:id', { schema: { tags: ['events'], description: 'An event, by message id or by the id it was published with, and its first 250 deliveries; deliveries_next_cursor continues them at GET /deliveries?event_id=<message id>&cursor=.', params: EventIdParams, response: { 200: described('the event and its first deliveries', EventDetailView) } } }, async (req) => {
    const { id } = req.params as Static<typeof EventIdParams>;
    const { accountId } = principalOf(req);
    const event = await ctx.store.getEvent(accountId, id);
    if (!event) throw notFound('event', id);
    const deliveries = await ctx.store.listDeliveries(accountId, { eventId: event.id, limit: EVENT_DELIVERIES_SHOWN });
    return {
      ...eventView(event),
      deliveries: deliveries.items.map((d) => ({ id: d.id, endpoint_id: d.endpointId, status: d.status, attempts: d.attempts })),
      deliveries_next_cursor: deliveries.nextCursor,
    };
  });
}
