import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../domain/types.js';
import type { Store } from '../store/contract.js';
import { sqliteHandle } from '../store/conformance/sqlite-harness.js';
import { conformanceSealer, endpointFixture } from '../store/conformance/suite.js';
import type { ConformanceHandle } from '../store/conformance/suite.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EndpointCache } from './endpoint-cache.js';

const sealer = conformanceSealer();

/** The same SQLite file, counting the endpoint reads made through it. */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  return {
    reads: () => reads,
    store: new Proxy(store, {
      get(target, prop) {
        if (prop === 'getEndpointsByIds') {
          return (ids: readonly string[]) => {
            reads++;
            return target.getEndpointsByIds(ids);
          };
        }
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }),
  };
}

describe('EndpointCache', () => {
  let handle: ConformanceHandle;
  let now = 1_000_000;
  const clock = () => now;

  beforeEach(async () => {
    handle = await sqliteHandle(async (file) => new SqliteStore({ file, sealer }));
  });
  afterEach(() => handle.cleanup());

  async function withEndpoint(): Promise<Endpoint> {
    const account = await handle.store.createAccount({ name: 'A' });
    const endpoint = endpointFixture(account.id, { url: 'https://old.example/hook' });
    await handle.store.createEndpoint(endpoint);
    return endpoint;
  }

  it("reads an endpoint again once its entry is older than the lifetime: another process's change shows", async () => {
    const endpoint = await withEndpoint();
    const { store, reads } = counting(handle.store);
    const cache = new EndpointCache(store, 1_000, clock);
    expect((await cache.current(endpoint.id))?.url).toBe('https://old.example/hook');
    // Another process disables it and moves it: this cache is not told.
    await handle.store.updateEndpoint({ ...endpoint, url: 'https://new.example/hook', disabled: true, disabledReason: 'by hand' }, endpoint);
    now += 500;
    const cached = cache.current(endpoint.id);
    expect(cached).not.toBeInstanceOf(Promise);
    expect((cached as Endpoint).url).toBe('https://old.example/hook');
    now += 600;
    const again = await cache.current(endpoint.id);
    expect(again).toMatchObject({ url: 'https://new.example/hook', disabled: true });
    expect(reads()).toBe(2);
  });

  it('makes one read however many attempts ask for a stale endpoint at once', async () => {
    const endpoint = await withEndpoint();
    const { store, reads } = counting(handle.store);
    const cache = new EndpointCache(store, 1_000, clock);
    const all = await Promise.all(Array.from({ length: 50 }, async () => cache.current(endpoint.id)));
    expect(all.every((e) => e?.id === endpoint.id)).toBe(true);
    expect(reads()).toBe(1);
  });

  it('does not keep as fresh a read that began before an invalidation', async () => {
    const endpoint = await withEndpoint();
    const cache = new EndpointCache(handle.store, 1_000, clock);
    const reading = cache.load([endpoint.id]);
    // The API changes it while the read is under way, and drops it from the cache.
    await handle.store.updateEndpoint({ ...endpoint, url: 'https://new.example/hook' }, endpoint);
    cache.invalidate(endpoint.id);
    await reading;
    expect((await cache.current(endpoint.id))?.url).toBe('https://new.example/hook');
  });

  it('answers undefined for an endpoint deleted meanwhile, after its entry expires', async () => {
    const endpoint = await withEndpoint();
    const cache = new EndpointCache(handle.store, 1_000, clock);
    expect(await cache.current(endpoint.id)).toBeDefined();
    await handle.store.deleteEndpoint(endpoint.accountId, endpoint.id);
    now += 1_001;
    expect(await cache.current(endpoint.id)).toBeUndefined();
  });
});
