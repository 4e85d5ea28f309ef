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
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.js';
import { ApiCallError, ApiTimeoutError, HeraldApi, loopbackBase } from './api-client.js';
import { type KeyRole, KeyRoles } from './key-roles.js';
import { field, type Form, formOf, hidden, isHtmx, lastEvent, queryOf, SIGNED_OUT_EVENT, type Ui, wantsEventStream } from './kit.js';
import { formatRate, formatTime, prettyJson, responsePreview } from './models.js';
import { registerActivityPages } from './pages/activity.js';
import { registerCatalogPages } from './pages/catalog.js';
import { registerEndpointPages } from './pages/endpoints.js';
import { registerInboxPages } from './pages/inboxes.js';
import { registerLogPages } from './pages/logs.js';
import {
  arrivesFromAnotherSite,
  clearedSessionCookies,
  crossSiteReason,
  HSTS,
  isKeyShaped,
  MAX_KEY_LENGTH,
  overHttps,
  pageAddress,
  SECURITY_HEADERS,
  sessionCookie,
  sessionToken,
} from './security.js';
import { UiSessions } from './sessions.js';
import { clientAddress } from '../net/client-address.js';
import { AllowList } from '../net/cidr.js';
import { FAILURE_WINDOW, FailureLimit, type AttemptRefusal } from '../net/failure-limit.js';
import { retryAfterSeconds, storedFailures, UI_CALL_HEADER } from '../api/middleware/key-failures.js';

/** The package's `ui/` folder, from `src/ui/` (tests) and from `dist/ui/` (npm start) alike. */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const FORM_BODY_LIMIT = 64 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in key's role (signed-in pages only). */
    uiRole?: KeyRole;
  }
}

/** What templates are told of the signed-in key: `admin` gates every form that changes something. */
function roleData(req: FastifyRequest): { role: KeyRole | undefined; admin: boolean } {
  return { role: req.uiRole, admin: req.uiRole === 'admin' };
}

/** The heading of an error page, by its status. */
const ERROR_TITLES: Readonly<Record<number, string>> = { 404: 'Not found', 429: 'Too many requests', 500: 'Server error', 503: 'Unavailable', 504: 'No answer in time' };

