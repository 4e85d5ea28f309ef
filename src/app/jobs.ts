// Background upkeep of a worker process: reclaiming expired leases (a crashed worker's
// deliveries), carrying out notices a crash left pending, resuming recovers whose process
// stopped, purging deleted endpoints' deliveries, and pruning delivered work past its
// retention. Each runs on its own timer,
// in bounded batches, and a failure only delays the next round. A retention pass that runs out
// of time while there is still more to prune is followed by another after a short pause.
import type { Logger } from 'pino';
import { storeErrorLevel } from '../observability/logger.js';
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
  /** Deliveries of a deleted endpoint removed per transaction (default PURGE_CHUNK). */
  readonly purgeChunk?: number;
  /** Wakes the dispatcher when leases come back. */
  readonly onReleased?: () => void;
  /** Carries out pending notices (health hooks): at start, then as often as leases are reaped. */
  readonly processNotices?: () => Promise<number>;
  /** Takes over a recover whose runner stopped (its process died) and works it off. */
  readonly resumeRecovery?: () => Promise<boolean>;
}

export interface Jobs {
  /**
   * One retention pass: batches until a batch comes back short or the time budget is spent. In
   * the latter case the next pass starts after CATCH_UP_PAUSE_MS rather than a period later.
   */
  pruneOnce(): Promise<{ deliveries: number; events: number }>;
  /** One retention pass over captured inbox requests; returns how many were removed. */
  pruneInboxesOnce(): Promise<number>;
  /**
   * One pass over deleted endpoints' deliveries (see Store.purgeDeletedEndpoints), with the same
   * budget and catch-up as retention; how many deliveries it removed.
   */
  purgeDeletedOnce(): Promise<number>;
  stop(): void;
}

const PRUNE_BUDGET_MS = 2_000;
// A backlog larger than one pass (a first start on an old database, a burst of work ageing out
// together) is worked off at about two thirds of one connection's time, not 2 s a minute.
const CATCH_UP_PAUSE_MS = 1_000;
/**
 * A purge transaction removes up to this many deliveries with their attempts: a few milliseconds
 * of locks, WAL and dead tuples at a time. Not many more: PostgreSQL planned the attempts delete
 * of 5,000 ids as a scan of the whole attempts table (1 s in 4.4 for 300,000 deliveries).
 */
const PURGE_CHUNK = 2_000;

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

  const catchUps = new Map<string, NodeJS.Timeout>();
  /** Runs `job` again after CATCH_UP_PAUSE_MS when its pass ran out of time with work left. */
  function catchUp(name: string, behind: boolean, job: () => void): void {
    if (!behind || stopped) return;
    clearTimeout(catchUps.get(name));
    const timer = setTimeout(job, CATCH_UP_PAUSE_MS);
    timer.unref();
    catchUps.set(name, timer);
  }

  async function pruneOnce(): Promise<{ deliveries: number; events: number }> {
    const total = { deliveries: 0, events: 0 };
    const behind = await inPass(async () => {
      const r = await o.store.prune(o.clock() - o.retentionMs, batch);
      total.deliveries += r.deliveries;
      total.events += r.events;
      return r.deliveries >= batch || r.events >= batch;
    });
    if (total.deliveries + total.events > 0) o.logger.info(total, 'pruned delivered work past retention');
    catchUp('retention', behind, retention);
    return total;
  }

  async function purgeDeletedOnce(): Promise<number> {
    let deliveries = 0;
    const behind = await inPass(async () => {
      const r = await o.store.purgeDeletedEndpoints(o.purgeChunk ?? PURGE_CHUNK);
      deliveries += r.deliveries;
      return r.deliveries > 0 || r.finished > 0;
    });
    if (deliveries > 0) o.logger.info({ deliveries }, "purged deleted endpoints' deliveries");
    catchUp('purge', behind, purge);
    return deliveries;
  }

  /**
   * Steps (each says whether there may be more) until one finds no more or PRUNE_BUDGET_MS is
   * spent; whether the budget ran out first.
   */
  async function inPass(step: () => Promise<boolean>): Promise<boolean> {
    const deadline = Date.now() + PRUNE_BUDGET_MS;
    while (!stopped) {
      if (!(await step())) return false;
      if (Date.now() > deadline) return true;
      // Let deliveries and requests run between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return false;
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

  /** The job, skipped while a previous run of it is still going; failures are logged. */
  const single = (job: () => Promise<unknown>, name: string) => {
    let running = false;
    return () => {
      if (running) return;
      running = true;
      job()
        .catch((err: unknown) => o.logger[storeErrorLevel(err)]({ err, job: name }, 'background job failed'))
        .finally(() => (running = false));
    };
  };
  const every = (ms: number, run: () => void) => {
    const timer = setInterval(run, ms);
    timer.unref();
    return timer;
  };

  const retention = single(pruneOnce, 'retention');
  const purge = single(purgeDeletedOnce, 'endpoint-purge');
  const upkeepMs = Math.max(1_000, Math.floor(o.leaseMs / 2));
  const timers = [every(upkeepMs, single(reapOnce, 'lease-reaper')), every(o.pruneEveryMs ?? 60_000, retention), every(upkeepMs, purge)];
  // A purge a stopped process left unfinished goes on now, not a round later.
  purge();
  const { processNotices } = o;
  if (processNotices) {
    timers.push(every(upkeepMs, single(processNotices, 'notices')));
    // What a crash left pending goes out now, not a round later.
    processNotices().catch((err: unknown) => o.logger.error({ err, job: 'notices' }, 'background job failed'));
  }
  if (o.resumeRecovery) timers.push(every(upkeepMs, single(o.resumeRecovery, 'recover-resume')));
  if (o.inboxRetentionMs !== undefined) timers.push(every(o.pruneEveryMs ?? 60_000, single(pruneInboxesOnce, 'inbox-retention')));
  return {
    pruneOnce,
    pruneInboxesOnce,
    purgeDeletedOnce,
    stop() {
      stopped = true;
      for (const t of catchUps.values()) clearTimeout(t);
      for (const t of timers) clearInterval(t);
    },
  };
}
