// The limit on failed authentications per client address, for the API's keys
// (HERALD_API_KEY_FAILURES) and the admin UI's sign-ins (HERALD_UI_SIGN_IN_FAILURES): one
// FailureLimit each, both counting in the store so that processes sharing a database share them.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AppContext } from '../../app/context.js';
import { AllowList } from '../../net/cidr.js';
import { clientAddress } from '../../net/client-address.js';
import { FAILURE_WINDOW, FailureLimit, type AdmittedAttempt, type AttemptRefusal, type FailureRecord } from '../../net/failure-limit.js';
import type { Store } from '../../store/contract.js';
import { ApiError } from './errors.js';

/**
 * Marks the admin UI's own calls to the API (over loopback, with the key being signed in with):
 * the UI limits its sign-ins itself, and they would otherwise all count against the loopback
 * address, one guesser then locking every sign-in out.
 */
export const UI_CALL_HEADER = 'x-herald-ui-call';

/** The value of UI_CALL_HEADER: random per process, never logged or sent anywhere but to itself. */
export function newUiCallToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Failures recorded in the store under `scope`, so every process on the database counts them;
 * windows long over are dropped once a window. A store that cannot be reached leaves the count
 * to this process alone (logged), rather than failing the request.
 */
export function storedFailures(store: Pick<Store, 'recordAuthFailure' | 'pruneAuthFailures'>, scope: 'api' | 'ui', log: Logger): FailureRecord {
  let prunedAt = -Infinity;
  return async (address, now) => {
    try {
      const counted = await store.recordAuthFailure(scope, address, now, FAILURE_WINDOW.windowMs);
      if (now - prunedAt >= FAILURE_WINDOW.windowMs) {
        prunedAt = now;
        await store.pruneAuthFailures(now - FAILURE_WINDOW.windowMs);
      }
      return counted;
    } catch (err) {
      log.warn({ err, scope, address }, 'a failed authentication could not be counted in the store: this process counts it alone');
      return { since: now, failures: 0 };
    }
  };
}

/** The time an address refused until, as a Retry-After in whole seconds (at least 1). */
export function retryAfterSeconds(refusal: AttemptRefusal, now: number): number {
  return Math.max(1, Math.ceil((refusal.until - now) / 1000));
}

/** Failed API keys limited per client address, the admin UI's own calls excepted. */
export class KeyFailureLimit {
  private readonly limit: FailureLimit;
  private readonly proxies: AllowList;
  private readonly uiToken: Buffer;

  constructor(
    private readonly ctx: Pick<AppContext, 'config' | 'store' | 'clock' | 'logger'>,
    uiToken: string,
  ) {
    const log = ctx.logger.child({ component: 'api' });
    this.limit = new FailureLimit({ failures: ctx.config.apiKeyFailures, ...FAILURE_WINDOW }, ctx.clock, storedFailures(ctx.store, 'api', log));
    this.proxies = AllowList.fromString(ctx.config.uiTrustedProxies);
    this.uiToken = Buffer.from(uiToken);
  }

  /** Admits the request's key (by its hash) for checking, or throws the 429 of an address past its failures. */
  admit(req: FastifyRequest, keyHash: string): AdmittedAttempt | undefined {
    if (this.fromUi(req)) return undefined;
    const address = clientAddress(req, this.proxies);
    const attempt = this.limit.admit(address, keyHash);
    if (attempt.admitted) return attempt;
    const seconds = retryAfterSeconds(attempt, this.ctx.clock());
    // The first refusal of a burst is logged: the address and count, never a key.
    if (attempt.first) req.log.warn({ address, failures: attempt.failures, until: new Date(attempt.until).toISOString() }, 'API refusing keys from an address after repeated failures');
    throw new ApiError(429, 'rate_limited', `too many failed API keys from this address; retry after ${seconds} s`, undefined, { 'retry-after': String(seconds) });
  }

  private fromUi(req: FastifyRequest): boolean {
    const sent = req.headers[UI_CALL_HEADER];
    if (typeof sent !== 'string') return false;
    const bytes = Buffer.from(sent);
    return bytes.length === this.uiToken.length && timingSafeEqual(bytes, this.uiToken);
  }
}
