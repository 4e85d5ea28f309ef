// Schemas of the native API's lists and reads that views.ts shapes: what /openapi.json shows of
// them, and what Fastify serialises them by. A field left out here would be dropped from the
// answer and a wrong type coerced, so each one states exactly what its view function returns.
import { Type, type TSchema } from 'typebox';
import { EndpointView } from './schemas.js';

const Time = Type.String({ format: 'date-time' });
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);
const Count = Type.Integer({ minimum: 0 });

/** A string of a known set: serialised as any string, so a value stored before a new one was added still shows. */
const oneOf = (values: readonly string[]) => Type.Unsafe<string>({ type: 'string', enum: [...values] });

/** One of a known set or null. OpenAPI 3.0 wants null among the values of a nullable enum. */
export const nullableOneOf = (values: readonly string[], description?: string) =>
  Type.Union([Type.Unsafe<string>({ type: 'string', enum: [...values, null] }), Type.Null()], description ? { description } : {});

/** A page of a list: its items, and the cursor of the next page (null on the last). */
export const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as cursor for the next page; null on the last page' }) });

export const EndpointPage = pageOf(EndpointView);

/** A new endpoint: the view, and its signing secret in full, shown this once. */
export const EndpointCreated = Type.Object({ ...EndpointView.properties, secret: Type.String({ description: 'the signing secret (whsec_…), shown this once' }) });

const DeliveryStatus = oneOf(['pending', 'in_flight', 'succeeded', 'failed']);

export const AttemptView = Type.Object({
  id: Type.String(),
  attempt: Type.Integer({ minimum: 1, description: 'its number among the delivery\'s attempts, from 1' }),
  started_at: Time,
  duration_ms: Count,
  status_code: Type.Union([Type.Integer(), Type.Null()], { description: 'the receiver\'s HTTP status; null when no answer came' }),
  error_kind: nullableOneOf(['timeout', 'dns', 'connect', 'tls', 'http_status', 'ssrf_blocked', 'oauth', 'response_too_large', 'invalid_url', 'internal'], 'why the attempt failed; null when it succeeded'),
  error_message: NullableString,
  request_headers: Type.Record(Type.String(), Type.String(), { description: 'the headers sent, credentials and signatures masked' }),
  response_body: Type.Union([Type.String(), Type.Null()], { description: 'the first 4 KiB of the answer\'s body' }),
});

const deliveryFields = {
  id: Type.String(),
  event_id: Type.String({ description: 'the message id of its event' }),
  endpoint_id: Type.String(),
  event_type: Type.String({ description: 'the canonical type of its event' }),
  status: DeliveryStatus,
  attempts: Count,
  next_attempt_at: Type.Union([Time, Type.Null()], { description: 'when a pending delivery is next tried; null once final' }),
  last_status_code: NullableInteger,
  last_error: NullableString,
  created_at: Time,
  updated_at: Time,
};

/** A delivery as the retry answers it: without its attempts. */
export const DeliveryView = Type.Object(deliveryFields);

export const DeliveryWithAttempts = Type.Object({ ...deliveryFields, attempt_log: Type.Array(AttemptView, { description: 'its attempts, first first' }) });

export const DeliveryPage = pageOf(DeliveryWithAttempts);

export const EventDetailView = Type.Object({
  id: Type.String({ description: 'the message id' }),
  idempotency_key: Type.Union([Type.String(), Type.Null()], { description: 'the id it was published with; null when none' }),
  type: Type.String(),
  occurred_at: Time,
  received_at: Time,
  project_id: NullableString,
  sequence: Type.Union([Type.Integer(), Type.Null()], { description: 'its place among its resource\'s events; null without a resource' }),
  payload: Type.Unknown({ description: 'the event as delivered by the standard profile' }),
  deliveries: Type.Array(Type.Object({ id: Type.String(), endpoint_id: Type.String(), status: DeliveryStatus, attempts: Count }), { description: 'its first 250 deliveries' }),
  deliveries_next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'cursor of GET /api/v2/deliveries?event_id= for the rest; null when all are shown' }),
});

export const AccountStatsView = Type.Object({
  deliveries: Type.Object({ pending: Count, in_flight: Count, succeeded: Count, failed: Count, retrying: Count }, { description: 'pending counts the retrying ones too' }),
});
