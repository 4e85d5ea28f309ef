// Signing in to the admin UI with an API key, and out again. The key is proved by the API
// itself; failed sign-ins are limited per client address, and the key is never logged.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { retryAfterSeconds, storedFailures } from '../api/middleware/key-failures.js';
import type { AppContext } from '../app/context.js';
import { AllowList } from '../net/cidr.js';
import { clientAddress } from '../net/client-address.js';
import { type AttemptRefusal, FAILURE_WINDOW, FailureLimit } from '../net/failure-limit.js';
import { ApiCallError, type HeraldApi } from './api-client.js';
import { field, formOf, hidden, queryOf } from './kit.js';
import { formatTime } from './models.js';
import type { UiResponses } from './responses.js';
import { clearedSessionCookies, isKeyShaped, MAX_KEY_LENGTH, pageAddress, sessionCookie } from './security.js';
import type { UiSessions } from './sessions.js';

export interface SignInDeps {
  readonly ctx: AppContext;
  readonly sessions: UiSessions;
  readonly responses: UiResponses;
  /** The API as the holder of `key`. */
  readonly apiFor: (key: string) => HeraldApi;
}

type Again = (error: string, status: number) => Promise<FastifyReply>;

export function registerSignIn(ui: FastifyInstance, { ctx, sessions, responses, apiFor }: SignInDeps): void {
  const signInLog = ctx.logger.child({ component: 'ui' });
  const signIns = new FailureLimit({ failures: ctx.config.uiSignInFailures, ...FAILURE_WINDOW }, ctx.clock, storedFailures(ctx.store, 'ui', signInLog));
  const trustedProxies = AllowList.fromString(ctx.config.uiTrustedProxies);
  const { publicUrl } = ctx.config;

  ui.get('/', hidden, async (req, reply) => {
    const next = pageAddress(queryOf(req).next);
    if (await sessions.keyOf(req)) return reply.redirect(next ?? '/endpoints', 303);
    const expired = queryOf(req).expired === '1';
    return responses.page(req, reply, 'login', { title: 'Sign in', next: next ?? '', error: expired ? 'Your session ended: sign in again.' : '' });
  });

  ui.post('/login', hidden, async (req, reply) => {
    const key = field(formOf(req), 'key');
    const next = pageAddress(field(formOf(req), 'next'));
    const again: Again = (error, status) => responses.page(req, reply, 'login', { title: 'Sign in', next: next ?? '', error }, status);
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
    const [, legacy] = clearedSessionCookies(req, publicUrl);
    return reply.header('set-cookie', [sessionCookie(req, token, ctx.config.uiSessionMs, publicUrl), legacy]).redirect(next ?? '/endpoints', 303);
  });

  ui.post('/logout', hidden, async (req, reply) => {
    await sessions.end(req);
    return reply.header('set-cookie', clearedSessionCookies(req, publicUrl)).redirect('/', 303);
  });

  /** 429 for an address past its failed sign-ins; the first refusal of a burst is logged, never the key. */
  function tooManySignIns(req: FastifyRequest, reply: FastifyReply, address: string, refusal: AttemptRefusal, again: Again) {
    const until = new Date(refusal.until).toISOString();
    if (refusal.first) req.log.warn({ address, failures: refusal.failures, until }, 'admin UI refusing sign-ins from an address after repeated failures');
    const seconds = retryAfterSeconds(refusal, ctx.clock());
    void reply.header('retry-after', String(seconds));
    return again(`Too many failed sign-ins from your address: try again after ${formatTime(until)} (in ${waitText(seconds)}).`, 429);
  }
}

/** A wait in whole minutes, or seconds under one. */
function waitText(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
