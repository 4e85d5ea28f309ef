// A dispatcher's outcomes on their way to the store. They are written in batches (one write
// transaction each, where one per delivery would cost a commit each), in order, one batch at a
// time; a batch the store refuses is kept and tried again, or split to find the settlement it
// refuses, so that no attempt made is forgotten while its delivery stays leased.
import type { AttemptInput, Settlement } from '../store/contract.js';
import { diskRefusal } from '../store/unavailable.js';

export interface SettlementQueueDeps {
  /** Writes the settlements; may answer the ids of those the store did not apply (lease lost). */
  settle(settlements: readonly Settlement[]): Promise<readonly string[] | void>;
  /** The ids the store did not apply, from each write. */
  refused(ids: readonly string[] | void): void;
  /** A batch written had retries or releases: they may be due before the dispatcher's idle wait ends. */
  due(): void;
  fail(stage: string, err: unknown): void;
  /** Waits before a refused batch is tried again; the dispatcher may end the wait early. */
  wait(ms: number): Promise<void>;
  /** Whether a refused batch is still worth trying again: not once the dispatcher stopped with nothing running. */
  keepTrying(): boolean;
  readonly clock: () => number;
}

export class SettlementQueue {
  private queue: Settlement[] = [];
  /** The batch being written now (and, after a failed write, one at a time): still leased to us. */
  private writing: readonly Settlement[] = [];
  /** Hooks that must see the settlement committed first (e.g. raising an exhausted event). */
  private after: (() => void)[] = [];
  /** When a failed batch was last written one settlement at a time (see writeEach). */
  private writtenEachAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private dueAt = Number.POSITIVE_INFINITY;
  private chain: Promise<void> = Promise.resolve();

  /** `batchSize`: a queue this long is written at once, without waiting for its delay. */
  constructor(
    private readonly deps: SettlementQueueDeps,
    private readonly batchSize: number,
  ) {}

  /** Settlements queued and not yet being written. */
  get size(): number {
    return this.queue.length;
  }

  /** Every settlement not yet written: their deliveries' leases must be kept. */
  *unwritten(): Iterable<Settlement> {
    yield* this.writing;
    yield* this.queue;
  }

  /** Queues a settlement to be written within `delayMs`, then `after` run. */
  push(s: Settlement, after: (() => void) | undefined, delayMs: number): void {
    this.queue.push(inWholeMs(s));
    if (after) this.after.push(after);
    if (this.queue.length >= this.batchSize) {
      void this.flush();
      return;
    }
    // The earliest wait asked for wins: a chain's next link is not held back by the batch.
    const dueAt = this.deps.clock() + delayMs;
    if (this.timer && dueAt >= this.dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = dueAt;
    this.timer = setTimeout(() => void this.flush(), delayMs);
  }

  /** Writes what is queued; resolves once it and every batch before it are written or given up. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.dueAt = Number.POSITIVE_INFINITY;
    }
    this.chain = this.chain.then(() => this.writeAll());
    return this.chain;
  }

  private async writeAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      const after = this.after;
      this.queue = [];
      this.after = [];
      this.writing = batch;
      try {
        this.deps.refused(await this.deps.settle(batch));
        this.writing = [];
        for (const hook of after) hook();
        if (batch.some((s) => s.outcome === 'retry' || s.outcome === 'release')) this.deps.due();
      } catch (err) {
        this.deps.fail('settle', err);
        const kept = this.deps.clock() - this.writtenEachAt >= WRITE_EACH_EVERY_MS ? await this.writeEach(batch) : undefined;
        // Written, dropped (its lease runs out and it goes out again) or back in the queue.
        this.writing = [];
        if (kept) {
          // Hooks only look the outcomes up: one kept meanwhile is found by the next sweep.
          for (const hook of after) hook();
          this.deps.due();
          if (kept.length === 0) continue;
        } else this.after = after.concat(this.after);
        // Keep them: an unsettled delivery stays leased (renewed) and is retried after the
        // lease expires at worst, but try again first: the store may be briefly unavailable.
        this.queue = (kept ?? batch).concat(this.queue);
        await this.deps.wait(250);
        if (!this.deps.keepTrying()) return;
      }
    }
  }

  /**
   * After a batch failed: writes its settlements one at a time. One the store refuses alone is
   * refused for what it holds, most likely its attempt's text (a receiver's answer): it is written
   * again with an attempt that keeps only what Herald made (status, error kind, timing) and says
   * why the rest is missing, and the error is reported once. Dropping it instead would leave its
   * delivery leased, to go out again at each lease expiry with nothing recorded, never exhausted.
   * One refused by the disk (full, failing: room for smaller writes only) is not refused for what
   * it holds: it is kept as it is, details and hand-backs included, and returned to be tried again.
   * When some are written the store is up, and those still refused (a release, or a settlement
   * refused even so) are dropped (reported), not kept to fail every later batch; their deliveries
   * go out again once their leases expire. Undefined, and nothing dropped, when none could be
   * written (the store is down).
   */
  private async writeEach(batch: readonly Settlement[]): Promise<Settlement[] | undefined> {
    this.writtenEachAt = this.deps.clock();
    const refused: [Settlement, unknown][] = [];
    const kept: Settlement[] = [];
    let written = 0;
    for (const s of batch) {
      try {
        this.deps.refused(await this.deps.settle([s]));
        written++;
        continue;
      } catch (err) {
        if (diskRefusal(err) !== undefined) {
          kept.push(s);
          continue;
        }
        if (s.outcome === 'release') {
          refused.push([s, err]);
          continue;
        }
        try {
          this.deps.refused(await this.deps.settle([{ ...s, attempt: withoutDetails(s.attempt) }]));
          written++;
          this.deps.fail('settle', new Error(`settlement of ${s.deliveryId} (${s.outcome}) written without its attempt's details: ${err instanceof Error ? err.message : String(err)}`));
        } catch {
          refused.push([s, err]);
        }
      }
    }
    if (written === 0) return undefined;
    for (const [s, err] of refused) this.deps.fail('settle', new Error(`settlement of ${s.deliveryId} (${s.outcome}) dropped: ${err instanceof Error ? err.message : String(err)}`));
    return kept;
  }
}

/**
 * A failed batch is split at most this often: while the store is down every split write fails
 * too (and its retry without details), and a batch of 128 would cost 256 failing calls every
 * 250 ms. A lone settlement is split too: it may be the one refused for what it holds.
 */
const WRITE_EACH_EVERY_MS = 10_000;

/** An attempt as recorded when the store refused it as it was: nothing of the receiver's text. */
function withoutDetails(attempt: AttemptInput): AttemptInput {
  return {
    ...attempt,
    errorMessage: 'Herald could not record the details of this attempt (the store refused them; the log has it under this delivery id)',
    requestHeaders: {},
    responseBody: null,
  };
}

/**
 * Slot times fall between milliseconds (1000 / rate); the stores keep whole ones, and PostgreSQL
 * refuses a fraction in a bigint, which would fail every settlement of the batch.
 */
function inWholeMs(s: Settlement): Settlement {
  if ((s.outcome !== 'retry' && s.outcome !== 'release') || Number.isInteger(s.nextAttemptAt)) return s;
  return { ...s, nextAttemptAt: Math.ceil(s.nextAttemptAt) };
}
