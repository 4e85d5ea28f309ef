// Herald's Prometheus metrics: one Registry per Herald instance (tests run several in one
// process, so prom-client's global registry is never used). Counters are fed as things happen
// through narrow observer interfaces; gauges are read from status snapshots at scrape time.
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { AttemptOutcome, DispatcherStatus } from '../delivery/dispatcher.js';
import type { GroupCommitStatus } from '../ingest/group-commit.js';
import type { IngestOutcome, QueueDepth } from '../store/contract.js';
import { ATTEMPT_OUTCOMES, AttemptTally } from './attempt-tally.js';
import { cachedFor, within } from './cached.js';
import { TallyHistogram } from './tally-histogram.js';
import type { StoreObserver, TimedOperation } from './timed-store.js';

/** Store calls take well under a millisecond on SQLite and up to seconds on a loaded PostgreSQL. */
const STORE_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Where the scrape-time gauges come from; set once the components exist. */
export interface MetricsSources {
  /**
   * Queue depth of the whole store (a count of the backlog, not of the history); omitted where
   * another registry of the same process reports it.
   */
  readonly queueDepth?: () => Promise<QueueDepth>;
  /** This process's dispatcher, when it runs one. */
  readonly dispatcher: () => DispatcherStatus | undefined;
  readonly ingest: () => GroupCommitStatus;
}

export interface HeraldMetricsOptions {
  /** Profiles whose attempt series are exposed at 0 from the start. */
  readonly profiles?: readonly string[];
  /** How long one store.queueDepth() answer serves scrapes (default 5 s). */
  readonly queueDepthTtlMs?: number;
  /** How long a scrape waits for the store's answer before it keeps the last values (default 2 s). */
  readonly queueDepthWaitMs?: number;
  readonly clock?: () => number;
  /** Process-wide metrics (CPU, memory, event loop); off for a thread's registry. Default on. */
  readonly defaultMetrics?: boolean;
}

/** The JSON form of a registry's metrics, as another thread sends it. */
export type ExportedMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** Several registries' metrics summed into one set (counters and histograms add up). */
export async function sumMetrics(sets: readonly ExportedMetrics[]): Promise<ExportedMetrics> {
  return (await AggregatorRegistry.aggregate([...sets]).getMetricsAsJSON()) as ExportedMetrics;
}

export class HeraldMetrics implements StoreObserver {
  readonly registry = new Registry();
  private readonly attempts: AttemptTally;
  private throttledCount = 0;
  private readonly storeDuration: Histogram<'operation'>;
  private readonly eventsIngested: Counter;
  private readonly deliveriesEnqueued: Counter;
  private sources: MetricsSources | undefined;
  private queueDepth: (() => Promise<QueueDepth>) | undefined;
  private readonly others: (() => Promise<ExportedMetrics[]>)[] = [];

