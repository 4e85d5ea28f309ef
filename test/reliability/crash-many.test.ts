// Issue 7, item 1: 20,000 events at a steady rate into a Herald child process, kill -9 at three
// random moments (seed printed; replay with CRASH_SEED=<seed>), restart each time; on SQLite
// and on PostgreSQL. Every event answered 202 is delivered at least once; duplicates are only
// the deliveries that were in flight at a kill. `npm run soak` runs the same mix for longer.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../../src/store/conformance/pg-harness.js';
import { tempDir } from '../helpers.js';
import { spawnHerald } from '../process.js';
import { runCrashScenario, type CrashReport } from './crash-scenario.js';

const EVENTS = Number(process.env.CRASH_EVENTS ?? 20_000);
const RATE = 1_000;
const KILLS = 3;
const CONCURRENCY = 128;
const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COMMON_ENV = { HERALD_RETRY_SCHEDULE: '0,0.2,0.5,1', HERALD_LEASE_MS: '2000', HERALD_CONCURRENCY: String(CONCURRENCY) };

const dirs: string[] = [];
const schemas: string[] = [];
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await client.end();
});

function expectNothingLost(report: CrashReport): void {
  expect(report.lost, `lost messages (seed ${seed})`).toEqual([]);
  expect(report.unknown, `messages delivered but never answered 202 (seed ${seed})`).toEqual([]);
  expect(report.accepted).toBe(EVENTS);
  expect(report.delivered).toBe(EVENTS);
  // Only deliveries in flight at a kill may arrive twice: at most the dispatcher's concurrency per kill.
  expect(report.duplicateDeliveries).toBeLessThanOrEqual(KILLS * CONCURRENCY);
  expect(report.finalStats).toMatchObject({ pending: 0, in_flight: 0, failed: 0, succeeded: EVENTS });
}

describe('crash at scale', () => {
  it(`SQLite: delivers every accepted event at least once through ${KILLS} kill -9 and restarts (seed ${seed})`, async () => {
    const dir = tempDir('herald-crash-many-');
    dirs.push(dir);
    const report = await runCrashScenario({
      env: { ...COMMON_ENV, HERALD_DATA_DIR: dir },
      events: EVENTS,
      ratePerSecond: RATE,
      kills: KILLS,
      seed,
      log: (line) => console.log(line),
    });
    expectNothingLost(report);
  }, 240_000);

  it(`PostgreSQL: delivers every accepted event at least once through ${KILLS} kill -9 and restarts (seed ${seed})`, async () => {
    const dir = tempDir('herald-crash-pg-');
    dirs.push(dir);
    const schema = `herald_crash_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('schema', schema);
    const env = { ...COMMON_ENV, HERALD_DATA_DIR: dir, DATABASE_URL: url.toString(), HERALD_SECRET_KEY: randomBytes(32).toString('hex') };
    const migrate = await spawnHerald('migrate', env);
    expect((await migrate.exited).code).toBe(0);
    const report = await runCrashScenario({ env, events: EVENTS, ratePerSecond: RATE, kills: KILLS, seed, log: (line) => console.log(line) });
    expectNothingLost(report);
  }, 240_000);
});
