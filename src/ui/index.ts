// The admin UI: server-rendered pages (eta through @fastify/view) with htmx for partial
// refreshes. It holds no data of its own and never touches the store: every page handler calls
// Herald's public JSON API over HTTP on the loopback address the server listens on, with the
// API key of the signed-in user. Its only state of its own is the sign-in (sessions.ts): the
// browser holds a random token in an HttpOnly, SameSite=Strict cookie, the store the key.
import { findNul, nulRefused } from '../api/middleware/no-nul.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app/context.js';
import { HeraldApi, loopbackBase } from './api-client.js';
import { type KeyRole, KeyRoles } from './key-roles.js';
import { type Form, hidden, type Ui } from './kit.js';
import { formatRate, formatTime, prettyJson, responsePreview } from './models.js';
import { registerActivityPages } from './pages/activity.js';
import { registerCatalogPages } from './pages/catalog.js';
import { registerEndpointPages } from './pages/endpoints.js';
import { registerInboxPages } from './pages/inboxes.js';
import { registerLogPages } from './pages/logs.js';
import { arrivesFromAnotherSite, crossSiteReason, HSTS, overHttps, SECURITY_HEADERS, sessionToken } from './security.js';
import { UiSessions } from './sessions.js';
import { uiErrorHandler, uiResponses } from './responses.js';
import { registerSignIn } from './sign-in.js';
import { UI_CALL_HEADER } from '../api/middleware/key-failures.js';

/** The package's `ui/` folder, from `src/ui/` (tests) and from `dist/ui/` (npm start) alike. */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const FORM_BODY_LIMIT = 64 * 1024;

/** Helpers every template may call. */
const helpers = { time: formatTime, preview: responsePreview, rate: formatRate, json: prettyJson };

/** `uiCallToken`: marks this UI's calls to the API as its own (see UI_CALL_HEADER). */
export async function registerUi(app: FastifyInstance, ctx: AppContext, uiCallToken: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const htmx = readFileSync(require.resolve('htmx.org/dist/htmx.min.js'));
  let base: string | undefined;
  /** The API of this very server, reached over loopback; known once the server listens. */
  const apiFor = (key: string) => new HeraldApi((base ??= loopbackBase(app.server.address())), key, undefined, { [UI_CALL_HEADER]: uiCallToken });
  const sessions = new UiSessions(ctx.store, ctx.config.uiSessionMs, ctx.clock);
  const responses = uiResponses(sessions, ctx.config.publicUrl);
  const roles = new KeyRoles(async (key) => (await apiFor(key).get<{ role: KeyRole }>('/api/v2/api-keys/current')).role);

  await app.register(async (ui) => {
    await ui.register(fastifyView, {
      engine: { eta: new Eta({ autoEscape: true }) },
      root: `${UI_DIR}views`,
      production: true,
      defaultContext: { h: helpers },
    });
    await ui.register(fastifyStatic, { root: `${UI_DIR}static`, prefix: '/ui/static/', decorateReply: false, index: false, list: false });

    addFormsAndGuards(ui, ctx.config.publicUrl);
    ui.setErrorHandler(uiErrorHandler(responses));

    // ---- public: assets, login, logout ------------------------------------------------------

    ui.get('/ui/htmx.min.js', hidden, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(htmx),
    );

    registerSignIn(ui, { ctx, sessions, responses, apiFor });

    // ---- signed-in pages --------------------------------------------------------------------

    await ui.register(async (pages) => {
      pages.addHook('preHandler', async (req, reply) => {
        const key = await sessions.keyOf(req);
        if (!key && arrivesFromAnotherSite(req)) return responses.fragment(reply, 'again-from-here', { address: req.url });
        if (!key) return responses.toLogin(req, reply, sessionToken(req) !== undefined);
        req.uiRole = await roles.roleOf(key);
      });
      const kit: Ui = { ...responses, api: (req) => apiFor(req.uiKey!), sessionLive: (req) => sessions.stillLive(req), now: ctx.clock };
      registerEndpointPages(pages, kit);
      registerLogPages(pages, kit);
      registerCatalogPages(pages, kit);
      registerActivityPages(pages, kit);
      registerInboxPages(pages, kit);
    });
  });
}

/** Forms parsed to maps (NUL refused), security headers on every answer, and cross-site posts refused. */
function addFormsAndGuards(ui: FastifyInstance, publicUrl: string | undefined): void {
  ui.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => {
    const form: Form = new Map();
    for (const [k, v] of new URLSearchParams(body as string)) form.set(k, [...(form.get(k) ?? []), v]);
    const nul = findNul(form, '');
    done(nul === undefined ? null : nulRefused(nul), form);
  });

  ui.addHook('onSend', async (req, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    // Once a browser has seen the UI over https, it never asks for it over http again.
    if (overHttps(req, publicUrl)) void reply.header('strict-transport-security', HSTS);
    if (!req.url.startsWith('/ui/')) reply.header('cache-control', 'no-store');
    return payload;
  });

  // CSRF: every state-changing request must come from a page of this origin.
  ui.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const reason = crossSiteReason(req);
    if (reason) {
      // The request's own logger: the line carries its reqId, as every line written for a request does.
      req.log.warn({ path: req.url.split('?')[0], reason }, 'admin UI refused a cross-site request');
      return reply.status(403).type('text/plain; charset=utf-8').send(`Forbidden: cross-site request refused (${reason}).`);
    }
  });
}
