// Per-key API rate limiting: a request over the key's rate is refused with 429 and the time
// until it would conform (unlike deliveries, which wait and are never refused).
import type { FastifyRequest } from 'fastify';
import { commitAt, conformingAt, type GcraState } from '../../delivery/rate-limiter.js';
import { ApiError } from './errors.js';

export class ApiRateLimiter {
  private readonly states = new Map<string, GcraState>();
  private lastSweep = 0;

  constructor(
    private readonly ratePerSecond: number,
    /** Requests a key may send at once after being idle. */
    private readonly burst: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Milliseconds until the key may send again; 0 = allowed now (and counted). */
  take(key: string): number {
    const now = this.clock();
    this.sweep(now);
    const state = this.states.get(key);
    const at = conformingAt(state, now, this.ratePerSecond, this.burst);
    if (at > now) return at - now;
    this.states.set(key, commitAt(state, now, this.ratePerSecond));
    return 0;
  }

  /** States of keys idle for a minute carry no debt; dropping them bounds memory. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, state] of this.states) if (state.tat < now) this.states.delete(key);
  }
}

/** onRequest hook, after authentication: one bucket per API key. */
export function limitRequests(limiter: ApiRateLimiter) {
  return async (req: FastifyRequest): Promise<void> => {
    if (!req.principal) return;
    const waitMs = limiter.take(req.principal.keyId);
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError(429, 'rate_limited', `too many requests for this API key; retry after ${seconds} s`, undefined, { 'retry-after': String(seconds) });
    }
  };
}
