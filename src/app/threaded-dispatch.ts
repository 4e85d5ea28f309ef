// The main thread's side of the dispatch thread (dispatch-thread.ts). With
// HERALD_DISPATCH_THREAD=on, `herald serve` on the embedded store runs its dispatcher there:
// publishing (HTTP parsing, validation, the ingest commit) and delivering (claims, requests,
// settlements) then use a core each instead of taking turns on one event loop. The two share
// the database file, which SQLite's WAL lets both open, and a WriteLock to take turns at
// writing it; what one side changes and the other caches is announced by message.
import { Worker } from 'node:worker_threads';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';
import { RestartBackoff } from '../domain/restart-backoff.js';
import { threadScript } from '../domain/thread-script.js';
import type { DeliveryHandoff, HandoffGrant } from '../delivery/dispatcher.js';
import { sumMetrics, type ExportedMetrics } from '../observability/metrics.js';
import type { ClaimedDelivery } from '../store/contract.js';

export interface DispatchThreadData {
  readonly config: Config;
  /** Hosts the SSRF guard lets through whatever the allow-list says: Herald's own addresses. */
  readonly ownHosts: readonly string[];
  readonly concurrency: number;
  readonly version: string;
  /** The memory of the WriteLock the main thread's store takes turns with. */
  readonly writeLock: SharedArrayBuffer;
}

/** What the thread is started with: DispatchThreadData and where it shows its room. */
export interface DispatchThreadWorkerData extends DispatchThreadData {
  /**
   * Two Int32s the thread keeps at (deliveries it was handed + its room now) and (deliveries
   * it was handed + its free requests now), wrapping: the main thread, having handed over
   * `granted`, may hand over the differences (see offer()).
   */
  readonly room: SharedArrayBuffer;
  /** The level of the logger its lines are forwarded to (the thread leaves out the rest). */
  readonly logLevel: string;
}

export type ToDispatchThread =
  | { readonly type: 'notify' }
  | { readonly type: 'endpoint-changed'; readonly id: string }
  | { readonly type: 'account-changed'; readonly id: string }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'adopt'; readonly deliveries: readonly ClaimedDelivery[] }
  | { readonly type: 'stop'; readonly graceMs: number };

export type FromDispatchThread =
  | { readonly type: 'ready'; readonly owner: string }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'endpoint-changed'; readonly id: string }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: ExportedMetrics }
  | { readonly type: 'stopped'; readonly unfinished: number }
  /** Hold limits above a round of the endpoints it holds work for (HoldReports), for offer(). */
  | { readonly type: 'holds'; readonly limits: readonly (readonly [string, number])[] }
  /** One line of the thread's log, written out as is by the main thread's logger. */
  | { readonly type: 'log'; readonly line: string };

export interface DispatchThreadHealth {
  readonly up: boolean;
  readonly stops: number;
}

export interface ThreadedDispatchOptions extends DispatchThreadData {
  readonly logger: Logger;
  /** Runs before a stopped thread is replaced: hands back the deliveries it had leased. */
  readonly beforeRestart: () => Promise<unknown>;
  /** The thread changed an endpoint (disabled it): caches on this side drop it. */
  readonly onEndpointChanged: (id: string) => void;
  /** The script the thread runs (tests wrap the real one to make it fail). */
  readonly script?: URL;
}

/**
 * Commits to announce are gathered this long: each announcement makes the thread claim, a
 * write that waits for its turn behind the main thread's commits. Claiming on every commit of
 * 1,000 single events a second kept the thread waiting half the time (p99 180-235 ms); every
 * 3 ms, p99 15-25 ms.
 */
const NOTIFY_GATHER_MS = 3;
/** A scrape does not wait longer than this for the thread's metrics. */
const METRICS_TIMEOUT_MS = 1_000;

export class ThreadedDispatch implements DeliveryHandoff {
  private worker!: Worker;
  /** The current thread's dispatcher (lease owner), once it is ready. */
  private owner: string | undefined;
  private readonly room = new Int32Array(new SharedArrayBuffer(8));
  /** Deliveries handed over to the current thread, wrapping like room[0] and room[1]. */
  private granted = 0;
  /** What the current thread reported each endpoint it holds work for may hold (HoldReports). */
  private holds: ReadonlyMap<string, number> = new Map();
  private live = false;
  private everLive = false;
  /** The last thread whose stop was handled. */
  private gone: Worker | undefined;
  private stopping = false;
  private readonly backoff = new RestartBackoff();
  private restartTimer: NodeJS.Timeout | undefined;
  private notifyQueued = false;
  private nextMetricsId = 1;
  /** What the current thread reported last: a scrape it does not answer in time shows this. */
  private latestMetrics: ExportedMetrics = [];
  /** The counters and histograms of the threads that stopped, as they last reported them, summed. */
  private retiredMetrics: ExportedMetrics = [];
  private retiring: Promise<void> = Promise.resolve();
  private readonly metricsWaiting = new Map<number, (metrics: ExportedMetrics) => void>();
  private readonly onReady = new Set<(err?: Error) => void>();
  private onStopped: ((unfinished: number) => void) | undefined;
  /** Threads that stopped on their own since the start (a stop asked for is not counted). */
  private unplannedStops = 0;

