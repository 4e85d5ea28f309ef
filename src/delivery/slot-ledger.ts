// The latest rate-limit slot a dispatcher has reserved, per rate-limit key (`endpoint:…`,
// `account:…`). A delivery whose slot would lie further ahead than a lease can be held goes back
// to the store instead, due when the slots before it are used up.

/** A rate limit a delivery goes out under: its key and its rate per second. */
export interface RateLimitKey {
  readonly key: string;
  readonly rate: number;
}

/** Keys kept at most before those whose slots have passed are dropped. */
const MAX_SLOT_KEYS = 10_000;

export class SlotLedger {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly clock: () => number,
    private readonly maxKeys = MAX_SLOT_KEYS,
  ) {}

  /** When the last slot reserved under any of these limits comes (0: none ahead). */
  reservedUntil(limits: readonly RateLimitKey[]): number {
    let until = 0;
    for (const { key } of limits) until = Math.max(until, this.until.get(key) ?? 0);
    return until;
  }

  /**
   * While the store's answer to a reservation is awaited: counts its slot as one interval after
   * the last (or after `now`), so deliveries begun meanwhile do not all reserve far ahead together.
   */
  expect(limits: readonly RateLimitKey[], now: number): void {
    for (const { key, rate } of limits) this.note([key], Math.max(this.until.get(key) ?? 0, now) + 1000 / rate);
  }

  /** A slot reserved at `at` under each of these keys. */
  note(keys: readonly string[], at: number): void {
    if (this.until.size >= this.maxKeys) {
      const now = this.clock();
      for (const [key, until] of this.until) if (until <= now) this.until.delete(key);
    }
    for (const key of keys) if (at > (this.until.get(key) ?? 0)) this.until.set(key, at);
  }
}
