// Composition root: builds every component from the config, starts what this process runs
// (API, dispatcher or both) and stops them gracefully.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { KeyAuthenticator } from '../api/middleware/auth.js';
import { buildProbeServer, buildServer } from '../api/server.js';
import { profiles } from '../catalog/index.js';
import { ConfigError, type Config } from '../config/index.js';
import type { DeliveryHandoff } from '../delivery/dispatcher.js';
import { EndpointCache } from '../delivery/endpoint-cache.js';
import { listeningHosts, publicUrlHost } from '../inbox/own-hosts.js';
import { InboxService } from '../inbox/service.js';
import { Ingestor } from '../ingest/ingestor.js';
import { AllowList } from '../net/cidr.js';
import { SsrfGuard } from '../net/ssrf-guard.js';
import { createLogger } from '../observability/logger.js';
import { HeraldMetrics } from '../observability/metrics.js';
import { instrumentStore } from '../observability/timed-store.js';
import type { Store } from '../store/contract.js';
import { WriteLock } from '../store/sqlite/write-lock.js';
import { adminKeyAnnouncement, bootstrap } from './bootstrap.js';
import { startDispatching, type Dispatching } from './dispatch.js';
import type { AppContext } from './context.js';
import { createHealthHooks } from './health-hooks.js';
import { startJobs, type Jobs } from './jobs.js';
import { createRecoveries } from './recoveries.js';
import { openStore, postgresTarget } from './open-store.js';
import { DatabaseClock } from './database-clock.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import { ThreadedDispatch } from './threaded-dispatch.js';

export interface HeraldOptions {
  readonly api: boolean;
  readonly worker: boolean;
  readonly concurrency?: number;
  /** The process's log; the dispatch thread (config.dispatchThread) writes its own to stdout. */
  readonly logger?: Logger;
  /** Where the one-time admin key is printed; stdout by default. */
  readonly announce?: (line: string) => void;
  /**
   * Injected time (tests move it forward); Date.now by default. The dispatch thread keeps real
   * time, so with an injected clock the dispatcher runs on the main thread.
   */
  readonly clock?: () => number;
  /** Smaller recover chunks and answer waits, so tests see a recover still running with a few rows. */
  readonly recoverPace?: { readonly chunk: number; readonly answerWithinMs: number; readonly chunkPauseMs?: number };
  /** The script the dispatch thread runs (tests wrap the real one to hold its start or stop it). */
  readonly dispatchThreadScript?: URL;
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

export { createLogger };

export async function startHerald(config: Config, options: HeraldOptions): Promise<RunningHerald> {
  const logger = options.logger ?? createLogger(config);
  // SQLite writers of this process (the dispatch thread's connection, too) take turns through it.
  const writeLock = new WriteLock();
  const store = await openStore(config, logger, { writeLock });
  const databaseClock = options.clock ? undefined : await startDatabaseClock(store, logger);
  const clock = options.clock ?? databaseClock?.now ?? Date.now;
  const { defaultAccountId, generatedKey } = await bootstrap(store, config, options.api);
  const announce = options.announce ?? ((line) => process.stdout.write(`${line}\n`));
  const dispatch = new DispatcherPlace();
  const parts = assemble({ config, options, logger, store, clock, defaultAccountId, dispatch });
  const { context, inboxes, recoveries } = parts;
  const worker = options.worker ? await startWorker(parts, dispatch, options) : undefined;

  let server: FastifyInstance | undefined;
  let url: string | undefined;
  let listening = false;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await server?.close();
      await inboxes.close();
      worker?.stopJobs();
      await recoveries.stop();
      await worker?.stopNotifier();
      const result = await dispatch.stop(config.shutdownGraceMs);
      if (result && result.unfinished > 0) logger.warn({ unfinished: result.unfinished }, 'stopped with attempts still in flight; they will be retried');
      databaseClock?.stop();
      await store.close();
    })());
  try {
    server = options.api ? await buildServer(context) : config.metricsPort !== undefined ? buildProbeServer(context) : undefined;
    if (server) url = await listen(server, options.api, parts);
    if (options.api) {
      listening = true;
      if (generatedKey) announce(adminKeyAnnouncement(generatedKey.key));
    }
    // Started once the API listens: the guard on the thread needs the listening address too.
    if (worker?.onThread) await startDispatchThread(parts, dispatch, { writeLock, concurrency: worker.concurrency, script: options.dispatchThreadScript });
  } catch (err) {
    // Nobody saw the generated key: the next start generates and shows another.
    if (generatedKey && !listening) {
      await store.deleteApiKey(defaultAccountId, generatedKey.id).catch((e: unknown) => logger.warn({ err: e }, 'could not withdraw the generated admin key'));
    }
    await stop();
    throw err;
  }
  return { context, server, url, stop };
}

