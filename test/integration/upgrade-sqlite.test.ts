// Upgrading the embedded store: a data directory written by each older Herald (its schema
// version, its rows) is migrated by `herald serve` at start and served as if this Herald had
// written it. A schema newer than this Herald stops it with exit 2.
import Database from 'better-sqlite3';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/cli-support.js';
import { startReceiver, tempDir, type Receiver } from '../helpers.js';
import { expectServesOldData, insertOldData, latestVersion, migrateAndExpectAsLeft, migrateTo, olderVersions, SECRET_KEY, type OldData, type OldDatabase } from './upgrade-support.js';

let receiver: Receiver;
const dirs: string[] = [];
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A data directory as the old Herald left it: the key it generated, a SQLite file filled through plain SQL. */
async function oldDataDir(fill: (db: OldDatabase) => Promise<void>): Promise<string> {
  const dir = tempDir('herald-upgrade-');
  dirs.push(dir);
  writeFileSync(path.join(dir, 'secret.key'), `${SECRET_KEY}\n`, { mode: 0o600 });
  const db = new Database(path.join(dir, 'herald.db'));
  try {
    await fill({
      exec: async (sql) => void db.exec(sql),
      // The statements number their parameters in order: SQLite's ? takes them so.
      run: async (sql, params) => void db.prepare(sql.replace(/\$\d+/g, '?')).run(...params),
      columns: async (table) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name),
    });
  } finally {
    db.close();
  }
  return dir;
}

// The sum of expectServesOldData's phases' bounds (three delivered 15 s, five 15 s, settled 10 s) with room for migrating and starting Herald.
const MIGRATED_AND_SERVED_MS = 50_000;

describe('a SQLite database left by an older Herald', () => {
  it.each(olderVersions('sqlite'))('at schema version %i is migrated as serve does at start, and served: credentials, counts, leased and pending work', async (version) => {
    let old!: OldData;
    const route = `/v${version}`;
    const dir = await oldDataDir(async (db) => {
      await migrateTo(db, 'sqlite', version);
      old = await insertOldData(db, 'sqlite', `${receiver.url}${route}`);
    });
    // No HERALD_SECRET_KEY: the key is the one the old Herald generated into the directory.
    const env = { DATABASE_URL: '', HERALD_DATA_DIR: dir, HERALD_SECRET_KEY: '' };
    await migrateAndExpectAsLeft(env, old);
    await expectServesOldData(env, dir, old, receiver, route);
  }, MIGRATED_AND_SERVED_MS);

  it('at a schema version newer than this Herald stops serve and migrate with exit 2, naming both versions', async () => {
    const latest = latestVersion('sqlite');
    const dir = await oldDataDir(async (db) => {
      await migrateTo(db, 'sqlite', latest);
      await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [latest + 1, `${latest + 1}_future.sql`, Date.now()]);
    });
    const env = { HERALD_DATA_DIR: dir, DATABASE_URL: '', HERALD_SECRET_KEY: '', PORT: '0', HOST: '127.0.0.1' };
    const message = `herald: database schema is at version ${latest + 1}, newer than this Herald knows (${latest}): upgrade Herald`;
    for (const command of ['serve', 'migrate']) {
      const res = await runCli([command], env);
      expect([command, res.code, res.stderr.trim()]).toEqual([command, 2, message]);
    }
  });

  it('a migration that fails leaves no part of itself applied, and herald migrate completes once its cause is gone', async () => {
    // Migration 006 creates attempt_minutes: a table of that name made by hand makes it fail.
    const dir = await oldDataDir(async (db) => {
      await migrateTo(db, 'sqlite', 4);
      await db.exec('CREATE TABLE attempt_minutes (made_by_hand INTEGER)');
    });
    const env = { HERALD_DATA_DIR: dir, DATABASE_URL: '', HERALD_SECRET_KEY: '' };
    // Named by version and file, with SQLite's words: herald migrate, and serve migrating at start.
    const message = 'herald: migration 006 (006_delivery_logs_and_activity.sql) failed: table attempt_minutes already exists; nothing of it was applied; the schema stays at version 5';
    const failed = await runCli(['migrate'], env);
    expect([failed.code, failed.stderr.trim()]).toEqual([1, message]);
    const serve = await runCli(['serve'], { ...env, PORT: '0', HOST: '127.0.0.1' });
    expect([serve.code, serve.stderr.trim()]).toEqual([1, message]);
    const db = new Database(path.join(dir, 'herald.db'));
    try {
      // Each migration is a transaction of its own: 005 stays applied, nothing of 006 is.
      expect(db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: 5 });
      expect(db.prepare("SELECT name FROM pragma_table_info('deliveries') WHERE name = 'event_type'").all()).toEqual([]);
      db.exec('DROP TABLE attempt_minutes');
    } finally {
      db.close();
    }
    expect(await runCli(['migrate'], env)).toMatchObject({ code: 0, stdout: `database schema at version ${latestVersion('sqlite')}\n` });
  });
});

