// The one conformance suite every storage driver runs (sqlite.test.ts, postgres.test.ts). It
// states the contract's semantics as behaviour, so the drivers cannot drift apart: anything the
// dispatcher, ingest or the API rely on is pinned here, not in a driver's own tests.
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../domain/ids.js';
import type { CustomEventType, Endpoint, EventInput } from '../../domain/types.js';
import type { Inbox, InboxRequest } from '../../inbox/types.js';
import { SecretBox } from '../../signing/secretbox.js';
import type { AttemptInput, ClaimedDelivery, ClaimRequest, DeliveryQuery, IngestItem, QueueStats, RecoverScope, Sealer, Settlement, Store } from '../contract.js';
import { failedSince } from '../queries.js';

export interface ConformanceHandle {
  readonly store: Store;
  readonly cleanup: () => Promise<void>;
  /** Every row of a table as stored: for what the contract cannot show (sealing at rest). */
  readonly rawRows: (table: string) => Promise<Record<string, unknown>[]>;
}

/** The real AES-GCM sealer: sealed values are recognisable (`v1.…`) and plaintext is not in them. */
export function conformanceSealer(): Sealer {
  return new SecretBox(randomBytes(32));
}

const T0 = 1_700_000_000_000;
const LEASE = 30_000;

export function endpointFixture(accountId: string, over: Partial<Endpoint> = {}): Endpoint {
  const now = Date.now();
  return {
    id: newId('ep'),
    accountId,
    profile: 'standard',
    url: 'https://hooks.example.com/in',
    method: 'POST',
    description: 'conformance',
    eventTypes: ['asset.created'],
    projectIds: [],
    userIds: [],
    secret: `whsec_${randomBytes(24).toString('base64')}`,
    previousSecret: null,
    previousSecretExpiresAt: null,
    headers: [],
    auth: { type: 'none' },
    rateLimitPerSecond: null,
    timeoutMs: 10_000,
    ordering: 'none',
    disabled: false,
    disabledReason: null,
    failingSince: null,
    profileData: {},
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

type Target = IngestItem['endpoints'][number];

/**
 * Purge steps of `chunk` until `left()` (deleted endpoints still recorded) is 0; the deliveries
 * they removed. PostgreSQL forgets an endpoint only once the transactions older than the end of
 * its walk have ended (any database's), so a step may find nothing to do for a moment.
 */
export async function purgeAll(store: Store, left: () => Promise<number>, chunk = 2): Promise<number> {
  let removed = 0;
  for (let step = 0; step < 2_000; step++) {
    const r = await store.purgeDeletedEndpoints(chunk);
    removed += r.deliveries;
    if (r.deliveries > 0 || r.finished > 0) continue;
    if ((await left()) === 0) return removed;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('deleted endpoints still left to purge');
}

/** An ingest item whose body records its message id and sequence, so the stored body is observable. */
export function ingestItem(accountId: string, endpoints: readonly Target[], event: Partial<EventInput> = {}): IngestItem {
  const messageId = newId('msg');
  return {
    accountId,
    messageId,
    event: { type: 'asset.created', ...event },
    endpoints,
    body: { head: `{"id":${JSON.stringify(messageId)}`, tail: '}' },
  };
}

function attempt(no: number, over: Partial<AttemptInput> = {}): AttemptInput {
  return {
    attemptNo: no,
    startedAt: T0 + no,
    durationMs: 12,
    statusCode: 200,
    errorKind: null,
    errorMessage: null,
    requestHeaders: { 'webhook-id': 'msg_x', authorization: '****' },
    responseBody: 'ok',
    ...over,
  };
}

/** What a settlement of a claimed delivery names of it. */
type Claim = Pick<ClaimedDelivery, 'id' | 'endpointId' | 'accountId' | 'claimNo'>;

const succeeded = (d: Claim, owner: string, no = 1): Settlement => ({
  deliveryId: d.id,
  owner,
  claimNo: d.claimNo,
  endpointId: d.endpointId,
  accountId: d.accountId,
  attempt: attempt(no),
  outcome: 'succeeded',
});

const retry = (d: Claim, owner: string, nextAttemptAt: number, no = 1): Settlement => ({
  deliveryId: d.id,
  owner,
  claimNo: d.claimNo,
  endpointId: d.endpointId,
  accountId: d.accountId,
  attempt: attempt(no, { statusCode: 503, errorKind: 'http_status', errorMessage: 'service unavailable', responseBody: 'busy' }),
  outcome: 'retry',
  nextAttemptAt,
});

const failed = (d: Claim, owner: string, no = 1): Extract<Settlement, { outcome: 'failed' }> => ({
  deliveryId: d.id,
  owner,
  claimNo: d.claimNo,
  endpointId: d.endpointId,
  accountId: d.accountId,
  attempt: attempt(no, { statusCode: null, errorKind: 'connect', errorMessage: 'ECONNREFUSED', responseBody: null }),
  outcome: 'failed',
});

export function runStoreConformance(name: string, open: () => Promise<ConformanceHandle>): void {
  describe(`${name} store conformance`, () => {
    let h: ConformanceHandle;
    let store: Store;

    beforeEach(async () => {
      h = await open();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    const claimReq = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({
      owner: 'w1',
      limit: 100,
      leaseMs: LEASE,
      now: T0,
      excludeEndpoints: [],
      ...over,
    });

    /** An account with `n` enabled endpoints (ordering as given). */
    async function setup(n = 1, ordering: Endpoint['ordering'] = 'none') {
      const account = await store.createAccount({ name: 'Acme' });
      const endpoints: Endpoint[] = [];
      for (let i = 0; i < n; i++) {
        const e = endpointFixture(account.id, { ordering });
        await store.createEndpoint(e);
        endpoints.push(e);
      }
      const targets = endpoints.map((e) => ({ id: e.id, ordered: e.ordering === 'per_resource' }));
      return { account, endpoints, targets };
    }

    describe('schema', () => {
      it('migrate is idempotent and leaves the schema at the latest version', async () => {
        const first = await store.migrate();
        const again = await store.migrate();
        expect(first.latest).toBeGreaterThan(0);
        expect(first).toEqual({ current: first.latest, latest: first.latest });
        expect(again).toEqual(first);
        expect(await store.schemaState()).toEqual(first);
      });
    });

    describe('accounts', () => {
      it('creates, reads and updates an account; unknown ids are undefined', async () => {
        const a = await store.createAccount({ name: 'Acme', rateLimitPerSecond: 50, linkBaseUrl: 'https://dam.example.com' });
        expect(await store.getAccount(a.id)).toEqual(a);
        const b = await store.createAccount({ name: 'Fixed', id: 'acc_fixed' });
        expect(b).toMatchObject({ id: 'acc_fixed', name: 'Fixed', rateLimitPerSecond: null, linkBaseUrl: null });
        expect(await store.getAccount('acc_fixed')).toEqual(b);

        await store.updateAccount({ ...a, name: 'Acme 2', rateLimitPerSecond: null, linkBaseUrl: null });
        expect(await store.getAccount(a.id)).toEqual({ ...a, name: 'Acme 2', rateLimitPerSecond: null, linkBaseUrl: null });
        expect(await store.getAccount('acc_missing')).toBeUndefined();
      });

      it('lists accounts newest first with cursor paging', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await store.createAccount({ name: `a${i}` })).id);
        const seen: string[] = [];
        let cursor: string | undefined;
        const sizes: number[] = [];
        for (;;) {
          const page = await store.listAccounts({ limit: 2, cursor });
          sizes.push(page.items.length);
          seen.push(...page.items.map((a) => a.id));
          if (page.nextCursor === null) break;
          expect(page.nextCursor).toBe(page.items.at(-1)!.id);
          cursor = page.nextCursor;
        }
        expect(sizes).toEqual([2, 2, 1]);
        expect(seen).toEqual([...ids].reverse());
        const all = await store.listAccounts({ limit: 5 });
        expect(all.nextCursor).toBeNull();
        expect(all.items).toHaveLength(5);
      });
    });

    describe('custom event types', () => {
      const type = (accountId: string, name: string, over: Partial<CustomEventType> = {}): CustomEventType => ({
        accountId,
        name,
        description: 'A widget was built.',
        schema: { type: 'object', required: ['size'], properties: { size: { type: 'integer' } } },
        createdAt: T0,
        updatedAt: T0,
        ...over,
      });

      it('creates a type once per account name, reads, updates and deletes it, within its account only', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        expect(await store.createEventType(type(a.id, 'acme.widget.built'))).toBe(true);
        expect(await store.createEventType(type(a.id, 'acme.widget.built', { description: 'again' }))).toBe(false);
        expect(await store.createEventType(type(b.id, 'acme.widget.built', { schema: null }))).toBe(true);
        expect(await store.createEventType(type(a.id, 'acme.gadget.sold', { schema: null }))).toBe(true);

        expect(await store.getEventTypes(a.id, ['acme.widget.built', 'acme.missing'])).toEqual([type(a.id, 'acme.widget.built')]);
        expect(await store.getEventTypes(a.id, [])).toEqual([]);
        expect((await store.listEventTypes(a.id)).map((t) => t.name)).toEqual(['acme.gadget.sold', 'acme.widget.built']);
        expect(await store.listEventTypes(b.id)).toEqual([type(b.id, 'acme.widget.built', { schema: null })]);

        const changed = type(a.id, 'acme.widget.built', { description: 'Built.', schema: null, updatedAt: T0 + 5 });
        expect(await store.updateEventType(changed)).toBe(true);
        expect(await store.getEventTypes(a.id, ['acme.widget.built'])).toEqual([changed]);
        expect(await store.updateEventType(type(a.id, 'acme.missing'))).toBe(false);

        expect(await store.deleteEventType(a.id, 'acme.widget.built')).toBe(true);
        expect(await store.deleteEventType(a.id, 'acme.widget.built')).toBe(false);
        expect((await store.listEventTypes(a.id)).map((t) => t.name)).toEqual(['acme.gadget.sold']);
        expect(await store.getEventTypes(b.id, ['acme.widget.built'])).toHaveLength(1);
      });

      it('lists an account\'s types a page at a time by name, byte-wise, after a name that may be gone, with schemas only if asked', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        // '_' sorts after the digits and before the letters byte-wise, whatever a locale says.
        const names = ['acme.a_b', 'acme.ab', 'acme.a1', 'acme.b.c', 'acme.bc'];
        const stored = (name: string) => type(a.id, name, name === 'acme.ab' ? { schema: null } : {});
        for (const name of names) expect(await store.createEventType(stored(name))).toBe(true);
        expect(await store.createEventType(type(b.id, 'acme.other'))).toBe(true);
        const sorted = [...names].sort();

        const first = await store.listEventTypePage(a.id, { limit: 2, schemas: false });
        expect(first).toEqual({ items: sorted.slice(0, 2).map((name) => ({ accountId: a.id, name, description: 'A widget was built.', createdAt: T0, updatedAt: T0 })), nextCursor: sorted[1] });
        for (const t of first.items) expect('schema' in t).toBe(false);
        const second = await store.listEventTypePage(a.id, { cursor: first.nextCursor!, limit: 2, schemas: true });
        expect(second).toEqual({ items: sorted.slice(2, 4).map(stored), nextCursor: sorted[3] });
        expect(await store.listEventTypePage(a.id, { cursor: sorted[3], limit: 2, schemas: false })).toMatchObject({ items: [{ name: sorted[4] }], nextCursor: null });
        expect((await store.listEventTypePage(a.id, { limit: 5, schemas: false })).nextCursor).toBeNull();

        // A cursor naming a type deleted since goes on after it.
        expect(await store.deleteEventType(a.id, sorted[1]!)).toBe(true);
        expect((await store.listEventTypePage(a.id, { cursor: sorted[1], limit: 10, schemas: false })).items.map((t) => t.name)).toEqual(sorted.slice(2));
        expect((await store.listEventTypePage(b.id, { limit: 10, schemas: true })).items).toEqual([type(b.id, 'acme.other')]);
      });
    });

    describe('projects', () => {
      it('creates, reads and lists projects within their account only', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const p1 = await store.createProject(a.id, 'one');
        const p2 = await store.createProject(a.id, 'two', 'prj_explicit');
        const other = await store.createProject(b.id, 'theirs');
        expect(p2.id).toBe('prj_explicit');
        expect(await store.getProject(a.id, p1.id)).toEqual(p1);
        expect(await store.getProject(a.id, other.id)).toBeUndefined();
        expect(await store.getProject(b.id, p1.id)).toBeUndefined();

        const page1 = await store.listProjects(a.id, { limit: 1 });
        expect(page1.items).toHaveLength(1);
        expect(page1.nextCursor).not.toBeNull();
        const page2 = await store.listProjects(a.id, { limit: 1, cursor: page1.nextCursor! });
        expect(page2.nextCursor).toBeNull();
        const listed = [...page1.items, ...page2.items].map((p) => p.id).sort();
        expect(listed).toEqual([p1.id, p2.id].sort());
        expect((await store.listProjects(b.id, { limit: 10 })).items).toEqual([other]);
      });
    });

    describe('profiles support', () => {
      it('nextCounter counts from 1 per (account, name) and never hands out a value twice', async () => {
        expect(store.nextCounter).toBeTypeOf('function');
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const next = (account: string, name: string) => store.nextCounter!(account, name);
        expect([await next(a.id, 'mp'), await next(a.id, 'mp'), await next(a.id, 'mp')]).toEqual([1, 2, 3]);
        expect(await next(a.id, 'other')).toBe(1);
        expect(await next(b.id, 'mp')).toBe(1);
        const burst = await Promise.all(Array.from({ length: 20 }, () => next(a.id, 'mp')));
        expect(burst.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 4));
      });

      it('lists the attempts of one endpoint newest first, with their event, an outcome filter and paging', async () => {
        expect(store.listEndpointAttempts).toBeTypeOf('function');
        const { account, endpoints, targets } = await setup(2);
        const other = await store.createAccount({ name: 'B' });
        const [e0, e1] = endpoints;
        const first = ingestItem(account.id, targets, { type: 'asset.created' });
        const second = ingestItem(account.id, targets, { type: 'asset.updated' });
        await store.ingest([first], T0);
        await store.ingest([second], T0 + 1);
        let ds = await store.claim(claimReq({ now: T0 + 10 }));
        await store.settle(ds.map((d) => (d.eventId === first.messageId ? retry(d, 'w1', T0 + 20) : succeeded(d, 'w1'))), T0 + 11);
        ds = await store.claim(claimReq({ now: T0 + 20 }));
        await store.settle(ds.map((d) => succeeded(d, 'w1', 2)), T0 + 21);

        const list = (q: Parameters<NonNullable<Store['listEndpointAttempts']>>[2], endpointId = e0.id, accountId = account.id) =>
          store.listEndpointAttempts!(accountId, endpointId, q);
        const all = await list({ limit: 10 });
        // e0 has: first (retry, then success) and second (success).
        expect(all.items).toHaveLength(3);
        expect(all.nextCursor).toBeNull();
        const ids = all.items.map((x) => x.id);
        expect(ids).toEqual([...ids].sort().reverse());
        const e0Deliveries = (await store.listDeliveries(account.id, { limit: 10, endpointId: e0.id })).items.map((d) => d.id);
        expect(all.items.every((x) => e0Deliveries.includes(x.deliveryId))).toBe(true);
        const byEvent = new Map(all.items.map((x) => [`${x.eventId}#${x.attemptNo}`, x.eventType]));
        expect(byEvent).toEqual(
          new Map([
            [`${first.messageId}#1`, 'asset.created'],
            [`${first.messageId}#2`, 'asset.created'],
            [`${second.messageId}#1`, 'asset.updated'],
          ]),
        );

        const failures = await list({ limit: 10, outcome: 'failed' });
        expect(failures.items.map((x) => [x.eventId, x.attemptNo, x.errorKind])).toEqual([[first.messageId, 1, 'http_status']]);
        expect((await list({ limit: 10, outcome: 'succeeded' })).items).toHaveLength(2);

        const page1 = await list({ limit: 2 });
        expect(page1.items.map((x) => x.id)).toEqual(ids.slice(0, 2));
        expect(page1.nextCursor).toBe(ids[1]);
        const page2 = await list({ limit: 2, cursor: page1.nextCursor! });
        expect(page2.items.map((x) => x.id)).toEqual(ids.slice(2));
        expect(page2.nextCursor).toBeNull();

        expect((await list({ limit: 10 }, e1.id)).items).toHaveLength(3);
        expect((await list({ limit: 10 }, e0.id, other.id)).items).toEqual([]);
      });

      it('lets two accounts use the same project id without seeing each other', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const pa = await store.createProject(a.id, 'mine', 'dam-project-1');
        const pb = await store.createProject(b.id, 'theirs', 'dam-project-1');
        expect(await store.getProject(a.id, 'dam-project-1')).toEqual(pa);
        expect(await store.getProject(b.id, 'dam-project-1')).toEqual(pb);
        await expect(store.createProject(a.id, 'again', 'dam-project-1')).rejects.toThrow();
      });
    });

    describe('api keys', () => {
      it('finds a key by hash (with the hash) and lists keys without it', async () => {
        const a = await store.createAccount({ name: 'A' });
        const key = await store.createApiKey({ accountId: a.id, name: 'ci', role: 'publisher', operator: false, hash: 'h-ci', prefix: 'hk_ci', source: 'api' });
        expect(key).toMatchObject({ accountId: a.id, name: 'ci', role: 'publisher', operator: false, prefix: 'hk_ci' });
        expect(await store.findApiKeyByHash('h-ci')).toEqual({ ...key, hash: 'h-ci' });
        expect(await store.findApiKeyByHash('h-nope')).toBeUndefined();

        await store.createApiKey({ accountId: a.id, name: 'ui', role: 'viewer', operator: false, hash: 'h-ui', prefix: 'hk_ui', source: 'generated' });
        const page = await store.listApiKeys(a.id, { limit: 1 });
        expect(page.items).toHaveLength(1);
        expect(page.items[0]).not.toHaveProperty('hash');
        const rest = await store.listApiKeys(a.id, { limit: 10, cursor: page.nextCursor! });
        expect(rest.nextCursor).toBeNull();
        expect([...page.items, ...rest.items].map((k) => k.name).sort()).toEqual(['ci', 'ui']);
      });

      it('deletes keys only within their account', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const key = await store.createApiKey({ accountId: a.id, name: 'k', role: 'admin', operator: false, hash: 'h1', prefix: 'p', source: 'api' });
        expect(await store.deleteApiKey(b.id, key.id)).toBe(false);
        expect(await store.findApiKeyByHash('h1')).toBeDefined();
        expect(await store.deleteApiKey(a.id, key.id)).toBe(true);
        expect(await store.deleteApiKey(a.id, key.id)).toBe(false);
        expect(await store.findApiKeyByHash('h1')).toBeUndefined();
      });

      it('counts operator keys', async () => {
        const a = await store.createAccount({ name: 'A' });
        expect(await store.countOperatorKeys()).toBe(0);
        await store.createApiKey({ accountId: a.id, name: 'op', role: 'admin', operator: true, hash: 'h-op', prefix: 'p', source: 'env' });
        await store.createApiKey({ accountId: a.id, name: 'plain', role: 'admin', operator: false, hash: 'h-plain', prefix: 'p', source: 'api' });
        expect(await store.countOperatorKeys()).toBe(1);
        expect((await store.findApiKeyByHash('h-op'))?.operator).toBe(true);
      });

      it('syncEnvKey drops env keys whose hash changed and reports whether the current one exists', async () => {
        const a = await store.createAccount({ name: 'A' });
        await store.createApiKey({ accountId: a.id, name: 'env', role: 'admin', operator: true, hash: 'h-old', prefix: 'p', source: 'env' });
        await store.createApiKey({ accountId: a.id, name: 'api', role: 'admin', operator: false, hash: 'h-api', prefix: 'p', source: 'api' });
        expect(await store.syncEnvKey('h-old')).toBe(true);
        expect(await store.findApiKeyByHash('h-old')).toBeDefined();

        expect(await store.syncEnvKey('h-new')).toBe(false);
        expect(await store.findApiKeyByHash('h-old')).toBeUndefined();
        expect(await store.findApiKeyByHash('h-api')).toBeDefined();

        await store.createApiKey({ accountId: a.id, name: 'env', role: 'admin', operator: true, hash: 'h-new', prefix: 'p', source: 'env' });
        expect(await store.syncEnvKey('h-new')).toBe(true);
        // A non-env key with the hash also counts as existing, and is never dropped.
        expect(await store.syncEnvKey('h-api')).toBe(true);
        expect(await store.findApiKeyByHash('h-new')).toBeUndefined();
      });
    });

    describe('admin UI sessions', () => {
      async function keyOf(name: string) {
        const a = await store.createAccount({ name });
        return store.createApiKey({ accountId: a.id, name, role: 'admin', operator: false, hash: `h-${name}`, prefix: 'p', source: 'api' });
      }
      const session = (apiKeyId: string, tokenHash: string, createdAt = T0, ttl = 60_000) => ({ tokenHash, apiKeyId, key: `hk_secret_${tokenHash}`, createdAt, expiresAt: createdAt + ttl });

      it('finds a live session with its key, until it expires or is deleted', async () => {
        const k = await keyOf('A');
        await store.createUiSession(session(k.id, 't1'));
        expect(await store.findUiSession('t1', T0 + 59_999)).toEqual({ apiKeyId: k.id, key: 'hk_secret_t1', expiresAt: T0 + 60_000 });
        expect(await store.findUiSession('t1', T0 + 60_000)).toBeUndefined();
        expect(await store.findUiSession('t2', T0)).toBeUndefined();
        await store.deleteUiSession('t1');
        expect(await store.findUiSession('t1', T0)).toBeUndefined();
        await store.deleteUiSession('t1');
      });

      it('keeps the key sealed at rest, and not the token', async () => {
        const k = await keyOf('A');
        await store.createUiSession(session(k.id, 'hash-of-token'));
        const [row] = await h.rawRows('ui_sessions');
        expect(JSON.stringify(row)).not.toContain('hk_secret_');
        expect(String(row!.sealed_key)).toMatch(/^v1\./);
      });

      it('goes with its API key', async () => {
        const k = await keyOf('A');
        const other = await keyOf('B');
        await store.createUiSession(session(k.id, 't1'));
        await store.createUiSession(session(other.id, 't2'));
        await store.deleteApiKey(k.accountId, k.id);
        expect(await store.findUiSession('t1', T0)).toBeUndefined();
        expect(await store.findUiSession('t2', T0)).toBeDefined();
      });

      it('drops expired sessions when a new one is created', async () => {
        const k = await keyOf('A');
        await store.createUiSession(session(k.id, 'old', T0, 1_000));
        await store.createUiSession(session(k.id, 'live', T0, 60_000));
        await store.createUiSession(session(k.id, 'new', T0 + 1_000));
        expect((await h.rawRows('ui_sessions')).map((r) => r.token_hash).sort()).toEqual(['live', 'new']);
      });
    });

    describe('failed authentications', () => {
      const WINDOW = 60_000;

      it('counts failures per scope and address within a window, and begins a new one once it is over', async () => {
        expect(await store.recordAuthFailure('api', '203.0.113.1', T0, WINDOW)).toEqual({ since: T0, failures: 1 });
        expect(await store.recordAuthFailure('api', '203.0.113.1', T0 + 1_000, WINDOW)).toEqual({ since: T0, failures: 2 });
        expect(await store.recordAuthFailure('ui', '203.0.113.1', T0 + 1_000, WINDOW)).toEqual({ since: T0 + 1_000, failures: 1 });
        expect(await store.recordAuthFailure('api', '2001:db8:1:2::/64', T0 + 2_000, WINDOW)).toEqual({ since: T0 + 2_000, failures: 1 });
        expect(await store.recordAuthFailure('api', '203.0.113.1', T0 + WINDOW - 1, WINDOW)).toEqual({ since: T0, failures: 3 });
        expect(await store.recordAuthFailure('api', '203.0.113.1', T0 + WINDOW, WINDOW)).toEqual({ since: T0 + WINDOW, failures: 1 });
      });

      it('counts every one of failures recorded at once', async () => {
        await Promise.all(Array.from({ length: 20 }, () => store.recordAuthFailure('api', '198.51.100.9', T0, WINDOW)));
        expect(await store.recordAuthFailure('api', '198.51.100.9', T0, WINDOW)).toEqual({ since: T0, failures: 21 });
      });

      it('prunes the counts of windows begun before a time', async () => {
        await store.recordAuthFailure('api', '203.0.113.1', T0, WINDOW);
        await store.recordAuthFailure('ui', '203.0.113.2', T0 + 5_000, WINDOW);
        expect(await store.pruneAuthFailures(T0 + 1)).toBe(1);
        expect((await h.rawRows('auth_failures')).map((r) => r.address)).toEqual(['203.0.113.2']);
        expect(await store.recordAuthFailure('api', '203.0.113.1', T0 + 6_000, WINDOW)).toEqual({ since: T0 + 6_000, failures: 1 });
      });
    });

    describe('endpoints', () => {
      it('round-trips every field, credentials included', async () => {
        const a = await store.createAccount({ name: 'A' });
        const e = endpointFixture(a.id, {
          method: 'PUT',
          eventTypes: ['asset.*', 'collection.updated'],
          projectIds: ['prj_1'],
          userIds: ['u1', 'u2'],
          previousSecret: 'whsec_previous-secret-value',
          previousSecretExpiresAt: T0 + 1000,
          headers: [
            { name: 'X-Plain', value: 'plain-header-value', type: 'plain' },
            { name: 'X-Token', value: 'hidden-header-value', type: 'hidden' },
          ],
          auth: { type: 'basic', username: 'user', password: 'basic-password-value' },
          rateLimitPerSecond: 7,
          timeoutMs: 5_000,
          ordering: 'per_resource',
          failingSince: T0,
          profile: 'mediapocket',
          profileData: { numericId: 42, name: 'MP' },
        });
        await store.createEndpoint(e);
        expect(await store.getEndpoint(a.id, e.id)).toEqual(e);

        const oauth = endpointFixture(a.id, {
          auth: { type: 'oauth2_client_credentials', tokenUrl: 'https://auth.example.com/token', clientId: 'cid', clientSecret: 'oauth-client-secret', scope: 'hooks', extraParams: { audience: 'x' } },
          disabled: true,
          disabledReason: 'by user',
        });
        await store.createEndpoint(oauth);
        expect(await store.getEndpoint(a.id, oauth.id)).toEqual(oauth);
      });

      it('stores credentials sealed: the raw rows never contain the plaintext', async () => {
        const a = await store.createAccount({ name: 'A' });
        const e = endpointFixture(a.id, {
          secret: 'whsec_current-plaintext-secret',
          previousSecret: 'whsec_previous-plaintext-secret',
          previousSecretExpiresAt: T0,
          headers: [{ name: 'X-Api-Key', value: 'header-plaintext-secret', type: 'hidden' }],
          auth: { type: 'basic', username: 'someone', password: 'password-plaintext-secret' },
        });
        await store.createEndpoint(e);
        const rows = await h.rawRows('endpoints');
        expect(rows).toHaveLength(1);
        const text = JSON.stringify(rows[0]);
        for (const plain of ['current-plaintext-secret', 'previous-plaintext-secret', 'header-plaintext-secret', 'password-plaintext-secret', 'someone']) {
          expect(text).not.toContain(plain);
        }
        for (const column of ['secret', 'previous_secret', 'headers', 'auth']) {
          expect(String(rows[0][column])).toMatch(/^v1\./);
        }

        // Updates seal too (a fresh secret after rotation, say).
        await store.updateEndpoint({ ...e, secret: 'whsec_rotated-plaintext-secret', previousSecret: e.secret }, e);
        const after = JSON.stringify(await h.rawRows('endpoints'));
        expect(after).not.toContain('rotated-plaintext-secret');
        expect(after).not.toContain('current-plaintext-secret');
        expect((await store.getEndpoint(a.id, e.id))?.secret).toBe('whsec_rotated-plaintext-secret');
      });

      it('updates an endpoint in place', async () => {
        const { account, endpoints } = await setup(1);
        const e = endpoints[0];
        const changed: Endpoint = {
          ...e,
          url: 'https://elsewhere.example.com/hook',
          description: 'changed',
          eventTypes: ['*'],
          disabled: true,
          disabledReason: 'too many failures',
          headers: [{ name: 'X-Sig', value: 'k', type: 'hmac' }],
          updatedAt: e.updatedAt + 5,
        };
        await store.updateEndpoint(changed, e);
        expect(await store.getEndpoint(account.id, e.id)).toEqual(changed);
      });

      it('writes only what an update changes: a change made meanwhile by another writer is kept', async () => {
        const { account, endpoints } = await setup(1);
        const read = endpoints[0];
        // While an API request holds `read` (its URL's DNS check), a worker disables the endpoint
        // after a 410 and the secret is rotated.
        await store.disableEndpoint(account.id, read.id, 'the endpoint answered 410 Gone', read.updatedAt + 1);
        const rotated = { ...read, secret: 'whsec_rotated-meanwhile', previousSecret: read.secret, previousSecretExpiresAt: read.updatedAt + 86_400_000 };
        await store.updateEndpoint(rotated, read);
        await store.updateEndpoint({ ...read, description: 'renamed', updatedAt: read.updatedAt + 5 }, read);
        expect(await store.getEndpoint(account.id, read.id)).toMatchObject({
          description: 'renamed',
          disabled: true,
          disabledReason: 'the endpoint answered 410 Gone',
          secret: 'whsec_rotated-meanwhile',
          previousSecret: read.secret,
          updatedAt: read.updatedAt + 5,
        });
      });

      it('moves updated_at forward on every endpoint write, also two in one millisecond or under a clock set back', async () => {
        const { account, endpoints } = await setup(1);
        const read = endpoints[0];
        expect(await store.updateEndpoint({ ...read, description: 'one' }, read)).toBe(true);
        const first = (await store.getEndpoint(account.id, read.id))!;
        expect(first.updatedAt).toBe(read.updatedAt + 1);
        // Changed again in the same millisecond, then with a clock behind the stored time.
        await store.updateEndpoint({ ...first, description: 'two' }, first);
        await store.updateEndpoint({ ...first, description: 'three', updatedAt: read.updatedAt - 60_000 }, first);
        const third = (await store.getEndpoint(account.id, read.id))!;
        expect(third).toMatchObject({ description: 'three', updatedAt: read.updatedAt + 3 });
        await store.disableEndpoint(account.id, read.id, 'gone', read.updatedAt);
        expect((await store.getEndpoint(account.id, read.id))?.updatedAt).toBe(read.updatedAt + 4);
      });

      it('a conditional endpoint update writes only while updated_at is as read: of writers racing from one copy, exactly one writes', async () => {
        const { account, endpoints } = await setup(1);
        const read = endpoints[0];
        const expected = { updatedAt: read.updatedAt };
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.updateEndpoint({ ...read, description: `writer ${i}`, updatedAt: read.updatedAt }, read, expected)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        const stored = (await store.getEndpoint(account.id, read.id))!;
        expect(stored.description).toBe(`writer ${winner}`);
        expect(stored.updatedAt).toBeGreaterThan(read.updatedAt);
        // A copy read before that change writes nothing, an ordering switch neither (its queued
        // deliveries keep theirs); the copy as stored now does.
        const versionBefore = await store.endpointsVersion(account.id);
        expect(await store.updateEndpoint({ ...read, ordering: 'per_resource', description: 'stale' }, read, expected)).toBe(false);
        expect(await store.getEndpoint(account.id, read.id)).toEqual(stored);
        expect(await store.endpointsVersion(account.id)).toBe(versionBefore);
        expect(await store.updateEndpoint({ ...stored, ordering: 'per_resource' }, stored, { updatedAt: stored.updatedAt })).toBe(true);
        expect((await store.getEndpoint(account.id, read.id))?.ordering).toBe('per_resource');
        expect(await store.updateEndpoint({ ...read, description: 'x' }, read, { updatedAt: 0 })).toBe(false);
        expect(await store.updateEndpoint({ ...read, id: 'ep_missing' }, { ...read, id: 'ep_missing' }, expected)).toBe(false);
      });

      it('rotates a secret once per Idempotency-Key: of rotations racing with one key, exactly one writes; the others find it', async () => {
        const { account, endpoints } = await setup(2);
        const [read, other] = endpoints;
        const rotation = (e: Endpoint, i: number): Endpoint => ({ ...e, secret: `whsec_new${i}`, previousSecret: e.secret, previousSecretExpiresAt: T0 + 1_000 + i, updatedAt: T0 + 10 });
        const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => store.rotateSecretOnce(rotation(read, i), read, 'key-1', `sha-${i}`)));
        const winner = outcomes.indexOf('rotated');
        expect(outcomes.filter((o) => o === 'rotated')).toHaveLength(1);
        const earlier = { secretSha256: `sha-${winner}`, previousSecretExpiresAt: T0 + 1_000 + winner, createdAt: T0 + 10 };
        for (const o of outcomes.filter((x) => x !== 'rotated')) expect(o).toEqual(earlier);
        expect(await store.getEndpoint(account.id, read.id)).toMatchObject({ secret: `whsec_new${winner}`, previousSecret: read.secret });
        // The key is the endpoint's: another endpoint rotates under it; a missing endpoint records nothing.
        expect(await store.rotateSecretOnce(rotation(other, 7), other, 'key-1', 'sha-o')).toBe('rotated');
        const missing = { ...read, id: 'ep_missing' };
        expect(await store.rotateSecretOnce(rotation(missing, 8), missing, 'key-1', 'sha-m')).toBeUndefined();
        // Another key rotates again.
        expect(await store.rotateSecretOnce(rotation(read, 9), { ...read, secret: `whsec_new${winner}` }, 'key-2', 'sha-9')).toBe('rotated');
        expect((await store.getEndpoint(account.id, read.id))?.secret).toBe('whsec_new9');
      });

      it('forgets secret rotation keys past retention, and only those', async () => {
        const { account, endpoints } = await setup(1);
        const read = endpoints[0];
        const rotate = async (secret: string, at: number, key: string) => {
          const now = (await store.getEndpoint(account.id, read.id))!;
          const rotated = { ...now, secret, previousSecret: now.secret, previousSecretExpiresAt: at + 1_000, updatedAt: at };
          return store.rotateSecretOnce(rotated, now, key, `sha-${secret}`);
        };
        expect(await rotate('whsec_old', T0 + 10, 'old-key')).toBe('rotated');
        expect(await rotate('whsec_new', T0 + 20, 'new-key')).toBe('rotated');
        await store.prune(T0 + 15, 100);
        // The old key is forgotten: a repeat with it rotates again; the newer one is still found.
        expect(await rotate('whsec_again', T0 + 30, 'old-key')).toBe('rotated');
        expect(await rotate('whsec_never', T0 + 40, 'new-key')).toEqual({
          secretSha256: 'sha-whsec_new',
          previousSecretExpiresAt: T0 + 1_020,
          createdAt: T0 + 20,
        });
      });

      it('a conditional endpoint delete deletes only while updated_at is as read', async () => {
        const { account, endpoints } = await setup(1);
        const read = endpoints[0];
        await store.updateEndpoint({ ...read, description: 'changed since read' }, read);
        expect(await store.deleteEndpoint(account.id, read.id, { updatedAt: read.updatedAt })).toBe(false);
        const now = (await store.getEndpoint(account.id, read.id))!;
        expect(now.description).toBe('changed since read');
        expect(await store.deleteEndpoint(account.id, read.id, { updatedAt: now.updatedAt })).toBe(true);
        expect(await store.getEndpoint(account.id, read.id)).toBeUndefined();
      });

      it('bumps endpointsVersion on every endpoint write and on updateAccount', async () => {
        const a = await store.createAccount({ name: 'A' });
        const other = await store.createAccount({ name: 'B' });
        const versions = [await store.endpointsVersion(a.id)];
        const e = endpointFixture(a.id);
        await store.createEndpoint(e);
        versions.push(await store.endpointsVersion(a.id));
        await store.updateEndpoint({ ...e, description: 'x' }, e);
        versions.push(await store.endpointsVersion(a.id));
        await store.updateAccount({ ...a, name: 'A2' });
        versions.push(await store.endpointsVersion(a.id));
        await store.deleteEndpoint(a.id, e.id);
        versions.push(await store.endpointsVersion(a.id));
        for (let i = 1; i < versions.length; i++) expect(versions[i]).not.toBe(versions[i - 1]);
        expect(new Set(versions).size).toBe(versions.length);
        // Another account's version is untouched by all that.
        expect(await store.endpointsVersion(other.id)).toBe(0);
        expect(await store.endpointsVersion('acc_missing')).toBe(0);
      });

      it('activeEndpoints lists the enabled endpoints of one account only', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const on = endpointFixture(a.id);
        const off = endpointFixture(a.id, { disabled: true, disabledReason: 'x' });
        const theirs = endpointFixture(b.id);
        for (const e of [on, off, theirs]) await store.createEndpoint(e);
        expect(await store.activeEndpoints(a.id)).toEqual([on]);
        await store.updateEndpoint({ ...off, disabled: false, disabledReason: null }, off);
        expect((await store.activeEndpoints(a.id)).map((e) => e.id).sort()).toEqual([on.id, off.id].sort());
      });

      it('getEndpointsByIds is unscoped and ignores unknown ids', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const e1 = endpointFixture(a.id);
        const e2 = endpointFixture(b.id, { disabled: true, disabledReason: 'x' });
        await store.createEndpoint(e1);
        await store.createEndpoint(e2);
        const found = await store.getEndpointsByIds([e1.id, e2.id, 'ep_missing']);
        expect(found.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual([e1, e2].sort((x, y) => (x.id < y.id ? -1 : 1)));
        expect(await store.getEndpointsByIds([])).toEqual([]);
      });

      it('lists endpoints newest first with paging and a profile filter', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const made: Endpoint[] = [];
        for (let i = 0; i < 3; i++) made.push(endpointFixture(a.id));
        made.push(endpointFixture(a.id, { profile: 'cmp' }));
        for (const e of made) await store.createEndpoint(e);
        await store.createEndpoint(endpointFixture(b.id));

        const first = await store.listEndpoints(a.id, { limit: 3 });
        expect(first.items.map((e) => e.id)).toEqual(made.map((e) => e.id).reverse().slice(0, 3));
        expect(first.nextCursor).toBe(first.items[2].id);
        const second = await store.listEndpoints(a.id, { limit: 3, cursor: first.nextCursor! });
        expect(second.items.map((e) => e.id)).toEqual([made[0].id]);
        expect(second.nextCursor).toBeNull();
        expect(second.items[0]).toEqual(made[0]);

        const cmp = await store.listEndpoints(a.id, { limit: 10, profile: 'cmp' });
        expect(cmp.items.map((e) => e.id)).toEqual([made[3].id]);
        expect((await store.listEndpoints(a.id, { limit: 10, profile: 'standard' })).items).toHaveLength(3);
      });

      it("scopes endpoints to their account: another account's id is invisible and untouchable", async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const e = endpointFixture(a.id);
        await store.createEndpoint(e);
        expect(await store.getEndpoint(b.id, e.id)).toBeUndefined();
        expect(await store.deleteEndpoint(b.id, e.id)).toBe(false);
        await store.updateEndpoint({ ...e, accountId: b.id, url: 'https://attacker.example.com' }, { ...e, accountId: b.id });
        expect(await store.getEndpoint(a.id, e.id)).toEqual(e);
        expect((await store.listEndpoints(b.id, { limit: 10 })).items).toEqual([]);
      });

      it('deleteEndpoint removes the endpoint at once and hides its deliveries until purgeDeletedEndpoints removes them with their attempts, and nothing else', async () => {
        const { account, targets } = await setup(2);
        const out = await store.ingest([1, 2, 3].map(() => ingestItem(account.id, targets)), T0);
        expect(out.map((o) => o.deliveries)).toEqual([2, 2, 2]);
        const claimed = await store.claim(claimReq());
        await store.settle(claimed.map((d) => retry(d, 'w1', T0 + 10)), T0 + 1);
        const gone = targets[0].id;
        const kept = claimed.filter((d) => d.endpointId !== gone).map((d) => d.id).sort();
        const goneIds = claimed.filter((d) => d.endpointId === gone).map((d) => d.id);

        expect(await store.deleteEndpoint(account.id, gone)).toBe(true);
        expect(await store.getEndpoint(account.id, gone)).toBeUndefined();
        expect(await store.deleteEndpoint(account.id, gone)).toBe(false);
        // Still stored, but no read finds them, no count includes them and no claim takes them.
        expect(await h.rawRows('deliveries')).toHaveLength(6);
        expect((await store.listDeliveries(account.id, { limit: 10 })).items.map((d) => d.id).sort()).toEqual(kept);
        expect(await store.listDeliveries(account.id, { endpointId: gone, limit: 10 })).toMatchObject({ items: [] });
        expect(await store.getDelivery(account.id, goneIds[0])).toBeUndefined();
        expect(await store.stats(account.id)).toMatchObject({ pending: 3, retrying: 3, inFlight: 0 });
        expect(await store.stats()).toMatchObject({ pending: 3, retrying: 3 });
        expect(await store.queueDepth(account.id)).toEqual({ pending: 3, retrying: 3, inFlight: 0 });
        expect(await store.stats(account.id, gone)).toMatchObject({ pending: 0, retrying: 0 });
        // An ingest matched against the endpoint as read before the deletion adds nothing to it.
        const [late] = await store.ingest([ingestItem(account.id, targets)], T0 + 2);
        expect(late.deliveries).toBe(1);
        expect((await store.claim(claimReq({ now: T0 + 100 }))).map((d) => d.endpointId)).toEqual([targets[1].id, targets[1].id, targets[1].id, targets[1].id]);

        // In chunks (two, then one), and then the endpoint is forgotten.
        expect(await store.purgeDeletedEndpoints(2)).toEqual({ deliveries: 2, finished: 0 });
        expect(await purgeAll(store, async () => (await h.rawRows('endpoint_purges')).length)).toBe(1);
        expect((await h.rawRows('deliveries')).map((r) => r.endpoint_id)).toEqual([1, 2, 3, 4].map(() => targets[1].id));
        expect((await h.rawRows('attempts')).map((r) => r.delivery_id).sort()).toEqual(kept);
        expect(await h.rawRows('endpoint_purges')).toEqual([]);
        expect(await store.purgeDeletedEndpoints(2)).toEqual({ deliveries: 0, finished: 0 });
      });
    });

    describe('ingest', () => {
      it('stores the event and one pending delivery per matched endpoint', async () => {
        const { account, targets } = await setup(3);
        const item = ingestItem(account.id, targets, { projectId: 'prj_1', occurredAt: T0 - 5 });
        const [out] = await store.ingest([item], T0);
        expect(out).toEqual({ id: item.messageId, deliveries: 3, duplicate: false });

        const ev = await store.getEvent(account.id, item.messageId);
        expect(ev).toEqual({
          id: item.messageId,
          accountId: account.id,
          idempotencyKey: null,
          type: 'asset.created',
          occurredAt: T0 - 5,
          receivedAt: T0,
          projectId: 'prj_1',
          resourceKey: null,
          sequence: null,
          body: JSON.stringify({ id: item.messageId }),
        });
        const page = await store.listDeliveries(account.id, { limit: 10, eventId: item.messageId });
        expect(page.items).toHaveLength(3);
        expect(page.items.map((d) => d.endpointId).sort()).toEqual(targets.map((t) => t.id).sort());
        for (const d of page.items) {
          expect(d).toMatchObject({ accountId: account.id, eventId: item.messageId, status: 'pending', attempts: 0, nextAttemptAt: T0, lastStatusCode: null, lastError: null, createdAt: T0, updatedAt: T0 });
        }
      });

      it('stores an event that matched no endpoint, without deliveries; occurredAt defaults to now', async () => {
        const a = await store.createAccount({ name: 'A' });
        const item = ingestItem(a.id, []);
        expect(await store.ingest([item], T0)).toEqual([{ id: item.messageId, deliveries: 0, duplicate: false }]);
        expect((await store.getEvent(a.id, item.messageId))?.occurredAt).toBe(T0);
        expect(await store.stats(a.id)).toEqual({ pending: 0, inFlight: 0, succeeded: 0, failed: 0, retrying: 0 });
        expect(await store.ingest([], T0)).toEqual([]);
      });

      it('answers a repeated idempotency key from an earlier batch with the first event, creating nothing', async () => {
        const { account, targets } = await setup(2);
        const first = ingestItem(account.id, targets, { idempotencyKey: 'key-1' });
        const [o1] = await store.ingest([first], T0);
        const again = ingestItem(account.id, targets, { idempotencyKey: 'key-1' });
        const [o2] = await store.ingest([again], T0 + 1);
        expect(o1).toEqual({ id: first.messageId, deliveries: 2, duplicate: false });
        expect(o2).toEqual({ id: first.messageId, deliveries: 2, duplicate: true });
        expect(await store.getEvent(account.id, again.messageId)).toBeUndefined();
        expect((await store.stats(account.id)).pending).toBe(2);
      });

      it('answers a key repeated within one batch with the first occurrence', async () => {
        const { account, targets } = await setup(1);
        const a = ingestItem(account.id, targets, { idempotencyKey: 'dup' });
        const other = ingestItem(account.id, targets);
        const b = ingestItem(account.id, targets, { idempotencyKey: 'dup' });
        const out = await store.ingest([a, other, b], T0);
        expect(out).toEqual([
          { id: a.messageId, deliveries: 1, duplicate: false },
          { id: other.messageId, deliveries: 1, duplicate: false },
          { id: a.messageId, deliveries: 1, duplicate: true },
        ]);
        expect((await store.stats(account.id)).pending).toBe(2);
        expect(await store.getEvent(account.id, b.messageId)).toBeUndefined();
      });

      it('scopes idempotency keys to the account', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const [oa] = await store.ingest([ingestItem(a.id, [], { idempotencyKey: 'same' })], T0);
        const [ob] = await store.ingest([ingestItem(b.id, [], { idempotencyKey: 'same' })], T0);
        expect(oa.duplicate).toBe(false);
        expect(ob.duplicate).toBe(false);
        expect(ob.id).not.toBe(oa.id);
        expect((await store.getEvent(b.id, 'same'))?.id).toBe(ob.id);
      });

      it('numbers events per resource: monotonic within a batch and across batches, independent per resource and account', async () => {
        const { account, targets } = await setup(1);
        const other = await store.createAccount({ name: 'B' });
        const res = (id: string) => ({ resource: { type: 'asset', id } });
        const batch1 = [
          ingestItem(account.id, targets, res('1')),
          ingestItem(account.id, targets, res('2')),
          ingestItem(account.id, targets, res('1')),
          ingestItem(account.id, targets),
          ingestItem(other.id, [], res('1')),
        ];
        await store.ingest(batch1, T0);
        const batch2 = [ingestItem(account.id, targets, res('1')), ingestItem(account.id, targets, res('2'))];
        await store.ingest(batch2, T0 + 1);
        const seq = async (item: IngestItem) => (await store.getEvent(item.accountId, item.messageId))!;
        expect((await seq(batch1[0])).sequence).toBe(1);
        expect((await seq(batch1[1])).sequence).toBe(1);
        expect((await seq(batch1[2])).sequence).toBe(2);
        expect((await seq(batch1[3])).sequence).toBeNull();
        expect((await seq(batch1[4])).sequence).toBe(1);
        expect((await seq(batch2[0])).sequence).toBe(3);
        expect((await seq(batch2[1])).sequence).toBe(2);
        const ev = await seq(batch1[2]);
        expect(ev.resourceKey).toBe('asset:1');
        // The body is rendered once the sequence is known.
        expect(JSON.parse(ev.body)).toEqual({ id: batch1[2].messageId, sequence: 2 });
        // Duplicates do not consume a sequence number.
        await store.ingest([ingestItem(account.id, targets, { ...res('1'), idempotencyKey: 'k' })], T0 + 2);
        await store.ingest([ingestItem(account.id, targets, { ...res('1'), idempotencyKey: 'k' })], T0 + 3);
        const next = ingestItem(account.id, targets, res('1'));
        await store.ingest([next], T0 + 4);
        expect((await seq(next)).sequence).toBe(5);
      });
    });

    describe('claim', () => {
      it('leases due deliveries with everything needed to send them, and never hands them out twice', async () => {
        const { account, targets } = await setup(1);
        const item = ingestItem(account.id, targets, { projectId: 'prj_9', resource: { type: 'asset', id: '7' } });
        await store.ingest([item], T0);
        const [d] = await store.claim(claimReq({ owner: 'w1', now: T0 + 5 }));
        expect(d).toMatchObject({
          accountId: account.id,
          eventId: item.messageId,
          endpointId: targets[0].id,
          attempts: 0,
          eventType: 'asset.created',
          body: JSON.stringify({ id: item.messageId, sequence: 1 }),
          sequence: 1,
          resourceKey: 'asset:7',
          projectId: 'prj_9',
          createdAt: T0,
        });
        expect(await store.claim(claimReq({ owner: 'w2', now: T0 + 6 }))).toEqual([]);
        expect(await store.getDelivery(account.id, d.id)).toMatchObject({ status: 'in_flight', nextAttemptAt: null, updatedAt: T0 + 5 });
        expect(await store.stats(account.id)).toMatchObject({ pending: 0, inFlight: 1 });
      });

      it('honours the limit and claims the earliest due first', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0 + 2);
        await store.ingest([ingestItem(account.id, targets)], T0);
        await store.ingest([ingestItem(account.id, targets)], T0 + 1);
        const first = await store.claim(claimReq({ limit: 2, now: T0 + 10 }));
        expect(first.map((d) => d.createdAt)).toEqual([T0, T0 + 1]);
        const rest = await store.claim(claimReq({ limit: 2, now: T0 + 10 }));
        expect(rest.map((d) => d.createdAt)).toEqual([T0 + 2]);
      });

      it('skips excluded endpoints, disabled endpoints and deliveries not yet due', async () => {
        const { account, endpoints, targets } = await setup(3);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [e0, e1, e2] = endpoints;
        const e1off = { ...e1, disabled: true, disabledReason: 'x' };
        await store.updateEndpoint(e1off, e1);

        expect(await store.claim(claimReq({ now: T0 - 1 }))).toEqual([]);
        const got = await store.claim(claimReq({ excludeEndpoints: [e0.id] }));
        expect(got.map((d) => d.endpointId)).toEqual([e2.id]);
        expect(await store.claim(claimReq({ excludeEndpoints: [e0.id] }))).toEqual([]);

        const e0d = await store.claim(claimReq({}));
        expect(e0d.map((d) => d.endpointId)).toEqual([e0.id]);
        // Re-enabled, the held-back delivery becomes claimable.
        await store.updateEndpoint({ ...e1off, disabled: false }, e1off);
        expect((await store.claim(claimReq())).map((d) => d.endpointId)).toEqual([e1.id]);
      });

      it('takes at most perEndpointLimit from each endpoint, so a backlog cannot crowd out the others', async () => {
        const { account, targets } = await setup(2);
        // Endpoint 0 has a large backlog due first; endpoint 1 has a little work due later.
        await store.ingest(Array.from({ length: 20 }, () => ingestItem(account.id, [targets[0]])), T0);
        await store.ingest(Array.from({ length: 3 }, () => ingestItem(account.id, [targets[1]])), T0 + 1);
        const claimed = await store.claim(claimReq({ now: T0 + 2, limit: 10, perEndpointLimit: 4 }));
        const per = (i: number) => claimed.filter((d) => d.endpointId === targets[i].id).length;
        expect(per(0)).toBe(4);
        expect(per(1)).toBe(3);
        expect(claimed.map((d) => d.endpointId)).toEqual([...Array(4).fill(targets[0].id), ...Array(3).fill(targets[1].id)]);
      });

      it('takes an endpoint\'s own limit from endpointLimits, above perEndpointLimit or below it', async () => {
        const { account, targets } = await setup(3);
        for (const target of targets) await store.ingest(Array.from({ length: 20 }, () => ingestItem(account.id, [target])), T0);
        const endpointLimits = { [targets[0].id]: 15, [targets[1].id]: 2 };
        const claimed = await store.claim(claimReq({ now: T0 + 2, limit: 30, perEndpointLimit: 4, endpointLimits }));
        const per = (i: number) => claimed.filter((d) => d.endpointId === targets[i].id).length;
        expect([per(0), per(1), per(2)]).toEqual([15, 2, 4]);
        // Never more than the claim's limit, whatever an endpoint's own.
        expect(await store.claim(claimReq({ now: T0 + 3, limit: 3, endpointLimits: { [targets[0].id]: 100 } }))).toHaveLength(3);
      });

      it('returns nothing for a zero limit', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0);
        expect(await store.claim(claimReq({ limit: 0 }))).toEqual([]);
        expect((await store.stats(account.id)).pending).toBe(1);
      });
    });

    describe('leases', () => {
      it('releases expired leases, which another worker can then claim', async () => {
        const { account, targets } = await setup(2);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [a] = await store.claim(claimReq({ owner: 'w1', limit: 1, now: T0, leaseMs: 1_000 }));
        const [b] = await store.claim(claimReq({ owner: 'w2', limit: 1, now: T0 + 500, leaseMs: 1_000 }));
        // a's lease ends at T0+1000, b's at T0+1500.
        expect(await store.releaseLeases({ expiredBefore: T0 + 1_000 })).toBe(0);
        expect(await store.releaseLeases({ expiredBefore: T0 + 1_001 })).toBe(1);
        expect((await store.getDelivery(account.id, a.id))?.status).toBe('pending');
        expect((await store.getDelivery(account.id, b.id))?.status).toBe('in_flight');
        const re = await store.claim(claimReq({ owner: 'w3', now: T0 + 1_100 }));
        expect(re.map((d) => d.id)).toEqual([a.id]);
        expect(re[0].attempts).toBe(0);
      });

      it('creates deliveries marked leased in flight under the ingest lease and returns them as a claim would', async () => {
        const { account, endpoints, targets } = await setup(3);
        await store.updateEndpoint({ ...endpoints[1], ordering: 'per_resource' }, endpoints[1]);
        const [a, b, c] = targets;
        const item = ingestItem(account.id, [{ ...a, leased: true }, { ...b, ordered: true, leased: true }, c], { resource: { type: 'asset', id: 'a1' }, projectId: 'prj_1' });
        const [out] = await store.ingest([item], T0, { owner: 'w1', until: T0 + 1_000 });
        expect(out).toMatchObject({ id: item.messageId, deliveries: 3, duplicate: false });
        // b is ordered for a resource: it waits for its chain's head, so only a claim may take it.
        expect(out.leased).toHaveLength(1);
        const [lent] = out.leased!;
        expect(lent).toMatchObject({ accountId: account.id, eventId: item.messageId, endpointId: a.id, attempts: 0, eventType: 'asset.created', sequence: 1, resourceKey: 'asset:a1', projectId: 'prj_1', createdAt: T0 });
        expect(await store.getDelivery(account.id, lent.id)).toMatchObject({ status: 'in_flight', attempts: 0 });
        expect(await store.stats(account.id)).toMatchObject({ pending: 2, inFlight: 1 });

        const claimed = await store.claim(claimReq({ owner: 'w2', now: T0 }));
        expect(claimed.map((d) => d.endpointId).sort()).toEqual([b.id, c.id].sort());
        // The same delivery a claim would have returned, body (with its sequence) included; its
        // claim number is the ingest's, before any claim's.
        const { id: _lentId, endpointId: _lentEndpoint, claimNo: lentClaim, ...lentRest } = lent;
        const { id: _claimedId, endpointId: _claimedEndpoint, claimNo: claimedClaim, ...claimedRest } = claimed[0];
        expect(lentRest).toEqual(claimedRest);
        expect(lentClaim).toBeLessThan(claimedClaim);

        await store.settle([succeeded(lent, 'w1')], T0 + 10);
        expect((await store.getDelivery(account.id, lent.id))?.status).toBe('succeeded');
      });

      it('returns a leased delivery to pending when its lease runs out, and ignores leased marks without a lease', async () => {
        const { account, targets } = await setup(1);
        const [first] = await store.ingest([ingestItem(account.id, [{ ...targets[0], leased: true }])], T0, { owner: 'w1', until: T0 + 1_000 });
        const [lent] = first.leased!;
        expect(await store.releaseLeases({ expiredBefore: T0 + 1_000 })).toBe(0);
        expect(await store.releaseLeases({ expiredBefore: T0 + 1_001 })).toBe(1);
        expect((await store.claim(claimReq({ owner: 'w2', now: T0 + 1_100 }))).map((d) => d.id)).toEqual([lent.id]);

        const [second] = await store.ingest([ingestItem(account.id, [{ ...targets[0], leased: true }])], T0);
        expect(second.leased).toBeUndefined();
        expect(await store.stats(account.id)).toMatchObject({ pending: 1, inFlight: 1 });
      });

      it('disables an endpoint once: a second call finds it disabled and changes nothing', async () => {
        const { account, targets } = await setup(1);
        const before = await store.endpointsVersion(account.id);
        // Later than the endpoint's change time: updated_at never moves back.
        const at = (await store.getEndpoint(account.id, targets[0].id))!.updatedAt + 5;
        const first = await store.disableEndpoint(account.id, targets[0].id, 'endpoint answered 410 Gone', at);
        expect(first).toMatchObject({ disabledNow: true, endpoint: { id: targets[0].id, disabled: true, disabledReason: 'endpoint answered 410 Gone', updatedAt: at } });
        const second = await store.disableEndpoint(account.id, targets[0].id, 'another reason', at + 4);
        expect(second).toMatchObject({ disabledNow: false, endpoint: { disabledReason: 'endpoint answered 410 Gone', updatedAt: at } });
        expect(await store.endpointsVersion(account.id)).toBe(before + 1);
        expect(await store.disableEndpoint(account.id, 'ep_missing', 'x', T0)).toBeUndefined();
        const other = await store.createAccount({ name: 'other' });
        expect(await store.disableEndpoint(other.id, targets[0].id, 'x', T0)).toBeUndefined();
      });

      it('keeps the notice of a final failure with it until cleared, and none for a settlement that did not apply', async () => {
        const { account, targets } = await setup(3);
        const [out] = await store.ingest([ingestItem(account.id, targets, { type: 'asset.deleted' })], T0);
        const [a, b, c] = await store.claim(claimReq({ owner: 'w1', limit: 3, now: T0 }));
        await store.settle(
          [
            { ...failed(a, 'w1', 1), notice: 'exhausted' },
            { ...failed(b, 'w1', 1), attempt: attempt(1, { statusCode: 410, errorKind: 'http_status', errorMessage: 'gone' }), notice: 'gone' },
            // Another worker's settlement: not applied, so it owes nothing.
            { ...failed(c, 'w2', 1), notice: 'exhausted' },
          ],
          T0 + 10,
        );
        const notices = await store.pendingNotices(10);
        expect(notices.sort((x, y) => x.kind.localeCompare(y.kind))).toEqual([
          { kind: 'exhausted', deliveryId: a.id, accountId: account.id, eventId: out.id, endpointId: a.endpointId, eventType: 'asset.deleted', attempts: 1, lastStatusCode: null, lastErrorKind: 'connect', recorded: expect.any(String) },
          { kind: 'gone', deliveryId: b.id, accountId: account.id, eventId: out.id, endpointId: b.endpointId, eventType: 'asset.deleted', attempts: 1, lastStatusCode: 410, lastErrorKind: 'http_status', recorded: expect.any(String) },
        ]);
        expect(await store.pendingNotices(1)).toHaveLength(1);
        const [ofA, ofB] = notices;
        await store.clearNotices([ofA]);
        expect((await store.pendingNotices(10)).map((n) => n.deliveryId)).toEqual([b.id]);
        await store.clearNotices([ofB]);
        expect(await store.pendingNotices(10)).toEqual([]);
        expect((await store.getDelivery(account.id, a.id))?.status).toBe('failed');
      });

      it('keeps a notice written while an older one was being carried out, and one a replay has not yet answered', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [d] = await store.claim(claimReq({ owner: 'w1', now: T0 }));
        await store.settle([{ ...failed(d, 'w1', 1), notice: 'exhausted' }], T0 + 10);
        const [first] = await store.pendingNotices(10);
        // Replayed before the notice was carried out: a success keeps what the failure owed.
        await store.retryDelivery(account.id, d.id, T0 + 20);
        const [again] = await store.claim(claimReq({ owner: 'w1', now: T0 + 30 }));
        await store.settle([succeeded(again, 'w1', 2)], T0 + 40);
        expect(await store.pendingNotices(10)).toEqual([first]);
        // Replayed and failed again meanwhile: clearing the first leaves the second.
        await store.retryDelivery(account.id, d.id, T0 + 50);
        const [third] = await store.claim(claimReq({ owner: 'w1', now: T0 + 60 }));
        await store.settle([{ ...failed(third, 'w1', 3), notice: 'exhausted' }], T0 + 70);
        await store.clearNotices([first]);
        const [left] = await store.pendingNotices(10);
        expect(left).toEqual({ ...first, attempts: 3, recorded: left.recorded });
        expect(left.recorded).not.toBe(first.recorded);
      });

      it("extends the leases its owner holds on deliveries still in flight, and no one else's", async () => {
        const { account, targets } = await setup(3);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [a, b] = await store.claim(claimReq({ owner: 'w1', limit: 2, now: T0, leaseMs: 1_000 }));
        const [c] = await store.claim(claimReq({ owner: 'w2', limit: 1, now: T0, leaseMs: 1_000 }));
        await store.settle([succeeded(b, 'w1')], T0 + 10);
        // b is settled and c is w2's: only a's lease moves.
        const held = (d: ClaimedDelivery) => ({ id: d.id, claimNo: d.claimNo });
        expect(await store.extendLeases('w1', [held(a), held(b), held(c), { id: 'dlv_unknown', claimNo: 1 }], T0 + 5_000)).toBe(1);
        expect(await store.extendLeases('w1', [], T0 + 5_000)).toBe(0);
        expect(await store.releaseLeases({ expiredBefore: T0 + 2_000 })).toBe(1);
        expect((await store.getDelivery(account.id, a.id))?.status).toBe('in_flight');
        expect((await store.getDelivery(account.id, c.id))?.status).toBe('pending');
        expect(await store.releaseLeases({ expiredBefore: T0 + 5_001 })).toBe(1);
        expect((await store.getDelivery(account.id, a.id))?.status).toBe('pending');
      });

      it('releases the leases of one owner, or all of them', async () => {
        const { account, targets } = await setup(3);
        await store.ingest([ingestItem(account.id, targets)], T0);
        await store.claim(claimReq({ owner: 'w1', limit: 2 }));
        await store.claim(claimReq({ owner: 'w2', limit: 1 }));
        expect(await store.releaseLeases({ owner: 'w-none' })).toBe(0);
        expect(await store.releaseLeases({ owner: 'w2' })).toBe(1);
        expect(await store.stats(account.id)).toMatchObject({ pending: 1, inFlight: 2 });
        expect(await store.releaseLeases({ all: true })).toBe(2);
        expect(await store.stats(account.id)).toMatchObject({ pending: 3, inFlight: 0 });
        expect(await store.claim(claimReq({ owner: 'w3' }))).toHaveLength(3);
      });
    });

    describe('settle', () => {
      it('records a success: delivery succeeded, one attempt row, lease cleared', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [d] = await store.claim(claimReq());
        await store.settle([succeeded(d, 'w1')], T0 + 50);
        expect(await store.getDelivery(account.id, d.id)).toEqual({
          id: d.id,
          accountId: account.id,
          eventId: d.eventId,
          endpointId: d.endpointId,
          eventType: 'asset.created',
          status: 'succeeded',
          attempts: 1,
          nextAttemptAt: null,
          lastStatusCode: 200,
          lastError: null,
          createdAt: T0,
          updatedAt: T0 + 50,
        });
        const attempts = await store.listAttempts(account.id, [d.id]);
        expect(attempts).toHaveLength(1);
        expect(attempts[0]).toMatchObject({ deliveryId: d.id, ...attempt(1) });
        expect(await store.stats(account.id)).toEqual({ pending: 0, inFlight: 0, succeeded: 1, failed: 0, retrying: 0 });
        expect(await store.claim(claimReq({ now: T0 + 100 }))).toEqual([]);
      });

      it('schedules a retry: pending again at nextAttemptAt with the error recorded', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [d] = await store.claim(claimReq());
        await store.settle([retry(d, 'w1', T0 + 1_000)], T0 + 10);
        expect(await store.getDelivery(account.id, d.id)).toMatchObject({
          status: 'pending',
          attempts: 1,
          nextAttemptAt: T0 + 1_000,
          lastStatusCode: 503,
          lastError: 'http_status: service unavailable',
        });
        expect(await store.stats(account.id)).toEqual({ pending: 1, inFlight: 0, succeeded: 0, failed: 0, retrying: 1 });
        expect(await store.nextDueAt()).toBe(T0 + 1_000);
        expect(await store.claim(claimReq({ now: T0 + 999 }))).toEqual([]);
        const [again] = await store.claim(claimReq({ now: T0 + 1_000 }));
        expect(again.id).toBe(d.id);
        expect(again.attempts).toBe(1);
        await store.settle([failed(again, 'w1', 2)], T0 + 1_010);
        expect(await store.getDelivery(account.id, d.id)).toMatchObject({ status: 'failed', attempts: 2, nextAttemptAt: null, lastStatusCode: null, lastError: 'connect: ECONNREFUSED' });
        const attempts = await store.listAttempts(account.id, [d.id]);
        expect(attempts.map((a) => [a.attemptNo, a.statusCode, a.errorKind, a.errorMessage, a.responseBody])).toEqual([
          [1, 503, 'http_status', 'service unavailable', 'busy'],
          [2, null, 'connect', 'ECONNREFUSED', null],
        ]);
        expect(attempts[0].requestHeaders).toEqual({ 'webhook-id': 'msg_x', authorization: '****' });
        expect(await store.stats(account.id)).toEqual({ pending: 0, inFlight: 0, succeeded: 0, failed: 1, retrying: 0 });
      });

      it('releases a claimed delivery untried: pending, no attempt counted or recorded', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [d] = await store.claim(claimReq());
        await store.settle([{ deliveryId: d.id, owner: 'w1', endpointId: d.endpointId, outcome: 'release', claimNo: d.claimNo, nextAttemptAt: T0 + 300 }], T0 + 1);
        expect(await store.getDelivery(account.id, d.id)).toMatchObject({ status: 'pending', attempts: 0, nextAttemptAt: T0 + 300 });
        expect(await store.listAttempts(account.id, [d.id])).toEqual([]);
        expect((await store.stats(account.id)).retrying).toBe(0);
      });

      it('ignores settlements from a worker that does not hold the lease', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [d] = await store.claim(claimReq({ owner: 'w1', leaseMs: 100 }));
        await store.settle([succeeded(d, 'intruder')], T0 + 10);
        await store.settle([{ deliveryId: d.id, owner: 'intruder', endpointId: d.endpointId, outcome: 'release', claimNo: d.claimNo, nextAttemptAt: T0 }], T0 + 10);
        expect(await store.getDelivery(account.id, d.id)).toMatchObject({ status: 'in_flight', attempts: 0, updatedAt: T0 });
        expect(await store.listAttempts(account.id, [d.id])).toEqual([]);

        // The lease expires and w2 takes over: w1's late result changes nothing either.
        await store.releaseLeases({ expiredBefore: T0 + 200 });
        const [taken] = await store.claim(claimReq({ owner: 'w2', now: T0 + 200 }));
        await store.settle([failed(d, 'w1')], T0 + 210);
        expect(await store.getDelivery(account.id, d.id)).toMatchObject({ status: 'in_flight', attempts: 0 });
        expect(await store.listAttempts(account.id, [d.id])).toEqual([]);
        expect((await store.getEndpoint(account.id, d.endpointId))?.failingSince).toBeNull();
        await store.settle([succeeded(taken, 'w2')], T0 + 220);
        expect(await store.getDelivery(account.id, d.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
        expect(await store.listAttempts(account.id, [d.id])).toHaveLength(1);
        // Once settled it is no longer in flight: a repeat settlement is ignored too.
        await store.settle([failed(taken, 'w2', 2)], T0 + 230);
        expect(await store.getDelivery(account.id, d.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
      });

      /** One delivery claimed by w1, its lease run out and handed back, and claimed by w1 again. */
      async function claimedTwiceByOneOwner() {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [first] = await store.claim(claimReq({ owner: 'w1', leaseMs: 100 }));
        await store.releaseLeases({ expiredBefore: T0 + 200 });
        const [second] = await store.claim(claimReq({ owner: 'w1', now: T0 + 200, leaseMs: 100 }));
        expect(second).toMatchObject({ id: first.id, attempts: 0 });
        return { account, first, second };
      }

      it('takes a new claim number with every claim: an earlier claim of the same owner, with no attempt recorded since, settles and renews nothing', async () => {
        // w1's lease runs out before any attempt is recorded; the reaper hands the delivery back
        // and w1 claims it again: same owner, same attempts, a new claim.
        const { account, first, second } = await claimedTwiceByOneOwner();
        expect(second.claimNo).not.toBe(first.claimNo);
        // The first claim's lease renewal and late outcomes are refused, and change nothing.
        expect(await store.extendLeases('w1', [{ id: first.id, claimNo: first.claimNo }], T0 + 10_000)).toBe(0);
        expect(await store.settle([retry(first, 'w1', T0 + 1_000)], T0 + 210)).toEqual([first.id]);
        const release: Settlement = { deliveryId: first.id, owner: 'w1', endpointId: first.endpointId, outcome: 'release', nextAttemptAt: T0, claimNo: first.claimNo };
        expect(await store.settle([release], T0 + 211)).toEqual([first.id]);
        expect(await store.getDelivery(account.id, first.id)).toMatchObject({ status: 'in_flight', attempts: 0, updatedAt: T0 + 200 });
        expect(await store.listAttempts(account.id, [first.id])).toEqual([]);
        // The second claim's own lease and outcome apply.
        expect(await store.extendLeases('w1', [{ id: second.id, claimNo: second.claimNo }], T0 + 10_000)).toBe(1);
        expect(await store.releaseLeases({ expiredBefore: T0 + 5_000 })).toBe(0);
        expect(await store.settle([succeeded(second, 'w1')], T0 + 220)).toEqual([]);
        expect(await store.getDelivery(account.id, first.id)).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200 });
        expect((await store.listAttempts(account.id, [first.id])).map((a) => a.attemptNo)).toEqual([1]);
        const [health] = await store.endpointHealth(account.id, [first.endpointId], T0 - 60_000);
        expect(health.attempts).toMatchObject({ succeeded: 1, retried: 0, failed: 0 });
      });

      it('gives a delivery created leased by an ingest a claim number that a later claim of it does not share', async () => {
        const { account, targets } = await setup(1);
        const lease = { owner: 'w1', until: T0 + 100 };
        const [out] = await store.ingest([ingestItem(account.id, [{ ...targets[0], leased: true }])], T0, lease);
        const [lent] = out.leased ?? [];
        expect(lent).toBeDefined();
        await store.releaseLeases({ expiredBefore: T0 + 200 });
        const [claimed] = await store.claim(claimReq({ owner: 'w1', now: T0 + 200 }));
        expect(claimed.id).toBe(lent.id);
        expect(await store.settle([failed(lent, 'w1')], T0 + 210)).toEqual([lent.id]);
        expect(await store.settle([succeeded(claimed, 'w1')], T0 + 220)).toEqual([]);
        expect(await store.getDelivery(account.id, lent.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
      });

      it('applies a settlement only to the claim it answers: a late one of an earlier claim by the same owner records nothing twice', async () => {
        // w1's lease runs out while its outcome waits; the reaper hands it back and w1 claims it again.
        const { account, first, second } = await claimedTwiceByOneOwner();
        // The first claim's late outcome is refused (see the claim number test above); the
        // second's is the delivery's first attempt, recorded.
        expect(await store.settle([retry(first, 'w1', T0 + 1_000)], T0 + 210)).toEqual([first.id]);
        expect(await store.settle([retry(second, 'w1', T0 + 1_000)], T0 + 210)).toEqual([]);
        // Claimed a third time before the second claim's outcome arrives: that one answers the
        // second claim, so neither it nor its hand-back touches the third.
        const [third] = await store.claim(claimReq({ owner: 'w1', now: T0 + 1_000 }));
        expect(third).toMatchObject({ id: first.id, attempts: 1 });
        expect(await store.settle([succeeded(second, 'w1', 1)], T0 + 1_010)).toEqual([first.id]);
        const handBack: Settlement = { deliveryId: second.id, owner: 'w1', endpointId: second.endpointId, outcome: 'release', nextAttemptAt: T0, claimNo: second.claimNo };
        expect(await store.settle([handBack], T0 + 1_015)).toEqual([first.id]);
        expect(await store.getDelivery(account.id, first.id)).toMatchObject({ status: 'in_flight', attempts: 1, lastStatusCode: 503 });
        expect((await store.listAttempts(account.id, [first.id])).map((a) => a.attemptNo)).toEqual([1]);

        // The third claim's own outcome applies, once.
        expect(await store.settle([succeeded(third, 'w1', 2)], T0 + 1_020)).toEqual([]);
        expect(await store.settle([succeeded(third, 'w1', 2), failed(third, 'w1', 2)], T0 + 1_030)).toEqual([first.id, first.id]);
        expect(await store.getDelivery(account.id, first.id)).toMatchObject({ status: 'succeeded', attempts: 2, lastStatusCode: 200 });
        expect((await store.listAttempts(account.id, [first.id])).map((a) => a.attemptNo).sort()).toEqual([1, 2]);
        const [health] = await store.endpointHealth(account.id, [first.endpointId], T0 - 60_000);
        expect(health.attempts).toMatchObject({ succeeded: 1, retried: 1, failed: 0 });
      });

      it('settles a mixed batch in one call', async () => {
        const { account, targets } = await setup(4);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const ds = await store.claim(claimReq());
        expect(ds).toHaveLength(4);
        await store.settle(
          [
            succeeded(ds[0], 'w1'),
            retry(ds[1], 'w1', T0 + 500),
            failed(ds[2], 'w1'),
            { deliveryId: ds[3].id, owner: 'w1', endpointId: ds[3].endpointId, outcome: 'release', claimNo: ds[3].claimNo, nextAttemptAt: T0 + 5 },
          ],
          T0 + 1,
        );
        expect(await store.stats(account.id)).toEqual({ pending: 2, inFlight: 0, succeeded: 1, failed: 1, retrying: 1 });
        expect(await store.listAttempts(account.id, ds.map((d) => d.id))).toHaveLength(3);
        await store.settle([], T0 + 2);
      });

      it('maintains failing_since: set by the first failure, kept by later ones, cleared by a success', async () => {
        const { account, targets } = await setup(1);
        const endpointId = targets[0].id;
        const failingSince = async () => (await store.getEndpoint(account.id, endpointId))!.failingSince;
        await store.ingest([ingestItem(account.id, targets), ingestItem(account.id, targets), ingestItem(account.id, targets)], T0);

        const [d1] = await store.claim(claimReq({ limit: 1 }));
        await store.settle([retry(d1, 'w1', T0 + 10_000)], T0 + 100);
        expect(await failingSince()).toBe(T0 + 100);

        const [d2] = await store.claim(claimReq({ limit: 1, now: T0 + 200 }));
        await store.settle([failed(d2, 'w1')], T0 + 300);
        expect(await failingSince()).toBe(T0 + 100);

        // A release says nothing about the endpoint's health.
        const [d3] = await store.claim(claimReq({ limit: 1, now: T0 + 400 }));
        await store.settle([{ deliveryId: d3.id, owner: 'w1', endpointId, outcome: 'release', claimNo: d3.claimNo, nextAttemptAt: T0 + 400 }], T0 + 450);
        expect(await failingSince()).toBe(T0 + 100);

        // One success in a batch of failures clears it.
        await store.ingest([ingestItem(account.id, targets)], T0 + 500);
        const batch = await store.claim(claimReq({ now: T0 + 600 }));
        expect(batch).toHaveLength(2);
        await store.settle([failed(batch[0], 'w1'), succeeded(batch[1], 'w1')], T0 + 700);
        expect(await failingSince()).toBeNull();
      });
    });

    describe('failing_since after a quiet spell', () => {
      const MIN = 60_000;
      const HOUR = 60 * MIN;
      /** The settlement with its attempt started at `startedAt`. */
      const startedAt = (s: Settlement, at: number): Settlement => (s.outcome === 'release' ? s : { ...s, attempt: { ...s.attempt, startedAt: at } });

      /** An endpoint with `n` due deliveries, and a way to fail (or succeed) the next one with its attempt started at `at`. */
      async function failing(n: number, over: Partial<Endpoint> = {}) {
        const account = await store.createAccount({ name: 'Acme' });
        const endpoint = endpointFixture(account.id, over);
        await store.createEndpoint(endpoint);
        const targets = [{ id: endpoint.id, ordered: false }];
        await store.ingest(Array.from({ length: n }, () => ingestItem(account.id, targets)), T0);
        const attempt = async (outcome: 'failed' | 'succeeded', at: number, settledAt: number, gapMs?: number) => {
          const [d] = await store.claim(claimReq({ limit: 1, now: at }));
          expect(d).toBeDefined();
          const s = outcome === 'failed' ? failed(d, 'w1') : succeeded(d, 'w1');
          await store.settle([startedAt(s, at)], settledAt, gapMs);
        };
        const failingSince = async () => (await store.getEndpoint(account.id, endpoint.id))!.failingSince;
        return { attempt, failingSince };
      }

      it('keeps the start while failures come within the gap, restarts it after a longer quiet spell, and a success clears it', async () => {
        const gap = HOUR;
        const { attempt, failingSince } = await failing(5);
        await attempt('failed', T0 + 10, T0 + 100, gap);
        expect(await failingSince()).toBe(T0 + 100);
        // 50 minutes after the previous attempt, then 50 more: 100 minutes past the start in all, one period.
        await attempt('failed', T0 + 50 * MIN, T0 + 50 * MIN + 100, gap);
        await attempt('failed', T0 + 100 * MIN, T0 + 100 * MIN + 100, gap);
        expect(await failingSince()).toBe(T0 + 100);
        // No attempt for more than the gap: this failure begins a new period, at its settling.
        const after = T0 + 100 * MIN + gap + MIN;
        await attempt('failed', after, after + 100, gap);
        expect(await failingSince()).toBe(after + 100);
        await attempt('succeeded', after + MIN, after + MIN + 100, gap);
        expect(await failingSince()).toBeNull();
      });

      it('restarts a failing_since whose endpoint has no attempt on record, and uses a 25-hour gap by default', async () => {
        const { attempt, failingSince } = await failing(3, { failingSince: T0 - 10 * 24 * HOUR });
        await attempt('failed', T0, T0 + 100);
        expect(await failingSince()).toBe(T0 + 100);
        await attempt('failed', T0 + 24 * HOUR, T0 + 24 * HOUR + 100);
        expect(await failingSince()).toBe(T0 + 100);
        await attempt('failed', T0 + 50 * HOUR, T0 + 50 * HOUR + 100);
        expect(await failingSince()).toBe(T0 + 50 * HOUR + 100);
      });
    });

    describe('attempt rollup: endpoint health and activity', () => {
      const MIN = 60_000;
      /** A settlement whose attempt started at `at` and took `ms`. */
      const at = (s: Settlement, startedAt: number, durationMs: number): Settlement =>
        s.outcome === 'release' ? s : { ...s, attempt: { ...s.attempt, startedAt, durationMs } };

      it('counts each applied attempt once per outcome and minute; releases and stale leases count nothing', async () => {
        const { account, endpoints, targets } = await setup(2);
        const [e0, e1] = endpoints;
        const items = Array.from({ length: 3 }, () => ingestItem(account.id, targets));
        await store.ingest(items, T0);
        const ds = await store.claim(claimReq());
        const of = (e: Endpoint) => ds.filter((d) => d.endpointId === e.id);
        const [a, b, c] = of(e0);
        const [x, y, z] = of(e1);
        await store.settle(
          [
            at(succeeded(a, 'w1'), T0 + 1_000, 10),
            at(retry(b, 'w1', T0 + 10 * MIN), T0 + 2_000, 30),
            at(failed(c, 'w1'), T0 + MIN + 5, 50),
            at(succeeded(x, 'w1'), T0 + MIN + 6, 7),
            at(succeeded(y, 'intruder'), T0 + MIN + 7, 1_000),
            { deliveryId: z.id, owner: 'w1', endpointId: e1.id, outcome: 'release', claimNo: z.claimNo, nextAttemptAt: T0 },
          ],
          T0 + 2 * MIN,
        );
        const minute0 = T0 - (T0 % MIN);
        const row = (minute: number, succeeded: number, retried: number, failed: number, latencySumMs: number, latencyMaxMs: number) => ({ minute, succeeded, retried, failed, latencySumMs, latencyMaxMs });
        expect(await store.activity(account.id, { from: minute0, to: minute0 + 10 * MIN })).toEqual([row(minute0, 1, 1, 0, 40, 30), row(minute0 + MIN, 1, 0, 1, 57, 50)]);
        expect(await store.activity(account.id, { from: minute0, to: minute0 + 10 * MIN, endpointId: e1.id })).toEqual([row(minute0 + MIN, 1, 0, 0, 7, 7)]);
        expect(await store.activity(account.id, { from: minute0 + MIN, to: minute0 + 10 * MIN, endpointId: e0.id })).toEqual([row(minute0 + MIN, 0, 0, 1, 50, 50)]);
        expect(await store.activity(account.id, { from: minute0, to: minute0 + MIN })).toEqual([row(minute0, 1, 1, 0, 40, 30)]);

        // A later batch adds to the same minute rather than replacing it.
        const [again] = await store.claim(claimReq({ now: T0 + 10 * MIN, excludeEndpoints: [e1.id] }));
        expect(again.id).toBe(b.id);
        await store.settle([at(succeeded(again, 'w1', 2), T0 + 1_500, 90)], T0 + 10 * MIN);
        expect((await store.activity(account.id, { from: minute0, to: minute0 + MIN }))[0]).toEqual(row(minute0, 2, 1, 0, 130, 90));
        const other = await setup(1);
        expect(await store.activity(other.account.id, { from: minute0, to: minute0 + 10 * MIN })).toEqual([]);
      });

      it('endpointHealth: queue, attempts since the window start and the last attempt, for the account\'s ids only', async () => {
        const { account, endpoints, targets } = await setup(3);
        const [e0, e1, idle] = endpoints;
        const other = await setup(1);
        await store.ingest([ingestItem(account.id, [targets[0], targets[1]]), ingestItem(account.id, [targets[0], targets[1]])], T0);
        await store.ingest([ingestItem(account.id, [targets[0]])], T0 + 50);
        const first = await store.claim(claimReq({ limit: 10, now: T0 + 50 }));
        const e0ds = first.filter((d) => d.endpointId === e0.id);
        const e1ds = first.filter((d) => d.endpointId === e1.id);
        // e0: one old success (an hour before the window), one retry in the window, one left in flight.
        await store.settle([at(succeeded(e0ds[0], 'w1'), T0 - 2 * 3_600_000, 5), at(retry(e0ds[1], 'w1', T0 + 3_600_000), T0 + 100, 40)], T0 + 200);
        // e1: one success, one final failure, both in the window.
        await store.settle([at(succeeded(e1ds[0], 'w1'), T0 + 300, 20), at(failed(e1ds[1], 'w1'), T0 + 400, 60)], T0 + 500);
        await store.ingest([ingestItem(account.id, [targets[1]])], T0 + 600);

        const health = await store.endpointHealth(account.id, [e0.id, e1.id, idle.id, other.endpoints[0].id, 'ep_missing'], T0 - 3_600_000);
        const byId = new Map(health.map((h) => [h.endpointId, h]));
        expect([...byId.keys()].sort()).toEqual([e0.id, e1.id, idle.id].sort());
        expect(byId.get(e0.id)).toEqual({
          endpointId: e0.id,
          queue: { pending: 0, retrying: 1, inFlight: 1 },
          attempts: { succeeded: 0, retried: 1, failed: 0, latencySumMs: 40, latencyMaxMs: 40 },
          lastAttemptAt: T0 + 100,
        });
        expect(byId.get(e1.id)).toEqual({
          endpointId: e1.id,
          queue: { pending: 1, retrying: 0, inFlight: 0 },
          attempts: { succeeded: 1, retried: 0, failed: 1, latencySumMs: 80, latencyMaxMs: 60 },
          lastAttemptAt: T0 + 400,
        });
        expect(byId.get(idle.id)).toEqual({
          endpointId: idle.id,
          queue: { pending: 0, retrying: 0, inFlight: 0 },
          attempts: { succeeded: 0, retried: 0, failed: 0, latencySumMs: 0, latencyMaxMs: 0 },
          lastAttemptAt: null,
        });
        // A wider window takes in e0's old success; another account sees none of it.
        expect((await store.endpointHealth(account.id, [e0.id], T0 - 3 * 3_600_000))[0].attempts).toMatchObject({ succeeded: 1, retried: 1 });
        expect(await store.endpointHealth(other.account.id, [e0.id, e1.id], 0)).toEqual([]);
        expect(await store.endpointHealth(account.id, [], 0)).toEqual([]);
      });

      it('prune keeps rollup rows 7 days beyond the retention cut-off, then removes them', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [d] = await store.claim(claimReq());
        await store.settle([at(failed(d, 'w1'), T0, 10)], T0 + 1);
        const window = { from: T0 - 10 * MIN, to: T0 + 10 * MIN };
        const week = 7 * 24 * 3_600_000;
        await store.prune(T0 + week - MIN, 100);
        expect(await store.activity(account.id, window)).toHaveLength(1);
        await store.prune(T0 + week + MIN, 100);
        expect(await store.activity(account.id, window)).toEqual([]);
      });
    });

    describe('per-resource ordering', () => {
      const asset = (id: string) => ({ resource: { type: 'asset', id } });

      it('makes only the head of each (endpoint, resource) claimable, the next once the head succeeds', async () => {
        const { account, targets } = await setup(1, 'per_resource');
        const items = [ingestItem(account.id, targets, asset('1')), ingestItem(account.id, targets, asset('1')), ingestItem(account.id, targets, asset('2'))];
        await store.ingest(items, T0);
        const first = await store.claim(claimReq());
        expect(first.map((d) => [d.resourceKey, d.sequence]).sort()).toEqual([
          ['asset:1', 1],
          ['asset:2', 1],
        ]);
        expect(await store.claim(claimReq())).toEqual([]);
        const head = first.find((d) => d.resourceKey === 'asset:1')!;
        await store.settle([succeeded(head, 'w1')], T0 + 1);
        const next = await store.claim(claimReq({ now: T0 + 2 }));
        expect(next.map((d) => [d.resourceKey, d.sequence])).toEqual([['asset:1', 2]]);
        expect(next[0].eventId).toBe(items[1].messageId);
      });

      it('holds the rest back while the head waits for a retry, and lets them go once it fails for good', async () => {
        const { account, targets } = await setup(1, 'per_resource');
        await store.ingest([ingestItem(account.id, targets, asset('1')), ingestItem(account.id, targets, asset('1'))], T0);
        const [head] = await store.claim(claimReq());
        expect(head.sequence).toBe(1);
        await store.settle([retry(head, 'w1', T0 + 1_000)], T0 + 1);
        expect(await store.claim(claimReq({ now: T0 + 500 }))).toEqual([]);
        const [again] = await store.claim(claimReq({ now: T0 + 1_000 }));
        expect(again.id).toBe(head.id);
        expect(await store.claim(claimReq({ now: T0 + 1_000 }))).toEqual([]);
        await store.settle([failed(again, 'w1', 2)], T0 + 1_001);
        const [second] = await store.claim(claimReq({ now: T0 + 1_002 }));
        expect(second.sequence).toBe(2);
      });

      it('keeps resources, endpoints and unordered endpoints independent', async () => {
        const a = await store.createAccount({ name: 'A' });
        const ordered = endpointFixture(a.id, { ordering: 'per_resource' });
        const free = endpointFixture(a.id);
        await store.createEndpoint(ordered);
        await store.createEndpoint(free);
        const targets = [
          { id: ordered.id, ordered: true },
          { id: free.id, ordered: false },
        ];
        await store.ingest([ingestItem(a.id, targets, asset('1')), ingestItem(a.id, targets, asset('1')), ingestItem(a.id, targets, asset('1'))], T0);
        const got = await store.claim(claimReq());
        expect(got.filter((d) => d.endpointId === free.id)).toHaveLength(3);
        expect(got.filter((d) => d.endpointId === ordered.id).map((d) => d.sequence)).toEqual([1]);
      });

      it('sends a replay outside the order: a retried or recovered old delivery neither waits for nor holds back newer ones', async () => {
        const { account, targets } = await setup(1, 'per_resource');
        await store.ingest([ingestItem(account.id, targets, asset('1'))], T0);
        const [first] = await store.claim(claimReq());
        await store.settle([succeeded(first, 'w1')], T0 + 1);
        // Event 1 is replayed (and keeps failing, so it stays pending), then event 2 arrives.
        await store.retryDelivery(account.id, first.id, T0 + 2);
        const [replay] = await store.claim(claimReq({ now: T0 + 3 }));
        expect(replay.id).toBe(first.id);
        await store.settle([retry(replay, 'w1', T0 + 60_000)], T0 + 4);
        await store.ingest([ingestItem(account.id, targets, asset('1'))], T0 + 5);
        const [second] = await store.claim(claimReq({ now: T0 + 6 }));
        expect(second?.sequence).toBe(2);
        await store.settle([failed(second, 'w1')], T0 + 7);
        // The same through recover: event 2 (failed) goes again while event 1 is still pending.
        expect(await recoverAll(account.id, targets[0].id, failedSince(T0), T0 + 8)).toBe(1);
        const [recovered] = await store.claim(claimReq({ now: T0 + 9 }));
        expect(recovered?.id).toBe(second.id);
      });

      it('retrying a pending delivery now keeps it in its order: it neither jumps the head nor frees the ones behind it', async () => {
        const { account, targets } = await setup(1, 'per_resource');
        const items = [ingestItem(account.id, targets, asset('1')), ingestItem(account.id, targets, asset('1'))];
        await store.ingest(items, T0);
        const [head] = await store.claim(claimReq());
        await store.settle([retry(head, 'w1', T0 + 60_000)], T0 + 1);
        const [second] = (await store.listDeliveries(account.id, { limit: 1, eventId: items[1].messageId })).items;
        // The second, asked to go now, still waits for the head.
        expect(await store.retryDelivery(account.id, second.id, T0 + 10)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 10 });
        expect(await store.claim(claimReq({ now: T0 + 11 }))).toEqual([]);
        // The head, asked to go now, goes alone: the second still waits for its outcome.
        await store.retryDelivery(account.id, head.id, T0 + 12);
        const now = await store.claim(claimReq({ now: T0 + 13 }));
        expect(now.map((d) => d.id)).toEqual([head.id]);
        await store.settle([succeeded(now[0], 'w1', 2)], T0 + 14);
        expect((await store.claim(claimReq({ now: T0 + 15 }))).map((d) => d.id)).toEqual([second.id]);
      });

      it('switching ordering on puts the deliveries already queued in order: a new event waits behind them', async () => {
        const { account, endpoints, targets } = await setup(1);
        // Queued while unordered: sequence 1 in flight, sequence 2 not tried yet.
        await store.ingest([ingestItem(account.id, targets, asset('1')), ingestItem(account.id, targets, asset('1'))], T0);
        const first = await store.claim(claimReq({ limit: 1 }));
        const on = { ...endpoints[0], ordering: 'per_resource' as const };
        await store.updateEndpoint(on, endpoints[0]);
        await store.ingest([ingestItem(account.id, [{ id: on.id, ordered: true }], asset('1'))], T0 + 1);
        // Neither sequence 2 nor the new 3 may go before 1, in flight or waiting for its retry.
        expect(await store.claim(claimReq({ now: T0 + 2 }))).toEqual([]);
        await store.settle([retry(first[0], 'w1', T0 + 60_000)], T0 + 2);
        expect(await store.claim(claimReq({ now: T0 + 3 }))).toEqual([]);
        const [head] = await store.claim(claimReq({ now: T0 + 60_000 }));
        expect(head.sequence).toBe(1);
        await store.settle([succeeded(head, 'w1', 2)], T0 + 60_001);
        expect((await store.claim(claimReq({ now: T0 + 60_002 }))).map((d) => d.sequence)).toEqual([2]);
      });

      it('switching ordering off releases the queued deliveries of every chain at once', async () => {
        const { account, endpoints, targets } = await setup(1, 'per_resource');
        await store.ingest([1, 2, 3].map(() => ingestItem(account.id, targets, asset('1'))), T0);
        const [head] = await store.claim(claimReq());
        await store.settle([retry(head, 'w1', T0 + 60_000)], T0 + 1);
        await store.updateEndpoint({ ...endpoints[0], ordering: 'none' }, endpoints[0]);
        expect((await store.claim(claimReq({ now: T0 + 2 }))).map((d) => d.sequence).sort()).toEqual([2, 3]);
      });

      it('holds a disabled endpoint\'s chains where they are: enabled again, the head goes first, alone', async () => {
        const { account, endpoints, targets } = await setup(1, 'per_resource');
        await store.ingest([1, 2].map(() => ingestItem(account.id, targets, asset('1'))), T0);
        const off = { ...endpoints[0], disabled: true, disabledReason: 'by hand' };
        await store.updateEndpoint(off, endpoints[0]);
        expect(await store.claim(claimReq())).toEqual([]);
        await store.updateEndpoint({ ...off, disabled: false, disabledReason: null }, off);
        expect((await store.claim(claimReq({ now: T0 + 1 }))).map((d) => d.sequence)).toEqual([1]);
      });

      it('an ingest matched before an ordering switch commits its deliveries in the order set at its commit, either way', async () => {
        const { account, endpoints, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets, asset('1'))], T0);
        const [head] = await store.claim(claimReq({ limit: 1 }));
        const on = { ...endpoints[0], ordering: 'per_resource' as const };
        await store.updateEndpoint(on, endpoints[0]);
        // Matched while the endpoint was unordered, and offered to a dispatcher as such: it still
        // waits behind the head, in flight, and no dispatcher is handed it.
        const [late] = await store.ingest([ingestItem(account.id, [{ id: on.id, ordered: false, leased: true }], asset('1'))], T0 + 1, { owner: 'w2', until: T0 + LEASE });
        expect(late.leased).toBeUndefined();
        expect(await store.claim(claimReq({ owner: 'w2', now: T0 + 2 }))).toEqual([]);
        await store.settle([succeeded(head, 'w1')], T0 + 3);
        expect((await store.claim(claimReq({ owner: 'w2', now: T0 + 4 }))).map((d) => d.sequence)).toEqual([2]);

        // Switched off: deliveries matched while it was ordered do not wait for each other.
        await store.updateEndpoint(endpoints[0], on);
        await store.ingest([ingestItem(account.id, [{ id: on.id, ordered: true }], asset('2')), ingestItem(account.id, [{ id: on.id, ordered: true }], asset('2'))], T0 + 5);
        expect((await store.claim(claimReq({ owner: 'w3', now: T0 + 6 }))).map((d) => d.sequence)).toEqual([1, 2]);
      });

      it('does not order deliveries of events without a resource', async () => {
        const { account, targets } = await setup(1, 'per_resource');
        await store.ingest([ingestItem(account.id, targets), ingestItem(account.id, targets)], T0);
        expect(await store.claim(claimReq())).toHaveLength(2);
      });
    });

    /**
     * What a recover does through the store: a recovery of `scope` begun at `now` and worked off
     * in chunks (app/recoveries.ts runs it so); how many deliveries it re-queued.
     */
    async function recoverAll(accountId: string, endpointId: string, scope: RecoverScope, now: number): Promise<number> {
      const id = newId('rcv');
      const lease = { owner: 'recoverer', until: now + 60_000 };
      const fixed = { ...scope, until: scope.until ?? now };
      await store.beginRecovery({ id, accountId, endpointId, idempotencyKey: null, request: id, scope: fixed, total: 0, lease }, now);
      for (let i = 0; i < 100; i++) {
        const r = await store.advanceRecovery(id, lease, 2, now);
        if (r?.status !== 'running') return r?.requeued ?? 0;
      }
      throw new Error(`recovery ${id} did not finish in 100 chunks`);
    }

    describe('replay', () => {
      it('retryDelivery re-queues a finished delivery now, but not one in flight or of another account', async () => {
        const { account, targets } = await setup(1);
        const other = await store.createAccount({ name: 'B' });
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [d] = await store.claim(claimReq());
        expect(await store.retryDelivery(account.id, d.id, T0 + 5)).toMatchObject({ status: 'in_flight' });
        await store.settle([failed(d, 'w1')], T0 + 10);

        expect(await store.retryDelivery(other.id, d.id, T0 + 20)).toBeUndefined();
        expect((await store.getDelivery(account.id, d.id))?.status).toBe('failed');
        expect(await store.retryDelivery(account.id, 'dlv_missing', T0 + 20)).toBeUndefined();

        const requeued = await store.retryDelivery(account.id, d.id, T0 + 20);
        expect(requeued).toMatchObject({ id: d.id, status: 'pending', nextAttemptAt: T0 + 20, attempts: 1, updatedAt: T0 + 20 });
        expect(await store.nextDueAt()).toBe(T0 + 20);
        const [again] = await store.claim(claimReq({ now: T0 + 20 }));
        expect(again).toMatchObject({ id: d.id, attempts: 1 });
        await store.settle([succeeded(again, 'w1', 2)], T0 + 30);
        // Succeeded deliveries can be replayed too.
        expect(await store.retryDelivery(account.id, d.id, T0 + 40)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 40 });
      });

      it('a recover re-queues the failed deliveries of one endpoint created since a time', async () => {
        const { account, endpoints, targets } = await setup(2);
        const other = await store.createAccount({ name: 'B' });
        const [e0] = endpoints;
        await store.ingest([ingestItem(account.id, targets)], T0);
        await store.ingest([ingestItem(account.id, targets)], T0 + 100);
        await store.ingest([ingestItem(account.id, targets)], T0 + 200);
        const all = await store.claim(claimReq({ now: T0 + 300 }));
        expect(all).toHaveLength(6);
        const pendingOne = all.find((d) => d.endpointId === e0.id && d.createdAt === T0 + 200)!;
        await store.settle(
          all.map((d) => (d === pendingOne ? retry(d, 'w1', T0 + 10_000) : failed(d, 'w1'))),
          T0 + 301,
        );

        expect(await store.countRecoverable(other.id, e0.id, failedSince(T0))).toBe(0);
        expect(await recoverAll(other.id, e0.id, failedSince(T0), T0 + 400)).toBe(0);
        // The count changes nothing and matches what the recover then re-queues.
        expect(await store.countRecoverable(account.id, e0.id, failedSince(T0 + 100))).toBe(1);
        expect(await store.countRecoverable(account.id, e0.id, failedSince(T0 + 100))).toBe(1);
        expect(await store.countRecoverable(account.id, e0.id, failedSince(0))).toBe(2);
        expect(await recoverAll(account.id, e0.id, failedSince(T0 + 100), T0 + 400)).toBe(1);
        expect(await store.countRecoverable(account.id, e0.id, failedSince(T0 + 100))).toBe(0);
        const e0Deliveries = (await store.listDeliveries(account.id, { limit: 10, endpointId: e0.id })).items;
        const byCreated = new Map(e0Deliveries.map((d) => [d.createdAt, d]));
        expect(byCreated.get(T0)).toMatchObject({ status: 'failed' });
        expect(byCreated.get(T0 + 100)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 400, updatedAt: T0 + 400 });
        expect(byCreated.get(T0 + 200)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 10_000 });
        expect(await store.stats(account.id, endpoints[1].id)).toMatchObject({ failed: 3, pending: 0 });
        expect(await recoverAll(account.id, e0.id, failedSince(0), T0 + 500)).toBe(1);
        expect(await store.stats(account.id, e0.id)).toMatchObject({ failed: 0, pending: 3 });
      });

      it('a recover keeps to a time range, event types and the statuses asked for', async () => {
        const { account, endpoints, targets } = await setup(1);
        const [e0] = endpoints;
        await store.ingest([ingestItem(account.id, targets, { type: 'asset.created' })], T0);
        await store.ingest([ingestItem(account.id, targets, { type: 'asset.deleted' })], T0 + 100);
        await store.ingest([ingestItem(account.id, targets, { type: 'asset.created' })], T0 + 200);
        await store.ingest([ingestItem(account.id, targets, { type: 'asset.created' })], T0 + 300);
        const all = await store.claim(claimReq({ now: T0 + 400 }));
        expect(all).toHaveLength(4);
        // The one of T0 + 200 succeeds, the others fail.
        await store.settle(all.map((d) => (d.createdAt === T0 + 200 ? succeeded(d, 'w1', 1) : failed(d, 'w1'))), T0 + 401);
        const scope = (over: Partial<RecoverScope>): RecoverScope => ({ ...failedSince(T0), ...over });

        // [since, until): T0 + 300 is left out.
        expect(await store.countRecoverable(account.id, e0.id, scope({ until: T0 + 300 }))).toBe(2);
        expect(await store.countRecoverable(account.id, e0.id, scope({ eventTypes: ['asset.created'] }))).toBe(2);
        expect(await store.countRecoverable(account.id, e0.id, scope({ eventTypes: ['asset.created'], statuses: ['failed', 'succeeded'] }))).toBe(3);
        expect(await store.countRecoverable(account.id, e0.id, scope({ eventTypes: [], statuses: ['failed', 'succeeded'] }))).toBe(0);
        expect(await store.countRecoverable(account.id, e0.id, scope({ statuses: ['succeeded'] }))).toBe(1);

        expect(await recoverAll(account.id, e0.id, scope({ since: T0 + 100, until: T0 + 300, statuses: ['failed', 'succeeded'] }), T0 + 500)).toBe(2);
        const byCreated = new Map((await store.listDeliveries(account.id, { limit: 10, endpointId: e0.id })).items.map((d) => [d.createdAt, d]));
        expect(byCreated.get(T0)).toMatchObject({ status: 'failed' });
        expect(byCreated.get(T0 + 100)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 500, attempts: 1 });
        expect(byCreated.get(T0 + 200)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 500, attempts: 1 });
        expect(byCreated.get(T0 + 300)).toMatchObject({ status: 'failed' });
        // Pending ones are never counted again, whatever the statuses asked for.
        expect(await store.countRecoverable(account.id, e0.id, scope({ statuses: ['failed', 'succeeded'] }))).toBe(2);
      });

      it('a recover of prefix.* entries keeps to the types stored under those prefixes, beside names', async () => {
        const { account, endpoints, targets } = await setup(1);
        const [e0] = endpoints;
        const types = ['acme.crank.turned', 'acme.widget_x.built', 'acme_b.x', 'acmeb.x', 'a_b.x', 'axb.x', 'asset.created'];
        for (const [i, type] of types.entries()) await store.ingest([ingestItem(account.id, targets, { type })], T0 + i);
        const all = await store.claim(claimReq({ now: T0 + 100 }));
        expect(all).toHaveLength(types.length);
        await store.settle(all.map((d) => failed(d, 'w1')), T0 + 101);
        const scope = (eventTypes: string[]): RecoverScope => ({ ...failedSince(T0), eventTypes });

        expect(await store.countRecoverable(account.id, e0.id, scope(['acme.*']))).toBe(2);
        expect(await store.countRecoverable(account.id, e0.id, scope(['a_b.*']))).toBe(1);
        expect(await store.countRecoverable(account.id, e0.id, scope(['nothing.*']))).toBe(0);
        expect(await store.countRecoverable(account.id, e0.id, scope(['acme.*', 'asset.created']))).toBe(3);
        expect(await recoverAll(account.id, e0.id, scope(['acme.*', 'a_b.*']), T0 + 200)).toBe(3);
        const pending = (await store.listDeliveries(account.id, { limit: 50, status: 'pending' })).items.map((d) => d.eventType).sort();
        expect(pending).toEqual(['a_b.x', 'acme.crank.turned', 'acme.widget_x.built']);
      });

      it('a recovery re-queues its scope a chunk at a time from its cursor, once, for its lease holder only; a repeat finds it', async () => {
        const { account, endpoints, targets } = await setup(2);
        const other = await store.createAccount({ name: 'B' });
        const [e0, e1] = endpoints;
        for (let i = 0; i < 5; i++) await store.ingest([ingestItem(account.id, targets)], T0 + i);
        await store.settle((await store.claim(claimReq({ now: T0 + 10 }))).map((d) => failed(d, 'w1')), T0 + 11);
        const lease = { owner: 'r1', until: T0 + 1_000 };
        const input = { id: 'rcv_1', accountId: account.id, endpointId: e0.id, idempotencyKey: null, request: 'q', scope: { ...failedSince(T0), until: T0 + 20 }, total: 5, lease };
        expect(await store.beginRecovery(input, T0 + 20)).toMatchObject({ created: true, recovery: { id: 'rcv_1', status: 'running', requeued: 0, total: 5 } });
        // The same request while it runs is answered with it; another account sees nothing of it.
        expect(await store.beginRecovery({ ...input, id: 'rcv_2' }, T0 + 21)).toMatchObject({ created: false, recovery: { id: 'rcv_1' } });
        expect(await store.findRecovery(account.id, e0.id, null, 'q')).toMatchObject({ id: 'rcv_1' });
        expect(await store.findRecovery(other.id, e0.id, null, 'q')).toBeUndefined();
        expect(await store.getRecovery(other.id, e0.id, 'rcv_1')).toBeUndefined();

        expect(await store.advanceRecovery('rcv_1', { owner: 'r2', until: T0 + 2_000 }, 2, T0 + 30)).toBeUndefined();
        expect(await store.advanceRecovery('rcv_1', lease, 2, T0 + 30)).toMatchObject({ status: 'running', requeued: 2 });
        expect(await store.stats(account.id, e0.id)).toMatchObject({ pending: 2, failed: 3 });
        // Its runner stops; once the lease runs out another takes it over where it stopped.
        const r2 = { owner: 'r2', until: T0 + 5_000 };
        expect(await store.claimRecovery(r2, T0 + 500)).toBeUndefined();
        expect(await store.claimRecovery(r2, T0 + 1_500)).toMatchObject({ id: 'rcv_1', requeued: 2 });
        expect(await store.advanceRecovery('rcv_1', lease, 2, T0 + 1_600)).toBeUndefined();
        expect(await store.advanceRecovery('rcv_1', r2, 2, T0 + 1_600)).toMatchObject({ status: 'running', requeued: 4 });
        expect(await store.advanceRecovery('rcv_1', r2, 2, T0 + 1_700)).toMatchObject({ status: 'done', requeued: 5, finishedAt: T0 + 1_700 });
        expect(await store.advanceRecovery('rcv_1', r2, 2, T0 + 1_800)).toBeUndefined();
        expect(await store.stats(account.id, e0.id)).toMatchObject({ pending: 5, failed: 0 });
        expect(await store.stats(account.id, e1.id)).toMatchObject({ pending: 0, failed: 5 });
        // Done, the same request begins another; a key finds its recovery whatever its status.
        expect(await store.findRecovery(account.id, e0.id, null, 'q')).toBeUndefined();
        const keyed = { ...input, id: 'rcv_3', idempotencyKey: 'k' };
        expect(await store.beginRecovery(keyed, T0 + 2_000)).toMatchObject({ created: true });
        expect(await store.advanceRecovery('rcv_3', lease, 2, T0 + 2_000)).toMatchObject({ status: 'done', requeued: 0 });
        expect(await store.beginRecovery({ ...keyed, id: 'rcv_4', request: 'other' }, T0 + 2_100)).toMatchObject({ created: false, recovery: { id: 'rcv_3', request: 'q' } });
      });

      it("deleting an endpoint ends its recoveries: a running one finds nothing more to do and none is found, others' stay", async () => {
        const { account, endpoints, targets } = await setup(2);
        const [e0, e1] = endpoints;
        for (let i = 0; i < 5; i++) await store.ingest([ingestItem(account.id, targets)], T0 + i);
        await store.settle((await store.claim(claimReq({ now: T0 + 10 }))).map((d) => failed(d, 'w1')), T0 + 11);
        const lease = { owner: 'r1', until: T0 + 1_000 };
        const input = (id: string, endpointId: string) =>
          ({ id, accountId: account.id, endpointId, idempotencyKey: null, request: 'q', scope: { ...failedSince(T0), until: T0 + 20 }, total: 5, lease });
        await store.beginRecovery(input('rcv_gone', e0.id), T0 + 20);
        await store.beginRecovery(input('rcv_kept', e1.id), T0 + 20);
        expect(await store.advanceRecovery('rcv_gone', lease, 2, T0 + 30)).toMatchObject({ status: 'running', requeued: 2 });

        expect(await store.deleteEndpoint(account.id, e0.id)).toBe(true);
        expect(await store.advanceRecovery('rcv_gone', lease, 2, T0 + 40)).toBeUndefined();
        expect(await store.claimRecovery({ owner: 'r2', until: T0 + 9_000 }, T0 + 5_000)).toMatchObject({ id: 'rcv_kept' });
        expect(await store.claimRecovery({ owner: 'r3', until: T0 + 9_000 }, T0 + 5_000)).toBeUndefined();
        expect(await store.getRecovery(account.id, e0.id, 'rcv_gone')).toBeUndefined();
        expect(await store.findRecovery(account.id, e0.id, null, 'q')).toBeUndefined();
        expect(await store.getRecovery(account.id, e1.id, 'rcv_kept')).toMatchObject({ status: 'running' });
        expect((await h.rawRows('deliveries')).filter((r) => r.endpoint_id === e0.id && r.status === 'pending')).toHaveLength(2);
      });
    });

    describe('shared rate limits', () => {
      it('spaces reservations by the rate, allows a burst of 100 ms worth, and keys are independent', async () => {
        // 10/s: burst 1, so every reservation after the first waits 100 ms more.
        expect(await store.reserveRate([{ key: 'endpoint:a', rate: 10 }], T0)).toBe(0);
        expect(await store.reserveRate([{ key: 'endpoint:a', rate: 10 }], T0)).toBeCloseTo(100);
        expect(await store.reserveRate([{ key: 'endpoint:a', rate: 10 }], T0)).toBeCloseTo(200);
        expect(await store.reserveRate([{ key: 'endpoint:b', rate: 10 }], T0)).toBe(0);
        // Idle long enough: no debt, and no credit beyond the burst either.
        expect(await store.reserveRate([{ key: 'endpoint:a', rate: 10 }], T0 + 10_000)).toBe(0);
        expect(await store.reserveRate([{ key: 'endpoint:a', rate: 10 }], T0 + 10_000)).toBeCloseTo(100);
        // 100/s: a burst of 10 goes at once, the 11th waits one interval.
        const delays: number[] = [];
        for (let i = 0; i < 11; i++) delays.push(await store.reserveRate([{ key: 'account:x', rate: 100 }], T0));
        expect(delays.slice(0, 10).every((d) => d === 0)).toBe(true);
        expect(delays[10]).toBeCloseTo(10);
      });

      it('reserves under several limits at once: sends at the latest time they allow and charges every key then', async () => {
        // The account (100/s) is booked 5 s ahead; the endpoint (1/s, burst 1) is free.
        for (let i = 0; i < 509; i++) await store.reserveRate([{ key: 'account:busy', rate: 100 }], T0);
        const both = [
          { key: 'endpoint:slow', rate: 1 },
          { key: 'account:busy', rate: 100 },
        ];
        const first = await store.reserveRate(both, T0);
        expect(first).toBeCloseTo(5_000);
        // The endpoint was charged at that send time, not at its own free slot (T0): the next
        // message to it goes a whole second later, though the account would allow it 10 ms later.
        const second = await store.reserveRate(both, T0);
        expect(second).toBeCloseTo(6_000);
        // A key listed twice counts once, with its strictest rate; no limits, no wait.
        expect(await store.reserveRate([{ key: 'endpoint:twice', rate: 100 }, { key: 'endpoint:twice', rate: 1 }], T0)).toBe(0);
        expect(await store.reserveRate([{ key: 'endpoint:twice', rate: 1 }], T0)).toBeCloseTo(1_000);
        expect(await store.reserveRate([], T0)).toBe(0);
      });

      it('gives concurrent reservations under several limits a slot each, whatever order they list the keys in', async () => {
        const one = { key: 'endpoint:c1', rate: 10 };
        const two = { key: 'account:c1', rate: 10 };
        const delays = await Promise.all(Array.from({ length: 40 }, (_, i) => store.reserveRate(i % 2 ? [one, two] : [two, one], T0)));
        expect(delays.map((d) => Math.round(d)).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i * 100));
      });
    });

    describe('retention', () => {
      it('prunes old succeeded deliveries with their attempts and events, in bounded batches, keeping failed and recent work', async () => {
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets), ingestItem(account.id, targets), ingestItem(account.id, targets)], T0);
        const claimed = await store.claim(claimReq());
        await store.settle([succeeded(claimed[0], 'w1'), succeeded(claimed[1], 'w1'), failed(claimed[2], 'w1')], T0 + 10);
        await store.ingest([ingestItem(account.id, targets)], T0 + 5_000);
        const [recent] = await store.claim(claimReq({ now: T0 + 5_000 }));
        await store.settle([succeeded(recent, 'w1')], T0 + 5_010);

        expect(await store.prune(T0 + 1_000, 1)).toEqual({ deliveries: 1, events: 1 });
        expect(await store.prune(T0 + 1_000, 100)).toEqual({ deliveries: 1, events: 1 });
        expect(await store.prune(T0 + 1_000, 100)).toEqual({ deliveries: 0, events: 0 });
        expect(await store.getDelivery(account.id, claimed[0].id)).toBeUndefined();
        expect(await store.listAttempts(account.id, [claimed[0].id, claimed[1].id])).toEqual([]);
        expect(await store.getEvent(account.id, claimed[0].eventId)).toBeUndefined();
        // The failed delivery stays replayable, with its event; recent work is untouched.
        expect((await store.getDelivery(account.id, claimed[2].id))?.status).toBe('failed');
        expect(await store.getEvent(account.id, claimed[2].eventId)).toBeDefined();
        expect((await store.getDelivery(account.id, recent.id))?.status).toBe('succeeded');
      });

    });

    describe('queue inspection', () => {
      it('nextDueAt is the earliest pending due time, ignoring leased and finished deliveries', async () => {
        expect(await store.nextDueAt()).toBeNull();
        const { account, targets } = await setup(1);
        await store.ingest([ingestItem(account.id, targets)], T0 + 50);
        await store.ingest([ingestItem(account.id, targets)], T0 + 20);
        expect(await store.nextDueAt()).toBe(T0 + 20);
        const [d] = await store.claim(claimReq({ limit: 1, now: T0 + 100 }));
        expect(await store.nextDueAt()).toBe(T0 + 50);
        await store.settle([succeeded(d, 'w1')], T0 + 101);
        await store.claim(claimReq({ now: T0 + 100 }));
        expect(await store.nextDueAt()).toBeNull();
      });

      it('nextDueAt ignores deliveries no claim could take: disabled endpoints, chains blocked behind their head', async () => {
        const a = await store.createAccount({ name: 'A' });
        const off = endpointFixture(a.id, { disabled: true, disabledReason: 'x' });
        const ordered = endpointFixture(a.id, { ordering: 'per_resource' });
        await store.createEndpoint(off);
        await store.createEndpoint(ordered);
        await store.ingest([ingestItem(a.id, [{ id: off.id, ordered: false }])], T0);
        expect(await store.nextDueAt()).toBeNull();

        const chain = [{ id: ordered.id, ordered: true }];
        await store.ingest([ingestItem(a.id, chain, { resource: { type: 'asset', id: '1' } }), ingestItem(a.id, chain, { resource: { type: 'asset', id: '1' } })], T0 + 10);
        const [head] = await store.claim(claimReq({ now: T0 + 20 }));
        expect(head.sequence).toBe(1);
        // The head is in flight, the next is past due but blocked.
        expect(await store.nextDueAt()).toBeNull();
        await store.settle([retry(head, 'w1', T0 + 5_000)], T0 + 30);
        // Only the head's retry time can make progress.
        expect(await store.nextDueAt()).toBe(T0 + 5_000);
        await store.updateEndpoint({ ...off, disabled: false, disabledReason: null }, off);
        expect(await store.nextDueAt()).toBe(T0);
      });

      it('stats counts by status for everything, one account, or one endpoint', async () => {
        const { account, targets } = await setup(2);
        const other = await setup(1);
        await store.ingest([ingestItem(account.id, targets), ingestItem(account.id, targets)], T0);
        await store.ingest([ingestItem(other.account.id, other.targets)], T0);
        const claimed = await store.claim(claimReq({ limit: 3 }));
        await store.settle([succeeded(claimed[0], 'w1'), retry(claimed[1], 'w1', T0 + 99)], T0 + 1);
        const all = await store.stats();
        expect(all.pending + all.inFlight + all.succeeded + all.failed).toBe(5);
        expect(all).toEqual({ pending: 3, inFlight: 1, succeeded: 1, failed: 0, retrying: 1 });
        const mine = await store.stats(account.id);
        const theirs = await store.stats(other.account.id);
        expect(mine.pending + mine.inFlight + mine.succeeded + mine.failed).toBe(4);
        expect(theirs.pending + theirs.inFlight + theirs.succeeded + theirs.failed).toBe(1);
        const perEndpoint = await Promise.all(targets.map((t) => store.stats(account.id, t.id)));
        expect(perEndpoint.map((s) => s.pending + s.inFlight + s.succeeded + s.failed)).toEqual([2, 2]);
        expect(await store.stats(other.account.id, targets[0].id)).toEqual({ pending: 0, inFlight: 0, succeeded: 0, failed: 0, retrying: 0 });

        // Every status at once, exactly, in each scope.
        await store.settle([failed(claimed[2], 'w1')], T0 + 2);
        expect(await store.stats()).toEqual({ pending: 3, inFlight: 0, succeeded: 1, failed: 1, retrying: 1 });
        const expected = (endpointId: string) => {
          const mine = claimed.filter((d) => d.endpointId === endpointId);
          const unclaimed = (endpointId === other.targets[0].id ? 1 : 2) - mine.length;
          const retried = mine.filter((d) => d.id === claimed[1].id).length;
          return {
            pending: unclaimed + retried,
            inFlight: 0,
            succeeded: mine.filter((d) => d.id === claimed[0].id).length,
            failed: mine.filter((d) => d.id === claimed[2].id).length,
            retrying: retried,
          };
        };
        const sum = { pending: 0, inFlight: 0, succeeded: 0, failed: 0, retrying: 0 };
        for (const t of targets) {
          const e = expected(t.id);
          expect(await store.stats(account.id, t.id)).toEqual(e);
          expect(await store.stats(undefined, t.id)).toEqual(e);
          for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += e[k];
        }
        expect(await store.stats(account.id)).toEqual(sum);
        const theirTarget = other.targets[0].id;
        expect(await store.stats(other.account.id)).toEqual(expected(theirTarget));

        // queueDepth: the same queue figures in every scope, nothing of another account's endpoint.
        const depth = ({ pending, inFlight, retrying }: QueueStats) => ({ pending, inFlight, retrying });
        const scopes: [string | undefined, string | undefined][] = [[undefined, undefined], [account.id, undefined], [other.account.id, undefined], ...targets.map((t): [string, string] => [account.id, t.id]), [undefined, theirTarget]];
        for (const [a, e] of scopes) expect(await store.queueDepth(a, e)).toEqual(depth(await store.stats(a, e)));
        expect(await store.queueDepth(other.account.id, targets[0].id)).toEqual({ pending: 0, inFlight: 0, retrying: 0 });
        const leased = await store.claim(claimReq({ limit: 10 }));
        expect(leased.length).toBeGreaterThan(0);
        expect((await store.queueDepth()).inFlight).toBe(leased.length);
        expect((await store.queueDepth(account.id)).inFlight).toBe(leased.filter((d) => d.accountId === account.id).length);
      });

      it('getEvent finds an event by id or by idempotency key, within its account only', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const keyed = ingestItem(a.id, [], { idempotencyKey: 'order-42', type: 'asset.updated' });
        await store.ingest([keyed], T0);
        const byId = await store.getEvent(a.id, keyed.messageId);
        expect(byId).toMatchObject({ id: keyed.messageId, idempotencyKey: 'order-42', type: 'asset.updated' });
        expect(await store.getEvent(a.id, 'order-42')).toEqual(byId);
        expect(await store.getEvent(b.id, keyed.messageId)).toBeUndefined();
        expect(await store.getEvent(b.id, 'order-42')).toBeUndefined();
        expect(await store.getEvent(a.id, 'nope')).toBeUndefined();
      });

      it('getDelivery is scoped to the account', async () => {
        const { account, targets } = await setup(1);
        const other = await store.createAccount({ name: 'B' });
        await store.ingest([ingestItem(account.id, targets)], T0);
        const [d] = (await store.listDeliveries(account.id, { limit: 1 })).items;
        expect(await store.getDelivery(account.id, d.id)).toEqual(d);
        expect(await store.getDelivery(other.id, d.id)).toBeUndefined();
      });

      it('lists deliveries newest first with filters and cursor paging', async () => {
        const { account, endpoints, targets } = await setup(2);
        const other = await setup(1);
        const events: IngestItem[] = [];
        for (let i = 0; i < 3; i++) {
          const item = ingestItem(account.id, targets);
          events.push(item);
          await store.ingest([item], T0 + i);
        }
        await store.ingest([ingestItem(other.account.id, other.targets)], T0);
        const claimed = await store.claim(claimReq({ limit: 1, excludeEndpoints: [other.targets[0].id] }));
        await store.settle([failed(claimed[0], 'w1')], T0 + 10);

        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listDeliveries(account.id, { limit: 4, cursor });
          pages.push(page.items.map((d) => d.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(pages.map((p) => p.length)).toEqual([4, 2]);
        const ids = pages.flat();
        expect(ids).toEqual([...ids].sort().reverse());
        expect(new Set(ids).size).toBe(6);

        const byEndpoint = await store.listDeliveries(account.id, { limit: 10, endpointId: endpoints[1].id });
        expect(byEndpoint.items).toHaveLength(3);
        expect(byEndpoint.items.every((d) => d.endpointId === endpoints[1].id)).toBe(true);
        const byEvent = await store.listDeliveries(account.id, { limit: 10, eventId: events[1].messageId });
        expect(byEvent.items.map((d) => d.eventId)).toEqual([events[1].messageId, events[1].messageId]);
        const byStatus = await store.listDeliveries(account.id, { limit: 10, status: 'failed' });
        expect(byStatus.items.map((d) => d.id)).toEqual([claimed[0].id]);
        const combined = await store.listDeliveries(account.id, { limit: 10, status: 'pending', endpointId: claimed[0].endpointId });
        expect(combined.items).toHaveLength(2);
        expect(byStatus.nextCursor).toBeNull();
        // Another account's filters never reach into this one.
        expect((await store.listDeliveries(other.account.id, { limit: 10, endpointId: endpoints[0].id })).items).toEqual([]);
      });

      it('filters the log by event type and creation time (since inclusive, until exclusive), alone or combined', async () => {
        const { account, endpoints, targets } = await setup(2);
        const other = await setup(1);
        await store.ingest([ingestItem(account.id, targets, { type: 'asset.created' })], T0);
        await store.ingest([ingestItem(account.id, targets, { type: 'asset.deleted' })], T0 + 1_000);
        await store.ingest([ingestItem(account.id, targets, { type: 'asset.created' })], T0 + 2_000);
        await store.ingest([ingestItem(other.account.id, other.targets, { type: 'asset.created' })], T0 + 1_000);
        const list = async (q: Omit<DeliveryQuery, 'limit'>) => (await store.listDeliveries(account.id, { limit: 50, ...q })).items.map((d) => [d.createdAt, d.eventType]);

        expect(await list({ eventTypes: ['asset.deleted'] })).toEqual([
          [T0 + 1_000, 'asset.deleted'],
          [T0 + 1_000, 'asset.deleted'],
        ]);
        expect(await list({ since: T0 + 1_000 })).toEqual([
          [T0 + 2_000, 'asset.created'],
          [T0 + 2_000, 'asset.created'],
          [T0 + 1_000, 'asset.deleted'],
          [T0 + 1_000, 'asset.deleted'],
        ]);
        expect(await list({ until: T0 + 1_000 })).toEqual([
          [T0, 'asset.created'],
          [T0, 'asset.created'],
        ]);
        expect(await list({ since: T0 + 1, until: T0 + 2_001, eventTypes: ['asset.created'], endpointId: endpoints[0].id })).toEqual([[T0 + 2_000, 'asset.created']]);
        expect(await list({ since: T0 + 2_001 })).toEqual([]);
        expect(await list({ eventTypes: ['asset.updated'] })).toEqual([]);
        expect(await list({ eventTypes: [] })).toEqual([]);
        // Several types: any of them.
        expect(await list({ eventTypes: ['asset.deleted', 'asset.created'], endpointId: endpoints[0].id })).toEqual([
          [T0 + 2_000, 'asset.created'],
          [T0 + 1_000, 'asset.deleted'],
          [T0, 'asset.created'],
        ]);
        // Filters and paging together: two pages of one, newest first.
        const first = await store.listDeliveries(account.id, { limit: 1, eventTypes: ['asset.created'], endpointId: endpoints[1].id });
        const second = await store.listDeliveries(account.id, { limit: 1, eventTypes: ['asset.created'], endpointId: endpoints[1].id, cursor: first.nextCursor! });
        expect([...first.items, ...second.items].map((d) => d.createdAt)).toEqual([T0 + 2_000, T0]);
        expect(second.nextCursor).toBeNull();
      });

      it('a prefix.* entry of the log filter selects every type stored under the prefix, byte for byte, beside names', async () => {
        const { account, targets } = await setup(1);
        // acme_b.x sorts between acme. and acme/ where punctuation is ignored (en_US); a_b.* must not read _ as any character.
        const types = ['acme.crank.turned', 'acme.widget_x.built', 'acme_b.x', 'acmeb.x', 'acme', 'acme/x', 'a_b.x', 'axb.x', 'asset.created'];
        for (const [i, type] of types.entries()) await store.ingest([ingestItem(account.id, targets, { type })], T0 + i);
        const list = async (eventTypes: string[]) => (await store.listDeliveries(account.id, { limit: 50, eventTypes })).items.map((d) => d.eventType).sort();

        expect(await list(['acme.*'])).toEqual(['acme.crank.turned', 'acme.widget_x.built']);
        expect(await list(['acme.crank.*'])).toEqual(['acme.crank.turned']);
        expect(await list(['a_b.*'])).toEqual(['a_b.x']);
        expect(await list(['nothing.*'])).toEqual([]);
        expect(await list(['acme.*', 'asset.created'])).toEqual(['acme.crank.turned', 'acme.widget_x.built', 'asset.created']);
        expect(await list(['acme.*', 'a_b.*'])).toEqual(['a_b.x', 'acme.crank.turned', 'acme.widget_x.built']);
        // Paged newest first like any filter.
        const first = await store.listDeliveries(account.id, { limit: 1, eventTypes: ['acme.*'] });
        const second = await store.listDeliveries(account.id, { limit: 1, eventTypes: ['acme.*'], cursor: first.nextCursor! });
        expect([...first.items, ...second.items].map((d) => d.eventType)).toEqual(['acme.widget_x.built', 'acme.crank.turned']);
      });

      it('listAttempts returns the attempts of the given deliveries in order, within the account only', async () => {
        const { account, targets } = await setup(2);
        const other = await store.createAccount({ name: 'B' });
        await store.ingest([ingestItem(account.id, targets)], T0);
        let ds = await store.claim(claimReq());
        await store.settle(ds.map((d) => retry(d, 'w1', T0 + 10)), T0 + 1);
        ds = await store.claim(claimReq({ now: T0 + 10 }));
        await store.settle(ds.map((d) => succeeded(d, 'w1', 2)), T0 + 11);

        const attempts = await store.listAttempts(account.id, ds.map((d) => d.id));
        expect(attempts).toHaveLength(4);
        const expected = [...ds.map((d) => d.id)].sort().flatMap((id) => [
          [id, 1],
          [id, 2],
        ]);
        expect(attempts.map((a) => [a.deliveryId, a.attemptNo])).toEqual(expected);
        expect(await store.listAttempts(account.id, [ds[0].id])).toHaveLength(2);
        expect(await store.listAttempts(other.id, ds.map((d) => d.id))).toEqual([]);
        expect(await store.listAttempts(account.id, [])).toEqual([]);
      });
    });

    describe('Connect inboxes', () => {
      function inboxFixture(accountId: string, over: Partial<Inbox> = {}): Inbox {
        const token = randomBytes(24).toString('base64url');
        return {
          id: newId('inb'),
          accountId,
          name: 'inbox',
          token,
          tokenHash: createHash('sha256').update(token).digest('hex'),
          signingSecret: null,
          forwardUrl: null,
          forwardEndpointId: null,
          createdAt: T0,
          updatedAt: T0,
          ...over,
        };
      }

      let clock = T0;
      function capture(inbox: Inbox, over: Partial<InboxRequest> = {}): InboxRequest {
        const body = over.body ?? Buffer.from('{"hello":"world"}');
        return {
          id: newId('inr', ++clock),
          inboxId: inbox.id,
          accountId: inbox.accountId,
          method: 'POST',
          path: '/',
          query: '',
          headers: { 'content-type': 'application/json', 'x-many': ['a', 'b'] },
          body,
          bodySize: body.length,
          truncated: false,
          sourceIp: '203.0.113.7',
          receivedAt: clock,
          signature: null,
          relayMessageId: null,
          ...over,
        };
      }

      it('creates, reads, finds by token hash, lists and updates inboxes, scoped to their account', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const inboxes = [inboxFixture(a.id, { name: 'one' }), inboxFixture(a.id, { name: 'two', signingSecret: 'whsec_c2VjcmV0' }), inboxFixture(a.id, { name: 'three' })];
        for (const i of inboxes) await store.createInbox(i);
        const theirs = inboxFixture(b.id);
        await store.createInbox(theirs);

        expect(await store.getInbox(a.id, inboxes[1].id)).toEqual(inboxes[1]);
        expect(await store.getInbox(b.id, inboxes[1].id)).toBeUndefined();
        expect(await store.getInbox(a.id, 'inb_unknown')).toBeUndefined();
        expect(await store.findInboxByTokenHash(theirs.tokenHash)).toEqual(theirs);
        expect(await store.findInboxByTokenHash('0'.repeat(64))).toBeUndefined();

        const first = await store.listInboxes(a.id, { limit: 2 });
        expect(first.items.map((i) => i.name)).toEqual(['three', 'two']);
        const second = await store.listInboxes(a.id, { limit: 2, cursor: first.nextCursor! });
        expect(second.items.map((i) => i.name)).toEqual(['one']);
        expect(second.nextCursor).toBeNull();

        const changed = { ...inboxes[0], name: 'renamed', signingSecret: 'whsec_bmV3', forwardUrl: 'https://example.com/fwd', updatedAt: T0 + 5 };
        await store.updateInbox(changed);
        expect(await store.getInbox(a.id, changed.id)).toEqual(changed);
        // Another account cannot change it.
        await store.updateInbox({ ...changed, accountId: b.id, name: 'hijacked' });
        expect((await store.getInbox(a.id, changed.id))?.name).toBe('renamed');
      });

      it('stores the token and signing secret sealed: the raw rows hold only their hash and ciphertext', async () => {
        const a = await store.createAccount({ name: 'A' });
        const inbox = inboxFixture(a.id, { signingSecret: 'whsec_plaintext-inbox-secret' });
        await store.createInbox(inbox);
        const rows = await h.rawRows('inboxes');
        const text = JSON.stringify(rows);
        expect(text).not.toContain(inbox.token);
        expect(text).not.toContain('plaintext-inbox-secret');
        expect(String(rows[0].token)).toMatch(/^v1\./);
        expect(String(rows[0].signing_secret)).toMatch(/^v1\./);
        expect(rows[0].token_hash).toBe(inbox.tokenHash);
      });

      it('captures requests byte for byte and lists them newest first, with paging and catch-up after an id', async () => {
        const a = await store.createAccount({ name: 'A' });
        const inbox = inboxFixture(a.id);
        const other = inboxFixture(a.id);
        await store.createInbox(inbox);
        await store.createInbox(other);
        const binary = Buffer.from([0, 255, 254, 10, 13, 0x80, 0xc3]);
        const captured = [
          capture(inbox, { body: binary, headers: { 'content-type': 'application/octet-stream' }, method: 'PUT', path: '/a/b', query: 'x=1&y=2' }),
          capture(inbox, { signature: { verified: true, webhookId: 'msg_1' } }),
          capture(inbox, { signature: { verified: false, code: 'invalid_signature', message: 'no matching signature found' }, body: Buffer.alloc(0), bodySize: 5_000_000, truncated: true, sourceIp: null }),
          capture(inbox),
        ];
        for (const r of captured) expect(await store.captureInboxRequest(r, undefined, r.receivedAt)).toEqual({ stored: true, relayed: false });
        await store.captureInboxRequest(capture(other), undefined, T0);

        const got = await store.getInboxRequest(a.id, inbox.id, captured[0].id);
        expect(got).toEqual(captured[0]);
        expect(Buffer.compare(got!.body, binary)).toBe(0);
        expect(await store.getInboxRequest(a.id, inbox.id, captured[2].id)).toEqual(captured[2]);
        expect(await store.getInboxRequest(a.id, other.id, captured[0].id)).toBeUndefined();

        const page1 = await store.listInboxRequests(a.id, inbox.id, { limit: 3 });
        expect(page1.items.map((r) => r.id)).toEqual([captured[3].id, captured[2].id, captured[1].id]);
        const page2 = await store.listInboxRequests(a.id, inbox.id, { limit: 3, cursor: page1.nextCursor! });
        expect(page2.items.map((r) => r.id)).toEqual([captured[0].id]);
        expect(page2.nextCursor).toBeNull();

        const after = await store.listInboxRequests(a.id, inbox.id, { limit: 2, after: captured[0].id });
        expect(after.items.map((r) => r.id)).toEqual([captured[1].id, captured[2].id]);
        expect(after.nextCursor).not.toBeNull();
      });

      it("keeps inbox requests to their account: another account's ids are invisible and untouchable", async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const inbox = inboxFixture(a.id);
        await store.createInbox(inbox);
        const r = capture(inbox);
        await store.captureInboxRequest(r, undefined, T0);
        expect(await store.getInboxRequest(b.id, inbox.id, r.id)).toBeUndefined();
        expect((await store.listInboxRequests(b.id, inbox.id, { limit: 10 })).items).toEqual([]);
        expect(await store.purgeInboxRequests(b.id, inbox.id)).toBe(0);
        expect(await store.deleteInbox(b.id, inbox.id)).toBe(false);
        // A capture claiming the wrong account for an inbox stores nothing.
        expect(await store.captureInboxRequest({ ...capture(inbox), accountId: b.id }, undefined, T0)).toEqual({ stored: false, relayed: false });
        expect((await store.listInboxRequests(a.id, inbox.id, { limit: 10 })).items.map((x) => x.id)).toEqual([r.id]);
      });

      it('stores nothing for an inbox that is gone', async () => {
        const a = await store.createAccount({ name: 'A' });
        const inbox = inboxFixture(a.id);
        expect(await store.captureInboxRequest(capture(inbox), undefined, T0)).toEqual({ stored: false, relayed: false });
        expect(await h.rawRows('inbox_requests')).toEqual([]);
      });

      it('relays a capture as an event with one pending delivery to the relay endpoint, in the same transaction', async () => {
        const a = await store.createAccount({ name: 'A' });
        const relayEndpoint = endpointFixture(a.id, { profile: 'inbox', eventTypes: [] });
        await store.createEndpoint(relayEndpoint);
        const inbox = inboxFixture(a.id, { forwardUrl: relayEndpoint.url, forwardEndpointId: relayEndpoint.id });
        await store.createInbox(inbox);
        const messageId = newId('msg');
        const r = capture(inbox, { relayMessageId: messageId });
        const out = await store.captureInboxRequest(r, { messageId, endpointId: relayEndpoint.id, body: '{"v":1}' }, T0 + 100);
        expect(out).toEqual({ stored: true, relayed: true });

        const event = await store.getEvent(a.id, messageId);
        expect(event).toMatchObject({ id: messageId, type: 'inbox.request', body: '{"v":1}', resourceKey: null, sequence: null, idempotencyKey: null });
        expect(await store.nextDueAt()).toBe(T0 + 100);
        const [claimed] = await store.claim(claimReq({ now: T0 + 100 }));
        expect(claimed).toMatchObject({ eventId: messageId, endpointId: relayEndpoint.id, eventType: 'inbox.request', body: '{"v":1}', attempts: 0 });
        expect((await store.getInboxRequest(a.id, inbox.id, r.id))?.relayMessageId).toBe(messageId);

        // The relay endpoint deleted: the capture is still kept, nothing is relayed, and the
        // inbox forgets the endpoint.
        await store.deleteEndpoint(a.id, relayEndpoint.id);
        expect((await store.getInbox(a.id, inbox.id))?.forwardEndpointId).toBeNull();
        const again = capture(inbox);
        expect(await store.captureInboxRequest(again, { messageId: newId('msg'), endpointId: relayEndpoint.id, body: '{}' }, T0 + 200)).toEqual({ stored: true, relayed: false });
        expect(await store.getInboxRequest(a.id, inbox.id, again.id)).toBeDefined();
        expect(await store.nextDueAt()).toBeNull();
      });

      it('trims an inbox to its newest captured requests, leaving other inboxes and accounts alone', async () => {
        const a = await store.createAccount({ name: 'A' });
        const b = await store.createAccount({ name: 'B' });
        const inbox = inboxFixture(a.id);
        const other = inboxFixture(a.id);
        await store.createInbox(inbox);
        await store.createInbox(other);
        const captured: string[] = [];
        for (let i = 0; i < 5; i++) {
          const r = capture(inbox);
          captured.push(r.id);
          await store.captureInboxRequest(r, undefined, T0);
        }
        await store.captureInboxRequest(capture(other), undefined, T0);
        expect(await store.trimInboxRequests(b.id, inbox.id, 1)).toBe(0);
        expect(await store.trimInboxRequests(a.id, inbox.id, 5)).toBe(0);
        expect(await store.trimInboxRequests(a.id, inbox.id, 2)).toBe(3);
        expect((await store.listInboxRequests(a.id, inbox.id, { limit: 10 })).items.map((r) => r.id)).toEqual(captured.slice(3).reverse());
        expect((await store.listInboxRequests(a.id, other.id, { limit: 10 })).items).toHaveLength(1);
        expect(await store.trimInboxRequests(a.id, inbox.id, 2)).toBe(0);
      });

      it('purges one inbox, and deleteInbox removes the inbox with its requests and nothing else', async () => {
        const a = await store.createAccount({ name: 'A' });
        const inbox = inboxFixture(a.id);
        const keep = inboxFixture(a.id);
        await store.createInbox(inbox);
        await store.createInbox(keep);
        for (let i = 0; i < 3; i++) await store.captureInboxRequest(capture(inbox), undefined, T0);
        const kept = capture(keep);
        await store.captureInboxRequest(kept, undefined, T0);

        expect(await store.purgeInboxRequests(a.id, inbox.id)).toBe(3);
        expect((await store.listInboxRequests(a.id, inbox.id, { limit: 10 })).items).toEqual([]);
        expect(await store.getInbox(a.id, inbox.id)).toBeDefined();

        await store.captureInboxRequest(capture(inbox), undefined, T0);
        expect(await store.deleteInbox(a.id, inbox.id)).toBe(true);
        expect(await store.getInbox(a.id, inbox.id)).toBeUndefined();
        expect(await store.deleteInbox(a.id, inbox.id)).toBe(false);
        expect((await h.rawRows('inbox_requests')).map((r) => r.id)).toEqual([kept.id]);
      });

      it('prunes captured requests received before the cut-off, in bounded batches', async () => {
        const a = await store.createAccount({ name: 'A' });
        const inbox = inboxFixture(a.id);
        await store.createInbox(inbox);
        for (let i = 0; i < 5; i++) await store.captureInboxRequest(capture(inbox, { receivedAt: T0 - 10_000 + i }), undefined, T0);
        const fresh = capture(inbox, { receivedAt: T0 + 1 });
        await store.captureInboxRequest(fresh, undefined, T0);

        expect(await store.pruneInboxRequests(T0, 3)).toBe(3);
        expect(await store.pruneInboxRequests(T0, 3)).toBe(2);
        expect(await store.pruneInboxRequests(T0, 3)).toBe(0);
        expect((await store.listInboxRequests(a.id, inbox.id, { limit: 10 })).items.map((r) => r.id)).toEqual([fresh.id]);
      });
    });
  });
}