/**
 * Where this process's dispatcher runs: on this thread, on a thread of its own
 * (threaded-dispatch.ts), or nowhere (an API-only process). Whichever it is gets woken.
 */
class DispatcherPlace {
  here: Dispatching | undefined;
  thread: ThreadedDispatch | undefined;

  current(): (DeliveryHandoff & { notify(): void }) | undefined {
    return this.here?.dispatcher ?? this.thread;
  }

  readonly notify = (): void => this.current()?.notify();

  async stop(graceMs: number): Promise<{ unfinished: number } | undefined> {
    return (this.here ?? this.thread)?.stop(graceMs);
  }
}

interface AssembleInput {
  readonly config: Config;
  readonly options: HeraldOptions;
  readonly logger: Logger;
  readonly store: Store;
  readonly clock: () => number;
  readonly defaultAccountId: string;
  readonly dispatch: DispatcherPlace;
}

/** What startHerald builds from the config before anything listens or dispatches. */
interface Parts {
  readonly config: Config;
  readonly logger: Logger;
  readonly context: AppContext;
  readonly store: Store;
  /** The hot path's view of the store, timed for /metrics. */
  readonly timed: Store;
  readonly guard: SsrfGuard;
  /** Hosts of Herald's own Connect inboxes, always reachable: HERALD_PUBLIC_URL, then the listening address. */
  readonly ownHosts: string[];
  readonly inboxes: InboxService;
  readonly recoveries: ReturnType<typeof createRecoveries>;
}

/** Every component built from the config, and the context that route handlers and jobs share. */
function assemble({ config, options, logger, store, clock, defaultAccountId, dispatch }: AssembleInput): Parts {
  const version = packageVersion();
  const metrics = new HeraldMetrics({ profiles });
  // The context keeps the store itself, so whoever replaces one of its methods (tests standing
  // in for a failing disk) reaches the driver.
  const timed = instrumentStore(store, metrics);
  const ownPublicHost = publicUrlHost(config.publicUrl);
  const ownHosts = ownPublicHost ? [ownPublicHost] : [];
  const guard = new SsrfGuard({ allow: AllowList.fromString(config.allowedTargets), alwaysAllowHosts: ownHosts });
  const endpointCache = new EndpointCache(store, 1_000, clock);
  const ingestor = new Ingestor({
    store: timed,
    clock,
    queueLimit: config.ingestQueueLimit,
    onCommitted: dispatch.notify,
    // The dispatcher (here or on its thread) takes new deliveries straight from the commit.
    handoff: () => dispatch.current(),
    // The store's own thread commits in arrival order: the next batch may wait there.
    commitsInFlight: store.dialect === 'sqlite' && config.sqliteThread ? 2 : 1,
  });
  const inboxes = new InboxService({
    store,
    logger,
    clock,
    onRelayed: dispatch.notify,
    // Captures made by other API processes reach this one's streams through LISTEN/NOTIFY.
    listen: store.dialect === 'postgres' ? (onPayload) => listenForInboxes(config, onPayload) : undefined,
    maxRequests: config.inboxMaxRequests,
  });
  const recoveries = createRecoveries({ store, clock, logger, notify: dispatch.notify, ...options.recoverPace });
  const context: AppContext = {
    config,
    store,
    ingestor,
    recoveries,
    guard,
    keys: new KeyAuthenticator(store),
    endpointCache,
    inboxes,
    logger,
    metrics,
    version,
    get dispatcher() {
      return dispatch.current();
    },
    // The dispatch thread starts once the API listens: until then, and while a stopped one is
    // replaced, no delivery goes out, though publishing goes on.
    dispatcherState: () => (!options.worker ? undefined : dispatch.here ? 'running' : (dispatch.thread?.state() ?? 'starting')),
    defaultAccountId,
    clock,
    endpointChanged(id) {
      endpointCache.invalidate(id);
      dispatch.here?.forget(id);
      dispatch.thread?.endpointChanged(id);
    },
    accountChanged(id) {
      endpointCache.invalidateAccount(id);
      dispatch.thread?.accountChanged(id);
    },
  };
  metrics.watch({ queueDepth: () => timed.queueDepth(), dispatcher: () => dispatch.here?.dispatcher.status(), ingest: () => ingestor.status() });
  return { config, logger, context, store, timed, guard, ownHosts, inboxes, recoveries };
}

