// The admin UI: server-rendered pages (eta through @fastify/view) with htmx for partial
// refreshes. It holds no data of its own and never touches the store: every page handler calls
// Herald's public JSON API over HTTP on the loopback address the server listens on, with the
// API key of the signed-in user (kept in an HttpOnly, SameSite=Strict cookie).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.js';
import { ApiCallError, HeraldApi, loopbackBase } from './api-client.js';
import {
  activityChart,
  type CatalogDto,
  DELIVERY_STATUSES,
  type DeliveryDto,
  type EndpointDto,
  endpointSettings,
  formatTime,
  isDeliveryStatus,
  type ListDto,
  responsePreview,
  type RotatedDto,
  type StatsDto,
} from './models.js';
import { clearedSessionCookie, crossSiteReason, isKeyShaped, MAX_KEY_LENGTH, SECURITY_HEADERS, sessionCookie, sessionKey } from './security.js';

/** The package's `ui/` folder, from `src/ui/` (tests) and from `dist/ui/` (npm start) alike. */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const FORM_BODY_LIMIT = 64 * 1024;
const ACTIVITY_REFRESH_SECONDS = 3;

type Form = Map<string, string[]>;

/** Fastify route options that keep UI routes out of /openapi.json. */
const hidden = { schema: { hide: true } } as const;

/** Helpers every template may call. */
const helpers = { time: formatTime, preview: responsePreview };

function isHtmx(req: FastifyRequest): boolean {
  return req.headers['hx-request'] === 'true';
}

function formOf(req: FastifyRequest): Form {
  return req.body instanceof Map ? (req.body as Form) : new Map();
}

function field(form: Form, name: string): string {
  return (form.get(name)?.[0] ?? '').trim();
}

function queryOf(req: FastifyRequest): Record<string, unknown> {
  return (req.query ?? {}) as Record<string, unknown>;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : undefined;
}

