// What Herald on PostgreSQL does when the disk under its tables fills up: a real full disk, no
// stand-in. The test schema's tables and indexes are moved to a tablespace on a 16 MiB tmpfs
// (mounted where the PostgreSQL server sees it: the tests run as root), which a table of the
// test's own fills until the server answers 53100 (disk_full). Tablespace, schema and mount are
// removed afterwards.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { pino } from 'pino';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/app/open-store.js';
import { loadConfig } from '../../src/config/index.js';
import { TEST_DATABASE_URL } from '../../src/store/conformance/pg-harness.js';
import { eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const root = process.getuid?.() === 0;
const suffix = randomBytes(5).toString('hex');
const schema = `herald_pgdisk_${suffix}`;
const tablespace = `herald_pgdisk_${suffix}`;
const url = new URL(TEST_DATABASE_URL);
url.searchParams.set('schema', schema);
const ENV = { DATABASE_URL: url.toString(), HERALD_SECRET_KEY: randomBytes(32).toString('hex') };

let admin: pg.Client;
let mountDir: string | undefined;
let h: TestHerald | undefined;
let receiver: Receiver | undefined;
const lines: { level: number; msg: string }[] = [];

beforeAll(async () => {
  if (!root) return;
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  mountDir = mkdtempSync('/tmp/herald-pgdisk-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountDir]);
  execFileSync('chown', ['postgres', mountDir]);
  await admin.query(`CREATE TABLESPACE ${tablespace} LOCATION '${mountDir}'`);
  const store = await openStore(loadConfig(ENV), undefined, { migrate: true });
  await store.close();
  // Every table and index of Herald's schema onto the small disk.
  await admin.query(`DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '${schema}' AND c.relkind IN ('r', 'i') LOOP
      EXECUTE format('ALTER %s %I.%I SET TABLESPACE ${tablespace}', CASE r.relkind WHEN 'r' THEN 'TABLE' ELSE 'INDEX' END, '${schema}', r.relname);
    END LOOP; END $$`);
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  h = await startTestHerald(ENV, { logger });
  receiver = await startReceiver();
}, 60_000);

afterAll(async () => {
  await h?.close();
  await receiver?.close();
  if (!root) return;
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.query(`DROP TABLESPACE IF EXISTS ${tablespace}`);
  await admin.end();
  if (mountDir) {
    execFileSync('umount', [mountDir]);
    rmSync(mountDir, { recursive: true, force: true });
  }
});

async function readiness(): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${h!.url}/readyz`);
  return { status: res.status, body: await res.json() };
}

/** Publishes a batch of events of about 2 KiB each; the ids accepted, or the refusal. */
async function publishBatch(): Promise<{ status: number; ids: string[]; body: { error?: string } }> {
  const events = Array.from({ length: 50 }, (_, i) => ({ type: 'asset.created', resource: { type: 'asset', id: `a${i}` }, data: { blob: randomBytes(1024).toString('hex') } }));
  const res = await h!.api('POST', '/api/v2/events/batch', { events });
  return { status: res.status, ids: res.status === 202 ? (res.body.data as { id: string }[]).map((e) => e.id) : [], body: res.body as { error?: string } };
}

describe.skipIf(!root)('PostgreSQL on a full disk', () => {
  it('answers /readyz 503 store_unwritable while the server refuses writes (53100), logs it once, and is ready again by itself once space is freed; nothing accepted is lost', async () => {
    expect((await h!.api('POST', '/api/v2/endpoints', { url: receiver!.url, event_types: ['asset.*'] })).status).toBe(201);
    const accepted = new Set<string>();
    for (const id of (await publishBatch()).ids) accepted.add(id);
    expect(accepted.size).toBe(50);
    expect((await readiness()).status).toBe(200);

    // A table of the test's own takes what is left of the disk.
    await admin.query(`CREATE TABLE ${schema}.disk_filler (x text) TABLESPACE ${tablespace}`);
    await expect(admin.query(`INSERT INTO ${schema}.disk_filler SELECT repeat(md5(g::text), 32) FROM generate_series(1, 100000) g`)).rejects.toMatchObject({ code: '53100' });

    // Herald's writes fit in the pages its tables have for a while, then need new ones.
    const refusal = await eventually(async () => {
      const batch = await publishBatch();
      for (const id of batch.ids) accepted.add(id);
      return batch.status === 202 ? undefined : batch;
    }, 30_000);
    expect(refusal).toMatchObject({ status: 503, body: { error: 'store_unavailable' } });
    expect(await readiness()).toEqual({ status: 503, body: { status: 'unavailable', reason: 'store_unwritable' } });
    // Asked again, the server still refuses: no recovery is made up.
    expect(await readiness()).toEqual({ status: 503, body: { status: 'unavailable', reason: 'store_unwritable' } });

    await admin.query(`DROP TABLE ${schema}.disk_filler`);
    await eventually(async () => ((await readiness()).status === 200 ? true : undefined), 20_000);
    const after = await publishBatch();
    expect(after.status).toBe(202);
    for (const id of after.ids) accepted.add(id);

    await eventually(() => {
      const ids = new Set(receiver!.received.map((r) => r.headers['webhook-id'] as string));
      return [...accepted].every((id) => ids.has(id)) ? true : undefined;
    }, 30_000);
    const refusedLines = lines.filter((l) => l.msg.includes("refuses the store's writes"));
    const resumedLines = lines.filter((l) => l.msg.startsWith('the store writes again'));
    expect(refusedLines.length).toBeGreaterThanOrEqual(1);
    expect(refusedLines.every((l) => l.level === 50)).toBe(true);
    expect(resumedLines.length).toBe(refusedLines.length);
  }, 120_000);
});
