// A finished attempt whose outcome cannot be written yet (the store refuses its settlement for
// a while) keeps its delivery's lease: another worker must not claim it and send it again.
// Two dispatchers on one real store (SQLite file, PostgreSQL schema), a lease reaper as the
// jobs run it, and a receiver on 127.0.0.1 counting what arrives.
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClaimedDelivery, Store } from '../store/contract.js';
import { testSchema, type TestSchema } from '../store/conformance/pg-harness.js';
import { conformanceSealer, endpointFixture, ingestItem } from '../store/conformance/suite.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { Dispatcher, type DispatcherDeps } from './dispatcher.js';

const sealer = conformanceSealer();
const LEASE_MS = 1_000;

interface Receiver {
  readonly url: string;
  readonly arrivals: Map<string, number>;
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      arrivals.set(body, (arrivals.get(body) ?? 0) + 1);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/in`, arrivals, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A worker: a dispatcher that posts each delivery's id to the receiver, settling through `settle`. */
function worker(store: Store, owner: string, url: string, settle: DispatcherDeps['settle']): Dispatcher {
  return new Dispatcher(
    {
      claim: (limit, exclude) => store.claim({ owner, limit, leaseMs: LEASE_MS, now: Date.now(), excludeEndpoints: exclude }),
      schedules: async (ids) => new Map(ids.map((id) => [id, { id, accountId: 'acc', disabled: false, rateLimitPerSecond: null, accountRateLimitPerSecond: null, ordered: false }])),
      deliver: async (d: ClaimedDelivery) => {
        const startedAt = Date.now();
        const res = await fetch(url, { method: 'POST', body: d.id });
        await res.text();
        return {
          verdict: 'success',
          attempt: { attemptNo: d.attempts + 1, startedAt, durationMs: Date.now() - startedAt, statusCode: res.status, errorKind: null, errorMessage: null, requestHeaders: {}, responseBody: null },
        };
      },
      settle,
      nextDueAt: () => store.nextDueAt(),
      reserveRate: () => 0,
      extendLeases: (leases, until) => store.extendLeases(owner, leases, until),
    },
    { owner, concurrency: 4, endpointConcurrency: 4, retrySchedule: [0], leaseMs: LEASE_MS, idlePollMs: 50, settleDelayMs: 5 },
  );
}

/** One delivery sent by worker A, whose settlements the store refuses for 2.5 leases, while worker B claims. */
async function sendWhileSettlementIsRefused(store: Store): Promise<{ arrivals: number; status: string | undefined; attempts: number }> {
  const rx = await receiver();
  const account = await store.createAccount({ name: 'Acme' });
  const endpoint = endpointFixture(account.id);
  await store.createEndpoint(endpoint);
  let refusing = true;
  const a = worker(store, 'worker-a', rx.url, async (batch) => {
    if (refusing) throw new Error('canceling statement due to statement timeout');
    await store.settle(batch, Date.now());
  });
  const b = worker(store, 'worker-b', rx.url, (batch) => store.settle(batch, Date.now()));
  // The jobs' lease reaper, at half a lease as they run it.
  const reaper = setInterval(() => void store.releaseLeases({ expiredBefore: Date.now() }), LEASE_MS / 2);
  try {
    const [out] = await store.ingest([ingestItem(account.id, [{ id: endpoint.id, ordered: false }])], Date.now());
    a.start();
    for (let i = 0; i < 200 && rx.arrivals.size === 0; i++) await sleep(10);
    b.start();
    await sleep(LEASE_MS * 2.5);
    refusing = false;
    let delivery = (await store.listDeliveries(account.id, { eventId: out.id, limit: 1 })).items[0];
    for (let i = 0; i < 300 && delivery?.status !== 'succeeded'; i++) {
      await sleep(10);
      delivery = (await store.listDeliveries(account.id, { eventId: out.id, limit: 1 })).items[0];
    }
    return { arrivals: rx.arrivals.get(delivery.id) ?? 0, status: delivery?.status, attempts: delivery?.attempts ?? 0 };
  } finally {
    clearInterval(reaper);
    await a.stop(1_000);
    await b.stop(1_000);
    await rx.close();
  }
}

describe('a finished attempt waiting for its settlement', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('keeps its lease on SQLite while the store refuses the settlement, so no other worker sends it again', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-lease-settle-'));
    const store = new SqliteStore({ file: path.join(dir, 'herald.db'), sealer });
    cleanup = async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    };
    await store.migrate();
    expect(await sendWhileSettlementIsRefused(store)).toEqual({ arrivals: 1, status: 'succeeded', attempts: 1 });
  });

  it('keeps its lease on PostgreSQL while the store refuses the settlement, so no other worker sends it again', async () => {
    const pending = testSchema(sealer);
    let schema: TestSchema | undefined;
    let store: Store | undefined;
    cleanup = async () => {
      await store?.close();
      await schema?.drop();
    };
    schema = await pending;
    store = schema.open(sealer, 4);
    expect(await sendWhileSettlementIsRefused(store)).toEqual({ arrivals: 1, status: 'succeeded', attempts: 1 });
  });
});