/** `2024-05-01T12:00` from a datetime-local input is read as UTC; full ISO times are accepted as they are. */
function parseSince(value: string): string | undefined {
  if (!value) return undefined;
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export async function registerUi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const require = createRequire(import.meta.url);
  const htmx = readFileSync(require.resolve('htmx.org/dist/htmx.min.js'));
  let base: string | undefined;
  /** The API of this very server, reached over loopback; known once the server listens. */
  const apiFor = (key: string) => new HeraldApi((base ??= loopbackBase(app.server.address())), key);

  await app.register(async (ui) => {
    await ui.register(fastifyView, {
      engine: { eta: new Eta({ autoEscape: true }) },
      root: `${UI_DIR}views`,
      production: true,
      defaultContext: { h: helpers },
    });
    await ui.register(fastifyStatic, { root: `${UI_DIR}static`, prefix: '/ui/static/', decorateReply: false, index: false, list: false });

    ui.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => {
      const form: Form = new Map();
      for (const [k, v] of new URLSearchParams(body as string)) form.set(k, [...(form.get(k) ?? []), v]);
      done(null, form);
    });

    ui.addHook('onSend', async (req, reply, payload) => {
      reply.headers(SECURITY_HEADERS);
      if (!req.url.startsWith('/ui/')) reply.header('cache-control', 'no-store');
      return payload;
    });

    // CSRF: every state-changing request must come from a page of this origin.
    ui.addHook('onRequest', async (req, reply) => {
      if (req.method === 'GET' || req.method === 'HEAD') return;
      const reason = crossSiteReason(req);
      if (reason) {
        ctx.logger.warn({ url: req.url, reason }, 'admin UI refused a cross-site request');
        return reply.status(403).type('text/plain; charset=utf-8').send(`Forbidden: cross-site request refused (${reason}).`);
      }
    });

    ui.setErrorHandler(async (err: FastifyError | ApiCallError, req, reply) => {
      if (err instanceof ApiCallError && err.status === 401) return toLogin(req, reply, true);
      let status: number;
      let message: string;
      if (err instanceof ApiCallError) {
        status = err.status >= 400 && err.status < 500 ? err.status : 502;
        message = err.status === 403 ? `Your API key may not do this: ${err.message}.` : err.status >= 500 ? 'The API failed to answer; try again.' : err.message;
      } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        status = err.statusCode;
        message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'The form is too large.' : 'The request was not understood.';
      } else {
        req.log.error({ err }, 'admin UI request failed');
        status = 500;
        message = 'Something went wrong; the error was logged.';
      }
      if (isHtmx(req)) {
        // Shown in the page's alert area, whatever the request targeted.
        void reply.header('hx-retarget', '#flash').header('hx-reswap', 'innerHTML');
        return fragment(reply, 'partials/flash', { message, kind: 'error' }, status);
      }
      return page(req, reply, 'error', { title: status === 404 ? 'Not found' : 'Error', message }, status);
    });

    async function page(req: FastifyRequest, reply: FastifyReply, template: string, data: Record<string, unknown>, status = 200) {
      const html = await reply.viewAsync(template, { signedIn: sessionKey(req) !== undefined, nav: '', ...data });
      return reply.status(status).type('text/html; charset=utf-8').send(html);
    }

    async function fragment(reply: FastifyReply, template: string, data: Record<string, unknown>, status = 200) {
      const html = await reply.viewAsync(template, data);
      return reply.status(status).type('text/html; charset=utf-8').send(html);
    }

    function toLogin(req: FastifyRequest, reply: FastifyReply, expired: boolean) {
      const target = expired ? '/?expired=1' : '/';
      if (expired) void reply.header('set-cookie', clearedSessionCookie(req));
      if (isHtmx(req)) return reply.header('hx-redirect', target).status(204).send();
      return reply.redirect(target, 303);
    }

    // ---- public: assets, login, logout ------------------------------------------------------

    ui.get('/ui/htmx.min.js', hidden, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(htmx),
    );

    ui.get('/', hidden, async (req, reply) => {
      if (sessionKey(req)) return reply.redirect('/endpoints', 303);
      const expired = queryOf(req).expired === '1';
      return page(req, reply, 'login', { title: 'Sign in', error: expired ? 'Your session ended: the API key is no longer accepted.' : '' });
    });

    ui.post('/login', hidden, async (req, reply) => {
      const key = field(formOf(req), 'key');
      if (!key || key.length > MAX_KEY_LENGTH) return page(req, reply, 'login', { title: 'Sign in', error: 'Enter an API key.' }, 400);
      if (!isKeyShaped(key)) return page(req, reply, 'login', { title: 'Sign in', error: 'That API key was not accepted.' }, 401);
      try {
        await apiFor(key).get<StatsDto>('/api/v2/stats');
      } catch (err) {
        if (err instanceof ApiCallError && err.status === 401) {
          return page(req, reply, 'login', { title: 'Sign in', error: 'That API key was not accepted.' }, 401);
        }
        throw err;
      }
      return reply.header('set-cookie', sessionCookie(req, key)).redirect('/endpoints', 303);
    });

    ui.post('/logout', hidden, async (req, reply) => reply.header('set-cookie', clearedSessionCookie(req)).redirect('/', 303));

    // ---- signed-in pages --------------------------------------------------------------------

    await ui.register(async (pages) => {
      pages.addHook('preHandler', async (req, reply) => {
        if (!sessionKey(req)) return toLogin(req, reply, false);
      });
      const api = (req: FastifyRequest) => apiFor(sessionKey(req)!);
      const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
      const enc = encodeURIComponent;

      async function endpointsPage(req: FastifyRequest, reply: FastifyReply, form: { error?: string; url?: string; description?: string; selected?: string[] } = {}, status = 200) {
        const cursor = str(queryOf(req).cursor);
        const [list, catalog] = await Promise.all([api(req).get<ListDto<EndpointDto>>('/api/v2/endpoints', { cursor }), api(req).get<CatalogDto>('/api/v2/event-types')]);
        return page(
          req,
          reply,
          'endpoints',
          {
            title: 'Endpoints',
            nav: 'endpoints',
            endpoints: list.data,
            nextCursor: list.next_cursor,
            catalog: catalog.topics,
            form: { error: form.error ?? '', url: form.url ?? '', description: form.description ?? '', selected: new Set(form.selected ?? []) },
          },
          status,
        );
      }

      pages.get('/endpoints', hidden, async (req, reply) => endpointsPage(req, reply));

      pages.post('/endpoints', hidden, async (req, reply) => {
        const form = formOf(req);
        const url = field(form, 'url');
        const description = field(form, 'description');
        const selected = [...new Set((form.get('event_types') ?? []).map((t) => t.trim()).filter(Boolean))];
        const eventTypes = selected.includes('*') ? ['*'] : selected;
        const again = (error: string, status: number) => endpointsPage(req, reply, { error, url, description, selected }, status);
        if (!url) return again('Enter the URL that receives the webhooks.', 422);
        if (eventTypes.length === 0) return again('Choose at least one event type or wildcard.', 422);
        let created: EndpointDto & { secret: string };
        try {
          created = await api(req).post('/api/v2/endpoints', { url, description, event_types: eventTypes });
        } catch (err) {
          if (err instanceof ApiCallError && (err.status === 400 || err.status === 422)) return again(err.message, 422);
          throw err;
        }
        return page(req, reply, 'endpoint-created', { title: 'Endpoint created', nav: 'endpoints', endpoint: created, secret: created.secret }, 201);
      });

      async function endpointPage(req: FastifyRequest, reply: FastifyReply, extra: { secret?: RotatedDto; recovered?: number } = {}) {
        const endpoint = await api(req).get<EndpointDto>(`/api/v2/endpoints/${enc(idOf(req))}`);
        return page(req, reply, 'endpoint', {
          title: endpoint.description || endpoint.url,
          nav: 'endpoints',
          endpoint,
          settings: endpointSettings(endpoint),
          rotated: extra.secret ?? null,
          recovered: extra.recovered ?? null,
        });
      }

      pages.get('/endpoints/:id', hidden, async (req, reply) => endpointPage(req, reply));

      pages.post('/endpoints/:id/rotate', hidden, async (req, reply) => {
        const rotated = await api(req).post<RotatedDto>(`/api/v2/endpoints/${enc(idOf(req))}/secret/rotate`);
        if (isHtmx(req)) return fragment(reply, 'partials/secret', { rotated });
        return endpointPage(req, reply, { secret: rotated });
      });

      pages.post('/endpoints/:id/toggle', hidden, async (req, reply) => {
        const disabled = field(formOf(req), 'disabled') === 'true';
        const endpoint = await api(req).patch<EndpointDto>(`/api/v2/endpoints/${enc(idOf(req))}`, { disabled });
        if (isHtmx(req)) return fragment(reply, 'partials/endpoint-status', { endpoint });
        return reply.redirect(`/endpoints/${enc(endpoint.id)}`, 303);
      });

      pages.post('/endpoints/:id/recover', hidden, async (req, reply) => {
        const raw = field(formOf(req), 'since');
        const since = parseSince(raw);
        if (!since) {
          if (isHtmx(req)) return fragment(reply, 'partials/flash', { message: 'Enter the date and time to recover from.', kind: 'error' }, 422);
          return page(req, reply, 'error', { title: 'Error', message: 'Enter the date and time to recover from.' }, 422);
        }
        const { requeued } = await api(req).post<{ requeued: number }>(`/api/v2/endpoints/${enc(idOf(req))}/recover`, { since });
        if (isHtmx(req)) return fragment(reply, 'partials/recovered', { recovered: requeued, since });
        return endpointPage(req, reply, { recovered: requeued });
      });

      pages.get('/endpoints/:id/logs', hidden, async (req, reply) => {
        const q = queryOf(req);
        const status = isDeliveryStatus(q.status) ? q.status : '';
        const cursor = str(q.cursor);
        const id = idOf(req);
        const [endpoint, deliveries] = await Promise.all([
          api(req).get<EndpointDto>(`/api/v2/endpoints/${enc(id)}`),
          api(req).get<ListDto<DeliveryDto>>(`/api/v2/endpoints/${enc(id)}/deliveries`, { status: status || undefined, cursor }),
        ]);
        const nextQuery = deliveries.next_cursor ? new URLSearchParams({ ...(status ? { status } : {}), cursor: deliveries.next_cursor }).toString() : '';
        return page(req, reply, 'logs', {
          title: `Logs · ${endpoint.description || endpoint.url}`,
          nav: 'endpoints',
          endpoint,
          deliveries: deliveries.data,
          statuses: DELIVERY_STATUSES,
          status,
          nextQuery,
        });
      });

      pages.post('/deliveries/:id/retry', hidden, async (req, reply) => {
        const id = idOf(req);
        const queued = await api(req).post<DeliveryDto>(`/api/v2/deliveries/${enc(id)}/retry`);
        if (!isHtmx(req)) return reply.redirect(`/endpoints/${enc(queued.endpoint_id)}/logs`, 303);
        const delivery = await api(req).get<DeliveryDto>(`/api/v2/deliveries/${enc(id)}`);
        return fragment(reply, 'partials/delivery', { d: delivery, retried: true });
      });

      pages.get('/catalog', hidden, async (req, reply) => {
        const catalog = await api(req).get<CatalogDto>('/api/v2/event-types');
        return page(req, reply, 'catalog', { title: 'Event catalog', nav: 'catalog', topics: catalog.topics });
      });

      pages.get('/activity', hidden, async (req, reply) => {
        const stats = await api(req).get<StatsDto>('/api/v2/stats');
        return page(req, reply, 'activity', { title: 'Activity', nav: 'activity', stats: stats.deliveries, chart: activityChart(stats.deliveries), every: ACTIVITY_REFRESH_SECONDS });
      });

      pages.get('/activity/chart', hidden, async (req, reply) => {
        const stats = await api(req).get<StatsDto>('/api/v2/stats');
        return fragment(reply, 'partials/chart', { stats: stats.deliveries, chart: activityChart(stats.deliveries), updated: new Date().toISOString() });
      });
    });
  });
}
