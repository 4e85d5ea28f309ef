// When a worker thread that stopped on its own (the SQLite store thread, the dispatch thread)
// gets its replacement: 250 ms after the stop, doubling while each thread keeps stopping within
// 30 s of its start, up to 30 s. A thread that ran longer than that starts the count again.

/** A thread that stops sooner than this after its start counts as failing again. */
const STABLE_MS = 30_000;
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 30_000;

export class RestartBackoff {
  private startedAt: number;
  /** Stops in a row, each soon after its start: the pause grows with them. */
  private quickStops = 0;

  constructor(private readonly clock: () => number = Date.now) {
    this.startedAt = clock();
  }

  /** A thread (the first, or a replacement) has just been started. */
  started(): void {
    this.startedAt = this.clock();
  }

  /** The pause before the next start, for the thread that has just stopped. */
  nextDelay(): number {
    this.quickStops = this.clock() - this.startedAt < STABLE_MS ? this.quickStops + 1 : 1;
    return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.quickStops - 1));
  }
}
