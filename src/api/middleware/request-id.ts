// Request ids: every response carries x-request-id and every log line of the request its
// reqId. A caller's id (a proxy's, a client's) is kept so logs can be joined across systems,
// but only when it is short and plain: it is written into log lines and a response header.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { newId } from '../../domain/ids.js';

export const REQUEST_ID_HEADER = 'x-request-id';
const MAX_LENGTH = 128;
/** UUIDs, ULIDs, base64 and trace-style ids (`a/b`, `k=v`) pass; spaces, quotes, control characters do not. */
const SAFE = /^[A-Za-z0-9._:/+=@-]+$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  if (typeof header === 'string' && header.length > 0 && header.length <= MAX_LENGTH && SAFE.test(header)) return header;
  return newId('req');
}

/** For Fastify's `genReqId` option. */
export function genReqId(req: IncomingMessage): string {
  return requestIdFrom(req.headers[REQUEST_ID_HEADER]);
}

/**
 * Echoes the id on every response (errors, 404s and event streams included) and, at debug level, logs one
 * line per request. The route pattern is logged, never the URL: inbox capture URLs carry their
 * token and query strings may carry anything.
 */
export function registerRequestIds(app: FastifyInstance, options: { logRequests: boolean }): void {
  app.addHook('onRequest', (req, reply, done) => {
    // On the raw response, so streams that hijack the reply (inbox live views) carry it too.
    reply.raw.setHeader(REQUEST_ID_HEADER, req.id);
    done();
  });
  if (!options.logRequests) return;
  app.addHook('onResponse', (req, reply, done) => {
    req.log.debug({ method: req.method, route: req.routeOptions.url ?? null, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
    done();
  });
}
