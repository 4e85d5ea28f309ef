// Media Pocket request validation, with Media Pocket's (Apipie's) error bodies:
//   absent required param   422 {"error": "Missing parameter http_url"}
//   invalid value           422 {"error": "Invalid parameter 'http_url' value nil: Must be a String"}
// Params are checked in their documented order and the first failure is reported, as Apipie
// does. Values are shown the way Ruby's #inspect shows them (nil, "text", 5, ["A", "B"]).
//
// The checks use the same TypeBox schemas that document the routes in /openapi.json, without
// the API-wide type coercion (which would turn `"http_url": null` into ""), through a
// route-level validatorCompiler.
import type { FastifySchemaCompiler } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { mediaPocketTriggerEvents } from '../../catalog/index.js';
import { isRecord } from '../shared.js';

/** A Media Pocket error: sent as `{"error": message}` with its status. */
export class MediaPocketError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'MediaPocketError';
  }
}

const MAX_INSPECT = 300;

/** Ruby's #inspect, roughly: what Apipie puts in "value ..." of its messages. */
export function rubyInspect(value: unknown, depth = 0): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (depth > 3) return '...';
  if (Array.isArray(value)) return `[${value.map((v) => rubyInspect(v, depth + 1)).join(', ')}]`;
  if (isRecord(value)) return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}=>${rubyInspect(v, depth + 1)}`).join(', ')}}`;
  return String(value);
}

function shown(value: unknown): string {
  const text = rubyInspect(value);
  return text.length > MAX_INSPECT ? `${text.slice(0, MAX_INSPECT)}...` : text;
}

const FILTERED = '[FILTERED]';

/**
 * Header values are credentials: never echoed back in an error (Rails' [FILTERED]), whatever
 * shape the list came in: entries' values, a map's values, bare strings in nested lists.
 */
function filterHeaders(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((h) => (isRecord(h) && 'value' in h ? { ...h, value: FILTERED } : filterHeaders(h)));
  if (isRecord(value)) return Object.fromEntries(Object.keys(value).map((key) => [key, FILTERED]));
  return typeof value === 'string' ? FILTERED : value;
}

/** A URL's password is a credential too: the rest of the URL is shown. */
function filterUrl(value: unknown): unknown {
  return typeof value === 'string' ? value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i, `$1:${FILTERED}@`) : value;
}

/** What an error may echo of a param's value. */
function echoable(name: string, value: unknown): unknown {
  if (name === 'webhook_headers' || name === 'value') return filterHeaders(value);
  return name === 'http_url' ? filterUrl(value) : value;
}

export function invalidParam(name: string, value: unknown, description: string): MediaPocketError {
  const v = echoable(name, value);
  return new MediaPocketError(422, `Invalid parameter '${name}' value ${shown(v)}: ${description}`);
}

// ---- the params -------------------------------------------------------------------------------

const TRIGGER_EVENTS_TEXT = `[${mediaPocketTriggerEvents.map((e) => JSON.stringify(e)).join(', ')}]`;

export const HeaderType = Type.Union([Type.Literal('plain'), Type.Literal('hidden'), Type.Literal('hmac')], {
  description: 'plain: sent as is; hidden: sent as is, never shown again; hmac: the header carries the hex HMAC-SHA256 of the body keyed by value.',
});
export const WebhookHeaderIn = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 100, description: 'Header name.' }),
  value: Type.Optional(
    Type.Union([Type.String({ maxLength: 4096 }), Type.Null()], {
      description: 'Header value (hidden, hmac: the secret). On update, omit it (or send the masked value shown) to keep the stored one; any other masked value (****, or ending in …) is refused.',
    }),
  ),
  type: Type.Optional(HeaderType),
});
export const WebhookUserIn = Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 200 }) })], {
  description: 'A user id, or {user_id}: only events whose acting user is listed are sent.',
});

interface Param {
  readonly name: string;
  readonly schema: TSchema;
  readonly required: boolean;
  /** Apipie's "Validations" text for a value that fails the schema. */
  readonly describe: (value: unknown) => string;
}

const mustBeString = () => 'Must be a String';

