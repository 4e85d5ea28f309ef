// Composition root: builds every component from the config, starts what this process runs
// (API, dispatcher or both) and stops them gracefully.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { KeyAuthenticator } from '../api/middleware/auth.js';
import { buildProbeServer, buildServer } from '../api/server.js';
import { OAuth2TokenCache } from '../auth/oauth2.js';
import { createAuthProvider } from '../auth/provider.js';
import { profiles } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { createAttempt } from '../delivery/attempt.js';
import { Dispatcher, type EndpointSchedule } from '../delivery/dispatcher.js';
import { EndpointCache } from '../delivery/endpoint-cache.js';
import { HttpSender } from '../delivery/http-sender.js';
import { RateLimiter } from '../delivery/rate-limiter.js';
import { newId } from '../domain/ids.js';
import { listeningHosts, publicUrlHost } from '../inbox/own-hosts.js';
import { InboxService } from '../inbox/service.js';
import { Ingestor } from '../ingest/ingestor.js';
import { AllowList } from '../net/cidr.js';
import { createGuardedConnector, SsrfGuard } from '../net/ssrf-guard.js';
import { createDispatchObserver } from '../observability/dispatch-observer.js';
import { HeraldMetrics } from '../observability/metrics.js';
import { instrumentStore } from '../observability/timed-store.js';
import type { Store } from '../store/contract.js';
import { bootstrap } from './bootstrap.js';
import type { AppContext } from './context.js';
import { createHealthHooks } from './health-hooks.js';
import { startJobs, type Jobs } from './jobs.js';
import { openStore, postgresTarget } from './open-store.js';

export interface HeraldOptions {
  readonly api: boolean;
  readonly worker: boolean;
  readonly concurrency?: number;
  readonly logger?: Logger;
  /** Where the one-time admin key is printed; stdout by default. */
  readonly announce?: (line: string) => void;
  /** Injected time (tests move it forward); Date.now by default. */
  readonly clock?: () => number;
}

