// Herald's PostgreSQL processes when the database stops answering, holds a statement up, or is
// being migrated by another process. The processes reach PostgreSQL through a TCP proxy the test
// controls (the server itself is never stopped: other tests share it), on a database of this
// file's own, so pg_stat_activity shows their connections and nobody else's.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../../src/store/conformance/pg-harness.js';
import { startPgProxy, type PgProxy } from '../../src/store/conformance/pg-proxy.js';
import { ADMIN_KEY, eventually, startReceiver, tempDir, type Receiver } from '../helpers.js';
import { apiCall, spawnHerald, type HeraldProcess } from '../process.js';

const database = `herald_outage_${randomBytes(5).toString('hex')}`;
const direct = new URL(TEST_DATABASE_URL);
direct.pathname = `/${database}`;
const dir = tempDir();
const ENV = {
  DATABASE_URL: direct.toString(),
  HERALD_DATA_DIR: dir,
  HERALD_SECRET_KEY: randomBytes(32).toString('hex'),
};

let admin: pg.Client;
let db: pg.Client;
const procs: HeraldProcess[] = [];
let proxy: PgProxy | undefined;
let receiver: Receiver | undefined;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  db = new pg.Client({ connectionString: direct.toString() });
  await db.connect();
  const migrate = await spawnHerald('migrate', ENV);
  expect((await migrate.exited).code).toBe(0);
});
afterEach(async () => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
  await proxy?.close();
  await receiver?.close();
  proxy = receiver = undefined;
});
afterAll(async () => {
  await db?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.end();
  rmSync(dir, { recursive: true, force: true });
});

async function spawn(command: string, env: Record<string, string> = {}, port?: number): Promise<HeraldProcess> {
  const p = await spawnHerald(command, { ...ENV, ...env }, port);
  procs.push(p);
  return p;
}

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5_000) })).status;
  } catch {
    return 0;
  }
}

/** Connections of Herald's processes to this file's database, by application_name. */
async function connections(applicationName: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [database, applicationName]);
  return Number(rows[0]!.n);
}

// The sum of its phases' bounds (ready and listening 20 s, two deliveries 20 s, the outage's probes 5 s, recovered 30 s, delivered 20 s, settled 20 s) with room for two starts.
const OUTAGE_MS = 140_000;

