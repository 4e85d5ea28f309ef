// The dispatch thread of `herald serve` on the embedded store (HERALD_DISPATCH_THREAD=on):
// claims, sends and settles deliveries on its own event loop and its own SQLite connection, so
// parsing and committing published events on the main thread no longer holds up the answers
// of endpoints (and the other way round). See threaded-dispatch.ts for the main thread's side.
import { parentPort, workerData } from 'node:worker_threads';
import { profiles } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { EndpointCache } from '../delivery/endpoint-cache.js';
import { Ingestor } from '../ingest/ingestor.js';
import { AllowList } from '../net/cidr.js';
import { SsrfGuard } from '../net/ssrf-guard.js';
import { createLogger } from '../observability/logger.js';
import { HeraldMetrics } from '../observability/metrics.js';
import { instrumentStore } from '../observability/timed-store.js';
import { withAsyncTurns } from '../store/sqlite/async-turns.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { WriteLock } from '../store/sqlite/write-lock.js';
import { startDispatching, type Dispatching } from './dispatch.js';
import { HoldReports } from './hold-reports.js';
import { loadSecretBox, logWrites, sqliteFile } from './open-store.js';
import type { FromDispatchThread, ToDispatchThread, DispatchThreadWorkerData } from './threaded-dispatch.js';

const data = workerData as DispatchThreadWorkerData;
/** (deliveries handed over by the main thread + room now, + free requests now), for the main thread's offers. */
const room = new Int32Array(data.room);
let handedOver = 0;
const port = parentPort!;
const post = (message: FromDispatchThread) => port.postMessage(message);

function start(): { dispatching: Dispatching; cache: EndpointCache; metrics: HeraldMetrics; forget(id: string): void; close(): Promise<void> } {
  const { config } = data;
  // Its lines go out through the main thread's logger, wherever that writes.
  const logger = createLogger({ logLevel: data.logLevel as Config['logLevel'] }, { write: (line: string) => post({ type: 'log', line }) }).child({ thread: 'dispatch' });
  const writeLock = new WriteLock(data.writeLock);
  const file = sqliteFile(config);
  const store = new SqliteStore({ file, sealer: loadSecretBox(config), synchronous: config.sqliteSync, writeLock, onWrites: logWrites(logger, file) });
  const metrics = new HeraldMetrics({ profiles, defaultMetrics: false });
  const timed = instrumentStore(withAsyncTurns(store, writeLock), metrics);
  const clock = Date.now;
  const cache = new EndpointCache(store, 1_000, clock);
  const guard = new SsrfGuard({ allow: AllowList.fromString(config.allowedTargets), alwaysAllowHosts: data.ownHosts });
  let dispatching: Dispatching | undefined;
  // Herald's own events about endpoints (endpoint.disabled, …) are published from here.
  const ingestor = new Ingestor({ store: timed, clock, queueLimit: config.ingestQueueLimit, onCommitted: () => dispatching?.dispatcher.notify(), commitsInFlight: 1 });
  /** What this thread keeps of an endpoint: its cached row and its OAuth token. */
  const forget = (id: string) => {
    cache.invalidate(id);
    dispatching?.forget(id);
  };
  const endpointChanged = (id: string) => {
    forget(id);
    post({ type: 'endpoint-changed', id });
  };
  const ctx = { config, store, ingestor, endpointCache: cache, logger, metrics, version: data.version, clock, endpointChanged };
  const holds = new HoldReports(() => dispatching?.dispatcher.holdLimits() ?? new Map(), config.endpointConcurrency, (limits) => post({ type: 'holds', limits }));
  // Its claims queue for the write lock behind the main thread's commits: no empty ones.
  const showRoom = () => {
    Atomics.store(room, 0, (handedOver + (dispatching?.dispatcher.room() ?? 0)) | 0);
    Atomics.store(room, 1, (handedOver + (dispatching?.dispatcher.requestRoom() ?? 0)) | 0);
  };
  dispatching = startDispatching(ctx, timed, guard, {
    concurrency: data.concurrency,
    idleAfterShortClaim: true,
    onRoomChanged: () => {
      showRoom();
      holds.changed();
    },
    writeTurn: async <T>(fn: () => Promise<T>): Promise<T> => await writeLock.runAsync(fn),
  });
  const d = dispatching.dispatcher;
  showRoom();
  metrics.watch({ dispatcher: () => d.status(), ingest: () => ingestor.status() });
  return {
    dispatching,
    cache,
    metrics,
    forget,
    close: () => {
      holds.stop();
      return store.close();
    },
  };
}

let running: ReturnType<typeof start>;
try {
  running = start();
  post({ type: 'ready', owner: running.dispatching.dispatcher.owner });
} catch (err) {
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

port.on('message', (message: ToDispatchThread) => {
  const { dispatching, cache } = running;
  switch (message.type) {
    case 'notify':
      dispatching.dispatcher.notify();
      break;
    case 'endpoint-changed':
      running.forget(message.id);
      break;
    case 'account-changed':
      cache.invalidateAccount(message.id);
      break;
    case 'adopt':
      handedOver = (handedOver + message.deliveries.length) | 0;
      dispatching.dispatcher.take(message.deliveries);
      break;
    case 'metrics':
      void running.metrics.exported().then((metrics) => post({ type: 'metrics', id: message.id, metrics }));
      break;
    case 'stop':
      void dispatching.stop(message.graceMs).then(async ({ unfinished }) => {
        await running.close();
        post({ type: 'stopped', unfinished });
        port.close();
      });
      break;
  }
});
