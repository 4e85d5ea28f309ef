import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Store } from '../store/contract.js';
import { startJobs } from './jobs.js';

describe('background jobs', () => {
  it('prunes in bounded batches until a batch comes back short, at the retention cut-off', async () => {
    const calls: { before: number; limit: number }[] = [];
    const batches = [100, 100, 37];
    const store = {
      prune: async (before: number, limit: number) => {
        calls.push({ before, limit });
        return { deliveries: batches.shift() ?? 0, events: 0 };
      },
      releaseLeases: async () => 0,
    } as unknown as Store;
    const jobs = startJobs({ store, logger: pino({ level: 'silent' }), clock: () => 1_000_000, leaseMs: 60_000, retentionMs: 400_000, pruneBatch: 100 });
    const total = await jobs.pruneOnce();
    jobs.stop();
    expect(total).toEqual({ deliveries: 237, events: 0 });
    expect(calls).toEqual([
      { before: 600_000, limit: 100 },
      { before: 600_000, limit: 100 },
      { before: 600_000, limit: 100 },
    ]);
  });
});
