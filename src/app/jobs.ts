// Background upkeep of a worker process: reclaiming expired leases (a crashed worker's
// deliveries), carrying out notices a crash left pending, and pruning delivered work past its
// retention. Each runs on its own timer,
// in bounded batches, and a failure only delays the next round.
import type { Logger } from 'pino';
import type { Store } from '../store/contract.js';

export interface JobsOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly leaseMs: number;
  readonly retentionMs: number;
  /** Requests captured by Connect inboxes are pruned after this; omitted = never. */
  readonly inboxRetentionMs?: number;
  readonly pruneEveryMs?: number;
  readonly pruneBatch?: number;
  /** Wakes the dispatcher when leases come back. */
  readonly onReleased?: () => void;
  /** Carries out pending notices (health hooks): at start, then as often as leases are reaped. */
  readonly processNotices?: () => Promise<number>;
}

export interface Jobs {
  /** One retention pass: batches until a batch comes back short or the time budget is spent. */
  pruneOnce(): Promise<{ deliveries: number; events: number }>;
  /** One retention pass over captured inbox requests; returns how many were removed. */
  pruneInboxesOnce(): Promise<number>;
  stop(): void;
}

const PRUNE_BUDGET_MS = 2_000;

export function startJobs(o: JobsOptions): Jobs {
  const batch = o.pruneBatch ?? 1_000;
  let stopped = false;

  async function reapOnce(): Promise<void> {
    const released = await o.store.releaseLeases({ expiredBefore: o.clock() });
    if (released > 0) {
      o.logger.warn({ released }, 'reclaimed deliveries whose lease expired (their worker stopped answering)');
      o.onReleased?.();
    }
  }

  async function pruneOnce(): Promise<{ deliveries: number; events: number }> {
    const total = { deliveries: 0, events: 0 };
    const deadline = Date.now() + PRUNE_BUDGET_MS;
    while (!stopped) {
      const r = await o.store.prune(o.clock() - o.retentionMs, batch);
      total.deliveries += r.deliveries;
      total.events += r.events;
      if ((r.deliveries < batch && r.events < batch) || Date.now() > deadline) break;
      // Let deliveries and requests run between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (total.deliveries + total.events > 0) o.logger.info(total, 'pruned delivered work past retention');
    return total;
  }

  async function pruneInboxesOnce(): Promise<number> {
    if (o.inboxRetentionMs === undefined) return 0;
    let total = 0;
    const deadline = Date.now() + PRUNE_BUDGET_MS;
    while (!stopped) {
      const n = await o.store.pruneInboxRequests(o.clock() - o.inboxRetentionMs, batch);
      total += n;
      if (n < batch || Date.now() > deadline) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (total > 0) o.logger.info({ inboxRequests: total }, 'pruned inbox requests past retention');
    return total;
  }

  const every = (ms: number, job: () => Promise<unknown>, name: string) => {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      job()
        .catch((err: unknown) => o.logger.error({ err, job: name }, 'background job failed'))
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    return timer;
  };

  const upkeepMs = Math.max(1_000, Math.floor(o.leaseMs / 2));
  const timers = [every(upkeepMs, reapOnce, 'lease-reaper'), every(o.pruneEveryMs ?? 60_000, pruneOnce, 'retention')];
  const { processNotices } = o;
  if (processNotices) {
    timers.push(every(upkeepMs, processNotices, 'notices'));
    // What a crash left pending goes out now, not a round later.
    processNotices().catch((err: unknown) => o.logger.error({ err, job: 'notices' }, 'background job failed'));
  }
  if (o.inboxRetentionMs !== undefined) timers.push(every(o.pruneEveryMs ?? 60_000, pruneInboxesOnce, 'inbox-retention'));
  return {
    pruneOnce,
    pruneInboxesOnce,
    stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
    },
  };
}
