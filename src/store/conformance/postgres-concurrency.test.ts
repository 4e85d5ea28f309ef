// Several processes sharing one PostgreSQL queue, simulated by two stores with separate pools
// (separate connections, so separate transactions racing in the server, as with two processes).
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { ClaimedDelivery, IngestItem, IngestOutcome } from '../contract.js';
import type { PostgresStore } from '../postgres/postgres-store.js';
import { TEST_DATABASE_URL, twoStoresPerTest } from './pg-harness.js';
import { conformanceSealer, endpointFixture, ingestItem } from './suite.js';

const sealer = conformanceSealer();
const stores = twoStoresPerTest(sealer, 4);

describe('postgres store under concurrent workers', () => {
  it('two stores claiming 2,000 deliveries concurrently claim each exactly once and never run two of one (endpoint, resource) at once', async () => {
    const account = await stores.a.createAccount({ name: 'Load' });
    const ordered = endpointFixture(account.id, { ordering: 'per_resource' });
    const free = endpointFixture(account.id);
    await stores.a.createEndpoint(ordered);
    await stores.a.createEndpoint(free);
    const targets = [
      { id: ordered.id, ordered: true },
      { id: free.id, ordered: false },
    ];

    // 1,000 events x 2 endpoints; three in four about one of 25 resources. Ingested from both
    // stores at once, which also races the per-resource sequence upserts.
    const items: IngestItem[] = [];
    for (let i = 0; i < 1_000; i++) {
      items.push(ingestItem(account.id, targets, i % 4 === 0 ? {} : { resource: { type: 'asset', id: String(i % 25) } }));
    }
    const now = Date.now();
    const batches: IngestItem[][] = [];
    for (let i = 0; i < items.length; i += 50) batches.push(items.slice(i, i + 50));
    await Promise.all(batches.map((batch, i) => (i % 2 === 0 ? stores.a : stores.b).ingest(batch, now)));
    expect(await stores.a.stats(account.id)).toMatchObject({ pending: 2_000 });

    // Sequences per resource are exactly 1..n even though the batches raced.
    const events = await Promise.all(items.map((it) => stores.a.getEvent(account.id, it.messageId)));
    const perResource = new Map<string, number[]>();
    for (const ev of events) {
      if (ev?.resourceKey) perResource.set(ev.resourceKey, [...(perResource.get(ev.resourceKey) ?? []), ev.sequence!]);
    }
    for (const seqs of perResource.values()) expect(seqs.sort((x, y) => x - y)).toEqual(seqs.map((_, i) => i + 1));

    const claims = new Map<string, number>();
    const running = new Map<string, string>();
    const violations: string[] = [];
    const lastSequence = new Map<string, number>();
    let settled = 0;
    let claimCalls = 0;

    // Independent of the workers' bookkeeping: sample the table itself for two in-flight
    // deliveries of one (endpoint, resource). Each sample is one consistent snapshot.
    const monitor = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${stores.schema.name}` });
    await monitor.connect();
    let monitoring = true;
    let samples = 0;
    const sampler = (async () => {
      while (monitoring) {
        const r = await monitor.query(
          "SELECT endpoint_id, resource_key, count(*) AS n FROM deliveries WHERE ordered AND status = 'in_flight' GROUP BY 1, 2 HAVING count(*) > 1",
        );
        samples++;
        for (const row of r.rows as { endpoint_id: string; resource_key: string; n: string }[]) {
          violations.push(`snapshot: ${row.n} in flight for ${row.endpoint_id} ${row.resource_key}`);
        }
      }
    })();

    const onClaimed = (d: ClaimedDelivery): string | null => {
      claims.set(d.id, (claims.get(d.id) ?? 0) + 1);
      if (d.endpointId !== ordered.id || d.resourceKey === null) return null;
      const key = `${d.endpointId}|${d.resourceKey}`;
      const other = running.get(key);
      if (other !== undefined) violations.push(`worker: ${d.id} claimed while ${other} of ${key} is running`);
      running.set(key, d.id);
      // The head moves forward one by one: each claim is exactly the next in its chain.
      const expected = (lastSequence.get(key) ?? 0) + 1;
      if (d.sequence !== expected) violations.push(`worker: ${key} claimed sequence ${d.sequence}, expected ${expected}`);
      lastSequence.set(key, d.sequence!);
      return key;
    };

    const worker = async (store: PostgresStore, owner: string) => {
      for (;;) {
        const limit = 1 + Math.floor(Math.random() * 8);
        claimCalls++;
        const got = await store.claim({ owner, limit, leaseMs: 600_000, now: Date.now(), excludeEndpoints: [] });
        if (got.length === 0) {
          if (settled >= 2_000) return;
          await sleep(2);
          continue;
        }
        const keys = got.map(onClaimed);
        // Let the deliveries stay in flight a moment, as a real attempt would.
        await sleep(Math.random() * 3);
        // Leave the bookkeeping before settling: once the settle commits, the next link may be
        // claimed by the other store before this promise resolves here.
        for (const key of keys) if (key !== null) running.delete(key);
        await store.settle(
          got.map((d) => ({
            deliveryId: d.id,
            owner,
            claimNo: d.claimNo,
            endpointId: d.endpointId,
            accountId: d.accountId,
            outcome: 'succeeded' as const,
            attempt: { attemptNo: 1, startedAt: Date.now(), durationMs: 1, statusCode: 200, errorKind: null, errorMessage: null, requestHeaders: {}, responseBody: null },
          })),
          Date.now(),
        );
        settled += got.length;
      }
    };

    try {
      await Promise.all([
        ...[0, 1, 2, 3].map((i) => worker(stores.a, `a${i}`)),
        ...[0, 1, 2, 3].map((i) => worker(stores.b, `b${i}`)),
      ]);
    } finally {
      monitoring = false;
      await sampler;
      await monitor.end();
    }

    expect(violations).toEqual([]);
    expect(claims.size).toBe(2_000);
    expect([...claims.values()].every((n) => n === 1)).toBe(true);
    expect(settled).toBe(2_000);
    expect(samples).toBeGreaterThan(10);
    expect(claimCalls).toBeGreaterThan(2_000 / 8);
    expect(await stores.b.stats(account.id)).toEqual({ pending: 0, inFlight: 0, succeeded: 2_000, failed: 0, retrying: 0 });
    // Every ordered chain ran to its end.
    for (const [key, seqs] of perResource) expect(lastSequence.get(`${ordered.id}|${key}`)).toBe(seqs.length);
  }, 120_000);

  it('two stores ingesting the same idempotency keys at once store each event once and answer the loser with the winner', async () => {
    const account = await stores.a.createAccount({ name: 'Keys' });
    const e = endpointFixture(account.id, { ordering: 'per_resource' });
    await stores.a.createEndpoint(e);
    const targets = [{ id: e.id, ordered: true }];
    const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
    const make = (key: string, i: number) => ingestItem(account.id, targets, { idempotencyKey: key, resource: { type: 'asset', id: String(i % 7) } });

    // Four writers over the same keys in different orders and batch sizes, so batches overlap
    // partially and contend on the unique index and the sequence rows in every combination.
    const plans: { store: PostgresStore; order: string[]; size: number }[] = [
      { store: stores.a, order: keys, size: 25 },
      { store: stores.b, order: [...keys].reverse(), size: 40 },
      { store: stores.a, order: keys.filter((_, i) => i % 2 === 1).concat(keys.filter((_, i) => i % 2 === 0)), size: 30 },
      { store: stores.b, order: [...keys].sort(() => Math.random() - 0.5), size: 50 },
    ];
    const results = new Map<string, IngestOutcome[]>();
    await Promise.all(
      plans.map(async ({ store, order, size }) => {
        for (let i = 0; i < order.length; i += size) {
          const slice = order.slice(i, i + size);
          // Each batch also repeats its first key at the end: an in-batch duplicate.
          const batch = [...slice, slice[0]].map((k) => make(k, keys.indexOf(k)));
          const out = await store.ingest(batch, Date.now());
          out.forEach((o, j) => results.set(batch[j].event.idempotencyKey!, [...(results.get(batch[j].event.idempotencyKey!) ?? []), o]));
        }
      }),
    );

    for (const key of keys) {
      const outs = results.get(key)!;
      const winners = outs.filter((o) => !o.duplicate);
      expect(winners, key).toHaveLength(1);
      for (const o of outs) expect(o, key).toEqual({ id: winners[0].id, deliveries: 1, duplicate: o.duplicate });
      expect((await stores.a.getEvent(account.id, key))?.id).toBe(winners[0].id);
    }
    expect(await stores.a.stats(account.id)).toMatchObject({ pending: keys.length });
    const events = (await stores.schema.rawRows('events')).filter((ev) => ev.account_id === account.id);
    expect(events).toHaveLength(keys.length);

    // Sequences stay unique per resource; a lost race may leave a gap.
    const byResource = new Map<string, number[]>();
    for (const ev of events) byResource.set(String(ev.resource_key), [...(byResource.get(String(ev.resource_key)) ?? []), Number(ev.sequence)]);
    for (const seqs of byResource.values()) expect(new Set(seqs).size).toBe(seqs.length);
  }, 60_000);
});
