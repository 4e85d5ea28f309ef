// What /openapi.json says beyond each route's own schemas: the errors a route can answer, in the
// API's error shape, and the JSON Schema OpenAPI 3.0 cannot hold rewritten into what it can.
// It changes the document only: requests are still validated, and answers sent, as the routes say.

import type { FastifySchema } from 'fastify';

const ERROR_BODY = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'a stable code, e.g. invalid_request, not_found' },
    message: { type: 'string' },
    field: { type: 'string', nullable: true, description: 'the request field at fault, e.g. events[3].type' },
  },
};

const error = (description: string) => ({ description, ...ERROR_BODY });

/**
 * A route's answers for the document, by status, where its body needs no schema of its own.
 * A schema of only a description serialises as JSON.stringify would, so the answers are unchanged;
 * error statuses get the API's error shape in the document.
 */
export function answers(described: Readonly<Record<number, string>>): Record<number, { description: string }> {
  return Object.fromEntries(Object.entries(described).map(([status, description]) => [status, { description }]));
}

/**
 * A success answer with a body: its schema, and what the document says of it. A schema without a
 * description is "Default Response" in the document; the description is an annotation only, so
 * the answer is serialised as before.
 */
export function described<T extends object>(description: string, schema: T): T {
  return { ...schema, description };
}

/** A declared answer of only a description: its schema is the error shape when it is an error. */
function withErrorShape(status: string, answer: unknown): unknown {
  const bare = answer !== null && typeof answer === 'object' && Object.keys(answer).length === 1 && 'description' in answer;
  return bare && Number(status) >= 400 ? error((answer as { description: string }).description) : answer;
}

/**
 * The errors every authenticated route can answer, and those that depend on what it takes.
 * Routes declare their own conflicts (409) and refusals of valid input (422).
 */
function genericErrors(url: string, schema: FastifySchema): Record<string, unknown> {
  const takesInput = schema.body !== undefined || schema.querystring !== undefined || schema.params !== undefined;
  return {
    ...(takesInput ? { 400: error('the input is not valid; `field` names what is wrong') } : {}),
    401: error('no API key, or not a valid one'),
    403: error("the key's role may not do this, or X-Herald-Account names an account the key may not act for"),
    ...(url.includes(':') ? { 404: error('no such object in the acting account') } : {}),
    ...(schema.body !== undefined
      ? { 413: error('the body is over 1 MiB (an event over 256 KiB)'), 415: error('the body is not JSON, or is compressed') }
      : {}),
    429: error('over HERALD_API_RATE_LIMIT requests per second for this key, or past HERALD_API_KEY_FAILURES failed keys from this address; see Retry-After'),
    503: error('the store is unavailable or ingest is behind; nothing was changed; see Retry-After'),
  };
}

/** `{if, then, else}` (OpenAPI 3.0 has no conditionals) as the `oneOf` of its two branches, at any depth. */
function withoutConditionals(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutConditionals);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key !== 'if' && key !== 'then' && key !== 'else') out[key] = withoutConditionals(value);
  }
  const { if: condition, then, else: otherwise } = node as Record<string, unknown>;
  if (condition !== undefined && then !== undefined && otherwise !== undefined) out.oneOf = [withoutConditionals(then), withoutConditionals(otherwise)];
  return out;
}

/**
 * @fastify/swagger's `transform`: each route as the document shows it. Routes that describe their
 * own authentication errors (Media Pocket's, in its own shape), and routes that take no key,
 * describe all their errors.
 */
export function documentRoute({ schema, url }: { schema: FastifySchema; url: string }): { schema: FastifySchema; url: string } {
  if (schema === undefined || schema.hide === true) return { schema, url };
  const declared = (schema.response ?? {}) as Record<string, unknown>;
  // A route that takes no key (`security: []`, the probes) answers none of the key's errors.
  const ownErrors = '401' in declared || (Array.isArray(schema.security) && schema.security.length === 0);
  const own = Object.fromEntries(Object.entries(declared).map(([status, answer]) => [status, withErrorShape(status, answer)]));
  const succeeds = Object.keys(own).some((status) => status.startsWith('2'));
  const response = ownErrors ? own : { ...(succeeds ? {} : { 200: { description: 'OK' } }), ...genericErrors(url, schema), ...own };
  return { schema: withoutConditionals({ ...schema, response }) as FastifySchema, url };
}