/** A wait in whole minutes, or seconds under one. */
function waitText(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

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
  const signInLog = ctx.logger.child({ component: 'ui' });
  const signIns = new FailureLimit({ failures: ctx.config.uiSignInFailures, ...FAILURE_WINDOW }, ctx.clock, storedFailures(ctx.store, 'ui', signInLog));
  const trustedProxies = AllowList.fromString(ctx.config.uiTrustedProxies);
  const roles = new KeyRoles(async (key) => (await apiFor(key).get<{ role: KeyRole }>('/api/v2/api-keys/current')).role);

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
      const nul = findNul(form, '');
      done(nul === undefined ? null : nulRefused(nul), form);
    });

    ui.addHook('onSend', async (req, reply, payload) => {
      reply.headers(SECURITY_HEADERS);
      // Once a browser has seen the UI over https, it never asks for it over http again.
      if (overHttps(req, ctx.config.publicUrl)) void reply.header('strict-transport-security', HSTS);
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

    ui.setErrorHandler(async (err: FastifyError | ApiCallError, req, reply) => {
      if (err instanceof ApiCallError && err.status === 401) return toLogin(req, reply, true);
      let status: number;
      let message: string;
      if (err instanceof ApiCallError) {
        // What the API answered is what is true of this request too: a store unavailable is a
        // 503 to come back to, not a bad gateway.
        status = err.status >= 400 && err.status < 600 ? err.status : 502;
        if (err.retryAfter !== undefined && (status === 429 || status === 503)) void reply.header('retry-after', err.retryAfter);
        message = err.status === 403 ? `Your API key may not do this: ${err.message}.` : err.status >= 500 ? serverFailure(err) : err.message;
      } else if (err instanceof ApiTimeoutError) {
        req.log.warn({ err }, 'admin UI: the API did not answer in time');
        status = 504;
        message = err.changesState
          ? 'Herald did not answer in time, so whether this was done is not known; check before doing it again.'
          : 'Herald did not answer in time; try again shortly.';
      } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        status = err.statusCode;
        message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'The form is too large.' : 'The request was not understood.';
      } else {
        req.log.error({ err }, 'admin UI request failed');
        status = 500;
        message = 'Something went wrong; the error was logged.';
      }
      return flash(req, reply, message, 'error', status);
    });

    /**
     * A 5xx of the API: its own message when it sent one (the store unavailable, retry shortly;
     * a commit never confirmed, check before sending again), not advice to try again blindly.
     */
    function serverFailure(err: ApiCallError): string {
      if (!err.explained) return 'The API failed to answer; try again.';
      // A 500 is a fault of Herald's own: the API logged it, and its words are not the user's business.
      if (err.status === 500) return 'Herald failed to do this; the error was logged.';
      const said = err.message.endsWith('.') ? err.message : `${err.message}.`;
      if (err.code === 'outcome_unknown') return `Herald did not confirm this: ${said}`;
      const wait = err.status === 503 && err.retryAfter !== undefined ? ` Try again in ${err.retryAfter} s.` : '';
      return `Herald could not do this now: ${said}${wait}`;
    }

    async function page(req: FastifyRequest, reply: FastifyReply, template: string, data: Record<string, unknown>, status = 200) {
      const html = await reply.viewAsync(template, { signedIn: (await sessions.keyOf(req)) !== undefined, nav: '', ...roleData(req), ...data });
      return reply.status(status).type('text/html; charset=utf-8').send(html);
    }

    async function fragment(reply: FastifyReply, template: string, data: Record<string, unknown>, status = 200) {
      const html = await reply.viewAsync(template, { ...roleData(reply.request), ...data });
      return reply.status(status).type('text/html; charset=utf-8').send(html);
    }

    async function flash(req: FastifyRequest, reply: FastifyReply, message: string, kind: 'error' | 'success', status = 200) {
      if (isHtmx(req)) {
        // A refusal shows in the page's alert area, whatever the request targeted.
        if (status >= 400) void reply.header('hx-retarget', '#flash').header('hx-reswap', 'innerHTML');
        return fragment(reply, 'partials/flash', { message, kind }, status);
      }
      if (kind === 'success') return page(req, reply, 'message', { title: 'Done', message }, status);
      return page(req, reply, 'error', { title: ERROR_TITLES[status] ?? 'Error', message }, status);
    }

    /**
     * `expired`: the browser had a session that is over (expired, signed out elsewhere, or its
     * key refused). A page asked for is where signing in leads back to.
     */
    async function toLogin(req: FastifyRequest, reply: FastifyReply, expired: boolean) {
      const next = req.method === 'GET' && !isHtmx(req) ? pageAddress(req.url) : undefined;
      const query = new URLSearchParams({ ...(expired ? { expired: '1' } : {}), ...(next && next !== '/endpoints' ? { next } : {}) }).toString();
      const target = query ? `/?${query}` : '/';
      if (expired) {
        await sessions.end(req);
        void reply.header('set-cookie', clearedSessionCookies(req, ctx.config.publicUrl));
      }
      if (isHtmx(req)) return reply.header('hx-redirect', target).status(204).send();
      if (wantsEventStream(req)) return lastEvent(reply, SIGNED_OUT_EVENT);
      return reply.redirect(target, 303);
    }

    // ---- public: assets, login, logout ------------------------------------------------------

    ui.get('/ui/htmx.min.js', hidden, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(htmx),
    );

    ui.get('/', hidden, async (req, reply) => {
      const next = pageAddress(queryOf(req).next);
      if (await sessions.keyOf(req)) return reply.redirect(next ?? '/endpoints', 303);
      const expired = queryOf(req).expired === '1';
      return page(req, reply, 'login', { title: 'Sign in', next: next ?? '', error: expired ? 'Your session ended: sign in again.' : '' });
    });

    ui.post('/login', hidden, async (req, reply) => {
      const key = field(formOf(req), 'key');
      const next = pageAddress(field(formOf(req), 'next'));
      const again = (error: string, status: number) => page(req, reply, 'login', { title: 'Sign in', next: next ?? '', error }, status);
      if (!key || key.length > MAX_KEY_LENGTH) return again('Enter an API key.', 400);
      const address = clientAddress(req, trustedProxies);
      const attempt = signIns.admit(address);
      if (!attempt.admitted) return tooManySignIns(req, reply, address, attempt, again);
      if (!isKeyShaped(key)) {
        await attempt.failed();
        return again('That API key was not accepted.', 401);
      }
      let keyId: string;
      try {
        // Proves the key, and names it: the session goes with the key when it is deleted.
        keyId = (await apiFor(key).get<{ id: string }>('/api/v2/api-keys/current')).id;
      } catch (err) {
        if (err instanceof ApiCallError && err.status === 401) {
          await attempt.failed();
          return again('That API key was not accepted.', 401);
        }
        attempt.forget();
        throw err;
      }
      attempt.forget();
      await sessions.end(req);
      const token = await sessions.start(keyId, key);
      const [, legacy] = clearedSessionCookies(req, ctx.config.publicUrl);
      return reply.header('set-cookie', [sessionCookie(req, token, ctx.config.uiSessionMs, ctx.config.publicUrl), legacy]).redirect(next ?? '/endpoints', 303);
    });

    /** 429 for an address past its failed sign-ins; the first refusal of a burst is logged, never the key. */
    function tooManySignIns(req: FastifyRequest, reply: FastifyReply, address: string, refusal: AttemptRefusal, again: (error: string, status: number) => Promise<FastifyReply>) {
      const until = new Date(refusal.until).toISOString();
      if (refusal.first) req.log.warn({ address, failures: refusal.failures, until }, 'admin UI refusing sign-ins from an address after repeated failures');
      const seconds = retryAfterSeconds(refusal, ctx.clock());
      void reply.header('retry-after', String(seconds));
      return again(`Too many failed sign-ins from your address: try again after ${formatTime(until)} (in ${waitText(seconds)}).`, 429);
    }

    ui.post('/logout', hidden, async (req, reply) => {
      await sessions.end(req);
      return reply.header('set-cookie', clearedSessionCookies(req, ctx.config.publicUrl)).redirect('/', 303);
    });

    // ---- signed-in pages --------------------------------------------------------------------

    await ui.register(async (pages) => {
      pages.addHook('preHandler', async (req, reply) => {
        const key = await sessions.keyOf(req);
        if (!key && arrivesFromAnotherSite(req)) return fragment(reply, 'again-from-here', { address: req.url });
        if (!key) return toLogin(req, reply, sessionToken(req) !== undefined);
        req.uiRole = await roles.roleOf(key);
      });
      const kit: Ui = { api: (req) => apiFor(req.uiKey!), page, fragment, flash, sessionLive: (req) => sessions.stillLive(req), now: ctx.clock };
      registerEndpointPages(pages, kit);
      registerLogPages(pages, kit);
      registerCatalogPages(pages, kit);
      registerActivityPages(pages, kit);
      registerInboxPages(pages, kit);
    });
  });
}
