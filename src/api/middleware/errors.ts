// One error shape for the native API: {error, message, field} (field: the request field at fault, or null). Unknown throwables become a
// 500 without details: no stack trace or internal message ever reaches a client.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { storeErrorLevel } from '../../observability/logger.js';
import { storeUnavailable } from '../../store/unavailable.js';
import type { ErrorCode } from '../error-codes.js';
import { CURSOR_PATTERN, CUSTOM_NAME_CURSOR_PATTERN, MAX_PATH_ID_LENGTH } from '../schemas.js';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function notFound(what: string, id: string): ApiError {
  return new ApiError(404, 'not_found', `${what} ${JSON.stringify(id)} not found`);
}

/**
 * The epoch milliseconds of a date-time the schema already accepted. The schema accepts every
 * RFC 3339 date-time, leap seconds included, which Date.parse cannot read: those are refused here.
 */
export function instantOf(value: string, field: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new ApiError(400, 'invalid_request', `${field} is not a date-time Herald can represent: ${JSON.stringify(value)}`, field);
  return ms;
}

/** What a 415 says of a content-type the API does not read. */
export function unsupportedContentType(contentType: string | undefined): string {
  return `content-type ${JSON.stringify((contentType ?? '').slice(0, 100))} is not supported; send application/json`;
}

/** 400 naming `until` when a time range ends where or before it starts (it would select nothing). */
export function checkRange(since: number | null | undefined, until: number | null | undefined): void {
  if (since != null && until != null && until <= since) throw new ApiError(400, 'invalid_request', 'until must be later than since', 'until');
}

interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** "body.event_types/0" style paths read better as "event_types[0]". */
function fieldOf(issue: ValidationIssue): string | undefined {
  const path = (issue.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((seg, i) => (/^\d+$/.test(seg) ? `[${seg}]` : i === 0 ? seg : `.${seg}`))
    .join('');
  const missing = issue.params?.missingProperty;
  const extra = issue.params?.additionalProperty;
  // A discriminated union (auth) whose `type` names no variant: the tag is the field.
  const tag = issue.keyword === 'discriminator' ? issue.params?.tag : undefined;
  const leaf = typeof missing === 'string' ? missing : typeof extra === 'string' ? extra : typeof tag === 'string' ? tag : undefined;
  // An empty property name ("") is still a field the client sent.
  if (leaf !== undefined) return path ? `${path}.${leaf}` : leaf;
  return path || undefined;
}

/** The patterns of cursors (ids; custom types' names): a value outside one was never a next_cursor. */
const CURSOR_PATTERNS: ReadonlySet<string> = new Set([CURSOR_PATTERN, CUSTOM_NAME_CURSOR_PATTERN]);

function describe(issue: ValidationIssue, context: string): string {
  const field = fieldOf(issue);
  if (typeof issue.params?.additionalProperty === 'string') return `${context} field "${field}" is not allowed`;
  if (typeof issue.params?.missingProperty === 'string') return `${context} field "${field}" is required`;
  if (issue.keyword === 'discriminator') return `${context} field "${field}" must be one of the known types`;
  // A short list of allowed values reads better than ajv's "must be equal to one of the allowed values".
  const allowed = issue.keyword === 'enum' ? issue.params?.allowedValues : undefined;
  if (Array.isArray(allowed) && allowed.length <= 10) return `${context} field "${field}" must be one of: ${allowed.map(String).join(', ')}`;
  if (issue.keyword === 'pattern' && CURSOR_PATTERNS.has(String(issue.params?.pattern))) return `${context} field "${field}" is not a cursor: pass the one the previous page returned`;
  return field ? `${context} field "${field}" ${issue.message ?? 'is invalid'}` : `${context} ${issue.message ?? 'is invalid'}`;
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { validation?: ValidationIssue[]; validationContext?: string }, req, reply) => {
    if (err instanceof ApiError) {
      if (err.headers) void reply.headers(err.headers);
      return reply.status(err.statusCode).send({ error: err.code, message: err.message, field: err.field ?? null });
    }
    if (err.validation && err.validation.length > 0) {
      const issue = err.validation[0];
      return reply.status(400).send({ error: 'invalid_request', message: describe(issue, err.validationContext ?? 'body'), field: fieldOf(issue) ?? null });
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      return reply.status(status).send({ error: clientErrorCode(err), message: safeClientMessage(err, status, req.headers['content-type']), field: null });
    }
    if (storeUnavailable(err)) {
      req.log[storeErrorLevel(err)]({ err }, 'request failed: the store cannot be reached');
      return reply.status(503).header('retry-after', '5').send({ error: 'store_unavailable', message: 'the store cannot be reached; retry shortly', field: null });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: 'internal', message: 'internal error; the request was logged', field: null });
  });
  app.setNotFoundHandler((req, reply) => {
    if (wantsPage(req)) return plainPage(reply, 404, 'No page at this address.');
    return answerOutsideRoutes(req, reply, 404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`);
  });
}

/** Paths an API answers (Herald's, a profile's, inbox captures): never with an HTML page. */
const API_PREFIXES = ['/api/', '/webhooks/', '/v2/', '/content-store-v1/', '/cmp/', '/in/'];
/** Media Pocket's API answers every error as `{error}` alone, as Media Pocket does. */
const MEDIA_POCKET_PREFIX = '/api/v2/admin/webhooks';

/**
 * An error met before any route ran, in the shape of the API the path belongs to, and like every
 * answer of the API kept by no cache (a 404 cached in front of a route deployed later would hide it).
 */
function answerOutsideRoutes(req: FastifyRequest, reply: FastifyReply, status: number, error: ErrorCode, message: string): FastifyReply {
  void reply.header('cache-control', 'no-store');
  if (req.url.startsWith(MEDIA_POCKET_PREFIX)) return reply.status(status).send({ error: message });
  return reply.status(status).send({ error, message, field: null });
}

/**
 * Errors the router meets before any route runs (a path segment past the length limit, a path
 * that does not decode), in the API's own error shape instead of Fastify's.
 */
export function frameworkError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (wantsPage(req)) {
    void plainPage(reply, err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400, 'This address is not one the admin UI knows.');
    return;
  }
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void answerOutsideRoutes(req, reply, 414, 'invalid_request', `a path segment (an id) is longer than ${MAX_PATH_ID_LENGTH} characters`);
    return;
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    void answerOutsideRoutes(req, reply, 400, 'invalid_request', 'the path is not a valid URL: it does not decode');
    return;
  }
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  void answerOutsideRoutes(req, reply, status, 'invalid_request', safeClientMessage(err, status));
}

/** A browser asking for a page outside the API: it gets a page, not the API's JSON. */
function wantsPage(req: FastifyRequest): boolean {
  return !API_PREFIXES.some((prefix) => req.url.startsWith(prefix)) && (req.headers.accept ?? '').includes('text/html');
}

function plainPage(reply: FastifyReply, status: number, message: string): FastifyReply {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Herald: ${status}</title></head><body><p>${message}</p><p><a href="/">Herald admin</a></p></body></html>`;
  return reply.status(status).type('text/html; charset=utf-8').send(html);
}

function clientErrorCode(err: FastifyError): ErrorCode {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'payload_too_large';
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported_media_type';
  return 'invalid_request';
}

/** Fastify's own 4xx messages are safe (they name the problem); keep them short. */
function safeClientMessage(err: FastifyError, status: number, contentType?: string): string {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'request body is too large';
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedContentType(contentType);
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'body must not be empty when content-type is application/json';
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return 'body is not valid JSON';
  return (err.message || `request failed with ${status}`).slice(0, 200);
}