export interface RunningHerald {
  readonly context: AppContext;
  readonly server: FastifyInstance | undefined;
  /** The address the API listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string | undefined;
  stop(): Promise<void>;
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function createLogger(config: Config): Logger {
  return pino({
    level: config.logLevel,
    // Credentials never reach a log line, whatever object carries them.
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.secret', '*.password', '*.clientSecret', '*.client_secret', 'headers.authorization'],
      censor: '****',
    },
  });
}

export async function startHerald(config: Config, options: HeraldOptions): Promise<RunningHerald> {
  const logger = options.logger ?? createLogger(config);
  const version = packageVersion();
  const clock = options.clock ?? Date.now;
  const metrics = new HeraldMetrics({ profiles });
  const store = await openStore(config, logger);
  // The hot path's view of the store, timed for /metrics. The context keeps the store itself, so
  // whoever replaces one of its methods (tests standing in for a failing disk) reaches the driver.
  const timed = instrumentStore(store, metrics);
  const { defaultAccountId } = await bootstrap(store, config, options.announce ?? ((line) => process.stdout.write(`${line}\n`)));

  // Own Connect inboxes are always reachable: HERALD_PUBLIC_URL now, the listening address below.
  const ownPublicHost = publicUrlHost(config.publicUrl);
  const guard = new SsrfGuard({ allow: AllowList.fromString(config.allowedTargets), alwaysAllowHosts: ownPublicHost ? [ownPublicHost] : [] });
  const sender = new HttpSender({ connect: createGuardedConnector(guard, { timeout: 10_000 }), connectionsPerOrigin: config.endpointConcurrency });
  const oauth = new OAuth2TokenCache(sender.agent, clock);
  const endpointCache = new EndpointCache(store, 1_000, clock);
  let dispatcher: Dispatcher | undefined;
  const ingestor = new Ingestor({
    store: timed,
    clock,
    queueLimit: config.ingestQueueLimit,
    onCommitted: () => dispatcher?.notify(),
    // The store's own thread commits in arrival order: the next batch may wait there.
    commitsInFlight: store.dialect === 'sqlite' && config.sqliteThread ? 2 : 1,
  });
  const inboxes = new InboxService({
    store,
    logger,
    clock,
    onRelayed: () => dispatcher?.notify(),
    // Captures made by other API processes reach this one's streams through LISTEN/NOTIFY.
    listen: store.dialect === 'postgres' ? (onPayload) => listenForInboxes(config, onPayload) : undefined,
  });

  const context: AppContext = {
    config,
    store,
    ingestor,
    guard,
    keys: new KeyAuthenticator(store),
    endpointCache,
    inboxes,
    logger,
    metrics,
    version,
    get dispatcher() {
      return dispatcher;
    },
    defaultAccountId,
    clock,
    endpointChanged(id) {
      endpointCache.invalidate(id);
      oauth.forget(id);
    },
  };

  metrics.watch({ queueDepth: () => timed.queueDepth(), dispatcher: () => dispatcher?.status(), ingest: () => ingestor.status() });

  let jobs: Jobs | undefined;
  let notifier: { close(): Promise<void> } | undefined;
  if (options.worker) {
    const d = buildDispatcher(context, timed, sender, oauth, options.concurrency ?? config.concurrency);
    dispatcher = d;
    // The embedded store has a single dispatcher: whatever was leased belonged to a dead process.
    if (store.dialect === 'sqlite') await store.releaseLeases({ all: true });
    else notifier = await listenForWork(config, () => d.notify());
    jobs = startJobs({
      store,
      logger,
      clock,
      leaseMs: config.leaseMs,
      retentionMs: config.retentionMs,
      inboxRetentionMs: config.inboxRetentionMs,
      onReleased: () => d.notify(),
    });
    d.start();
  }

  let server: FastifyInstance | undefined;
  let url: string | undefined;
  if (options.api) {
    server = await buildServer(context);
    url = await server.listen({ port: config.port, host: config.host });
    const address = server.server.address();
    if (address !== null && typeof address === 'object') for (const host of listeningHosts(config.host, address.port)) guard.addAlwaysAllowedHost(host);
    logger.info({ url, version, store: store.dialect }, 'Herald API listening');
  } else if (config.metricsPort !== undefined) {
    server = buildProbeServer(context);
    url = await server.listen({ port: config.metricsPort, host: config.host });
    logger.info({ url, version, store: store.dialect }, 'Herald probes (/metrics, /healthz, /readyz) listening');
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await server?.close();
      await inboxes.close();
      jobs?.stop();
      await notifier?.close();
      const result = await dispatcher?.stop(config.shutdownGraceMs);
      if (result && result.unfinished > 0) logger.warn({ unfinished: result.unfinished }, 'stopped with attempts still in flight; they will be retried');
      await sender.close();
      await store.close();
    })());
  return { context, server, url, stop };
}

/** Other processes' new work wakes this dispatcher at once (PostgreSQL LISTEN/NOTIFY). */
async function listenForWork(config: Config, wake: () => void): Promise<{ close(): Promise<void> }> {
  const { PgNotifier } = await import('../store/postgres/notify.js');
  const { connectionString, schema } = postgresTarget(config.databaseUrl!);
  const notifier = new PgNotifier(connectionString, schema);
  await notifier.listen(wake);
  return notifier;
}

/** Inbox captures of other processes, for this process's live streams. */
async function listenForInboxes(config: Config, onPayload: (payload?: string) => void): Promise<{ close(): Promise<void> }> {
  const { PgNotifier, INBOX_CHANNEL } = await import('../store/postgres/notify.js');
  const { connectionString, schema } = postgresTarget(config.databaseUrl!);
  const notifier = new PgNotifier(connectionString, schema, INBOX_CHANNEL);
  await notifier.listen(onPayload);
  return notifier;
}

function buildDispatcher(ctx: AppContext, store: Store, sender: HttpSender, oauth: OAuth2TokenCache, concurrency: number): Dispatcher {
  const { endpointCache, config, logger } = ctx;
  const limiter = new RateLimiter(ctx.clock);
  const owner = `${hostname()}:${process.pid}:${newId('w')}`;
  const hooks = createHealthHooks(ctx);
  const deliver = createAttempt({
    sender,
    endpoint: (id) => endpointCache.peek(id),
    account: (id) => endpointCache.peekAccount(id),
    auth: createAuthProvider(oauth),
    userAgent: `Herald/${ctx.version}`,
    clock: ctx.clock,
  });
  return new Dispatcher(
    {
      claim: (limit, exclude) =>
        store.claim({ owner, limit, leaseMs: config.leaseMs, now: ctx.clock(), excludeEndpoints: exclude, perEndpointLimit: config.endpointConcurrency }),
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
      settle: (batch) => store.settle(batch, ctx.clock()),
      nextDueAt: () => store.nextDueAt(),
      // One process owns the embedded store's limits; PostgreSQL workers share them in the database.
      reserveRate:
        store.dialect === 'sqlite'
          ? (limits) => limiter.reserveAll(limits)
          : async (limits) => Math.max(...(await Promise.all(limits.map((l) => store.reserveRate(l.key, l.rate, ctx.clock()))))),
      onGone: hooks.onGone,
      onExhausted: hooks.onExhausted,
      onAttemptFailed: hooks.onAttemptFailed,
      onError: (stage, err) => logger.error({ err, stage }, 'dispatcher error'),
      observer: createDispatchObserver({
        metrics: ctx.metrics,
        logger: logger.child({ component: 'dispatcher' }),
        profileOf: (id) => endpointCache.peek(id)?.profile,
      }),
    },
    { owner, concurrency, endpointConcurrency: config.endpointConcurrency, leaseMs: config.leaseMs, retrySchedule: config.retrySchedule, clock: ctx.clock },
  );
}

export type { Store };
