import { afterEach, describe, expect, it } from 'vitest';
import type { Settlement } from '../store/contract.js';
import { SettlementQueue, type SettlementQueueDeps } from './settlement-queue.js';

function succeeded(id: string): Settlement {
  return {
    deliveryId: id,
    owner: 'w1',
    endpointId: 'ep_1',
    accountId: 'acc_1',
    claimNo: 1,
    outcome: 'succeeded',
    attempt: { attemptNo: 1, startedAt: 1_000, durationMs: 3, statusCode: 200, errorKind: null, errorMessage: null, requestHeaders: {}, responseBody: null },
  } as Settlement;
}

function release(id: string, at: number): Settlement {
  return { deliveryId: id, owner: 'w1', endpointId: 'ep_1', outcome: 'release', nextAttemptAt: at, claimNo: 1 };
}

/** A queue over a settle that records each batch; `refuse` makes the next writes throw. */
function harness(batchSize: number) {
  const batches: string[][] = [];
  const failures: string[] = [];
  let due = 0;
  let refuse = 0;
  let gate: Promise<void> | null = null;
  const deps: SettlementQueueDeps = {
    async settle(s) {
      if (gate) await gate;
      if (refuse > 0) {
        refuse--;
        throw new Error('store unavailable');
      }
      batches.push(s.map((x) => `${x.deliveryId}:${x.outcome === 'release' ? x.nextAttemptAt : x.outcome}`));
    },
    refused: () => {},
    due: () => due++,
    fail: (stage, err) => failures.push(`${stage}: ${(err as Error).message}`),
    wait: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))),
    keepTrying: () => true,
    clock: Date.now,
  };
  const queue = new SettlementQueue(deps, batchSize);
  return {
    queue,
    batches,
    failures,
    due: () => due,
    refuseNext: (n: number) => (refuse = n),
    hold: () => {
      let open!: () => void;
      gate = new Promise((r) => (open = r));
      return () => {
        gate = null;
        open();
      };
    },
  };
}

let queues: SettlementQueue[] = [];
afterEach(async () => {
  await Promise.all(queues.map((q) => q.flush()));
  queues = [];
});

describe('SettlementQueue', () => {
  it('writes at once when the queue reaches the batch size, without waiting for its delay', async () => {
    const h = harness(3);
    queues.push(h.queue);
    for (const id of ['a', 'b']) h.queue.push(succeeded(id), undefined, 60_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.batches).toEqual([]);
    h.queue.push(succeeded('c'), undefined, 60_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.batches).toEqual([['a:succeeded', 'b:succeeded', 'c:succeeded']]);
  });

  it('keeps to the earliest delay asked for: a short one is not held back by a long one before it', async () => {
    const h = harness(100);
    queues.push(h.queue);
    h.queue.push(succeeded('slow'), undefined, 60_000);
    h.queue.push(succeeded('chained'), undefined, 5);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.batches).toEqual([['slow:succeeded', 'chained:succeeded']]);
  });

  it('runs a settlement’s hook only after its batch is written, and says when releases may be due', async () => {
    const h = harness(100);
    queues.push(h.queue);
    const seen: number[] = [];
    h.queue.push(release('r', 1234.4), () => seen.push(h.batches.length), 1);
    await h.queue.flush();
    // Whole milliseconds reach the store.
    expect(h.batches).toEqual([['r:1235']]);
    expect(seen).toEqual([1]);
    expect(h.due()).toBe(1);
  });

  it('counts a batch being written as unwritten, so its leases are kept until it is', async () => {
    const h = harness(100);
    queues.push(h.queue);
    const open = h.hold();
    h.queue.push(succeeded('a'), undefined, 1);
    await new Promise((r) => setTimeout(r, 20));
    h.queue.push(succeeded('b'), undefined, 60_000);
    try {
      expect([...h.queue.unwritten()].map((s) => s.deliveryId)).toEqual(['a', 'b']);
      expect(h.queue.size).toBe(1);
    } finally {
      open();
    }
    await h.queue.flush();
    expect([...h.queue.unwritten()]).toEqual([]);
    expect(h.batches).toEqual([['a:succeeded'], ['b:succeeded']]);
  });

  it('keeps a batch the store refuses and writes it, in order, once the store takes writes again', async () => {
    const h = harness(100);
    queues.push(h.queue);
    // The store is down: the batch, each settlement alone and each again without its details all fail.
    h.refuseNext(5);
    h.queue.push(succeeded('a'), undefined, 1);
    h.queue.push(succeeded('b'), undefined, 1);
    await h.queue.flush();
    expect(h.batches).toEqual([['a:succeeded', 'b:succeeded']]);
    expect(h.failures).toEqual(['settle: store unavailable']);
  });

  it('splits a refused batch to write each of its settlements alone', async () => {
    const h = harness(100);
    queues.push(h.queue);
    h.refuseNext(1);
    h.queue.push(succeeded('a'), undefined, 1);
    h.queue.push(succeeded('b'), undefined, 1);
    await h.queue.flush();
    expect(h.batches).toEqual([['a:succeeded'], ['b:succeeded']]);
  });
});
