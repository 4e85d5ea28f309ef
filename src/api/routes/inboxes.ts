// Connect inboxes: /api/v2/inboxes (keyed, tenant-scoped) and the public capture URL /in/<token>.
import { type IncomingMessage, METHODS } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AppContext } from '../../app/context.js';
import { buildEndpoint, checkUrl, EndpointInputError, patchEndpoint } from '../../domain/endpoint.js';
import { newId } from '../../domain/ids.js';
import type { Endpoint } from '../../domain/types.js';
import { capturedAfter, type CaptureInput, MAX_CAPTURE_BYTES } from '../../inbox/service.js';
import { openEventStream } from '../../inbox/sse.js';
import { generateInboxToken, hashInboxToken, inboxPathToken } from '../../inbox/token.js';
import type { CapturedHeaders, Inbox, InboxRequest } from '../../inbox/types.js';
import { inboxRequestView, inboxView } from '../../inbox/views.js';
import { decodeSecret, generateSecret } from '../../signing/standard-webhooks.js';
import { withoutSessionCookie } from '../../ui/security.js';
import { checkDestination } from '../destination.js';
import { answers, described } from '../openapi.js';
import { presentedKey, principalOf, requireRole } from '../middleware/auth.js';
import { ApiError, notFound } from '../middleware/errors.js';
import { ApiRateLimiter } from '../middleware/rate-limit.js';
import { IdParams, PageQuery } from '../schemas.js';
import { nullableOneOf, pageOf } from '../response-schemas.js';
import { saveEndpointUpdate } from '../../app/endpoint-update.js';

// ---- schemas --------------------------------------------------------------------------------

const Url = Type.String({ minLength: 1, maxLength: 2048 });
/** `type: [string, null]`, not a union: with the API's type coercion a union would turn null into "". */
const NullableUrl = Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 2048, description: 'null stops forwarding' });
const Secret = Type.String({ minLength: 1, maxLength: 200, description: 'Standard Webhooks secret (whsec_…) captures are verified with' });
const NullableSecret = Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 200, description: 'null stops verifying' });

const InboxCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    forward_url: Type.Optional(Url),
    signing_secret: Type.Optional(Secret),
  },
  { additionalProperties: false },
);
type InboxCreate = Static<typeof InboxCreate>;

const InboxPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    forward_url: Type.Optional(NullableUrl),
    signing_secret: Type.Optional(NullableSecret),
  },
  { additionalProperties: false },
);
type InboxPatch = Static<typeof InboxPatch>;

const InboxView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  url: Type.String({ description: 'the public capture URL: any method, no API key' }),
  forward_url: Type.Union([Type.String(), Type.Null()]),
  forward_endpoint_id: Type.Union([Type.String(), Type.Null()], { description: 'the relay endpoint; its deliveries log every forward' }),
  signing_secret_hint: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  updated_at: Type.String(),
  forward_secret: Type.Optional(Type.String({ description: 'signs relayed requests; shown when the relay endpoint is created' })),
});

const InboxRequestView = Type.Object({
  id: Type.String(),
  inbox_id: Type.String(),
  method: Type.String(),
  path: Type.String({ description: 'the path below the capture URL (`/` when none)' }),
  query: Type.String({ description: 'the raw query string without `?` (empty when none)' }),
  headers: Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())]), { description: 'as received, by name; a repeated header as a list' }),
  body: Type.Union([Type.String(), Type.Null()], { description: 'the body as text, or base64 (body_encoding); null in a list page when over 64 KiB (body_omitted)' }),
  body_encoding: nullableOneOf(['utf8', 'base64']),
  body_omitted: Type.Optional(Type.Literal(true, { description: 'present in a list page when the body is left out: GET the request for it' })),
  body_size: Type.Integer({ minimum: 0, description: 'bytes announced or received; more than the body when truncated' }),
  truncated: Type.Boolean({ description: 'the body was over the limit: answered 413, only the request line and headers kept' }),
  source_ip: Type.Union([Type.String(), Type.Null()]),
  received_at: Type.String({ format: 'date-time' }),
  signature: Type.Union(
    [
      Type.Object({ verified: Type.Literal(true), webhook_id: Type.String() }),
      Type.Object({ verified: Type.Literal(false), code: Type.String(), message: Type.String() }),
      Type.Null(),
    ],
    { description: "the check of its Standard Webhooks signature against the inbox's signing secret; null without one" },
  ),
  relay_message_id: Type.Union([Type.String(), Type.Null()], { description: 'the message relaying it to forward_url (GET /api/v2/events/{id})' }),
});

const RequestParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }), requestId: Type.String({ minLength: 1, maxLength: 100 }) });
const StreamQuery = Type.Object({ after: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'replay captures after this request id first' })) });

// ---- helpers --------------------------------------------------------------------------------

/** Host header values that can safely be echoed into a URL. */
const SAFE_HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

/** Where inbox URLs point: HERALD_PUBLIC_URL, else the address this request came to. */
export function baseUrlOf(ctx: AppContext, req: FastifyRequest): string {
  if (ctx.config.publicUrl) return ctx.config.publicUrl;
  const host = req.headers.host;
  const safe = typeof host === 'string' && SAFE_HOST.test(host) ? host : `localhost:${ctx.config.port}`;
  return `${req.protocol}://${safe}`;
}

const INBOX_REFUSED =
  '`invalid_inbox`: forward_url is not an http(s) URL or is the inbox itself, or signing_secret is not a Standard Webhooks secret; ' +
  '`ssrf_blocked` or `invalid_url`: forward_url is refused by the SSRF guard. `field` names it';

function invalid(field: string, message: string): ApiError {
  return new ApiError(422, 'invalid_inbox', message, field);
}

function checkSigningSecret(secret: string | null | undefined): void {
  if (secret === undefined || secret === null) return;
  try {
    decodeSecret(secret);
  } catch {
    throw invalid('signing_secret', 'signing_secret must be a Standard Webhooks secret: "whsec_" followed by base64');
  }
}

/** forward_url: a valid http(s) URL, not this inbox itself, and past the SSRF guard. */
async function checkForwardUrl(ctx: AppContext, url: string, accountId: string, ownToken: string): Promise<void> {
  try {
    checkUrl(url, 'forward_url');
  } catch (err) {
    if (err instanceof EndpointInputError) throw invalid('forward_url', err.message);
    throw err;
  }
  if (inboxPathToken(new URL(url).pathname) === ownToken) throw invalid('forward_url', 'forward_url must not be the inbox itself');
  await checkDestination(ctx, url, accountId, 'forward_url');
}

/** The hidden endpoint relaying an inbox's captures: profile `inbox`, no event filter. */
function relayEndpoint(ctx: AppContext, accountId: string, inboxId: string, url: string): Endpoint {
  const draft = buildEndpoint(
    { url, eventTypes: ['*'], description: `relay of inbox ${inboxId}` },
    { id: newId('ep'), accountId, profile: 'inbox', secret: generateSecret(), now: ctx.clock() },
  );
  // No filter: ingest never matches it; only captures of its inbox are queued for it.
  return { ...draft, eventTypes: [] };
}

async function inboxOf(ctx: AppContext, req: FastifyRequest, id: string): Promise<Inbox> {
  const inbox = await ctx.store.getInbox(principalOf(req).accountId, id);
  if (!inbox) throw notFound('inbox', id);
  return inbox;
}

// ---- keyed routes ---------------------------------------------------------------------------

export function registerInboxRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerInboxCrud(app, ctx);
  registerRecordedRequests(app, ctx);
}

const admin = { preValidation: requireRole('admin') };
const tags = ['inboxes'];

