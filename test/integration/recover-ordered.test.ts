// A recover through the HTTP API, on SQLite and on PostgreSQL: on an endpoint ordered per
// resource, the deliveries it re-queues go out as the endpoint promises (one at a time per
// resource, in sequence order, to a real receiver that records what it holds at once); and its
// progress counts what was in scope when it began, so a delivery failing while it runs is
// neither re-queued nor counted (requeued never passes total), and on PostgreSQL one locked
// by another writer as the recover reaches it is waited for, not passed over for good.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heraldTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { arrivedInOrder, eventually, eventsOfResources, sequencesByResource, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

// One attempt, then failed; chunks of one so a recover runs through many transactions.
const ONE_ATTEMPT = { HERALD_RETRY_SCHEDULE: '0' };
const PACE = { chunk: 1, answerWithinMs: 0 };
const SINCE = '2000-01-01T00:00:00Z';

type Mode = 'fail' | 'hold' | 'slow';

/**
 * A receiver whose answer the test switches: 500 at once, held until released (then 500), or
 * 200 after 150 ms (longer than a recover takes to re-queue the next few). It notes when two requests of one resource were open together.
 */
async function switchableReceiver() {
  const state = { mode: 'fail' as Mode, overlapped: [] as string[] };
  const open = new Map<string, number>();
  const held: (() => void)[] = [];
  const receiver: Receiver = await startReceiver((r, _i, res) => {
    const resource = (JSON.parse(r.body) as { resource: { id: string } }).resource.id;
    if (state.mode === 'fail') return void res.writeHead(500).end('down');
    if (state.mode === 'hold') return void held.push(() => res.writeHead(500).end('down'));
    if ((open.get(resource) ?? 0) > 0) state.overlapped.push(resource);
    open.set(resource, (open.get(resource) ?? 0) + 1);
    setTimeout(() => {
      open.set(resource, open.get(resource)! - 1);
      res.writeHead(200).end('ok');
    }, 150);
  });
  return { receiver, state, release: () => held.splice(0).forEach((answer) => answer()), heldCount: () => held.length };
}

