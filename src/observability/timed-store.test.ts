import { describe, expect, it } from 'vitest';
import type { IngestOutcome, Store } from '../store/contract.js';
import { instrumentStore, type TimedOperation } from './timed-store.js';

/** Just enough of a driver: a class whose methods use `this`, like the real ones. */
class FakeDriver {
  readonly dialect = 'sqlite';
  private readonly prefix = 'evt';
  async ingest(items: readonly unknown[]): Promise<IngestOutcome[]> {
    return items.map((_, i) => ({ id: `${this.prefix}${i}`, deliveries: 1, duplicate: i > 0 }));
  }
  async claim(): Promise<never> {
    throw new Error('locked');
  }
  async getAccount(id: string): Promise<string> {
    return `${this.prefix}:${id}`;
  }
}

describe('instrumentStore', () => {
  it('times the hot-path calls, reports ingest outcomes, and passes everything else through bound', async () => {
    const ops: TimedOperation[] = [];
    const ingested: IngestOutcome[][] = [];
    const store = instrumentStore(new FakeDriver() as unknown as Store, { operation: (name) => ops.push(name), ingested: (o) => ingested.push([...o]) });
    expect(store.dialect).toBe('sqlite');
    expect(await store.ingest([{}, {}] as never, 0)).toHaveLength(2);
    expect(ingested[0].map((o) => o.duplicate)).toEqual([false, true]);
    await expect(store.claim({} as never)).rejects.toThrow('locked');
    const { getAccount } = store;
    expect(await getAccount('a1')).toBe('evt:a1');
    expect(store.getAccount).toBe(getAccount);
    expect(ops).toEqual(['ingest', 'claim']);
  });
});
