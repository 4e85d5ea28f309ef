// How the admin UI answers a browser: a whole page, an htmx fragment, a one-line message, the
// way back to sign-in, and what a failed request becomes (the API's refusal in its own words).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiCallError, ApiTimeoutError } from './api-client.js';
import type { KeyRole } from './key-roles.js';
import { isHtmx, lastEvent, SIGNED_OUT_EVENT, type Ui, wantsEventStream } from './kit.js';
import { clearedSessionCookies, pageAddress } from './security.js';
import type { UiSessions } from './sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in key's role (signed-in pages only). */
    uiRole?: KeyRole;
  }
}

/** The heading of an error page, by its status. */
const ERROR_TITLES: Readonly<Record<number, string>> = { 404: 'Not found', 429: 'Too many requests', 500: 'Server error', 503: 'Unavailable', 504: 'No answer in time' };

/** What templates are told of the signed-in key: `admin` gates every form that changes something. */
function roleData(req: FastifyRequest): { role: KeyRole | undefined; admin: boolean } {
  return { role: req.uiRole, admin: req.uiRole === 'admin' };
}

export type UiResponses = Pick<Ui, 'page' | 'fragment' | 'flash'> & {
  /**
   * `expired`: the browser had a session that is over (expired, signed out elsewhere, or its
   * key refused). A page asked for is where signing in leads back to.
   */
  toLogin(req: FastifyRequest, reply: FastifyReply, expired: boolean): Promise<FastifyReply>;
};

export function uiResponses(sessions: UiSessions, publicUrl: string | undefined): UiResponses {
  const page: UiResponses['page'] = async (req, reply, template, data, status = 200) => {
    const html = await reply.viewAsync(template, { signedIn: (await sessions.keyOf(req)) !== undefined, nav: '', ...roleData(req), ...data });
    return reply.status(status).type('text/html; charset=utf-8').send(html);
  };
  const fragment: UiResponses['fragment'] = async (reply, template, data, status = 200) => {
    const html = await reply.viewAsync(template, { ...roleData(reply.request), ...data });
    return reply.status(status).type('text/html; charset=utf-8').send(html);
  };
  const flash: UiResponses['flash'] = async (req, reply, message, kind, status = 200) => {
    if (isHtmx(req)) {
      // A refusal shows in the page's alert area, whatever the request targeted.
      if (status >= 400) void reply.header('hx-retarget', '#flash').header('hx-reswap', 'innerHTML');
      return fragment(reply, 'partials/flash', { message, kind }, status);
    }
    if (kind === 'success') return page(req, reply, 'message', { title: 'Done', message }, status);
    return page(req, reply, 'error', { title: ERROR_TITLES[status] ?? 'Error', message }, status);
  };
  const toLogin: UiResponses['toLogin'] = async (req, reply, expired) => {
    const next = req.method === 'GET' && !isHtmx(req) ? pageAddress(req.url) : undefined;
    const query = new URLSearchParams({ ...(expired ? { expired: '1' } : {}), ...(next && next !== '/endpoints' ? { next } : {}) }).toString();
    const target = query ? `/?${query}` : '/';
    if (expired) {
      await sessions.end(req);
      void reply.header('set-cookie', clearedSessionCookies(req, publicUrl));
    }
    if (isHtmx(req)) return reply.header('hx-redirect', target).status(204).send();
    if (wantsEventStream(req)) return lastEvent(reply, SIGNED_OUT_EVENT);
    return reply.redirect(target, 303);
  };
  return { page, fragment, flash, toLogin };
}

/** The UI's error handler: a refused key signs the browser out; anything else is a message in the page. */
export function uiErrorHandler(responses: UiResponses) {
  return async (err: FastifyError | ApiCallError, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (err instanceof ApiCallError && err.status === 401) return responses.toLogin(req, reply, true);
    const { status, message } = failureOf(err, req, reply);
    return responses.flash(req, reply, message, 'error', status);
  };
}

function failureOf(err: FastifyError | ApiCallError, req: FastifyRequest, reply: FastifyReply): { status: number; message: string } {
  if (err instanceof ApiCallError) {
    // What the API answered is what is true of this request too: a store unavailable is a
    // 503 to come back to, not a bad gateway.
    const status = err.status >= 400 && err.status < 600 ? err.status : 502;
    if (err.retryAfter !== undefined && (status === 429 || status === 503)) void reply.header('retry-after', err.retryAfter);
    const message = err.status === 403 ? `Your API key may not do this: ${err.message}.` : err.status >= 500 ? serverFailure(err) : err.message;
    return { status, message };
  }
  if (err instanceof ApiTimeoutError) {
    req.log.warn({ err }, 'admin UI: the API did not answer in time');
    const message = err.changesState
      ? 'Herald did not answer in time, so whether this was done is not known; check before doing it again.'
      : 'Herald did not answer in time; try again shortly.';
    return { status: 504, message };
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, message: err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'The form is too large.' : 'The request was not understood.' };
  }
  req.log.error({ err }, 'admin UI request failed');
  return { status: 500, message: 'Something went wrong; the error was logged.' };
}

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
