import { describe, expect, it } from 'vitest';
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
    expect(gc.status()).toMatchObject({ flushing: true, queuedItems: 1 });
    g.gates.shift()!();
    g.gates.shift()!();
    expect(await a).toEqual([10]);
    expect(await b).toEqual([20]);
    await tick();
    expect(g.batches).toEqual([[1], [2], [3]]);
    g.gates.shift()!();
    expect(await c).toEqual([30]);
  });
});
