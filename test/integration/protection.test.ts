import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTestHerald, eventually, type TestHerald } from '../helpers.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

describe('API protection', () => {
  it('answers 429 with Retry-After once a key exceeds its request rate, per key', async () => {
    const h: TestHerald = await startTestHerald({ HERALD_API_RATE_LIMIT: '5' }, { worker: false });
    open.push(h);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const res = await h.api('GET', '/api/v2/event-types');
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(5);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Health checks carry no key and are not limited.
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  it('answers 503 (never 202) when the store cannot commit, and accepts again once it can', async () => {
    const h = await startTestHerald();
    const r = await startReceiver();
    open.push(h, r);
    await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    const store = h.herald.context.store;
    const ingest = store.ingest.bind(store);
    store.ingest = async () => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    const refused = await h.api('POST', '/api/v2/events', { id: 'e-1', type: 'asset.created' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(JSON.stringify(refused.body)).not.toContain('SQLITE');
    store.ingest = ingest;
    const accepted = await h.api('POST', '/api/v2/events', { id: 'e-1', type: 'asset.created' });
    expect(accepted.status).toBe(202);
    expect(accepted.body.duplicate).toBe(false);
    await r.waitFor(1);
  });

  it('keeps leases through settle failures and delivers once the store is back', async () => {
    // The failing disk is stood in for by replacing this thread's store method, so the
    // dispatcher must settle through it: no dispatch thread with its own connection.
    const h = await startTestHerald({ HERALD_DISPATCH_THREAD: 'off' });
    const r = await startReceiver();
    open.push(h, r);
    await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    const store = h.herald.context.store;
    const settle = store.settle.bind(store);
    let failing = true;
    store.settle = async (batch, now) => {
      if (failing) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      return settle(batch, now);
    };
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    await r.waitFor(1);
    await new Promise((res) => setTimeout(res, 300));
    expect((await h.api('GET', '/api/v2/stats')).body.deliveries).toMatchObject({ in_flight: 1, succeeded: 0 });
    failing = false;
    await eventually(async () => ((await h.api('GET', '/api/v2/stats')).body.deliveries.succeeded === 1 ? true : undefined));
    expect(r.received).toHaveLength(1);
  });
});
