// Scale-out on PostgreSQL: separate API and worker processes sharing one database.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../../src/store/conformance/pg-harness.js';
import { allSequences, arrivedInOrder, eventsOfResources, eventually, startReceiver, tempDir, type Receiver } from '../helpers.js';
import { runCli } from '../cli/cli-support.js';
import { apiCall, spawnHerald, type HeraldProcess } from '../process.js';

// A schema per test: endpoints a test leaves behind would match the next test's events, and
// their failing deliveries (to a receiver already closed) would load the workers it measures.
const schemas: string[] = [];
let schema = '';
const dir = tempDir();
const ENV = {
  DATABASE_URL: '',
  HERALD_DATA_DIR: dir,
  HERALD_SECRET_KEY: randomBytes(32).toString('hex'),
  HERALD_LEASE_MS: '2000',
  HERALD_RETRY_SCHEDULE: '0,0.2,0.2,0.2',
};

const procs: HeraldProcess[] = [];
let receiver: Receiver | undefined;
async function spawn(command: string, env: Record<string, string> = {}, args: string[] = []): Promise<HeraldProcess> {
  const p = await spawnHerald(command, { ...ENV, ...env }, undefined, args);
  procs.push(p);
  return p;
}
beforeEach(() => {
  schema = `herald_procs_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema);
  ENV.DATABASE_URL = url.toString();
});
afterEach(async () => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
  await receiver?.close();
});
afterAll(async () => {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  for (const name of schemas) await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  await client.end();
  rmSync(dir, { recursive: true, force: true });
});

/** Most arrivals in any window of `windowMs` starting at an arrival. */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('PostgreSQL processes', () => {
  it('refuses to start on an unmigrated schema, and starts after herald migrate', async () => {
    const api = await spawnHerald('api', ENV).catch((err: Error) => err);
    expect(api).toBeInstanceOf(Error);
    expect((api as Error).message).toMatch(/run "herald migrate" first/);

    const migrate = await spawn('migrate');
    expect((await migrate.exited).code).toBe(0);
    expect(migrate.output()).toMatch(/schema at version \d+/);
    const again = await spawn('api');
    expect((await fetch(`${again.url}/healthz`)).status).toBe(200);
    // Migrating reads no credentials: without HERALD_SECRET_KEY it leaves no key file behind.
    const bare = tempDir();
    const keyless = await spawn('migrate', { HERALD_SECRET_KEY: '', HERALD_DATA_DIR: bare });
    expect((await keyless.exited).code).toBe(0);
    expect(existsSync(path.join(bare, 'secret.key'))).toBe(false);
    rmSync(bare, { recursive: true, force: true });
  });

  // Three rounds of four CLI runs, each bounded by runCli's 20 s guard: 60 s, and room for the rounds' schemas (as its SQLite twin).
  const MIGRATE_ROUNDS_MS = 90_000;

  it('migrates a schema that does not exist yet from several processes at once, every one succeeding', async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      for (let round = 0; round < 3; round++) {
        const fresh = `${schema}_m${round}`;
        const target = new URL(TEST_DATABASE_URL);
        target.searchParams.set('schema', fresh);
        try {
          const runs = await Promise.all(Array.from({ length: 4 }, () => runCli(['migrate'], { ...ENV, DATABASE_URL: target.toString() })));
          expect(runs.map((r) => [r.code, r.stderr])).toEqual(runs.map(() => [0, '']));
        } finally {
          await client.query(`DROP SCHEMA IF EXISTS ${fresh} CASCADE`);
        }
      }
    } finally {
      await client.end();
    }
  }, MIGRATE_ROUNDS_MS);

  it('delivers every event with one API and two workers, one of them killed mid-run', async () => {
    const seen = new Map<string, number[]>();
    receiver = await startReceiver((req, _i, res) => {
      const id = req.headers['webhook-id'] as string;
      seen.set(id, [...(seen.get(id) ?? []), Date.now()]);
      setTimeout(() => res.writeHead(200).end(), 3);
    });
    const migrate = await spawn('migrate');
    await migrate.exited;
    const api = await spawn('api');
    const w1 = await spawn('worker', {}, ['--concurrency', '32']);
    // The survivor serves its own probes and metrics: a worker has no API to scrape.
    const probes = await (await spawn('worker', { HERALD_METRICS_PORT: '0' }, ['--concurrency', '32'])).listening();
    await apiCall(api.url, 'POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'] });

    const accepted: string[] = [];
    let killedAt = 0;
    for (let b = 0; b < 30; b++) {
      const events = Array.from({ length: 100 }, (_, i) => ({ type: 'asset.created', resource: { type: 'asset', id: `a${i % 20}` }, data: { b, i } }));
      const res = await apiCall(api.url, 'POST', '/api/v2/events/batch', { events });
      expect(res.status).toBe(202);
      accepted.push(...res.body.data.map((o: { id: string }) => o.id));
      if (b === 10) {
        await eventually(() => (seen.size > 200 ? true : undefined));
        w1.child.kill('SIGKILL');
        await w1.exited;
        killedAt = Date.now();
      }
    }
    await eventually(() => (accepted.every((id) => seen.has(id)) ? true : undefined), 60_000);
    const duplicates = [...seen.values()].filter((times) => times.length > 1);
    // Only deliveries the killed worker had sent but not yet settled may arrive twice: each
    // duplicate first arrived before the kill, and again once its lease had expired.
    for (const times of duplicates) {
      expect(times[0]).toBeLessThanOrEqual(killedAt);
      expect(times[1]).toBeGreaterThan(killedAt);
    }
    expect(duplicates.length).toBeLessThan(200);
    // The killed worker's sent-but-unsettled deliveries stay leased until their lease expires,
    // then are sent again and settled.
    const stats = await eventually(async () => {
      const s = (await apiCall(api.url, 'GET', '/api/v2/stats')).body.deliveries;
      return s.succeeded === 3000 ? s : undefined;
    }, 30_000);
    expect(stats).toMatchObject({ succeeded: 3000, pending: 0, in_flight: 0, failed: 0 });
    expect((await fetch(`${probes}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${probes}/metrics`)).text();
    const delivered = Number(/^herald_delivery_attempts_total\{outcome="succeeded",profile="standard"\} (\d+)$/m.exec(metrics)?.[1]);
    // It delivered its share and more once alone; the API process delivered none.
    expect(delivered).toBeGreaterThan(1000);
    expect(delivered).toBeLessThanOrEqual(3000 + duplicates.length);
    expect((await fetch(`${probes}/api/v2/stats`)).status).toBe(404);
    expect(await (await fetch(`${api.url}/metrics`)).text()).not.toMatch(/^herald_delivery_attempts_total\{outcome="succeeded",profile="standard"\} [1-9]/m);
  }, 120_000);

  it('keeps per-resource order when a worker is killed mid-sequence: its heads wait for their lease, then go first', async () => {
    receiver = await startReceiver((_r, _i, res) => void setTimeout(() => res.writeHead(200).end(), 5));
    await (await spawn('migrate')).exited;
    const api = await spawn('api');
    await apiCall(api.url, 'POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'], ordering: 'per_resource' });
    const doomed = await spawn('worker');
    await spawn('worker');
    expect((await apiCall(api.url, 'POST', '/api/v2/events/batch', { events: eventsOfResources('k', 8, 25) })).status).toBe(202);
    await receiver.waitFor(40);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    expect(receiver.received.length).toBeLessThan(160); // killed mid-sequence
    const arrivals = await allSequences(receiver, 8, 25);
    for (const [id, seqs] of arrivals) expect(arrivedInOrder(seqs, 25), `${id}: ${seqs.join(',')}`).toBe(true);
  }, 60_000);

  it('holds rate limits and per-resource order across two workers', async () => {
    const limitedAt: number[] = [];
    const order = new Map<string, number[]>();
    receiver = await startReceiver((req, _i, res) => {
      const body = JSON.parse(req.body);
      if (req.url === '/limited') {
        limitedAt.push(Date.now());
        return void res.writeHead(200).end();
      }
      const failed = Math.random() < 0.3;
      if (!failed) order.set(body.resource.id, [...(order.get(body.resource.id) ?? []), body.sequence]);
      setTimeout(() => res.writeHead(failed ? 500 : 200).end(), 2);
    });
    await (await spawn('migrate')).exited;
    const api = await spawn('api');
    const patient = { HERALD_RETRY_SCHEDULE: ['0', ...Array.from({ length: 29 }, () => '0.05')].join(',') };
    // Each worker's probes on a port it got itself: two ports picked free beforehand could be one and the same.
    const probes: string[] = [];
    for (let i = 0; i < 2; i++) probes.push(await (await spawn('worker', { ...patient, HERALD_METRICS_PORT: '0' })).listening());
    await apiCall(api.url, 'POST', '/api/v2/endpoints', { url: `${receiver.url}/limited`, event_types: ['asset.created'], rate_limit_per_second: 20 });
    await apiCall(api.url, 'POST', '/api/v2/endpoints', { url: `${receiver.url}/ordered`, event_types: ['asset.metadata.updated'], ordering: 'per_resource' });
    await apiCall(api.url, 'POST', '/api/v2/events/batch', { events: Array.from({ length: 260 }, (_, i) => ({ type: 'asset.created', data: { i } })) });
    await apiCall(api.url, 'POST', '/api/v2/events/batch', {
      events: Array.from({ length: 100 }, (_, i) => ({ type: 'asset.metadata.updated', resource: { type: 'asset', id: `r${i % 4}` }, data: { i } })),
    });
    // 13 s at 20/s; a full suite on two cores once took longer than 30 s to get there.
    await eventually(() => (limitedAt.length >= 260 ? true : undefined), 45_000);
    await eventually(() => ([...order.values()].reduce((n, l) => n + l.length, 0) >= 100 ? true : undefined), 30_000);
    const peak = maxInWindow(limitedAt, 10_000);
    expect(peak).toBeLessThanOrEqual(210);
    expect(peak).toBeGreaterThanOrEqual(190);
    for (const seqs of order.values()) expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    // Both workers took part: the limit and the order held across two processes, not within one.
    expect(new Set(probes).size).toBe(2);
    for (const probe of probes) {
      const metrics = await (await fetch(`${probe}/metrics`)).text();
      expect(Number(/^herald_delivery_attempts_total\{outcome="succeeded",profile="standard"\} (\d+)$/m.exec(metrics)?.[1] ?? 0), `worker on ${probe}`).toBeGreaterThan(20);
    }
  }, 90_000);
});
