// Group commit: requests that arrive while the event loop is busy join one batch, so one
// transaction (and one fsync) serves many requests. Each caller still waits for the commit
// of its own items before it answers.
import { OutcomeUnknownError } from '../store/unavailable.js';

interface Pending<I, O> {
  readonly items: readonly I[];
  readonly resolve: (out: O[]) => void;
  readonly reject: (err: unknown) => void;
}

export interface GroupCommitStatus {
  /** Items not committed yet: queued, or in a batch being committed. */
  readonly queuedItems: number;
  readonly flushing: boolean;
  readonly batches: number;
  readonly lastBatchSize: number;
}

export class GroupCommitter<I, O> {
  private queue: Pending<I, O>[] = [];
  /** Counted until their batch's commit has settled: those are still waiting for it too. */
  private queuedItems = 0;
  /** Batches handed to the store and not yet committed. */
  private inFlight = 0;
  private scheduled = false;
  private batches = 0;
  private lastBatchSize = 0;

  constructor(
    private readonly commit: (items: I[]) => Promise<O[]>,
    private readonly maxBatchItems: number = 5_000,
    /**
     * Batches that may be committing at once. A store on another thread commits them in order;
     * handing it the next batch before the last one's answer is back keeps it from idling.
     */
    private readonly maxInFlight: number = 1,
  ) {}

  submit(items: readonly I[]): Promise<O[]> {
    return new Promise<O[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queuedItems += items.length;
      this.schedule();
    });
  }

  status(): GroupCommitStatus {
    return { queuedItems: this.queuedItems, flushing: this.inFlight > 0, batches: this.batches, lastBatchSize: this.lastBatchSize };
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private take(): Pending<I, O>[] {
    const taken: Pending<I, O>[] = [];
    let count = 0;
    while (this.queue.length > 0 && (taken.length === 0 || count + this.queue[0].items.length <= this.maxBatchItems)) {
      const next = this.queue.shift()!;
      count += next.items.length;
      taken.push(next);
    }
    return taken;
  }

  /**
   * After a failed batch, commits its requests one at a time, so a request the store refuses (a
   * value it cannot hold) fails alone instead of every request, of any account, that shared its
   * commit. Two failing in a row mean the store itself is failing: the rest fail without a try.
   */
  private async commitEach(batch: readonly Pending<I, O>[]): Promise<void> {
    let failedInRow = 0;
    let last: unknown;
    for (const p of batch) {
      if (failedInRow >= 2) {
        p.reject(last);
        continue;
      }
      try {
        p.resolve(await this.commit([...p.items]));
        this.batches++;
        failedInRow = 0;
      } catch (err) {
        last = err;
        failedInRow++;
        p.reject(err);
      }
    }
  }

  private async flush(): Promise<void> {
    if (this.queue.length === 0) return;
    this.inFlight++;
    const batch = this.take();
    const items = batch.flatMap((p) => p.items);
    try {
      const out = await this.commit(items);
      this.batches++;
      this.lastBatchSize = items.length;
      let offset = 0;
      for (const p of batch) {
        p.resolve(out.slice(offset, offset + p.items.length));
        offset += p.items.length;
      }
    } catch (err) {
      // A batch the store may have committed is not committed again request by request: a
      // retry would either fail on what is already stored or be answered as if nothing had
      // been. Its callers all learn that the outcome is unknown.
      if (batch.length > 1 && !(err instanceof OutcomeUnknownError)) await this.commitEach(batch);
      else for (const p of batch) p.reject(err);
    } finally {
      this.queuedItems -= items.length;
      this.inFlight--;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
