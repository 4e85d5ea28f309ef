// The lock two threads of one process take turns with before writing the same SQLite file.
// The other thread runs the compiled lock (dist/, built by the suite's global setup).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { WriteLock } from './write-lock.js';

const LOCK_JS = new URL('../../../dist/store/sqlite/write-lock.js', import.meta.url).href;

/** A thread that waits for `go`, then runs the lock once and records when it got in. */
function contender(lock: WriteLock, signals: Int32Array): Worker {
  const code = `
    const { workerData } = require('node:worker_threads');
    import(workerData.lockJs).then(({ WriteLock }) => {
      const lock = new WriteLock(workerData.buffer, workerData.patienceMs);
      const signals = new Int32Array(workerData.signals);
      Atomics.wait(signals, 0, 0);
      lock.run(() => { Atomics.store(signals, 1, 1); Atomics.notify(signals, 1); });
    });`;
  return new Worker(code, { eval: true, workerData: { lockJs: LOCK_JS, buffer: lock.buffer, signals: signals.buffer, patienceMs: 5_000 } });
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Holds the lock while a thread asks for it: the thread must get in only once it is given back, and then at once. */
async function expectTurnsWithAnotherThread(lock: WriteLock): Promise<void> {
  const signals = new Int32Array(new SharedArrayBuffer(8));
  const worker = contender(lock, signals);
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  await new Promise((resolve) => worker.once('online', resolve));
  let inside = -1;
  lock.run(() => {
    // Let the other thread ask for its turn, then hold the lock for a while.
    Atomics.store(signals, 0, 1);
    Atomics.notify(signals, 0);
    sleepSync(200);
    inside = Atomics.load(signals, 1);
  });
  expect(inside).toBe(0);
  const t = Date.now();
  expect(Atomics.wait(signals, 1, 0, 5_000)).not.toBe('timed-out');
  expect(Date.now() - t).toBeLessThan(1_000);
  await exited;
}

describe('WriteLock', () => {
  it('keeps a second thread out until the holder is done, then lets it in at once', async () => {
    await expectTurnsWithAnotherThread(new WriteLock());
  });

  it('passes over a holder that never gives its turn back, after its patience', () => {
    const lock = new WriteLock(undefined, 100);
    // A ticket taken and never released: what a thread that died holding the lock leaves.
    Atomics.add(new Int32Array(lock.buffer), 0, 1);
    const t = Date.now();
    expect(lock.run(() => 'written')).toBe('written');
    expect(Date.now() - t).toBeGreaterThanOrEqual(90);
    // The turn moved on for good: the next writer gets in at once.
    const t2 = Date.now();
    lock.run(() => undefined);
    expect(Date.now() - t2).toBeLessThan(50);
  });

  it('still keeps writers apart after passing over a holder that gave its turn back late', async () => {
    const lock = new WriteLock(undefined, 100);
    lock.run(() => {
      // A writer asking while the holder keeps its turn past the patience gets in without it.
      const t = Date.now();
      expect(new WriteLock(lock.buffer, 100).run(() => 'written')).toBe('written');
      expect(Date.now() - t).toBeGreaterThanOrEqual(90);
    });
    // The holder gave back a turn it no longer had: that moved nothing.
    const [next, serving] = new Int32Array(lock.buffer);
    expect(serving).toBe(next);
    await expectTurnsWithAnotherThread(lock);
  });

  it('gives the turn back when the writer throws', () => {
    const lock = new WriteLock(undefined, 5_000);
    expect(() => lock.run(() => { throw new Error('SQLITE_FULL'); })).toThrow('SQLITE_FULL');
    const t = Date.now();
    lock.run(() => undefined);
    expect(Date.now() - t).toBeLessThan(50);
  });
});

/** A thread that takes the lock, says so (signals[0] = 1), holds it `ms`, and says when it lets go (signals[1] = 1). */
function holder(lock: WriteLock, signals: Int32Array, ms: number): Worker {
  const code = `
    const { workerData } = require('node:worker_threads');
    import(workerData.lockJs).then(({ WriteLock }) => {
      const lock = new WriteLock(workerData.buffer, 5_000);
      const signals = new Int32Array(workerData.signals);
      lock.run(() => {
        Atomics.store(signals, 0, 1);
        Atomics.notify(signals, 0);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.ms);
        Atomics.store(signals, 1, 1);
      });
    });`;
  return new Worker(code, { eval: true, workerData: { lockJs: LOCK_JS, buffer: lock.buffer, signals: signals.buffer, ms } });
}

async function heldElsewhere(lock: WriteLock, ms: number): Promise<{ signals: Int32Array; exited: Promise<unknown> }> {
  const signals = new Int32Array(new SharedArrayBuffer(8));
  const worker = holder(lock, signals, ms);
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const taken = Atomics.waitAsync(signals, 0, 0, 5_000);
  if (taken.async) expect(await taken.value).toBe('ok');
  return { signals, exited };
}

describe('WriteLock.runAsync', () => {
  it('waits for its turn without blocking the event loop, and writes only once the holder is done', async () => {
    const lock = new WriteLock();
    const { signals, exited } = await heldElsewhere(lock, 300);
    const events: string[] = [];
    setTimeout(() => events.push('timer'), 20);
    const written = lock.runAsync(() => {
      events.push(Atomics.load(signals, 1) === 1 ? 'written after the holder' : 'written while held');
      return 'done';
    });
    expect(await written).toBe('done');
    expect(events).toEqual(['timer', 'written after the holder']);
    await exited;
  });

  it('lets a blocking write of the same thread through while its own ticket waits, instead of waiting for itself', async () => {
    const lock = new WriteLock(undefined, 5_000);
    const { exited } = await heldElsewhere(lock, 300);
    const queued = lock.runAsync(() => 'queued');
    const t = Date.now();
    expect(lock.run(() => 'blocking')).toBe('blocking');
    expect(Date.now() - t).toBeLessThan(200);
    expect(await queued).toBe('queued');
    await exited;
    // Both gave their turns back: a writer gets in at once.
    const t2 = Date.now();
    lock.run(() => undefined);
    expect(Date.now() - t2).toBeLessThan(50);
  });

  it('runs a nested write inside its turn without another ticket, and hands the turn on when fn throws', async () => {
    const lock = new WriteLock(undefined, 5_000);
    expect(await lock.runAsync(() => lock.run(() => 'nested'))).toBe('nested');
    await expect(lock.runAsync(() => { throw new Error('SQLITE_FULL'); })).rejects.toThrow('SQLITE_FULL');
    const [next, serving] = new Int32Array(lock.buffer);
    expect(serving).toBe(next);
  });
});