/** Create, list, read, change and delete inboxes (with the relay endpoint of one that forwards). */
function registerInboxCrud(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/v2/inboxes', { ...admin, schema: { tags, description: 'Creates a hosted inbox: a URL that records every request sent to it, optionally forwarding them to an endpoint. Admin keys only.', body: InboxCreate, response: { 201: described('the inbox, with its capture URL', InboxView), ...answers({ 422: INBOX_REFUSED }) } } }, async (req, reply) => {
    const { accountId } = principalOf(req);
    const body = req.body as InboxCreate;
    checkSigningSecret(body.signing_secret);
    const token = generateInboxToken();
    const id = newId('inb');
    let relay: Endpoint | undefined;
    if (body.forward_url !== undefined) {
      await checkForwardUrl(ctx, body.forward_url, accountId, token);
      relay = relayEndpoint(ctx, accountId, id, body.forward_url);
      await ctx.store.createEndpoint(relay);
    }
    const now = ctx.clock();
    const inbox: Inbox = {
      id,
      accountId,
      name: body.name,
      token,
      tokenHash: hashInboxToken(token),
      signingSecret: body.signing_secret ?? null,
      forwardUrl: body.forward_url ?? null,
      forwardEndpointId: relay?.id ?? null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await ctx.store.createInbox(inbox);
    } catch (err) {
      if (relay) await ctx.store.deleteEndpoint(accountId, relay.id).catch(() => undefined);
      throw err;
    }
    return reply.status(201).send({ ...inboxView(inbox, baseUrlOf(ctx, req)), ...(relay ? { forward_secret: relay.secret } : {}) });
  });

  app.get('/api/v2/inboxes', { schema: { tags, description: 'The account\'s inboxes, a page at a time.', querystring: PageQuery, response: { 200: described('{data, next_cursor}: a page of inboxes', pageOf(InboxView)) } } }, async (req) => {
    const q = req.query as Static<typeof PageQuery>;
    const page = await ctx.store.listInboxes(principalOf(req).accountId, { cursor: q.cursor, limit: q.limit ?? 50 });
    const base = baseUrlOf(ctx, req);
    return { data: page.items.map((i) => inboxView(i, base)), next_cursor: page.nextCursor };
  });

  app.get('/api/v2/inboxes/:id', { schema: { tags, description: 'One inbox. Another account\'s inbox answers 404.', params: IdParams, response: { 200: described('the inbox', InboxView) } } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    return inboxView(await inboxOf(ctx, req, id), baseUrlOf(ctx, req));
  });

  app.patch('/api/v2/inboxes/:id', { ...admin, schema: { tags, description: 'Changes the given fields of an inbox. Admin keys only.', params: IdParams, body: InboxPatch, response: { 200: described('the inbox as changed', InboxView), ...answers({ 422: INBOX_REFUSED }) } } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    const body = req.body as InboxPatch;
    const existing = await inboxOf(ctx, req, id);
    checkSigningSecret(body.signing_secret);
    const { forwardUrl, forwardEndpointId, created } = await changeForwarding(ctx, existing, body.forward_url);
    const updated: Inbox = {
      ...existing,
      name: body.name ?? existing.name,
      signingSecret: body.signing_secret === undefined ? existing.signingSecret : body.signing_secret,
      forwardUrl,
      forwardEndpointId,
      updatedAt: ctx.clock(),
    };
    await ctx.store.updateInbox(updated);
    ctx.inboxes.forget(updated);
    return { ...inboxView(updated, baseUrlOf(ctx, req)), ...(created ? { forward_secret: created.secret } : {}) };
  });

  app.delete('/api/v2/inboxes/:id', { ...admin, schema: { tags, description: 'Deletes an inbox and the requests it recorded. Admin keys only.', params: IdParams, response: answers({ 204: 'deleted' }) } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    const { accountId } = principalOf(req);
    const inbox = await inboxOf(ctx, req, id);
    await ctx.store.deleteInbox(accountId, id);
    if (inbox.forwardEndpointId !== null) {
      await ctx.store.deleteEndpoint(accountId, inbox.forwardEndpointId);
      ctx.endpointChanged(inbox.forwardEndpointId);
    }
    ctx.inboxes.forget(inbox);
    ctx.inboxes.hub.close(id, 'deleted');
    return reply.status(204).send();
  });
}

