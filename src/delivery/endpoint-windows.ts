/**
 * How many requests each endpoint may have in flight at once, learned from its answers.
 *
 * The configured endpoint concurrency is a ceiling, not a starting point: an endpoint starts at
 * a few requests, gains one for every attempt it answers (so a quick one doubles each round
 * trip and reaches the ceiling within a few dozen answers), and halves on every attempt that
 * times out, back down to where it started. A dead endpoint therefore holds a handful of the
 * process's requests, not the ceiling: a few dead endpoints at the ceiling each would fill the
 * process, and every healthy endpoint would wait for their timeouts. It keeps that handful
 * (never one) so its deliveries still go through their retry schedule at a useful pace.
 */
export class EndpointWindows {
  private readonly windows = new Map<string, number>();

  constructor(
    private readonly ceiling: number,
    private readonly initial: number,
    private readonly remembered = 10_000,
  ) {}

  /** Requests the endpoint may have in flight now. */
  of(endpointId: string): number {
    return this.windows.get(endpointId) ?? this.start;
  }

  /** An attempt got an answer (any status) or failed quickly: one more may run at once. */
  answered(endpointId: string): void {
    const now = this.of(endpointId);
    if (now < this.ceiling) this.set(endpointId, now + 1);
  }

  /** An attempt timed out: half as many may run at once, but no fewer than at the start. */
  timedOut(endpointId: string): void {
    this.set(endpointId, Math.max(this.start, Math.floor(this.of(endpointId) / 2)));
  }

  /** Where every window starts, and the least it falls back to. */
  get start(): number {
    return Math.min(this.initial, this.ceiling);
  }

  private set(endpointId: string, window: number): void {
    // Forgetting every endpoint at once is cheap and rare: each starts over from the initial window.
    if (!this.windows.has(endpointId) && this.windows.size >= this.remembered) this.windows.clear();
    this.windows.set(endpointId, window);
  }
}
