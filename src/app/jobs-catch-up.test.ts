import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Store } from '../store/contract.js';
import { startJobs } from './jobs.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('retention job pacing', () => {
  it('a pass that spends its budget with batches still full is followed by the next one shortly, not a period later', async () => {
    // Only Date is faked: every batch "takes" 3 s, past a pass's budget, while timers run for real.
    vi.useFakeTimers({ toFake: ['Date'] });
    let left = 5;
    let calls = 0;
    const store = {
      prune: async () => {
        calls++;
        vi.setSystemTime(Date.now() + 3_000);
        const n = left-- > 0 ? 100 : 0;
        return { deliveries: n, events: n };
      },
      releaseLeases: async () => 0,
    } as unknown as Store;
    const jobs = startJobs({ store, logger: pino({ level: 'silent' }), clock: () => 1_000_000, leaseMs: 600_000, retentionMs: 1, pruneBatch: 100, pruneEveryMs: 3_600_000 });
    try {
      expect(await jobs.pruneOnce()).toEqual({ deliveries: 100, events: 100 });
      // Five full batches and the short one that ends the backlog, one per pass.
      await vi.waitFor(() => expect(calls).toBe(6), { timeout: 15_000, interval: 50 });
    } finally {
      jobs.stop();
    }
  }, 20_000);
});
