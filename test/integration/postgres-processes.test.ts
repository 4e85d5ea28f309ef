// Scale-out on PostgreSQL: separate API and worker processes sharing one database.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../../src/store/conformance/pg-harness.js';
import { eventually, startReceiver, tempDir, type Receiver } from '../helpers.js';
import { apiCall, spawnHerald, type HeraldProcess } from '../process.js';

const schema = `herald_procs_${randomBytes(5).toString('hex')}`;
const url = new URL(TEST_DATABASE_URL);
url.searchParams.set('schema', schema);
const dir = tempDir();
const ENV = {
  DATABASE_URL: url.toString(),
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
afterEach(async () => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
  await receiver?.close();
});
afterAll(async () => {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
  rmSync(dir, { recursive: true, force: true });
});

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
  });

  it('delivers every event with one API and two workers, one of them killed mid-run', async () => {
    const seen = new Map<string, number>();
    receiver = await startReceiver((req, _i, res) => {
      seen.set(req.headers['webhook-id'] as string, (seen.get(req.headers['webhook-id'] as string) ?? 0) + 1);
      setTimeout(() => res.writeHead(200).end(), 3);
    });
    const migrate = await spawn('migrate');
    await migrate.exited;
    const api = await spawn('api');
    const w1 = await spawn('worker', {}, ['--concurrency', '32']);
    await spawn('worker', {}, ['--concurrency', '32']);
    await apiCall(api.url, 'POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'] });

    const accepted: string[] = [];
    for (let b = 0; b < 30; b++) {
      const events = Array.from({ length: 100 }, (_, i) => ({ type: 'asset.created', resource: { type: 'asset', id: `a${i % 20}` }, data: { b, i } }));
      const res = await apiCall(api.url, 'POST', '/api/v2/events/batch', { events });
      expect(res.status).toBe(202);
      accepted.push(...res.body.data.map((o: { id: string }) => o.id));
      if (b === 10) {
        await eventually(() => (seen.size > 200 ? true : undefined));
        w1.child.kill('SIGKILL');
      }
    }
    await eventually(() => (accepted.every((id) => seen.has(id)) ? true : undefined), 60_000);
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    // Only what the killed worker had in flight (at most its concurrency) may arrive twice.
    expect(duplicates).toBeLessThanOrEqual(32);
    const stats = await apiCall(api.url, 'GET', '/api/v2/stats');
    expect(stats.body.deliveries).toMatchObject({ succeeded: 3000, pending: 0, in_flight: 0, failed: 0 });
  }, 120_000);
});
