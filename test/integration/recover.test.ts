// Recover (replay many) over more deliveries than one chunk, on SQLite and on PostgreSQL, through
// the HTTP API: it answers while still running and reports its progress, re-queues exactly what
// its dry run counted, once, even when the client repeats the request, and never touches or
// counts another account's deliveries. Chunks of 3 and no answer wait stand in for 2,000 and 2 s,
// and a 50 ms pause between chunks for the time a chunk takes: without it a recover of 20 could
// finish before its request answered, and the answer would not show it running.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heraldTestSchema, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, tempDir, type Receiver, type TestHerald } from '../helpers.js';

const PACE = { chunk: 3, answerWithinMs: 0, chunkPauseMs: 50 };
// One attempt, then failed: a recovered delivery to a failing receiver fails again at once.
const ONE_ATTEMPT = { HERALD_RETRY_SCHEDULE: '0' };

interface Res {
  status: number;
  body: any;
  headers: Headers;
}

async function call(h: TestHerald, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(h.url + route, {
    method,
    headers: { 'x-api-key': ADMIN_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** An endpoint of the acting account (`headers` picks it) and `n` of its deliveries failed. */
async function failedDeliveries(h: TestHerald, url: string, n: number, headers: Record<string, string> = {}, tenovos = false): Promise<string> {
  const endpoint = tenovos
    ? await call(h, 'POST', '/webhooks/endpoint', [{ description: 'recover me', eventTypes: ['asset.created'], url, rateLimit: 100 }], headers)
    : await call(h, 'POST', '/api/v2/endpoints', { url, event_types: ['asset.created'] }, headers);
  expect(endpoint.status).toBe(tenovos ? 200 : 201);
  const events = Array.from({ length: n }, (_, i) => ({ type: 'asset.created', resource: { type: 'asset', id: `a${i}` } }));
  expect((await call(h, 'POST', '/api/v2/events/batch', { events }, headers)).status).toBe(202);
  const failed = async () => (await call(h, 'GET', `/api/v2/endpoints/${endpoint.body.id}/deliveries?status=failed&limit=250`, undefined, headers)).body.data.length;
  await eventually(async () => ((await failed()) === n ? true : undefined), 15_000);
  return endpoint.body.id;
}

/** The operator's new account, acted for with X-Herald-Account. */
async function otherAccount(h: TestHerald): Promise<Record<string, string>> {
  const account = await call(h, 'POST', '/api/v2/accounts', { name: `other ${randomBytes(3).toString('hex')}` });
  return { 'x-herald-account': account.body.id };
}

const SINCE = '2000-01-01T00:00:00Z';

describe.each(['sqlite', 'postgres'] as const)('recover over many deliveries (%s)', (dialect) => {
  let h: TestHerald;
  let receiver: Receiver;
  let schema: TestSchema | undefined;

  beforeAll(async () => {
    receiver = await startReceiver((_r, _i, res) => void res.writeHead(500).end('down'));
    let env: Record<string, string> = ONE_ATTEMPT;
    if (dialect === 'postgres') {
      const pg = await heraldTestSchema();
      schema = pg.schema;
      env = { ...env, ...pg.env };
    }
    h = await startTestHerald(env, { recoverPace: PACE });
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
    await schema?.drop();
  });

  // The sum of its phases' bounds (two endpoints' deliveries failed 15 s each, done 10 s, re-sent 10 s, failed again 10 s, a repeat's pause 0.3 s).
  const RUNNING_AND_REPEATED_MS = 70_000;

  it('answers while running, reports progress at Location, re-queues what the dry run counted once however often it is asked, and leaves another account alone', async () => {
    const other = await otherAccount(h);
    const endpoint = await failedDeliveries(h, `${receiver.url}/mine`, 20);
    const theirs = await failedDeliveries(h, `${receiver.url}/theirs`, 7, other);
    const sent = (path: string) => receiver.received.filter((r) => r.url === path).length;
    expect(sent('/mine')).toBe(20);

    const dry = await call(h, 'POST', `/api/v2/endpoints/${endpoint}/recover`, { since: SINCE, dry_run: true });
    expect(dry).toMatchObject({ status: 200, body: { would_requeue: 20, until: expect.any(String) } });
    const ask = { since: SINCE, until: dry.body.until };
    const first = await call(h, 'POST', `/api/v2/endpoints/${endpoint}/recover`, ask, { 'idempotency-key': 'retry-me' });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ status: 'running', total: 20, since: '2000-01-01T00:00:00.000Z', until: dry.body.until, statuses: ['failed'] });
    expect(first.body.requeued).toBeLessThan(20);
    const location = first.headers.get('location')!;
    expect(location).toBe(`/api/v2/endpoints/${endpoint}/recoveries/${first.body.id}`);

    const done = await eventually(async () => {
      const r = await call(h, 'GET', location);
      return r.body.status === 'done' ? r.body : undefined;
    });
    expect(done).toMatchObject({ id: first.body.id, total: 20, requeued: 20, finished_at: expect.any(String) });
    // Sent once more each, and failed again (the receiver is still down).
    await receiver.waitFor(20 + 7 + 20);
    await eventually(async () => ((await call(h, 'GET', '/api/v2/stats')).body.deliveries.failed === 20 ? true : undefined));

    // The client never saw the first answer and asks again with the same key: the same recovery,
    // and nothing goes out again.
    const repeat = await call(h, 'POST', `/api/v2/endpoints/${endpoint}/recover`, ask, { 'idempotency-key': 'retry-me' });
    expect(repeat.status).toBe(202);
    expect(repeat.headers.get('idempotent-replayed')).toBe('true');
    expect(repeat.body).toMatchObject({ id: first.body.id, status: 'done', requeued: 20 });
    await new Promise((r) => setTimeout(r, 300));
    expect(sent('/mine')).toBe(40);
    expect((await call(h, 'GET', '/api/v2/stats')).body.deliveries).toMatchObject({ failed: 20, pending: 0 });

    // The other account's deliveries were neither counted nor touched, nor is its recovery visible to it.
    expect(sent('/theirs')).toBe(7);
    expect((await call(h, 'POST', `/api/v2/endpoints/${theirs}/recover`, { since: SINCE, dry_run: true }, other)).body.would_requeue).toBe(7);
    expect((await call(h, 'GET', location, undefined, other)).status).toBe(404);
    expect((await call(h, 'GET', `/api/v2/endpoints/${theirs}/recoveries/${first.body.id}`, undefined, other)).status).toBe(404);
  }, RUNNING_AND_REPEATED_MS);

  it('Tenovos recover answers with the recovery too, and a repeat with its key finds it', async () => {
    const endpoint = await failedDeliveries(h, `${receiver.url}/tenovos`, 5, {}, true);
    const first = await call(h, 'POST', `/webhooks/endpoint/${endpoint}/recover`, { since: SINCE }, { 'idempotency-key': 'tenovos-1' });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ id: expect.stringMatching(/^rcv_/), total: 5, statuses: ['failed'] });
    const done = await eventually(async () => ((await call(h, 'GET', first.headers.get('location')!)).body.status === 'done' ? true : undefined));
    expect(done).toBe(true);
    const repeat = await call(h, 'POST', `/webhooks/endpoint/${endpoint}/recover`, { since: SINCE }, { 'idempotency-key': 'tenovos-1' });
    expect(repeat.body).toMatchObject({ id: first.body.id, requeued: 5 });
  });

  it('refuses a range that selects nothing, and a key already used for another recover, naming the field', async () => {
    const endpoint = (await call(h, 'POST', '/api/v2/endpoints', { url: `${receiver.url}/x`, event_types: ['asset.created'] })).body.id;
    const recover = (body: unknown, headers?: Record<string, string>) => call(h, 'POST', `/api/v2/endpoints/${endpoint}/recover`, body, headers);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(await recover({ since: future })).toMatchObject({ status: 400, body: { field: 'since' } });
    expect(await recover({ since: future, dry_run: true })).toMatchObject({ status: 400, body: { field: 'since' } });
    expect(await recover({ since: '2001-01-01T00:00:00Z', until: SINCE })).toMatchObject({ status: 400, body: { field: 'until' } });
    expect((await recover({ since: SINCE }, { 'idempotency-key': 'k' })).status).toBe(202);
    expect(await recover({ since: '2001-01-01T00:00:00Z' }, { 'idempotency-key': 'k' })).toMatchObject({ status: 422, body: { field: 'Idempotency-Key' } });
  });
});

