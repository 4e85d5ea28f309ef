/**
 * How many requests each endpoint may have in flight at once, and how long its attempts take,
 * learned from its answers.
 *
 * The configured endpoint concurrency is a ceiling, not a starting point: an endpoint starts at
 * a few requests, gains one for every attempt it answers (so a quick one doubles each round
 * trip and reaches the ceiling within a few dozen answers), and halves on every attempt that
 * times out, back down to where it started. A dead endpoint therefore holds a handful of the
 * process's requests, not the ceiling: a few dead endpoints at the ceiling each would fill the
 * process, and every healthy endpoint would wait for their timeouts. It keeps that handful
 * (never one) so its deliveries still go through their retry schedule at a useful pace.
 *
 * The average attempt time (its pace) tells the dispatcher how far ahead an endpoint's work may
 * be claimed, and whether it is slow enough to be held to a share of the process.
 */
export class EndpointWindows {
  private readonly learned = new Map<string, { window: number; paceMs: number }>();

  constructor(
    private readonly ceiling: number,
    private readonly initial: number,
    private readonly remembered = MAX_LEARNED_ENDPOINTS,
  ) {}

  /** Requests the endpoint may have in flight now. */
  of(endpointId: string): number {
    return this.learned.get(endpointId)?.window ?? this.start;
  }

  /** The endpoint's average attempt time (ms); undefined before its first attempt. */
  paceOf(endpointId: string): number | undefined {
    return this.learned.get(endpointId)?.paceMs;
  }

  /** An attempt got an answer (any status) or failed quickly: one more may run at once. */
  answered(endpointId: string, durationMs: number): void {
    const now = this.of(endpointId);
    this.set(endpointId, Math.min(this.ceiling, now + 1), durationMs);
  }

  /** An attempt timed out: half as many may run at once, but no fewer than at the start. */
  timedOut(endpointId: string, durationMs: number): void {
    this.set(endpointId, Math.max(this.start, Math.floor(this.of(endpointId) / 2)), durationMs);
  }

  /** Where every window starts, and the least it falls back to. */
  get start(): number {
    return Math.min(this.initial, this.ceiling);
  }

  private set(endpointId: string, window: number, durationMs: number): void {
    const known = this.learned.get(endpointId);
    // Updated in place: this runs once per attempt.
    if (known) {
      known.window = window;
      known.paceMs += PACE_WEIGHT * (durationMs - known.paceMs);
      return;
    }
    // Forgetting every endpoint at once is cheap and rare: each starts over from the initial window.
    if (this.learned.size >= this.remembered) this.learned.clear();
    this.learned.set(endpointId, { window, paceMs: durationMs });
  }
}

/** Endpoints whose windows and pace are remembered at most (then all start over). */
const MAX_LEARNED_ENDPOINTS = 10_000;

/** Weight of the newest attempt in an endpoint's average attempt time. */
const PACE_WEIGHT = 0.2;