describe.each(['sqlite', 'postgres'] as const)('recover of an ordered endpoint, and its progress (%s)', (dialect) => {
  let h: TestHerald;
  let schema: TestSchema | undefined;

  beforeAll(async () => {
    let env: Record<string, string> = ONE_ATTEMPT;
    if (dialect === 'postgres') {
      const on = await heraldTestSchema();
      schema = on.schema;
      env = { ...env, ...on.env };
    }
    h = await startTestHerald(env, { recoverPace: PACE });
  });
  afterAll(async () => {
    await h?.close();
    await schema?.drop();
  });

  const failedCount = async (endpoint: string) => (await h.api('GET', `/api/v2/endpoints/${endpoint}/deliveries?status=failed&limit=250`)).body.data.length as number;
  const untilDone = (location: string) =>
    eventually(async () => {
      const r = await h.api('GET', location);
      return r.body.status === 'done' ? r.body : undefined;
    }, 20_000);

  // The sum of its phases' bounds (failed 20 s, recover done 20 s, re-sent 20 s).
  const IN_ORDER_MS = 70_000;
  // The sum of its phases' bounds (failed 20 s, two held 10 s, recover done 20 s, the late ones failed 20 s).
  const IN_SCOPE_MS = 80_000;
  // The sum of its phases' bounds (failed 20 s, the recover waiting or done 10 s, done 20 s).
  const LOCKED_MS = 60_000;

  it('re-sends the failed deliveries of each resource one at a time, in their sequence order', async () => {
    const { receiver, state } = await switchableReceiver();
    try {
      const endpoint = await h.api('POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'], ordering: 'per_resource' });
      expect(endpoint.status).toBe(201);
      const resources = 3;
      const each = 6;
      expect((await h.api('POST', '/api/v2/events/batch', { events: eventsOfResources('ord', resources, each) })).status).toBe(202);
      await eventually(async () => ((await failedCount(endpoint.body.id)) === resources * each ? true : undefined), 20_000);
      const before = receiver.received.length;

      state.mode = 'slow';
      const begun = await h.api('POST', `/api/v2/endpoints/${endpoint.body.id}/recover`, { since: SINCE });
      expect(begun.status).toBe(202);
      expect(await untilDone(begun.headers.get('location')!)).toMatchObject({ total: resources * each, requeued: resources * each });
      await receiver.waitFor(before + resources * each, 20_000);

      const resent = sequencesByResource(receiver.received.slice(before));
      expect(resent.size).toBe(resources);
      for (const sequences of resent.values()) expect(arrivedInOrder(sequences, each), `arrived ${sequences.join(', ')}`).toBe(true);
      expect(state.overlapped).toEqual([]);
    } finally {
      await receiver.close();
    }
  }, IN_ORDER_MS);

  it('counts what was in scope when it began: deliveries failing while it runs are neither re-queued nor counted', async () => {
    const { receiver, state, release, heldCount } = await switchableReceiver();
    try {
      const endpoint = (await h.api('POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'] })).body.id as string;
      const early = 40;
      const events = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ type: 'asset.created', resource: { type: 'asset', id: `${prefix}${i}` } }));
      expect((await h.api('POST', '/api/v2/events/batch', { events: events('early', early) })).status).toBe(202);
      await eventually(async () => ((await failedCount(endpoint)) === early ? true : undefined), 20_000);

      // Two more, in flight (held by the receiver) when the recover begins, failing as it runs.
      state.mode = 'hold';
      expect((await h.api('POST', '/api/v2/events/batch', { events: events('late', 2) })).status).toBe(202);
      await eventually(() => (heldCount() === 2 ? true : undefined));
      const begun = await h.api('POST', `/api/v2/endpoints/${endpoint}/recover`, { since: SINCE });
      expect(begun.body).toMatchObject({ status: 'running', total: early });
      state.mode = 'fail';
      release();

      const done = await untilDone(begun.headers.get('location')!);
      expect(done).toMatchObject({ total: early, requeued: early });
      // The late ones went out once each, and stay failed for another recover to count.
      await eventually(async () => ((await failedCount(endpoint)) === early + 2 ? true : undefined), 20_000);
      const late = receiver.received.filter((r) => r.body.includes('"late'));
      expect(late).toHaveLength(2);
      const dry = await h.api('POST', `/api/v2/endpoints/${endpoint}/recover`, { since: SINCE, dry_run: true });
      expect(dry.body.would_requeue).toBe(early + 2);
    } finally {
      await receiver.close();
    }
  }, IN_SCOPE_MS);

  // Row locks are PostgreSQL's: the embedded store has one writer at a time, so nothing to wait for.
  if (dialect === 'postgres') it('waits for a delivery another writer holds locked, and re-queues it with the others', async () => {
    const { receiver } = await switchableReceiver();
    const locker = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await locker.connect();
    try {
      const endpoint = (await h.api('POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'] })).body.id as string;
      expect((await h.api('POST', '/api/v2/events/batch', { events: eventsOfResources('locked', 5, 1) })).status).toBe(202);
      await eventually(async () => ((await failedCount(endpoint)) === 5 ? true : undefined), 20_000);
      // Paused: what is re-queued stays pending, to be counted.
      expect((await h.api('PATCH', `/api/v2/endpoints/${endpoint}`, { disabled: true })).status).toBe(200);
      const middle = (await h.api('GET', `/api/v2/endpoints/${endpoint}/deliveries?limit=5`)).body.data[2].id as string;
      // Held as a settle or a notice being cleared holds it, while the recover reaches it.
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM ${schema!.name}.deliveries WHERE id = $1 FOR UPDATE`, [middle]);
      const begun = await h.api('POST', `/api/v2/endpoints/${endpoint}/recover`, { since: SINCE });
      const location = begun.headers.get('location')!;
      // Until the recover's chunk waits for the lock, or the recover is done without waiting.
      const waiting = async () => {
        // A transaction keeps its first view of pg_stat_activity unless told to drop it.
        await locker.query('SELECT pg_stat_clear_snapshot()');
        const sql = "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH picked%' AND pid <> pg_backend_pid()";
        return (await locker.query<{ n: number }>(sql)).rows[0]!.n > 0;
      };
      await eventually(async () => ((await h.api('GET', location)).body.status === 'done' || (await waiting()) ? true : undefined));
      await locker.query('COMMIT');

      expect(await untilDone(location)).toMatchObject({ total: 5, requeued: 5 });
      expect((await h.api('GET', `/api/v2/deliveries/${middle}`)).body.status).toBe('pending');
    } finally {
      await locker.end();
      await receiver.close();
    }
  }, LOCKED_MS);
});
