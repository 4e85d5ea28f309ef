// Turns at writing one SQLite file, for the threads of one process that each hold a connection
// to it (the main thread and the dispatch thread). SQLite lets one writer in at a time and makes
// the others poll, sleeping 1, 2, 5, 10 … 100 ms between tries: against a thread committing a
// thousand single events a second, the dispatch thread's claims waited up to a second. Taking
// a ticket here first hands the turn over in arrival order, the moment the holder is done.
//
// The lock only orders writers; SQLite's own lock still guarantees correctness. So a holder
// that keeps its turn too long (or died holding it) is passed over, and the waiter falls back
// to SQLite's busy handling rather than waiting forever.

const NEXT = 0;
const SERVING = 1;

export class WriteLock {
  private readonly cells: Int32Array;

  /** `buffer`: the shared memory of a lock created on another thread; a new lock by default. */
  constructor(
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT),
    private readonly patienceMs = 5_000,
  ) {
    this.cells = new Int32Array(buffer);
  }

  /** Tickets this thread took with runAsync() and is waiting on. */
  private queued = 0;
  /** Whether this thread is inside its turn now (in runAsync's fn). */
  private inTurn = false;

  /** Runs fn as the only writer among the lock's users (blocking this thread until its turn). */
  run<T>(fn: () => T): T {
    // Inside its own turn already; or behind a ticket of its own that only this thread's event
    // loop can take up, which blocking here would wait for: SQLite's lock keeps writers apart.
    if (this.inTurn || this.queued > 0) return fn();
    const ticket = Atomics.add(this.cells, NEXT, 1);
    this.waitFor(ticket);
    try {
      return fn();
    } finally {
      this.handOn(ticket);
    }
  }

  /**
   * Runs fn as the only writer, waiting for the turn without blocking this thread: a thread that
   * sends requests goes on taking their answers while the other commits. fn runs synchronously
   * in the turn (a store call whose writes happen before its first await), and the turn is
   * handed on as soon as it returns.
   */
  async runAsync<T>(fn: () => T): Promise<T> {
    if (this.inTurn) return fn();
    const ticket = Atomics.add(this.cells, NEXT, 1);
    this.queued++;
    try {
      await this.waitForAsync(ticket);
    } finally {
      this.queued--;
    }
    this.inTurn = true;
    try {
      return fn();
    } finally {
      this.inTurn = false;
      this.handOn(ticket);
    }
  }

  private handOn(ticket: number): void {
    // Hands the turn on only if it is still this ticket's: a holder passed over meanwhile has
    // no turn left to give, and moving SERVING again would put it ahead of NEXT for good.
    if (Atomics.compareExchange(this.cells, SERVING, ticket, ticket + 1) === ticket) Atomics.notify(this.cells, SERVING);
  }

  private async waitForAsync(ticket: number): Promise<void> {
    for (;;) {
      const serving = Atomics.load(this.cells, SERVING);
      if (((serving - ticket) | 0) >= 0) return;
      const waiting = Atomics.waitAsync(this.cells, SERVING, serving, this.patienceMs);
      const outcome = waiting.async ? await waiting.value : waiting.value;
      if (outcome === 'timed-out') Atomics.compareExchange(this.cells, SERVING, serving, serving + 1);
    }
  }

  private waitFor(ticket: number): void {
    for (;;) {
      const serving = Atomics.load(this.cells, SERVING);
      // Its turn, or past it (this thread was itself passed over before it woke).
      if (((serving - ticket) | 0) >= 0) return;
      if (Atomics.wait(this.cells, SERVING, serving, this.patienceMs) === 'timed-out') {
        // The turn did not move for the whole wait: skip the holder (counters wrap together).
        Atomics.compareExchange(this.cells, SERVING, serving, serving + 1);
      }
    }
  }
}
