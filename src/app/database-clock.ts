// One timeline for every process sharing a PostgreSQL database. A lease is a time written by
// one host and compared with another's, and so are due times and rate-limit slots: hosts whose
// clocks disagree by more than two thirds of a lease would take each other's live deliveries
// and send them twice. So each process runs on the database server's clock: its own clock plus
// the offset to the server's, measured at start and again every minute.
import type { Logger } from 'pino';

/** The database server's time in epoch milliseconds, read in one round trip. */
export type ReadServerTime = () => Promise<number>;

const RESYNC_MS = 60_000;
const SAMPLES = 3;
/** Offsets that move by less than this are round-trip noise: the clock keeps its old one. */
const JITTER_MS = 20;
/** An offset beyond this is worth a line in the log: the host's clock is off. */
const WARN_MS = 1_000;

export class DatabaseClock {
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly readServerTime: ReadServerTime,
    private readonly logger: Logger,
    private readonly local: () => number = Date.now,
  ) {}

  /** The current time on the database's timeline. */
  readonly now = (): number => this.local() + this.offsetMs;

  get offset(): number {
    return this.offsetMs;
  }

  /** Measures the offset (the first time, failing if the database does not answer), then keeps it current. */
  async start(): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => {
      this.sync().catch((err: unknown) => this.logger.warn({ err }, 'could not read the database clock; keeping the last offset'));
    }, RESYNC_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * The server's time is taken as read halfway through the round trip, from the quickest of a
   * few reads: the first read of a pool also opens its connection.
   */
  async sync(): Promise<void> {
    let best: { offset: number; roundTrip: number } | undefined;
    for (let i = 0; i < SAMPLES; i++) {
      const sent = this.local();
      const server = await this.readServerTime();
      const received = this.local();
      if (best === undefined || received - sent < best.roundTrip) best = { offset: Math.round(server - (sent + received) / 2), roundTrip: received - sent };
    }
    const { offset } = best!;
    if (Math.abs(offset - this.offsetMs) < JITTER_MS) return;
    if (Math.abs(offset) >= WARN_MS) {
      this.logger.warn({ offsetMs: offset }, "this host's clock is off the database server's; Herald keeps the database's time");
    }
    this.offsetMs = offset;
  }
}