/** What an inbox recorded: a page at a time, one request, all deleted, or streamed as it arrives. */
function registerRecordedRequests(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/v2/inboxes/:id/requests', { schema: { tags, description: 'The requests an inbox recorded, newest first, a page at a time.', params: IdParams, querystring: PageQuery, response: { 200: described('{data, next_cursor}: a page of recorded requests', pageOf(InboxRequestView)) } } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    const q = req.query as Static<typeof PageQuery>;
    const inbox = await inboxOf(ctx, req, id);
    const page = await ctx.store.listInboxRequests(inbox.accountId, id, { cursor: q.cursor, limit: q.limit ?? 50 });
    return { data: page.items.map((r) => inboxRequestView(r, { listing: true })), next_cursor: page.nextCursor };
  });

  app.get('/api/v2/inboxes/:id/requests/:requestId', { schema: { tags, description: 'One recorded request, with its headers and body.', params: RequestParams, response: { 200: described('the request as recorded', InboxRequestView) } } }, async (req) => {
    const { id, requestId } = req.params as Static<typeof RequestParams>;
    const inbox = await inboxOf(ctx, req, id);
    const r = await ctx.store.getInboxRequest(inbox.accountId, id, requestId);
    if (!r) throw notFound('request', requestId);
    return inboxRequestView(r);
  });

  app.delete('/api/v2/inboxes/:id/requests', { ...admin, schema: { tags, description: 'Deletes every request an inbox recorded. Admin keys only.', params: IdParams, response: { 200: described('{purged}: how many were deleted', Type.Object({ purged: Type.Integer({ minimum: 0 }) })) } } }, async (req) => {
    const { id } = req.params as Static<typeof IdParams>;
    const inbox = await inboxOf(ctx, req, id);
    return { purged: await ctx.store.purgeInboxRequests(inbox.accountId, id) };
  });

  app.get(
    '/api/v2/inboxes/:id/stream',
    {
      // A HEAD would open the stream and never send its head (Node drops writes to a HEAD answer).
      exposeHeadRoute: false,
      schema: {
        tags,
        params: IdParams,
        querystring: StreamQuery,
        description:
          'Server-Sent Events: one `event: request` (id = request id, data = the captured request as JSON) per capture, a comment every 15 s. ' +
          'A reconnecting client sending Last-Event-ID (or ?after=) first receives everything it missed, oldest first.',
        // The stream is written to the hijacked response: this schema only documents it.
        response: {
          200: {
            description: 'the stream: `id: <request id>`, `event: request`, `data: <the request as GET /api/v2/inboxes/{id}/requests/{requestId} shows it>`',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof IdParams>;
      const inbox = await inboxOf(ctx, req, id);
      const lastEventId = req.headers['last-event-id'];
      const after = (req.query as Static<typeof StreamQuery>).after ?? (typeof lastEventId === 'string' && lastEventId.length <= 100 ? lastEventId : undefined);
      const key = presentedKey(req)!;
      const { keyId } = principalOf(req);
      await streamInbox(ctx, inbox, after, reply, async () => (await ctx.keys.authenticate(key))?.keyId === keyId);
    },
  );
}

/**
 * The inbox's forwarding as `forwardUrl` asks (undefined: unchanged; null: none): its relay
 * endpoint deleted, pointed at the new URL, or created (`created`, whose secret is shown once).
 */
async function changeForwarding(
  ctx: AppContext,
  inbox: Inbox,
  forwardUrl: string | null | undefined,
): Promise<{ forwardUrl: string | null; forwardEndpointId: string | null; created?: Endpoint }> {
  const { accountId, forwardEndpointId } = inbox;
  if (forwardUrl === undefined) return { forwardUrl: inbox.forwardUrl, forwardEndpointId };
  if (forwardUrl === null) {
    if (forwardEndpointId !== null) {
      await ctx.store.deleteEndpoint(accountId, forwardEndpointId);
      ctx.endpointChanged(forwardEndpointId);
    }
    return { forwardUrl: null, forwardEndpointId: null };
  }
  await checkForwardUrl(ctx, forwardUrl, accountId, inbox.token);
  const current = forwardEndpointId === null ? undefined : await ctx.store.getEndpoint(accountId, forwardEndpointId);
  if (current) {
    await saveEndpointUpdate(ctx, patchEndpoint(current, { url: forwardUrl }, ctx.clock()), current);
    return { forwardUrl, forwardEndpointId };
  }
  const created = relayEndpoint(ctx, accountId, inbox.id, forwardUrl);
  await ctx.store.createEndpoint(created);
  return { forwardUrl, forwardEndpointId: created.id, created };
}

/** How many sent ids a stream remembers: a capture is announced at most twice (locally and by NOTIFY), moments apart. */
const STREAM_DEDUP_WINDOW = 1_000;

/**
 * How often an open stream checks that the key it was opened with still works: a deleted key
 * ends its streams within this (and the key cache's few seconds), in any process.
 */
const KEY_RECHECK_MS = 5_000;

/** Streams an inbox: subscribe first (buffering), then the head, the catch-up, the buffer, live. */
async function streamInbox(ctx: AppContext, inbox: Inbox, after: string | undefined, reply: FastifyReply, keyWorks: () => Promise<boolean>): Promise<void> {
  let stream: ReturnType<typeof openEventStream> | undefined;
  let buffered: InboxRequest[] | undefined = [];
  // Deduplicated by id, not by "newer than the last one sent": another process's capture,
  // announced through NOTIFY, can arrive after a newer one made here, and must still be sent.
  const sent = new Set<string>();
  const send = (r: InboxRequest) => {
    if (sent.has(r.id)) return;
    sent.add(r.id);
    if (sent.size > STREAM_DEDUP_WINDOW) sent.delete(sent.values().next().value as string);
    stream?.send('request', inboxRequestView(r), r.id);
  };
  const unsubscribe = await ctx.inboxes.subscribe(inbox, {
    request: (r) => (buffered ? buffered.push(r) : send(r)),
    close: (reason) => {
      stream?.send(reason, { inbox_id: inbox.id });
      stream?.close();
    },
  });
  reply.hijack();
  const recheck = setInterval(() => {
    keyWorks().then(
      (works) => {
        if (works || !stream) return;
        stream.send('unauthorized', { inbox_id: inbox.id });
        stream.close();
      },
      (err: unknown) => ctx.logger.warn({ err, inboxId: inbox.id }, 'could not check the key of an inbox stream'),
    );
  }, KEY_RECHECK_MS);
  recheck.unref();
  stream = openEventStream(reply.raw, {
    onClose: () => {
      clearInterval(recheck);
      unsubscribe();
    },
  });
  try {
    if (after !== undefined) {
      await capturedAfter(ctx.store, inbox.accountId, inbox.id, after, send);
    }
  } catch (err) {
    ctx.logger.warn({ err, inboxId: inbox.id }, 'could not replay missed inbox requests');
  }
  const pending = buffered;
  buffered = undefined;
  for (const r of pending) send(r);
}

// ---- the public capture route ---------------------------------------------------------------

declare module 'fastify' {
  interface FastifyRequest {
    inbox?: Inbox;
  }
}

/** The request's headers as received, less the admin UI's session cookie (an API key). */
function capturedHeaders(req: FastifyRequest): CapturedHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name !== 'cookie' || typeof value !== 'string') out[name] = value;
    else {
      const rest = withoutSessionCookie(value);
      if (rest !== undefined) out[name] = rest;
    }
  }
  return out;
}

