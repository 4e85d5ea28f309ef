// The dispatcher and what it sends through (HTTP sender, OAuth tokens, endpoint health hooks),
// built the same way in the process that serves the API and on the dispatch thread.
import { hostname } from 'node:os';
import { OAuth2TokenCache } from '../auth/oauth2.js';
import { createAuthProvider } from '../auth/provider.js';
import { createAttempt } from '../delivery/attempt.js';
import { Dispatcher, type DispatcherDeps, type DispatcherOptions, type EndpointSchedule } from '../delivery/dispatcher.js';
import { HttpSender } from '../delivery/http-sender.js';
import { RateLimiter } from '../delivery/rate-limiter.js';
import { newId } from '../domain/ids.js';
import { createGuardedConnector, type SsrfGuard } from '../net/ssrf-guard.js';
import { createDispatchObserver } from '../observability/dispatch-observer.js';
import { storeErrorLevel } from '../observability/logger.js';
import type { Store } from '../store/contract.js';
import type { AppContext } from './context.js';
import { createHealthHooks, failingGapMs } from './health-hooks.js';

/** What the dispatcher and its health hooks use of the application. */
export type DispatchContext = Pick<AppContext, 'config' | 'store' | 'ingestor' | 'endpointCache' | 'logger' | 'metrics' | 'version' | 'clock' | 'endpointChanged'>;

export interface Dispatching {
  readonly dispatcher: Dispatcher;
  /** Drops what the sending side keeps of an endpoint (its OAuth token). */
  forget(endpointId: string): void;
  /** Stops claiming, lets attempts finish within graceMs, writes their outcomes, closes connections. */
  stop(graceMs: number): Promise<{ unfinished: number }>;
}

export interface DispatchingOptions extends Pick<DispatcherOptions, 'concurrency' | 'idleAfterShortClaim' | 'onRoomChanged'> {
  /** Where claims wait for the store's write turn without blocking (DispatcherDeps.writeTurn). */
  readonly writeTurn?: DispatcherDeps['writeTurn'];
}

/**
 * Builds and starts a dispatcher. `store` is the hot path's view of the store (timed for
 * /metrics); health hooks write through ctx.store.
 */
export function startDispatching(ctx: DispatchContext, store: Store, guard: SsrfGuard, options: DispatchingOptions): Dispatching {
  const { config } = ctx;
  const sender = new HttpSender({ connect: createGuardedConnector(guard, { timeout: 10_000 }) });
  const oauth = new OAuth2TokenCache(sender.agent, ctx.clock);
  const dispatcher = buildDispatcher(ctx, store, sender, oauth, options);
  dispatcher.start();
  return {
    dispatcher,
    forget: (endpointId) => oauth.forget(endpointId),
    async stop(graceMs) {
      const result = await dispatcher.stop(graceMs);
      // Past the grace, what still runs was handed back: abort it rather than wait for it.
      await sender.close(result.unfinished > 0);
      return result;
    },
  };
}

function buildDispatcher(
  ctx: DispatchContext,
  store: Store,
  sender: HttpSender,
  oauth: OAuth2TokenCache,
  { concurrency, idleAfterShortClaim, onRoomChanged, writeTurn }: DispatchingOptions,
): Dispatcher {
  const { endpointCache, config, logger } = ctx;
  const limiter = new RateLimiter(ctx.clock);
  const owner = `${hostname()}:${process.pid}:${newId('w')}`;
  const hooks = createHealthHooks(ctx);
  const failingGap = failingGapMs(config);
  const deliver = createAttempt({
    sender,
    // An endpoint changed through this process's API is dropped from the cache at once, and one
    // changed by another process is read again within the cache's lifetime.
    endpoint: (id) => endpointCache.current(id),
    account: (id) => endpointCache.peekAccount(id),
    auth: createAuthProvider(oauth),
    userAgent: `Herald/${ctx.version}`,
    clock: ctx.clock,
  });
  return new Dispatcher(
    {
      claim: (limit, exclude, endpointLimits) =>
        store.claim({ owner, limit, leaseMs: config.leaseMs, now: ctx.clock(), excludeEndpoints: exclude, perEndpointLimit: config.endpointConcurrency, endpointLimits }),
      schedules: async (ids) => {
        const endpoints = await endpointCache.load(ids);
        const out = new Map<string, EndpointSchedule>();
        for (const [id, e] of endpoints) {
          out.set(id, {
            id,
            accountId: e.accountId,
            disabled: e.disabled,
            rateLimitPerSecond: e.rateLimitPerSecond,
            accountRateLimitPerSecond: endpointCache.peekAccount(e.accountId)?.rateLimitPerSecond ?? null,
            ordered: e.ordering === 'per_resource',
          });
        }
        return out;
      },
      deliver,
      settle: (batch) => store.settle(batch, ctx.clock(), failingGap),
      nextDueAt: () => store.nextDueAt(),
      writeTurn,
      extendLeases: (leases, until) => store.extendLeases(owner, leases, until),
      // One process owns the embedded store's limits; PostgreSQL workers share them in the database.
      reserveRate:
        store.dialect === 'sqlite'
          ? (limits) => limiter.reserveAll(limits)
          : (limits) => store.reserveRate(limits, ctx.clock()),
      onNotices: () => void hooks.processNotices().catch((err: unknown) => logger.error({ err }, 'could not carry out notices: the next sweep tries again')),
      onAttemptFailed: hooks.onAttemptFailed,
      onError: (stage, err) => logger[storeErrorLevel(err)]({ err, stage }, 'dispatcher error'),
      observer: createDispatchObserver({
        metrics: ctx.metrics,
        logger: logger.child({ component: 'dispatcher' }),
        profileOf: (id) => endpointCache.peek(id)?.profile,
      }),
    },
    {
      owner,
      concurrency,
      idleAfterShortClaim,
      onRoomChanged,
      endpointConcurrency: config.endpointConcurrency,
      leaseMs: config.leaseMs,
      retrySchedule: config.retrySchedule,
      clock: ctx.clock,
    },
  );
}
