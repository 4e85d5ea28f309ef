import { describe, expect, it } from 'vitest';
import type { IngestItem, IngestOutcome, Store } from '../store/contract.js';
import { IngestOverloadedError, Ingestor, UnknownEventTypeError } from './ingestor.js';

/** A store whose commits wait until released: the queue behind it is what back-pressure sees. */
function slowStore() {
  const commits: { items: IngestItem[]; release: () => void }[] = [];
  const store = {
    endpointsVersion: async () => 1,
    activeEndpoints: async () => [],
    ingest: (items: readonly IngestItem[]) =>
      new Promise<IngestOutcome[]>((resolve) => {
        commits.push({ items: [...items], release: () => resolve(items.map((i) => ({ id: i.messageId, deliveries: 0, duplicate: false }))) });
      }),
  } as unknown as Store;
  return { store, commits };
}

const events = (n: number) => Array.from({ length: n }, () => ({ type: 'asset.created' }));
const tick = () => new Promise((r) => setImmediate(r));

describe('Ingestor', () => {
  it('commits requests that arrive together in one store batch (group commit)', async () => {
    const { store, commits } = slowStore();
    const ingestor = new Ingestor({ store });
    const a = ingestor.publish('acc', events(2));
    const b = ingestor.publish('acc', events(3));
    await tick();
    await tick();
    expect(commits).toHaveLength(1);
    expect(commits[0].items).toHaveLength(5);
    commits[0].release();
    expect(await a).toHaveLength(2);
    expect(await b).toHaveLength(3);
  });

  it('refuses a test send to one endpoint too while the queue is full', async () => {
    const { store, commits } = slowStore();
    const ingestor = new Ingestor({ store, queueLimit: 600 });
    const first = ingestor.publish('acc', events(600));
    await tick();
    await tick();
    await expect(ingestor.publishTo('acc', events(1)[0], [{ id: 'ep_1', ordered: false }])).rejects.toBeInstanceOf(IngestOverloadedError);
    commits[0].release();
    await first;
  });

  it('refuses new events while too many wait for their commit (the batch being committed counts), and recovers once they commit', async () => {
    const { store, commits } = slowStore();
    const ingestor = new Ingestor({ store, queueLimit: 1000 });
    const first = ingestor.publish('acc', events(600));
    await tick();
    await tick(); // the first batch is now committing; the next one queues behind it
    expect(commits).toHaveLength(1);
    const second = ingestor.publish('acc', events(300));
    await tick();
    await expect(ingestor.publish('acc', events(101))).rejects.toBeInstanceOf(IngestOverloadedError);
    commits[0].release();
    await first;
    await tick();
    commits[1].release();
    await second;
    await expect(
      (async () => {
        const p = ingestor.publish('acc', events(1000));
        await tick();
        await tick();
        commits[2].release();
        return p;
      })(),
    ).resolves.toHaveLength(1000);
  });

  it('stores the time it accepted an event without occurred_at, the one its payload carries', async () => {
    const { store, commits } = slowStore();
    let now = 1_700_000_000_000;
    const ingestor = new Ingestor({ store, clock: () => now });
    const published = ingestor.publish('acc', [{ type: 'asset.created' }, { type: 'asset.created', occurredAt: 1_600_000_000_000 }]);
    now += 1_500; // the commit happens later than the publish
    await tick();
    await tick();
    const [accepted, given] = commits[0].items;
    expect(accepted.event.occurredAt).toBe(1_700_000_000_000);
    expect(JSON.parse(accepted.body.head + accepted.body.tail).timestamp).toBe(new Date(1_700_000_000_000).toISOString());
    expect(given.event.occurredAt).toBe(1_600_000_000_000);
    commits[0].release();
    await published;
  });

  it('rejects an unknown type naming its index, before anything is queued', async () => {
    const { store, commits } = slowStore();
    const ingestor = new Ingestor({ store });
    await expect(ingestor.publish('acc', [{ type: 'asset.created' }, { type: 'nope' }])).rejects.toMatchObject({ index: 1 });
    await expect(ingestor.publish('acc', [{ type: 'nope' }])).rejects.toBeInstanceOf(UnknownEventTypeError);
    expect(commits).toHaveLength(0);
  });

  it('fails every caller of a batch whose commit failed', async () => {
    const store = { endpointsVersion: async () => 1, activeEndpoints: async () => [], ingest: async () => Promise.reject(new Error('SQLITE_FULL')) } as unknown as Store;
    const ingestor = new Ingestor({ store });
    const results = await Promise.allSettled([ingestor.publish('acc', events(1)), ingestor.publish('acc', events(1))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('matches a batch to the endpoints of each account once, as they are at the commit', async () => {
    const versionReads: string[] = [];
    let version = 1;
    const endpoint = (id: string, eventTypes: string[]) => ({ id, ordering: 'none', eventTypes, projectIds: [], userIds: [] });
    const byAccount: Record<string, ReturnType<typeof endpoint>[]> = { a: [endpoint('ep_a', ['asset.created'])], b: [endpoint('ep_b', ['asset.deleted'])] };
    const store = {
      endpointsVersion: async (account: string) => {
        versionReads.push(account);
        return version;
      },
      activeEndpoints: async (account: string) => byAccount[account],
      ingest: async (items: readonly IngestItem[]) => items.map((i) => ({ id: i.messageId, deliveries: i.endpoints.length, duplicate: false, to: i.endpoints.map((e) => e.id) })),
    } as unknown as Store;
    const ingestor = new Ingestor({ store });
    const published = [ingestor.publish('a', events(2)), ingestor.publish('a', events(1)), ingestor.publish('b', [{ type: 'asset.deleted' }, { type: 'asset.created' }])];
    // An endpoint created after the publish call but before its commit gets the events.
    byAccount.a = [...byAccount.a, endpoint('ep_a2', ['asset.*'])];
    version = 2;
    const [a1, a2, b] = await Promise.all(published);
    expect(versionReads.sort()).toEqual(['a', 'b']);
    expect([...a1, ...a2].map((o) => o.deliveries)).toEqual([2, 2, 2]);
    expect(b.map((o) => (o as unknown as { to: string[] }).to)).toEqual([['ep_b'], []]);
  });
});