/** `/in/<token>/a/b?x=1` → `/a/b` and `x=1`. */
function pathAndQuery(rawUrl: string, token: string): { path: string; query: string } {
  const q = rawUrl.indexOf('?');
  const pathname = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const prefix = `/in/${token}`;
  const rest = pathname.startsWith(prefix) ? pathname.slice(prefix.length) : pathname;
  return { path: rest === '' ? '/' : rest.slice(0, 2048), query: q < 0 ? '' : rawUrl.slice(q + 1, q + 1 + 8192) };
}

/** Reads a body Fastify did not (an unparseable content-type), up to the limit. */
async function readRaw(raw: IncomingMessage, limit: number): Promise<{ body: Buffer; size: number; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of raw) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      raw.destroy();
      return { body: Buffer.alloc(0), size, truncated: true };
    }
    chunks.push(buf);
  }
  return { body: Buffer.concat(chunks), size, truncated: false };
}

export async function registerInboxCaptureRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  // Open streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => ctx.inboxes.hub.close(undefined, 'shutdown'));
  // An inbox captures whatever a sender tries, WebDAV's and CDNs' methods (PROPFIND, PURGE) too:
  // every method Node parses, but CONNECT, which never reaches a route.
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  }
  const limiter = ctx.config.inboxRateLimit > 0 ? new ApiRateLimiter(ctx.config.inboxRateLimit, ctx.config.inboxRateLimit * 2, ctx.clock) : undefined;

  const store = async (req: FastifyRequest, reply: FastifyReply, body: { body: Buffer; size: number; truncated: boolean }) => {
    const inbox = req.inbox!;
    const token = (req.params as { token: string }).token;
    const input: CaptureInput = {
      method: req.method,
      ...pathAndQuery(req.raw.url ?? '', token),
      headers: capturedHeaders(req),
      body: body.body,
      bodySize: body.size,
      truncated: body.truncated,
      sourceIp: req.ip ?? null,
    };
    let captured: InboxRequest | undefined;
    try {
      captured = await ctx.inboxes.capture(inbox, input);
    } catch (err) {
      req.log.error({ err, inboxId: inbox.id }, 'inbox capture failed');
      return reply.status(503).header('retry-after', '5').send({ ok: false, error: 'unavailable' });
    }
    if (!captured) return reply.status(404).send({ ok: false, error: 'not_found' });
    if (body.truncated) {
      return reply.status(413).header('connection', 'close').send({ ok: false, error: 'payload_too_large', message: `the body is larger than ${MAX_CAPTURE_BYTES} bytes; the request line and headers were captured` });
    }
    return reply.status(200).send({ ok: true });
  };

  await app.register(async (pub) => {
    pub.removeAllContentTypeParsers();
    pub.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_CAPTURE_BYTES }, (_req, body, done) => done(null, body));

    // Unknown tokens and floods are turned away before any body is read.
    pub.addHook('onRequest', async (req, reply) => {
      const token = (req.params as { token?: string }).token ?? '';
      const inbox = await ctx.inboxes.lookup(token);
      if (!inbox) return reply.status(404).send({ ok: false, error: 'not_found' });
      if (limiter) {
        const waitMs = limiter.take(inbox.id);
        if (waitMs > 0) return reply.status(429).header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000)))).send({ ok: false, error: 'rate_limited' });
      }
      req.inbox = inbox;
    });

    pub.setErrorHandler(async (err: FastifyError, req, reply) => {
      if (!req.inbox) return reply.status(404).send({ ok: false, error: 'not_found' });
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        const announced = Number(req.headers['content-length']);
        return store(req, reply, { body: Buffer.alloc(0), size: Number.isFinite(announced) && announced > 0 ? announced : MAX_CAPTURE_BYTES + 1, truncated: true });
      }
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        // A content-type Fastify cannot parse is still a request worth seeing.
        return store(req, reply, await readRaw(req.raw, MAX_CAPTURE_BYTES));
      }
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) req.log.error({ err }, 'inbox capture failed');
      return reply.status(status).send({ ok: false, error: status === 500 ? 'internal' : 'bad_request' });
    });

    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      return store(req, reply, { body, size: body.length, truncated: false });
    };
    const options = { schema: { hide: true }, exposeHeadRoute: false };
    pub.all('/in/:token', options, handler);
    pub.all('/in/:token/*', options, handler);
  });
}