describe('PostgreSQL processes and their database', () => {
  it('report not ready while the database does not answer, recover on their own, LISTEN again, and lose or settle twice nothing', async () => {
    const arrived = new Map<string, number>();
    // While held, answers wait: attempts stay in flight.
    let held: (() => void)[] | undefined;
    receiver = await startReceiver((req, _i, res) => {
      const id = req.headers['webhook-id'] as string;
      arrived.set(id, (arrived.get(id) ?? 0) + 1);
      const answer = () => void res.writeHead(200).end();
      if (held) held.push(answer);
      else answer();
    });
    proxy = await startPgProxy();
    const through = { DATABASE_URL: proxy.urlTo(ENV.DATABASE_URL) };
    const api = await spawn('api', through);
    // Its probes on a port of its own (0: a port picked free beforehand could be another process's by then).
    const worker = await (await spawn('worker', { ...through, HERALD_METRICS_PORT: '0' })).listening();
    await eventually(async () => ((await status(`${worker}/readyz`)) === 200 ? true : undefined));
    await eventually(async () => ((await connections('herald-notifier')) === 1 ? true : undefined));
    await apiCall(api.url, 'POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'] });
    const accepted: string[] = [];
    const publish = async () => {
      const res = await apiCall(api.url, 'POST', '/api/v2/events/batch', { events: Array.from({ length: 50 }, (_, i) => ({ type: 'asset.created', data: { i } })) });
      expect(res.status).toBe(202);
      accepted.push(...res.body.data.map((o: { id: string }) => o.id));
    };
    // Answered at once, the first 50 earn the endpoint the concurrency to have the next 50 in
    // flight together (it starts at 8 and gains one per answer).
    await publish();
    await eventually(() => (accepted.every((id) => arrived.has(id)) ? true : undefined));
    held = [];
    await publish();
    await eventually(() => (accepted.every((id) => arrived.has(id)) ? true : undefined));

    // With 50 attempts in flight, every connection drops, and new ones reach a server that
    // accepts them and never answers. The attempts finish meanwhile: their outcomes wait.
    proxy.cut('silent');
    const release = held;
    held = undefined;
    for (const answer of release) answer();
    expect(await Promise.all([status(`${api.url}/readyz`), status(`${worker}/readyz`), status(`${api.url}/healthz`)])).toEqual([503, 503, 200]);
    proxy.restore();

    // Back without a restart: ready again, and the worker LISTENs again (its reconnection went
    // to the silent server: only a time limit ends that wait).
    await eventually(async () => ((await status(`${api.url}/readyz`)) === 200 ? true : undefined));
    await eventually(async () => ((await status(`${worker}/readyz`)) === 200 ? true : undefined));
    await eventually(async () => ((await connections('herald-notifier')) === 1 ? true : undefined), 10_000, 100);
    await publish();
    // The worker's claim that was waiting for a connection to the silent server waits out its
    // 10 s (connectionTimeoutMillis) before the next one finds these.
    await eventually(() => (accepted.every((id) => arrived.has(id)) ? true : undefined), 20_000);
    // Settled once each, the outcomes of the outage included: every delivery succeeded, with one
    // attempt recorded; and none was sent twice (their leases outlived the outage).
    const settled = await eventually(async () => {
      const { rows } = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM deliveries GROUP BY status');
      return rows.length === 1 && rows[0]!.status === 'succeeded' ? Number(rows[0]!.n) : undefined;
    }, 20_000);
    expect(settled).toBe(accepted.length);
    const attempts = await db.query<{ n: string; most: number }>('SELECT count(*) AS n, max(attempt_no) AS most FROM attempts');
    expect(attempts.rows[0]).toEqual({ n: String(accepted.length), most: 1 });
    expect([...arrived.values()].filter((n) => n > 1)).toEqual([]);
  }, OUTAGE_MS);

  it('has the server cancel a statement held up past HERALD_PG_STATEMENT_TIMEOUT_MS (503), with no more than HERALD_PG_POOL_SIZE connections', async () => {
    const api = await spawn('api', { HERALD_PG_STATEMENT_TIMEOUT_MS: '1000', HERALD_PG_POOL_SIZE: '2' });
    expect((await apiCall(api.url, 'GET', '/api/v2/endpoints')).status).toBe(200);
    const locker = new pg.Client({ connectionString: ENV.DATABASE_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE endpoints IN ACCESS EXCLUSIVE MODE');
      let most = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          most = Math.max(most, await connections('herald'));
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          fetch(`${api.url}/api/v2/endpoints`, { headers: { 'x-api-key': ADMIN_KEY }, signal: AbortSignal.timeout(15_000) }).then(async (r) => ({
            status: r.status,
            error: ((await r.json()) as { error: string }).error,
          })),
        ),
      ).finally(() => (sampling = false));
      await sampler;
      // Two connections, each statement cancelled after a second: three rounds.
      expect(answers).toEqual(answers.map(() => ({ status: 503, error: 'store_unavailable' })));
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(2);
      // Cancelled by the server, not only given up on: nothing of Herald's still waits for the lock.
      const waiting = await db.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'herald' AND wait_event_type = 'Lock'", [database]);
      expect(waiting.rows).toEqual([]);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    expect((await apiCall(api.url, 'GET', '/api/v2/endpoints')).status).toBe(200);
  });

  it('migrates without a statement time limit: herald migrate waits out another migration holding the lock', async () => {
    const schema = `herald_outage_${randomBytes(4).toString('hex')}`;
    const target = new URL(ENV.DATABASE_URL);
    target.searchParams.set('schema', schema);
    const holder = new pg.Client({ connectionString: ENV.DATABASE_URL });
    await holder.connect();
    try {
      // The lock a migration of that schema takes (PostgresStore.migrate), held as another
      // process's long migration would hold it.
      await holder.query("SELECT pg_advisory_lock(hashtext('herald_migrate:' || $1::text))", [schema]);
      const migrate = await spawn('migrate', { DATABASE_URL: target.toString(), HERALD_PG_STATEMENT_TIMEOUT_MS: '500' });
      const early = await Promise.race([migrate.exited, new Promise((r) => setTimeout(() => r('waiting'), 2_000))]);
      expect(early, migrate.output()).toBe('waiting');
      await holder.query("SELECT pg_advisory_unlock(hashtext('herald_migrate:' || $1::text))", [schema]);
      expect((await migrate.exited).code, migrate.output()).toBe(0);
      expect(migrate.output()).toMatch(/schema at version \d+/);
    } finally {
      await holder.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await holder.end();
    }
  });
});