  constructor(private readonly options: HeraldMetricsOptions = {}) {
    const registers = [this.registry];
    this.attempts = new AttemptTally(undefined, options.profiles);
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'herald_' });

    const attempts = this.attempts;
    new Counter({
      name: 'herald_delivery_attempts_total',
      help: 'Delivery attempts made by this process, by outcome (succeeded, retry, failed) and endpoint profile',
      labelNames: ['outcome', 'profile'],
      registers,
      collect(this: Counter<'outcome' | 'profile'>) {
        this.reset();
        for (const [profile, t] of attempts.profiles()) ATTEMPT_OUTCOMES.forEach((outcome, i) => this.inc({ outcome, profile }, t.outcomes[i]));
      },
    });
    new Counter({
      name: 'herald_deliveries_total',
      help: 'Deliveries this process brought to a final outcome (succeeded, failed), by endpoint profile',
      labelNames: ['outcome', 'profile'],
      registers,
      collect(this: Counter<'outcome' | 'profile'>) {
        this.reset();
        for (const [profile] of attempts.profiles()) {
          for (const outcome of ['succeeded', 'failed'] as const) this.inc({ outcome, profile }, attempts.count(profile, outcome));
        }
      },
    });
    this.registry.registerMetric(
      new TallyHistogram(attempts, { name: 'herald_attempt_duration_seconds', help: 'Duration of delivery attempts (request sent to response read), by endpoint profile' }),
    );
    const throttled = () => this.throttledCount;
    new Counter({
      name: 'herald_throttled_total',
      help: 'Deliveries postponed to respect an endpoint or account rate limit',
      registers,
      collect(this: Counter) {
        this.reset();
        this.inc(throttled());
      },
    });
    this.eventsIngested = new Counter({ name: 'herald_events_ingested_total', help: 'Events committed by ingest in this process (duplicates not counted)', registers });
    this.deliveriesEnqueued = new Counter({ name: 'herald_deliveries_enqueued_total', help: 'Deliveries created by ingest in this process (one per matching endpoint)', registers });
    this.storeDuration = new Histogram({
      name: 'herald_store_operation_duration_seconds',
      help: 'Duration of store calls on the hot path, by operation',
      labelNames: ['operation'],
      buckets: STORE_BUCKETS_SECONDS,
      registers,
    });

    const stored = (name: string, help: string, read: (s: QueueDepth) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect: async function (this: Gauge) {
          if (!self.queueDepth) return;
          try {
            this.set(read(await within(self.queueDepth(), self.options.queueDepthWaitMs ?? 2_000)));
          } catch {
            // The last value stays, and the scrape answers with every other metric: a store that
            // fails or hangs is what /readyz reports.
          }
        },
      });
    const local = (name: string, help: string, read: (sources: MetricsSources) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        collect(this: Gauge) {
          this.set((self.sources && read(self.sources)) ?? 0);
        },
      });
    const self = this;
    stored('herald_queue_depth', 'Pending deliveries not yet tried (whole store; refreshed every few seconds)', (s) => s.pending - s.retrying);
    stored('herald_retry_queue_depth', 'Pending deliveries tried at least once, waiting for their next attempt (whole store)', (s) => s.retrying);
    stored('herald_leased_deliveries', 'Deliveries claimed by a dispatcher of any process and not yet settled (whole store)', (s) => s.inFlight);
    local('herald_in_flight', "Attempts this process's dispatcher is running now", (s) => s.dispatcher()?.inFlight);
    local('herald_dispatcher_waiting', "Deliveries this process's dispatcher claimed that wait for a free slot of their endpoint", (s) => s.dispatcher()?.waiting);
    new Counter({
      name: 'herald_dispatcher_taken_total',
      help: "Deliveries this process's dispatcher took, by how: a claim of due work, or straight from an ingest commit (handoff)",
      labelNames: ['from'],
      registers,
      collect(this: Counter<'from'>) {
        this.reset();
        const status = self.sources?.dispatcher();
        this.inc({ from: 'claim' }, status?.claimed ?? 0);
        this.inc({ from: 'ingest' }, status?.adopted ?? 0);
      },
    });
    local('herald_ingest_queued_events', 'Events in this process waiting for their group commit', (s) => s.ingest().queuedItems);
  }

  /** Called once the components exist. */
  watch(sources: MetricsSources): void {
    this.sources = sources;
    if (sources.queueDepth) this.queueDepth = cachedFor(this.options.queueDepthTtlMs ?? 5_000, sources.queueDepth, this.options.clock);
  }

  /**
   * Reports the dispatch thread of a process that runs one: whether it is dispatching, and how
   * often it stopped on its own (each stop pauses every delivery until its replacement starts).
   */
  watchDispatchThread(health: () => { readonly up: boolean; readonly stops: number }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'herald_dispatch_thread_up',
      help: 'Whether the dispatch thread is running (0 while a stopped one is being replaced)',
      registers,
      collect(this: Gauge) {
        this.set(health().up ? 1 : 0);
      },
    });
    new Counter({
      name: 'herald_dispatch_thread_stops_total',
      help: 'Dispatch threads that stopped on their own (a bug, out of memory) and were replaced',
      registers,
      collect(this: Counter) {
        this.reset();
        this.inc(health().stops);
      },
    });
  }

  /** Adds other registries' metrics (threads') to every scrape: counters and histograms are summed. */
  include(other: () => Promise<ExportedMetrics[]>): void {
    this.others.push(other);
  }

  /** This registry's metrics as JSON, for the registry that includes them. */
  exported(): Promise<ExportedMetrics> {
    return this.registry.getMetricsAsJSON();
  }

  /** Hot path: a map lookup and a few array increments, no allocation. */
  recordAttempt(profile: string, outcome: AttemptOutcome, durationMs: number): void {
    this.attempts.record(profile, outcome, durationMs / 1000);
  }

  recordThrottled(): void {
    this.throttledCount++;
  }

  operation(name: TimedOperation, seconds: number): void {
    this.storeDuration.observe({ operation: name }, seconds);
  }

  ingested(outcomes: readonly IngestOutcome[]): void {
    let events = 0;
    let deliveries = 0;
    for (const o of outcomes) {
      if (o.duplicate) continue;
      events++;
      deliveries += o.deliveries;
    }
    if (events > 0) this.eventsIngested.inc(events);
    if (deliveries > 0) this.deliveriesEnqueued.inc(deliveries);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<string> {
    if (this.others.length === 0) return this.registry.metrics();
    const [own, ...others] = await Promise.all([this.exported(), ...this.others.map((other) => other())]);
    return AggregatorRegistry.aggregate([own, ...others.flat(1)]).metrics();
  }
}