/** Seed 003's params, in its order; then the fields of its response object that can be set. */
const PARAMS: readonly Param[] = [
  { name: 'name', schema: Type.String({ maxLength: 1000, description: 'Webhook name' }), required: true, describe: (v) => (typeof v === 'string' ? 'Must be at most 1000 characters' : 'Must be a String') },
  { name: 'http_url', schema: Type.String({ maxLength: 2048, description: 'Webhook URL' }), required: true, describe: (v) => (typeof v === 'string' ? 'Must be at most 2048 characters' : 'Must be a String') },
  {
    name: 'http_method',
    schema: Type.String({ pattern: '^([Pp][Oo][Ss][Tt]|[Pp][Uu][Tt])$', description: 'Webhook Method: POST or PUT (the method of each delivery)' }),
    required: true,
    describe: (v) => (typeof v === 'string' ? 'Must be one of: POST, PUT' : 'Must be a String'),
  },
  {
    name: 'trigger_events',
    schema: Type.Array(Type.Enum([...mediaPocketTriggerEvents]), { minItems: 1, maxItems: mediaPocketTriggerEvents.length, description: 'Webhook trigger events' }),
    required: true,
    describe: () => `Must be an array of ${TRIGGER_EVENTS_TEXT}`,
  },
  {
    name: 'project_id',
    schema: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()], { description: 'Id of the webhook project (null: every project)' }),
    required: false,
    describe: mustBeString,
  },
  { name: 'disabled', schema: Type.Boolean({ description: 'Pause deliveries' }), required: false, describe: () => 'Must be one of: true, false' },
  {
    name: 'webhook_users',
    schema: Type.Array(WebhookUserIn, { maxItems: 1000, description: 'Restrict to events acted by these users' }),
    required: false,
    describe: () => 'Must be an array of user ids',
  },
  {
    name: 'webhook_headers',
    schema: Type.Array(WebhookHeaderIn, { maxItems: 50, description: 'Custom headers sent with every delivery' }),
    required: false,
    describe: () => 'Must be an array of {key, value, type} where type is one of: plain, hidden, hmac',
  },
];

const CHECKS = new Map(PARAMS.map((p) => [p.name, Compile(p.schema)]));

/** The request body schemas, for the route definitions (and so /openapi.json). */
export const WebhookCreateBody = Type.Object(Object.fromEntries(PARAMS.map((p) => [p.name, p.required ? p.schema : Type.Optional(p.schema)])));
export const WebhookUpdateBody = Type.Object(Object.fromEntries(PARAMS.map((p) => [p.name, Type.Optional(p.schema)])));

export interface WebhookParams {
  name?: string;
  http_url?: string;
  http_method?: 'POST' | 'PUT';
  trigger_events?: string[];
  project_id?: string | null;
  disabled?: boolean;
  webhook_users?: (string | { user_id: string })[];
  webhook_headers?: { key: string; value?: string | null; type?: 'plain' | 'hidden' | 'hmac' }[];
}

/**
 * Validates a create (all required params) or update (every param optional) body. Rails'
 * wrapped form `{"webhook": {...}}` is accepted too. Throws a MediaPocketError.
 */
export function validateWebhookParams(input: unknown, mode: 'create' | 'update'): WebhookParams {
  // No body at all reads as no params (Apipie then names the first missing one).
  const body = input === null || input === undefined ? {} : input;
  if (!isRecord(body)) throw new MediaPocketError(422, `Invalid parameter 'webhook' value ${shown(body)}: Must be a Hash`);
  const params = isRecord(body.webhook) && PARAMS.every((p) => !(p.name in body)) ? body.webhook : body;
  for (const p of PARAMS) {
    const value = params[p.name];
    if (value === undefined) {
      if (p.required && mode === 'create') throw new MediaPocketError(422, `Missing parameter ${p.name}`);
      continue;
    }
    if (!CHECKS.get(p.name)!.Check(value)) throw invalidParam(p.name, value, p.describe(value));
  }
  const out = { ...params } as WebhookParams & Record<string, unknown>;
  if (typeof out.http_method === 'string') out.http_method = out.http_method.toUpperCase() as 'POST' | 'PUT';
  return out;
}

/**
 * Route-level validatorCompiler: the body is checked by validateWebhookParams, other parts pass
 * through (their handlers parse them). Errors keep Media Pocket's format and status.
 */
export function webhookValidatorCompiler(mode: 'create' | 'update'): FastifySchemaCompiler<unknown> {
  return ({ httpPart }) =>
    (data: unknown) => {
      if (httpPart !== 'body') return { value: data };
      try {
        return { value: validateWebhookParams(data, mode) };
      } catch (err) {
        return { error: err as Error };
      }
    };
}