  /** Where the main thread's logger writes: the thread's lines go there as they are. */
  private readonly logStream: DestinationStream;

  private constructor(private readonly options: ThreadedDispatchOptions) {
    this.logStream = (options.logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]!;
  }

  /** Starts the thread; rejects when it cannot open the database or build its dispatcher. */
  static async start(options: ThreadedDispatchOptions): Promise<ThreadedDispatch> {
    const dispatch = new ThreadedDispatch(options);
    await dispatch.spawn();
    return dispatch;
  }

  /** New work may be due. Calls within NOTIFY_GATHER_MS make one message. */
  notify(): void {
    if (this.notifyQueued || !this.live) return;
    this.notifyQueued = true;
    setTimeout(() => {
      this.notifyQueued = false;
      this.send({ type: 'notify' });
    }, NOTIFY_GATHER_MS);
  }

  /**
   * Room on the thread for new deliveries of an ingest commit (Dispatcher.offer, with what the
   * main thread can know without asking: the thread's room, and for each endpoint the hold
   * limit the thread reported last). Any other endpoint gets a round of its concurrency at
   * most, within the free requests, as in a claim: a fan-out to a thousand new endpoints
   * handed over whole held up its first requests while the thread loaded them all (last
   * arrival 566-619 ms against 439-498). The thread holds back what an endpoint cannot take
   * yet and hands back what exceeds its hold, as it does with claimed deliveries.
   */
  offer(wanted: ReadonlyMap<string, number>): HandoffGrant | undefined {
    // A thread asked to stop takes nothing more: what it took now would stay leased to it
    // until the next start, where pending work is claimed at once.
    if (!this.live || this.stopping || this.owner === undefined) return undefined;
    let room = (Atomics.load(this.room, 0) - this.granted) | 0;
    let free = (Atomics.load(this.room, 1) - this.granted) | 0;
    const counts = new Map<string, number>();
    for (const [id, n] of wanted) {
      if (room <= 0) break;
      const take = Math.min(n, room, this.holds.get(id) ?? Math.min(free, this.options.config.endpointConcurrency));
      if (take <= 0) continue;
      counts.set(id, take);
      room -= take;
      free -= take;
      this.granted = (this.granted + take) | 0;
    }
    if (counts.size === 0) return undefined;
    return { lease: { owner: this.owner, until: Date.now() + this.options.config.leaseMs }, counts };
  }

  /** After the commit: the leased deliveries go to the thread; room they did not use is free again. */
  adopt(grant: HandoffGrant, deliveries: readonly ClaimedDelivery[]): void {
    // A thread that replaced the one the grant was for starts from a fresh count (spawn()); the
    // deliveries leased to the old one come back when the lease reaper finds them expired.
    if (grant.lease.owner !== this.owner) return;
    let promised = 0;
    for (const n of grant.counts.values()) promised += n;
    this.granted = (this.granted - (promised - deliveries.length)) | 0;
    if (deliveries.length > 0) this.send({ type: 'adopt', deliveries });
  }

  endpointChanged(id: string): void {
    this.send({ type: 'endpoint-changed', id });
  }

  accountChanged(id: string): void {
    this.send({ type: 'account-changed', id });
  }

  /** A thread is dispatching, or a stopped one is being replaced (for /readyz). */
  state(): 'running' | 'restarting' {
    return this.live ? 'running' : 'restarting';
  }

  /** Whether a thread is dispatching now, and how many stopped on their own (for /metrics). */
  health(): DispatchThreadHealth {
    return { up: this.live, stops: this.unplannedStops };
  }

  /**
   * The metrics of every thread this process ran, for a scrape: the current one's, and the
   * counters of those that stopped, so no counter goes down when a thread is replaced. (What a
   * thread counted after its last report is lost with it.)
   */
  async metrics(): Promise<ExportedMetrics[]> {
    // Asked first: a thread that stops meanwhile is retired before the list is made.
    const current = this.live ? await this.currentMetrics() : [];
    await this.retiring;
    return [this.retiredMetrics, current];
  }

