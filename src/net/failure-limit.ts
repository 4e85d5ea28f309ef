// A limit on failed authentications per client address: sign-ins to the admin UI, and API
// requests with a key that is not one, so neither can be used to guess keys at the speed of the
// network. Counts are kept in memory; given a shared record (the store), each failure is also
// written there and the count read back, so API processes sharing a database share the limit.
import { parseIPv6, unmapIPv4 } from './addresses.js';

export interface FailureLimitOptions {
  /** Failures an address may make within `windowMs` before it is refused (0: no limit). */
  readonly failures: number;
  readonly windowMs: number;
  /** Addresses remembered at once, the oldest forgotten first, so memory stays bounded. */
  readonly addresses: number;
}

/** The window of HERALD_UI_SIGN_IN_FAILURES and HERALD_API_KEY_FAILURES, and how many addresses are remembered. */
export const FAILURE_WINDOW = { windowMs: 15 * 60_000, addresses: 10_000 } as const;

/** A failure window as recorded where every process sees it. */
export interface SharedFailures {
  /** When the window began (ms since the epoch). */
  readonly since: number;
  readonly failures: number;
}

/** Records one failure of `address` at `now` where all processes count, and answers the count of its window. */
export type FailureRecord = (address: string, now: number) => Promise<SharedFailures>;

/**
 * What an attempt tries (a key's hash): attempts still being checked count against the limit, so
 * guesses sent at once cannot overrun it, but those trying one thing count once, so a client
 * sending many requests at once with its one key is never refused for it.
 */
export type Tried = string;

/** How long an attempt refused only for the others still being checked is asked to wait. */
const IN_FLIGHT_WAIT_MS = 1_000;

/** What an attempt needs when nothing is limited. */
const UNLIMITED: AdmittedAttempt = { admitted: true, failed: async () => undefined, forget: () => undefined };

interface Burst {
  /** When the window of this address's failures began. */
  since: number;
  failures: number;
  /** Attempts admitted and not yet settled, by what they try: each different one counts. */
  readonly pending: Map<Tried | symbol, number>;
  /** Attempts refused in this window; the first one is logged. */
  refused: number;
}

/** An attempt admitted for checking: settle it once its key is known good or bad. */
export interface AdmittedAttempt {
  readonly admitted: true;
  /** The key was refused: counts against the address (here at once, in the shared record once it resolves). */
  failed(): Promise<void>;
  /** The key was accepted, or the check could not be made: counts for nothing. */
  forget(): void;
}

export interface AttemptRefusal {
  readonly admitted: false;
  /** When the address may try again (ms since the epoch). */
  readonly until: number;
  /** The first refusal of this window, the one worth a log line. */
  readonly first: boolean;
  readonly failures: number;
}

/**
 * The address a limit is kept for. IPv6 by its /64: one host is usually given a whole /64, so
 * counting single addresses would let it change address at every guess. An IPv4 address mapped
 * into IPv6 (a dual-stack listener) is the IPv4 address.
 */
export function limitedAddress(ip: string): string {
  const address = unmapIPv4(ip);
  const groups = parseIPv6(address);
  return groups === null ? address : `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

export class FailureLimit {
  private readonly bursts = new Map<string, Burst>();

  constructor(
    private readonly options: FailureLimitOptions,
    private readonly clock: () => number = Date.now,
    /** Where processes sharing a database count together; absent: this process's counts only. */
    private readonly shared?: FailureRecord,
  ) {}

  /**
   * Admits an attempt from `ip` for checking, or refuses it until the address's window ends.
   * `tried`: what it tries; without it, every attempt is a different one.
   */
  admit(ip: string, tried: Tried | symbol = Symbol('attempt')): AdmittedAttempt | AttemptRefusal {
    if (this.options.failures === 0) return UNLIMITED;
    const address = limitedAddress(ip);
    const burst = this.current(address);
    const inFlight = burst.pending.get(tried);
    if (burst.failures >= this.options.failures) {
      burst.refused++;
      return { admitted: false, until: burst.since + this.options.windowMs, first: burst.refused === 1, failures: burst.failures };
    }
    // Refused for the keys still being checked, which may all be good: worth trying again at once.
    if (inFlight === undefined && burst.failures + burst.pending.size >= this.options.failures) {
      return { admitted: false, until: this.clock() + IN_FLIGHT_WAIT_MS, first: false, failures: burst.failures };
    }
    burst.pending.set(tried, (inFlight ?? 0) + 1);
    let settled = false;
    const settle = (failed: boolean) => {
      if (settled) return false;
      settled = true;
      const left = burst.pending.get(tried)! - 1;
      if (left === 0) burst.pending.delete(tried);
      else burst.pending.set(tried, left);
      if (failed) burst.failures++;
      // An address with nothing against it is not remembered: successful attempts leave no trace.
      else if (burst.failures === 0 && burst.pending.size === 0 && this.bursts.get(address) === burst) this.bursts.delete(address);
      return failed;
    };
    return {
      admitted: true,
      failed: async () => {
        if (settle(true)) await this.share(address, burst);
      },
      forget: () => void settle(false),
    };
  }

  /** Addresses remembered now (for tests of the bound). */
  get size(): number {
    return this.bursts.size;
  }

  /**
   * Writes the failure to the shared record and takes the count from there when it is higher:
   * failures made through other processes then count here from this one on.
   */
  private async share(address: string, burst: Burst): Promise<void> {
    if (!this.shared) return;
    const recorded = await this.shared(address, this.clock());
    if (recorded.failures > burst.failures) Object.assign(burst, { since: recorded.since, failures: recorded.failures });
  }

  /** The address's burst, a new window once the last one is over. */
  private current(address: string): Burst {
    const now = this.clock();
    const burst = this.bursts.get(address);
    if (burst) {
      if (now >= burst.since + this.options.windowMs) Object.assign(burst, { since: now, failures: 0, refused: 0 });
      return burst;
    }
    // Full: the oldest address goes. A guesser would need this many addresses to push its own
    // out, and with them it has this many times the limit anyway.
    if (this.bursts.size >= this.options.addresses) this.bursts.delete(this.bursts.keys().next().value!);
    const fresh: Burst = { since: now, failures: 0, pending: new Map(), refused: 0 };
    this.bursts.set(address, fresh);
    return fresh;
  }
}
