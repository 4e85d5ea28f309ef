// A limit on failed sign-ins to the admin UI per client address, so the login form cannot be used
// to guess API keys at the speed of the network. Kept in memory, per process: a guesser spread
// over several API processes gets the limit once per process, which still bounds the rate.
import { parseIPv6, unmapIPv4 } from '../net/addresses.js';

export interface SignInLimitOptions {
  /** Failed sign-ins an address may make within `windowMs` before it is refused (0: no limit). */
  readonly failures: number;
  readonly windowMs: number;
  /** Addresses remembered at once, the oldest forgotten first, so memory stays bounded. */
  readonly addresses: number;
}

/** The window of HERALD_UI_SIGN_IN_FAILURES, and how many addresses are remembered. */
export const SIGN_IN_WINDOW = { windowMs: 15 * 60_000, addresses: 10_000 } as const;

/** What a sign-in needs when nothing is limited. */
const UNLIMITED: SignInAttempt = { admitted: true, failed: () => undefined, forget: () => undefined };

interface Burst {
  /** When the window of this address's failures began. */
  since: number;
  failures: number;
  /** Sign-ins admitted and not yet settled: they count, so parallel guesses cannot overrun the limit. */
  pending: number;
  /** Sign-ins refused in this window; the first one is logged. */
  refused: number;
}

/** A sign-in admitted for checking: settle it once its key is known good or bad. */
export interface SignInAttempt {
  readonly admitted: true;
  /** The key was refused: counts against the address. */
  failed(): void;
  /** The key was accepted, or the check could not be made: counts for nothing. */
  forget(): void;
}

export interface SignInRefusal {
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

export class SignInLimit {
  private readonly bursts = new Map<string, Burst>();

  constructor(
    private readonly options: SignInLimitOptions,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Admits a sign-in from `ip` for checking, or refuses it until the address's window ends. */
  admit(ip: string): SignInAttempt | SignInRefusal {
    if (this.options.failures === 0) return UNLIMITED;
    const address = limitedAddress(ip);
    const burst = this.current(address);
    if (burst.failures + burst.pending >= this.options.failures) {
      burst.refused++;
      return { admitted: false, until: burst.since + this.options.windowMs, first: burst.refused === 1, failures: burst.failures };
    }
    burst.pending++;
    let settled = false;
    const settle = (failed: boolean) => {
      if (settled) return;
      settled = true;
      burst.pending--;
      if (failed) burst.failures++;
      // An address with nothing against it is not remembered: successful sign-ins leave no trace.
      else if (burst.failures === 0 && burst.pending === 0 && this.bursts.get(address) === burst) this.bursts.delete(address);
    };
    return { admitted: true, failed: () => settle(true), forget: () => settle(false) };
  }

  /** Addresses remembered now (for tests of the bound). */
  get size(): number {
    return this.bursts.size;
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
    const fresh: Burst = { since: now, failures: 0, pending: 0, refused: 0 };
    this.bursts.set(address, fresh);
    return fresh;
  }
}