  /** The current thread's metrics, or what it reported last when it does not answer in time. */
  private currentMetrics(): Promise<ExportedMetrics> {
    const id = this.nextMetricsId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(this.latestMetrics), METRICS_TIMEOUT_MS);
      const done = (metrics: ExportedMetrics) => {
        clearTimeout(timer);
        this.metricsWaiting.delete(id);
        resolve(metrics);
      };
      this.metricsWaiting.set(id, done);
      this.send({ type: 'metrics', id });
    });
  }

  /** Stops claiming, lets attempts finish within graceMs, writes their outcomes and ends the thread. */
  async stop(graceMs: number): Promise<{ unfinished: number }> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    if (!this.live) return { unfinished: 0 };
    const worker = this.worker;
    const unfinished = await new Promise<number>((resolve) => {
      this.onStopped = resolve;
      // A thread that does not answer in time is ended anyway: its leases come back on the next start.
      setTimeout(() => resolve(-1), graceMs + 5_000).unref();
      this.send({ type: 'stop', graceMs });
    });
    this.live = false;
    await worker.terminate();
    return { unfinished: Math.max(0, unfinished) };
  }

  private send(message: ToDispatchThread): void {
    if (this.live) this.worker.postMessage(message);
  }

  private spawn(): Promise<void> {
    const { config, ownHosts, concurrency, version, writeLock } = this.options;
    this.owner = undefined;
    this.granted = 0;
    this.holds = new Map();
    Atomics.store(this.room, 0, 0);
    Atomics.store(this.room, 1, 0);
    const workerData: DispatchThreadWorkerData = { config, ownHosts, concurrency, version, writeLock, room: this.room.buffer as SharedArrayBuffer, logLevel: this.options.logger.level };
    const worker = new Worker(this.options.script ?? threadScript(import.meta.url, 'dispatch-thread'), { workerData });
    this.worker = worker;
    this.backoff.started();
    worker.on('message', (message: FromDispatchThread) => this.received(message));
    worker.on('error', (err) => this.stopped(worker, err));
    worker.on('exit', (code) => this.stopped(worker, new Error(`the dispatch thread stopped (exit code ${code})`)));
    return new Promise((resolve, reject) => this.onReady.add((err) => (err ? reject(err) : resolve())));
  }

  private received(message: FromDispatchThread): void {
    switch (message.type) {
      case 'ready':
        this.owner = message.owner;
        this.live = true;
        this.everLive = true;
        this.settleReady();
        break;
      case 'failed':
        this.settleReady(new Error(`the dispatch thread could not start: ${message.message}`));
        break;
      case 'endpoint-changed':
        this.options.onEndpointChanged(message.id);
        break;
      case 'metrics':
        this.latestMetrics = message.metrics;
        this.metricsWaiting.get(message.id)?.(message.metrics);
        break;
      case 'stopped':
        this.onStopped?.(message.unfinished);
        break;
      case 'log':
        this.logStream.write(message.line);
        break;
      case 'holds':
        this.holds = new Map(message.limits);
        break;
    }
  }

  private settleReady(err?: Error): void {
    for (const settle of this.onReady) settle(err);
    this.onReady.clear();
  }

  /**
   * The thread stopped on its own (a bug, out of memory): its attempts in flight are lost with
   * it and retried, as after a crash. A new thread starts after a pause that grows while it
   * keeps stopping soon after its start.
   */
  private stopped(worker: Worker, err: Error): void {
    // 'error' and 'exit' both report a stop.
    if (worker !== this.worker || worker === this.gone) return;
    this.gone = worker;
    this.live = false;
    this.retire();
    for (const done of [...this.metricsWaiting.values()]) done([]);
    this.onStopped?.(-1);
    this.settleReady(err);
    // The first start failing is the caller's to handle; later stops are retried.
    if (!this.everLive || this.stopping) return;
    this.unplannedStops++;
    const delay = this.backoff.nextDelay();
    this.options.logger.error({ err, restartInMs: delay }, 'the dispatch thread stopped: no deliveries are sent until a new one has started');
    this.restartTimer = setTimeout(() => void this.restart(), delay);
    this.restartTimer.unref();
  }

  /** Keeps the stopped thread's counters and histograms; its gauges said what it held, now nothing. */
  private retire(): void {
    const cumulative = this.latestMetrics.filter((m) => String(m.type) === 'counter' || String(m.type) === 'histogram');
    this.latestMetrics = [];
    if (cumulative.length === 0) return;
    // Summed at once: a thread that keeps stopping must not make every scrape longer.
    this.retiring = this.retiring.then(async () => {
      this.retiredMetrics = await sumMetrics([this.retiredMetrics, cumulative]);
    });
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.options.beforeRestart();
      if (this.stopping) return;
      await this.spawn();
      // Stopped while the new thread was starting: it must not outlive the stop.
      if (this.stopping) {
        this.live = false;
        await this.worker.terminate();
      }
    } catch {
      // The new thread stopped as well: its exit has scheduled the next try.
    }
  }
}
