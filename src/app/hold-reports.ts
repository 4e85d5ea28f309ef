/** Changes are gathered this long: the limits move with every answer, the main thread needs a rough figure. */
const REPORT_INTERVAL_MS = 50;

/**
 * The dispatch thread's side of its endpoints' hold limits (Dispatcher.holdLimits): the main
 * thread hands an endpoint at most that many deliveries of an ingest commit. Without them it
 * can give each one only a round of the endpoint concurrency, which a quick endpoint gets
 * through long before the next commit comes. Only limits above that round are reported (an
 * endpoint that has not answered yet, or a slow one, gets a round as before), and the whole
 * set goes each time, so the main thread keeps no endpoint the thread no longer holds work for.
 */
export class HoldReports {
  private last: ReadonlyMap<string, number> = new Map();
  private lastAt = Number.NEGATIVE_INFINITY;
  private trailing: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: () => ReadonlyMap<string, number>,
    /** A round: limits at or below it are not reported. */
    private readonly round: number,
    private readonly post: (limits: [string, number][]) => void,
  ) {}

  /**
   * Called as the dispatcher's room changes: posts the limits if they changed since the last
   * post, or, within REPORT_INTERVAL_MS of it, once that interval is over.
   */
  changed(): void {
    const now = Date.now();
    const wait = this.lastAt + REPORT_INTERVAL_MS - now;
    if (wait > 0) {
      this.trailing ??= setTimeout(() => {
        this.trailing = undefined;
        this.changed();
      }, wait).unref();
      return;
    }
    this.lastAt = now;
    const current = new Map([...this.limits()].filter(([, limit]) => limit > this.round));
    if (sameLimits(current, this.last)) return;
    this.last = current;
    this.post([...current]);
  }

  stop(): void {
    clearTimeout(this.trailing);
  }
}

function sameLimits(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, limit] of a) if (b.get(id) !== limit) return false;
  return true;
}
