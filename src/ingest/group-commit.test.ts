import { describe, expect, it } from 'vitest';
import { OutcomeUnknownError } from '../store/unavailable.js';
import { GroupCommitter } from './group-commit.js';

/** A commit that finishes only when the test says so, recording the batches it was handed. */
function gatedCommit() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const commit = (items: number[]) => {
    batches.push(items);
    return new Promise<number[]>((resolve) => gates.push(() => resolve(items.map((i) => i * 10))));
  };
  return { batches, gates, commit };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommitter', () => {
  it('joins what arrives during a commit into the next batch and answers each caller with its own items', async () => {
    const g = gatedCommit();
    const gc = new GroupCommitter<number, number>(g.commit);
    const a = gc.submit([1, 2]);
    await tick();
    const b = gc.submit([3]);
    const c = gc.submit([4, 5]);
    await tick();
    expect(g.batches).toEqual([[1, 2]]);
    g.gates.shift()!();
    expect(await a).toEqual([10, 20]);
    await tick();
    expect(g.batches).toEqual([[1, 2], [3, 4, 5]]);
    g.gates.shift()!();
    expect(await b).toEqual([30]);
    expect(await c).toEqual([40, 50]);
  });

  it('counts the items of a batch being committed as waiting until its commit settles', async () => {
    const g = gatedCommit();
    const gc = new GroupCommitter<number, number>(g.commit);
    const a = gc.submit([1, 2]);
    await tick();
    expect(g.batches).toEqual([[1, 2]]);
    expect(gc.status()).toMatchObject({ flushing: true, queuedItems: 2 });
    const b = gc.submit([3]);
    expect(gc.status().queuedItems).toBe(3);
    g.gates.shift()!();
    await a;
    await tick();
    expect(gc.status().queuedItems).toBe(1);
    g.gates.shift()!();
    await b;
    await tick();
    expect(gc.status()).toMatchObject({ flushing: false, queuedItems: 0 });
  });

  it('hands over a second batch before the first is committed when two may be in flight', async () => {
    const g = gatedCommit();
    const gc = new GroupCommitter<number, number>(g.commit, 5_000, 2);
    const a = gc.submit([1]);
    await tick();
    const b = gc.submit([2]);
    await tick();
    const c = gc.submit([3]);
    await tick();
    expect(g.batches).toEqual([[1], [2]]);
    expect(gc.status()).toMatchObject({ flushing: true, queuedItems: 3 });
    g.gates.shift()!();
    g.gates.shift()!();
    expect(await a).toEqual([10]);
    expect(await b).toEqual([20]);
    await tick();
    expect(g.batches).toEqual([[1], [2], [3]]);
    g.gates.shift()!();
    expect(await c).toEqual([30]);
  });

  it('after a failed batch, commits its requests one by one: only the one the store refuses fails', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number, number>(async (items) => {
      batches.push(items);
      if (items.includes(13)) throw new Error('invalid byte sequence for encoding "UTF8": 0x00');
      return items.map((i) => i * 10);
    });
    const outcomes = await Promise.allSettled([gc.submit([1, 2]), gc.submit([13]), gc.submit([3])]);
    expect(batches).toEqual([[1, 2, 13, 3], [1, 2], [13], [3]]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([[10, 20], 'invalid byte sequence for encoding "UTF8": 0x00', [30]]);
  });

  it('when the store fails every request, stops trying after two in a row and fails the rest', async () => {
    let calls = 0;
    const gc = new GroupCommitter<number, number>(async () => {
      calls++;
      throw new Error('connection refused');
    });
    const outcomes = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => gc.submit([i])));
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(calls).toBe(3);
  });

  it('does not commit again, request by request, a batch the store may have committed: every caller learns the outcome is unknown', async () => {
    const stopped = new OutcomeUnknownError(new Error('the SQLite store thread stopped (exit code 7)'));
    let calls = 0;
    const gc = new GroupCommitter<number, number>(async () => {
      calls++;
      throw stopped;
    });
    const outcomes = await Promise.allSettled([gc.submit([1]), gc.submit([2]), gc.submit([3])]);
    expect(outcomes.map((o) => o.status === 'rejected' && o.reason)).toEqual([stopped, stopped, stopped]);
    expect(calls).toBe(1);
  });
});
