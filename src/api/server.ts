// The HTTP surface: Fastify with JSON Schema validation on every route and OpenAPI from the
// same schemas.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { AppContext } from '../app/context.js';
import type { Config } from '../config/index.js';
import { newId } from '../domain/ids.js';
import { authenticate } from './middleware/auth.js';
import { ApiError, frameworkError, registerErrorHandler } from './middleware/errors.js';
import { KeyFailureLimit, newUiCallToken } from './middleware/key-failures.js';
import { registerJsonBodyParser } from './middleware/json-body.js';
import { registerNulRefusal } from './middleware/no-nul.js';
import type { ErrorCode } from './error-codes.js';
import { documentRoute } from './openapi.js';
import { MAX_PATH_ID_LENGTH } from './schemas.js';
import { registerValidation } from './validation.js';
import { ApiRateLimiter, limitRequests } from './middleware/rate-limit.js';
import { genReqId, registerRequestIds } from './middleware/request-id.js';
import { registerDeliveryRoutes } from './routes/deliveries.js';
import { registerDocsRoutes } from './routes/docs.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerEndpointRoutes } from './routes/endpoints.js';
import { registerEventTypeListRoutes } from './routes/event-type-lists.js';
import { registerEventTypeRoutes } from './routes/event-types.js';
import { registerEventRoutes } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerInboxCaptureRoutes, registerInboxRoutes } from './routes/inboxes.js';
import { registerUi } from '../ui/index.js';
import { ACCOUNT_HEADER_DOC, actingAccount, registerAccountRoutes } from './routes/accounts.js';
import { registerCmpRoutes } from '../profiles/cmp/routes.js';
import { registerMediaPocketRoutes } from '../profiles/mediapocket/routes.js';
import { registerTenovosRoutes, TENOVOS_BASE_PATHS, TENOVOS_TAG } from '../profiles/tenovos/routes.js';

export const BODY_LIMIT = 1024 * 1024;

/**
 * Fastify's default handler for requests Node cannot parse, except that it never writes a
 * second response on a connection whose response already went out. An early answer (a 400 for a
 * bad URL, a 401) to a request whose chunked body is still arriving makes Node report the rest of
 * the body as a client error; Fastify's default then wrote another "400 Client Error" after the
 * first response, which breaks the client's parser. Node's own default makes the same check.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const responded = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !responded) {
    const [status, error, message]: [number, ErrorCode, string] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'timeout', 'the request did not arrive in time']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers_too_large', 'the request headers are larger than the server accepts']
          : [400, 'invalid_request', 'the request is not valid HTTP'];
    // The API's error shape, though no route was reached.
    const body = JSON.stringify({ error, message, field: null });
    const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status]}`, `Content-Length: ${Buffer.byteLength(body)}`, 'Content-Type: application/json', `X-Request-Id: ${newId('req')}`, 'Connection: close'];
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/**
 * The Fastify instance every Herald server starts from: its logger, request ids, client-error
 * handling and error handler. Per-request access logs stay off: at thousands of requests a
 * second they would drown the delivery logs.
 */
function baseServer(logger: Logger, config: Pick<Config, 'requestTimeoutMs'>, options: { logRequests: boolean } & Pick<FastifyServerOptions, 'bodyLimit' | 'trustProxy'> = { logRequests: false }): FastifyInstance {
  const { logRequests, ...fastifyOptions } = options;
  const app = Fastify({
    ...fastifyOptions,
    // A request that never finishes arriving (a body announced and not sent) would otherwise hold
    // its connection for as long as the client likes: no key is needed to open many.
    // Node reads it when the server is made (Fastify sets it only afterwards, which Node 20 ignores).
    requestTimeout: config.requestTimeoutMs,
    // Node would answer a request without Host itself, with an empty body: refuseWithoutHost does, in the API's shape.
    http: { requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.min(5_000, Math.max(250, config.requestTimeoutMs / 4)), requireHostHeader: false },
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler,
    frameworkErrors: frameworkError,
    genReqId,
    routerOptions: { maxParamLength: MAX_PATH_ID_LENGTH },
  });
  registerRequestIds(app, { logRequests });
  // After the request id is set: the refusal carries it, in the API's error shape.
  app.addHook('onRequest', refuseWithoutHost);
  registerErrorHandler(app);
  return app;
}