// The sum of its phases' bounds (60 failed 15 s, taken over and done 15 s) with room for stopping and starting Herald.
const TAKEN_OVER_MS = 40_000;

describe('a recover whose process stopped half-way', () => {
  it('is taken over where it stopped after a restart, each delivery re-queued once', async () => {
    const dataDir = tempDir();
    const receiver = await startReceiver((_r, _i, res) => void res.writeHead(500).end('down'));
    let h = await startTestHerald({ ...ONE_ATTEMPT, HERALD_LEASE_MS: '2000' }, { dataDir, recoverPace: { chunk: 1, answerWithinMs: 0, chunkPauseMs: 20 } });
    try {
      const endpoint = await failedDeliveries(h, receiver.url, 60);
      // Disabled: what is re-queued stays pending, to be counted.
      expect((await call(h, 'PATCH', `/api/v2/endpoints/${endpoint}`, { disabled: true })).status).toBe(200);
      const begun = await call(h, 'POST', `/api/v2/endpoints/${endpoint}/recover`, { since: SINCE });
      expect(begun.body.status).toBe('running');
      await h.herald.stop();

      const store = new SqliteStore({ file: `${dataDir}/herald.db`, sealer: { seal: (s) => s, open: (s) => s } });
      const accountId = h.herald.context.defaultAccountId;
      const stopped = await store.getRecovery(accountId, endpoint, begun.body.id);
      await store.close();
      expect(stopped).toMatchObject({ status: 'running', total: 60 });
      expect(stopped!.requeued).toBeLessThan(60);

      // Restarted after its lease ran out: a worker's upkeep takes it over.
      h = await startTestHerald({ ...ONE_ATTEMPT, HERALD_LEASE_MS: '2000' }, { dataDir, clock: () => Date.now() + 60_000 });
      const done = await eventually(async () => {
        const r = await call(h, 'GET', `/api/v2/endpoints/${endpoint}/recoveries/${begun.body.id}`);
        return r.body.status === 'done' ? r.body : undefined;
      }, 15_000);
      expect(done).toMatchObject({ total: 60, requeued: 60 });
      expect((await call(h, 'GET', '/api/v2/stats')).body.deliveries).toMatchObject({ pending: 60, failed: 0 });
    } finally {
      await h.close();
      await receiver.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, TAKEN_OVER_MS);
});
