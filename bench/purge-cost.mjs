#!/usr/bin/env node
// node bench/purge-cost.mjs --stats [--postgres] | --ingest [--events N]
//
// What deleting endpoints in the background costs the reads and writes that go on meanwhile, on
// the built store (dist/, `npm run build` first; ROOT=/path/to/other/checkout for another build),
// driven directly, without HTTP. PostgreSQL: TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test), in a schema of its own, dropped afterwards.
//
// --stats: one account with 1,000,000 deliveries over five endpoints (3 % pending, 1 % failed,
// the rest succeeded), 200,000 of them the endpoint then deleted. stats() and queueDepth() of
// the account and of the whole store, the median of 5 calls each, before the deletion and while
// its deliveries wait to be purged (nothing purged). SQLite unless --postgres.
//
// --ingest: N events (default 20,000) to one endpoint on PostgreSQL, ingested in batches of 500
// through one connection; prints wall time, this process's CPU and the server's (that
// connection's backend, from /proc: the server must run on this machine) per delivery. Alternate
// with the previous build.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({ options: { stats: { type: 'boolean' }, ingest: { type: 'boolean' }, postgres: { type: 'boolean' }, events: { type: 'string' } } });
const root = process.env.ROOT ?? path.resolve(import.meta.dirname, '..');
const { SecretBox } = await import(path.join(root, 'dist/signing/secretbox.js'));
const { newId } = await import(path.join(root, 'dist/domain/ids.js'));
const onPostgres = values.postgres || values.ingest;
const pgUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `herald_bench_${randomBytes(5).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'herald-purge-cost-'));
const TOTAL = 1_000_000;
const GONE = 200_000;

const store = await open();
try {
  await store.migrate();
  if (values.ingest) await ingestCost(Math.max(500, Number(values.events ?? 20_000)));
  else await statsCost();
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (onPostgres) await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

async function admin(work, options) {
  const c = new pg.Client({ connectionString: pgUrl, options });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

async function open() {
  const sealer = new SecretBox(randomBytes(32));
  if (!onPostgres) {
    const { SqliteStore } = await import(path.join(root, 'dist/store/sqlite/sqlite-store.js'));
    return new SqliteStore({ file: path.join(dir, 'herald.db'), sealer, synchronous: 'normal' });
  }
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  const { PostgresStore } = await import(path.join(root, 'dist/store/postgres/postgres-store.js'));
  return new PostgresStore({ connectionString: pgUrl, schema, sealer, ...(values.ingest ? { poolSize: 1 } : {}) });
}

async function newEndpoint(accountId) {
  const now = Date.now();
  const endpoint = {
    id: newId('ep'), accountId, profile: 'standard', url: 'http://127.0.0.1:9/', method: 'POST', description: '',
    eventTypes: ['asset.created'], projectIds: [], userIds: [], secret: `whsec_${randomBytes(24).toString('base64')}`,
    previousSecret: null, previousSecretExpiresAt: null, headers: [], auth: { type: 'none' }, rateLimitPerSecond: null,
    timeoutMs: 10_000, ordering: 'none', disabled: false, disabledReason: null, failingSince: null, profileData: {}, createdAt: now, updatedAt: now,
  };
  await store.createEndpoint(endpoint);
  return endpoint.id;
}

function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function timed(call) {
  const ms = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await call();
    ms.push(performance.now() - t);
  }
  return `${median(ms).toFixed(1)} ms`;
}

/** Deliveries i = 1..TOTAL: the first GONE to `gone`, the rest spread over `kept`. */
async function fill(accountId, gone, kept) {
  const endpointOf = (i) => `CASE WHEN i <= ${GONE} THEN '${gone}' ${kept.map((id, k) => `WHEN i % ${kept.length} = ${k} THEN '${id}'`).join(' ')} END`;
  const status = `CASE WHEN i % 100 < 3 THEN 'pending' WHEN i % 97 = 0 THEN 'failed' ELSE 'succeeded' END`;
  if (onPostgres) {
    await admin(async (c) => {
      // No events: the bench reads counts only, so the foreign keys are not checked here.
      await c.query('SET session_replication_role = replica');
      await c.query(`INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
        SELECT 'dlv_' || lpad(i::text, 26, '0'), $1, 'msg_' || i, ${endpointOf('i')}, 'asset.created', ${status}, i % 2, i, i, i FROM generate_series(1, ${TOTAL}) i`, [accountId]);
      // As autovacuum leaves a table at rest: visibility map set, so index-only scans stay index-only.
      await c.query('VACUUM ANALYZE deliveries');
    }, `-c search_path=${schema}`);
    return;
  }
  const db = store['db'];
  db.pragma('foreign_keys = OFF');
  db.prepare(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${TOTAL})
    INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT printf('dlv_%026d', i), ?, 'msg_' || i, ${endpointOf('i')}, 'asset.created', ${status}, i % 2, i, i, i FROM c`).run(accountId);
}

async function statsCost() {
  const account = await store.createAccount({ name: 'purge-cost' });
  const gone = await newEndpoint(account.id);
  const kept = [];
  for (let k = 0; k < 4; k++) kept.push(await newEndpoint(account.id));
  await fill(account.id, gone, kept);
  const measure = async (when) => {
    const figures = [
      `account stats ${await timed(() => store.stats(account.id))}`,
      `queueDepth ${await timed(() => store.queueDepth(account.id))}`,
      `whole store stats ${await timed(() => store.stats())}`,
      `queueDepth ${await timed(() => store.queueDepth())}`,
    ];
    console.log(`${onPostgres ? 'postgres' : 'sqlite'}, ${when}: ${figures.join(', ')}; account ${JSON.stringify(await store.stats(account.id))}`);
  };
  await measure('before the deletion');
  await store.deleteEndpoint(account.id, gone);
  await measure(`${GONE.toLocaleString('en')} deliveries being purged`);
}

function cpuMicros() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The CPU time of the store's one backend, in µs (utime + stime, in clock ticks of 10 ms). */
async function serverMicros() {
  const { rows } = await store['pool'].query('SELECT pg_backend_pid() AS pid');
  const fields = readFileSync(`/proc/${rows[0].pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function ingestCost(events) {
  const account = await store.createAccount({ name: 'purge-cost' });
  const endpoint = await newEndpoint(account.id);
  const tail = JSON.stringify({ actor: { id: 'user-42' }, data: { filename: 'IMG_1.jpg', size: 2_483_122 } }).slice(1);
  let wall = 0;
  let cpu = 0;
  const server = await serverMicros();
  for (let i = 0; i < events; i += 500) {
    const items = [];
    for (let j = i; j < Math.min(events, i + 500); j++) {
      const messageId = newId('msg');
      const resource = { type: 'asset', id: `asset-${j}` };
      items.push({ accountId: account.id, messageId, event: { type: 'asset.created', idempotencyKey: `k-${j}`, resource }, endpoints: [{ id: endpoint, ordered: false, leased: false }], body: { head: `{"id":"${messageId}","type":"asset.created"`, tail } });
    }
    const [t, c] = [performance.now(), cpuMicros()];
    await store.ingest(items, Date.now());
    wall += performance.now() - t;
    cpu += cpuMicros() - c;
  }
  const per = (us) => `${(us / events).toFixed(1)} µs`;
  const serverCpu = per((await serverMicros()) - server);
  console.log(`postgres ingest, ${events.toLocaleString('en')} deliveries in batches of 500, per delivery: wall ${per(wall * 1000)}, CPU ${per(cpu)}, server CPU ${serverCpu} (${root})`);
}