/** HTTP/1.1 requires a Host header (RFC 9112 §3.2); Node's own refusal (switched off above) had an empty body. */
async function refuseWithoutHost(req: FastifyRequest): Promise<void> {
  if (req.headers.host === undefined && req.raw.httpVersionMajor === 1 && req.raw.httpVersionMinor === 1) {
    throw new ApiError(400, 'invalid_request', 'the request has no Host header', 'host');
  }
}

/** What a process without the API serves: health, readiness and its own metrics, nothing else. */
export function buildProbeServer(ctx: AppContext): FastifyInstance {
  const app = baseServer(ctx.logger.child({ component: 'probes' }), ctx.config);
  registerHealthRoutes(app, ctx);
  registerMetricsRoute(app, ctx);
  return app;
}

export async function buildServer(ctx: AppContext): Promise<FastifyInstance> {
  const logger = ctx.logger.child({ component: 'api' });
  const app = baseServer(logger, ctx.config, {
    logRequests: logger.isLevelEnabled('debug'),
    bodyLimit: BODY_LIMIT,
    trustProxy: false,
  });
  // Marks the admin UI's own calls to this API: they are past the UI's sign-in limit already.
  const uiCallToken = newUiCallToken();
  registerJsonBodyParser(app);
  registerNulRefusal(app);
  registerValidation(app);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Herald', version: ctx.version, description: `Webhook platform for digital asset management systems.\n\n${ACCOUNT_HEADER_DOC}` },
      components: {
        securitySchemes: {
          ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          Bearer: { type: 'http', scheme: 'bearer' },
          Basic: { type: 'http', scheme: 'basic', description: 'the API key as the password (or as the user name with an empty password)' },
        },
      },
      security: [{ ApiKey: [] }, { Bearer: [] }, { Basic: [] }],
      tags: [TENOVOS_TAG],
    },
    transform: documentRoute,
  });

  registerHealthRoutes(app, ctx);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerDocsRoutes(app);
  registerMetricsRoute(app, ctx);
  // Public, no API key: Connect inbox capture URLs (/in/<token>).
  await registerInboxCaptureRoutes(app, ctx);

  await app.register(async (api) => {
    api.addHook('onRequest', authenticate(ctx.keys, new KeyFailureLimit(ctx, uiCallToken)));
    if (ctx.config.apiRateLimit > 0) api.addHook('onRequest', limitRequests(new ApiRateLimiter(ctx.config.apiRateLimit, ctx.config.apiRateLimit, ctx.clock)));
    api.addHook('onRequest', actingAccount(ctx));
    // Answers carry an account's data and, from some routes, secrets (a rotated signing secret,
    // a new API key): no browser or proxy may keep them.
    api.addHook('onSend', async (_req, reply, payload) => {
      reply.header('cache-control', 'no-store');
      return payload;
    });
    registerEventTypeListRoutes(api, ctx);
    registerEventTypeRoutes(api, ctx);
    registerEndpointRoutes(api, ctx);
    registerEventRoutes(api, ctx);
    registerDeliveryRoutes(api, ctx);
    registerInboxRoutes(api, ctx);
    registerAccountRoutes(api, ctx);
    registerTenovosRoutes(api, ctx);
    // Again under each of Tenovos' base paths (/v2, /content-store-v1), left out of the document.
    for (const prefix of TENOVOS_BASE_PATHS) {
      await api.register(
        async (alias) => {
          alias.addHook('onRoute', (route) => void (route.schema = { ...route.schema, hide: true }));
          registerTenovosRoutes(alias, ctx);
        },
        { prefix },
      );
    }
    registerMediaPocketRoutes(api, ctx);
    registerCmpRoutes(api, ctx);
  });
  await registerUi(app, ctx, uiCallToken);
  return app;
}
