// Upgrading on PostgreSQL: a schema written by each older Herald (its version, its rows) is
// migrated, then served as if this Herald had written it; two `herald migrate` run at once (two
// deploys racing) apply each migration once. Processes started on a schema behind or ahead of
// them stop with exit 2.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../../src/store/conformance/pg-harness.js';
import { runCli } from '../cli/cli-support.js';
import { startReceiver, tempDir, type Receiver } from '../helpers.js';
import { expectServesOldData, insertOldData, latestVersion, migrateAndExpectAsLeft, migrateTo, olderVersions, SECRET_KEY, type OldData, type OldDatabase } from './upgrade-support.js';

const prefix = `herald_upgrade_${randomBytes(4).toString('hex')}`;
const schemas: string[] = [];
const dataDir = tempDir('herald-upgrade-pg-');
let admin: pg.Client;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
});
afterAll(async () => {
  await receiver.close();
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A schema of its own, filled through plain SQL; its DATABASE_URL. */
async function oldSchema(name: string, fill: (db: OldDatabase) => Promise<void>): Promise<string> {
  const schema = `${prefix}_${name}`;
  schemas.push(schema);
  await admin.query(`CREATE SCHEMA ${schema}`);
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    await fill({
      exec: async (sql) => void (await client.query(sql)),
      run: async (sql, params) => void (await client.query(sql, [...params])),
      columns: async (table) =>
        (await client.query<{ c: string }>('SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [schema, table])).rows.map((r) => r.c),
    });
  } finally {
    await client.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
}

const cliEnv = (databaseUrl: string) => ({ DATABASE_URL: databaseUrl, HERALD_DATA_DIR: dataDir, HERALD_SECRET_KEY: SECRET_KEY, PORT: '0', HOST: '127.0.0.1' });

// The sum of expectServesOldData's phases' bounds (three delivered 15 s, five 15 s, settled 10 s) with room for migrating and starting Herald.
const MIGRATED_AND_SERVED_MS = 50_000;

describe('a PostgreSQL schema left by an older Herald', () => {
  const latest = latestVersion('postgres');

  it.each(olderVersions('postgres'))('at schema version %i is migrated and served: credentials, counts, leased and pending work', async (version) => {
    let old!: OldData;
    const route = `/v${version}`;
    const url = await oldSchema(`v${version}`, async (db) => {
      await migrateTo(db, 'postgres', version);
      old = await insertOldData(db, 'postgres', `${receiver.url}${route}`);
    });
    await migrateAndExpectAsLeft(cliEnv(url), old);
    await expectServesOldData(cliEnv(url), dataDir, old, receiver, route);
  }, MIGRATED_AND_SERVED_MS);

  it('at the oldest version, with its data, is migrated once by two herald migrate run at once', async () => {
    const oldest = olderVersions('postgres')[0];
    const url = await oldSchema('race', async (db) => {
      await migrateTo(db, 'postgres', oldest);
      await insertOldData(db, 'postgres', `${receiver.url}/race`);
    });
    const runs = await Promise.all([runCli(['migrate'], cliEnv(url)), runCli(['migrate'], cliEnv(url))]);
    expect(runs.map((r) => [r.code, r.stdout, r.stderr])).toEqual(runs.map(() => [0, `database schema at version ${latest}\n`, '']));
    const applied = await admin.query<{ version: number }>(`SELECT version FROM ${prefix}_race.schema_migrations ORDER BY version`);
    expect(applied.rows.map((r) => r.version)).toEqual(Array.from({ length: latest }, (_, i) => i + 1));
    // Each migration ran once: the rollup 006 seeded from the old attempts is not doubled.
    const rolled = await admin.query<{ n: string }>(`SELECT SUM(succeeded + retried + failed) AS n FROM ${prefix}_race.attempt_minutes`);
    expect(Number(rolled.rows[0].n)).toBe(4);
  });

  it('one version behind stops serve, api and worker with exit 2, saying to run herald migrate', async () => {
    const url = await oldSchema('behind', (db) => migrateTo(db, 'postgres', latest - 1));
    const message = `herald: database schema is at version ${latest - 1}, this Herald needs ${latest}: run "herald migrate" first`;
    const runs = await Promise.all(['serve', 'api', 'worker'].map(async (command) => [command, await runCli([command], cliEnv(url))] as const));
    expect(runs.map(([command, r]) => [command, r.code, r.stderr.trim()])).toEqual(runs.map(([command]) => [command, 2, message]));
  });

  it('one version ahead stops serve, api, worker and migrate with exit 2, saying to upgrade Herald', async () => {
    const url = await oldSchema('ahead', async (db) => {
      await migrateTo(db, 'postgres', latest);
      await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [latest + 1, `${latest + 1}_future.sql`, Date.now()]);
    });
    const message = `herald: database schema is at version ${latest + 1}, newer than this Herald knows (${latest}): upgrade Herald`;
    const runs = await Promise.all(['serve', 'api', 'worker', 'migrate'].map(async (command) => [command, await runCli([command], cliEnv(url))] as const));
    expect(runs.map(([command, r]) => [command, r.code, r.stderr.trim()])).toEqual(runs.map(([command]) => [command, 2, message]));
  });

  it('a migration that fails is rolled back with the others of its run, and herald migrate completes once its cause is gone', async () => {
    // Migration 006 creates attempt_minutes: a table of that name made by hand makes it fail.
    const url = await oldSchema('failing', async (db) => {
      await migrateTo(db, 'postgres', 4);
      await db.exec('CREATE TABLE attempt_minutes (made_by_hand INTEGER)');
    });
    const failed = await runCli(['migrate'], cliEnv(url));
    // Named by version and file, with PostgreSQL's words, and what stays applied.
    expect([failed.code, failed.stderr.trim()]).toEqual([
      1,
      'herald: migration 006 (006_delivery_logs_and_activity.sql) failed: relation "attempt_minutes" already exists; this run was rolled back; the schema stays at version 4',
    ]);
    const schema = `${prefix}_failing`;
    const left = await admin.query<{ v: number; inboxes: string | null; event_type: string | null }>(
      `SELECT (SELECT MAX(version) FROM ${schema}.schema_migrations) AS v, to_regclass('${schema}.inboxes')::text AS inboxes,
              (SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'deliveries' AND column_name = 'event_type') AS event_type`,
      [schema],
    );
    // Nothing of 005 (inboxes) nor of 006 (deliveries.event_type): one transaction for the run.
    expect(left.rows[0]).toEqual({ v: 4, inboxes: null, event_type: null });
    await admin.query(`DROP TABLE ${schema}.attempt_minutes`);
    expect(await runCli(['migrate'], cliEnv(url))).toMatchObject({ code: 0, stdout: `database schema at version ${latest}\n` });
  });
});