interface Worker {
  readonly concurrency: number;
  /** The dispatcher goes on a thread of its own, started once the API listens. */
  readonly onThread: boolean;
  stopJobs(): void;
  stopNotifier(): Promise<void>;
}

/** The dispatcher (unless it goes on its thread) and the background jobs of a process that delivers. */
async function startWorker({ config, context, store, timed, guard, logger, recoveries }: Parts, dispatch: DispatcherPlace, options: HeraldOptions): Promise<Worker> {
  const concurrency = options.concurrency ?? config.concurrency;
  // The thread keeps real time, so an injected clock keeps the dispatcher on this thread.
  const onThread = options.api && store.dialect === 'sqlite' && config.dispatchThread && options.clock === undefined;
  let notifier: { close(): Promise<void> } | undefined;
  // The embedded store has a single dispatcher: whatever was leased belonged to a dead process.
  if (store.dialect === 'sqlite') await store.releaseLeases({ all: true });
  else notifier = await listenForWork(config, dispatch.notify);
  if (!onThread) dispatch.here = startDispatching(context, timed, guard, { concurrency });
  const jobs: Jobs = startJobs({
    store,
    logger,
    clock: context.clock,
    leaseMs: config.leaseMs,
    retentionMs: config.retentionMs,
    inboxRetentionMs: config.inboxRetentionMs,
    onReleased: dispatch.notify,
    processNotices: createHealthHooks(context).processNotices,
    resumeRecovery: recoveries.resumeOne,
  });
  return { concurrency, onThread, stopJobs: () => jobs.stop(), stopNotifier: async () => notifier?.close() };
}

/** Listens with the API (its address joins Herald's own hosts) or, in a worker, the probes. */
async function listen(server: FastifyInstance, api: boolean, { config, context, guard, ownHosts, logger }: Parts): Promise<string> {
  const { version, store } = context;
  if (!api) {
    const url = await listenOn(server, config.metricsPort!, config.host, 'HERALD_METRICS_PORT');
    logger.info({ url, version, store: store.dialect }, 'Herald probes (/metrics, /healthz, /readyz) listening');
    return url;
  }
  const url = await listenOn(server, config.port, config.host, 'PORT');
  const address = server.server.address();
  if (address !== null && typeof address === 'object') {
    for (const host of listeningHosts(config.host, address.port)) {
      guard.addAlwaysAllowedHost(host);
      ownHosts.push(host);
    }
  }
  logger.info({ url, version, store: store.dialect }, 'Herald API listening');
  return url;
}

/** The dispatcher on a thread of its own, with its own SQLite connection taking turns through writeLock. */
async function startDispatchThread(
  { config, ownHosts, context, store, logger }: Parts,
  dispatch: DispatcherPlace,
  { writeLock, concurrency, script }: { writeLock: WriteLock; concurrency: number; script: URL | undefined },
): Promise<void> {
  const started = await ThreadedDispatch.start({
    config,
    ownHosts,
    concurrency,
    version: context.version,
    writeLock: writeLock.buffer,
    logger,
    beforeRestart: () => store.releaseLeases({ all: true }),
    onEndpointChanged: (id) => context.endpointCache.invalidate(id),
    script,
  });
  dispatch.thread = started;
  context.metrics.include(() => started.metrics());
  context.metrics.watchDispatchThread(() => started.health());
}

/**
 * On PostgreSQL, the database server's clock, which every process sharing the database keeps
 * (leases, due times and rate-limit slots are compared across hosts); undefined on SQLite,
 * whose one process has one clock.
 */
async function startDatabaseClock(store: Store, logger: Logger): Promise<DatabaseClock | undefined> {
  if (store.dialect !== 'postgres') return undefined;
  const pg = store as PostgresStore;
  const clock = new DatabaseClock(() => pg.serverTime(), logger);
  try {
    await clock.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  return clock;
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

export type { Store };

/** Listens, or names the setting to change: a port taken or not allowed, an address this host lacks. */
async function listenOn(server: FastifyInstance, port: number, host: string, portVariable: string): Promise<string> {
  try {
    return await server.listen({ port, host });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new ConfigError(portVariable, `cannot listen on port ${port} (${code})`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new ConfigError('HOST', `cannot listen on ${host} (${code})`);
    throw err;
  }
}
