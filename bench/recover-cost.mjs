#!/usr/bin/env node
// node bench/recover-cost.mjs [--rows N] [--postgres] [--retention | --delete]
//
// What a recover over a large backlog costs a running Herald (the built one, dist/: run
// `npm run build` first), over real HTTP on 127.0.0.1. An endpoint of the default account gets N
// failed deliveries (default 200,000) spread over the last 6 days, another account's endpoint
// N/4, written straight into the database while Herald is stopped (what months of failures
// leave). Herald is then started again and the default account's admin key:
//   - counts them (dry_run) and recovers them, printing how long each call took to answer, how
//     long until the recover had re-queued everything, and the process's peak RSS meanwhile;
//   - publishes one event every 20 ms to a second, enabled endpoint meanwhile, printing the
//     slowest and the 99th percentile publish;
//   - sends the same recover again, as a client retrying after a timeout would;
//   - checks the other account's deliveries were neither counted nor touched.
// The recovered endpoint is disabled, so what is re-queued stays pending and the numbers are the
// recover's, not the deliveries'.
//
// --postgres: the same on PostgreSQL (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test),
// in a schema of its own, dropped at the end.
// --retention: instead, what a first retention pass costs after a start: N events whose
// deliveries failed (kept, replayable) past the retention, then a pass timed on a fresh process.
// --delete: instead, what deleting the endpoint costs, each delivery with one attempt logged:
// how long the DELETE took to answer, and publishes to the other endpoint meanwhile.
import { randomBytes } from 'node:crypto';
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';

const { values } = parseArgs({ options: { rows: { type: 'string' }, postgres: { type: 'boolean' }, retention: { type: 'boolean' }, delete: { type: 'boolean' } } });
const rows = Math.min(5_000_000, Math.max(1_000, Number(values.rows ?? 200_000)));
const root = process.env.ROOT ?? path.resolve(import.meta.dirname, '..');
const { startHerald } = await import(path.join(root, 'dist/app/herald.js'));
const { loadConfig } = await import(path.join(root, 'dist/config/index.js'));
const { SqliteStore } = await import(path.join(root, 'dist/store/sqlite/sqlite-store.js'));
const { SecretBox } = await import(path.join(root, 'dist/signing/secretbox.js'));

const KEY = 'bench-admin-key-0123456789';
const DAY = 86_400_000;
const dir = mkdtempSync(path.join(tmpdir(), 'herald-recover-cost-'));
const pgUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `herald_bench_${randomBytes(5).toString('hex')}`;
const env = {
  PORT: '0', HOST: '127.0.0.1', HERALD_DATA_DIR: dir, HERALD_ADMIN_KEY: KEY, HERALD_ALLOWED_TARGETS: '127.0.0.0/8', LOG_LEVEL: 'silent',
  HERALD_SECRET_KEY: randomBytes(32).toString('hex'),
  ...(values.postgres ? { DATABASE_URL: `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}schema=${schema}` } : {}),
};

async function start() {
  const herald = await startHerald(loadConfig(env), { api: true, worker: true, logger: pino({ level: 'silent' }), announce: () => {} });
  const api = async (method, route, body, headers = {}) => {
    const res = await fetch(herald.url + route, {
      method,
      headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return { herald, api };
}

const ms = (t0) => Math.round(performance.now() - t0);

async function setUp() {
  if (values.postgres) {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.end();
    const { PostgresStore } = await import(path.join(root, 'dist/store/postgres/postgres-store.js'));
    const migrator = new PostgresStore({ connectionString: pgUrl, schema, sealer: new SecretBox(Buffer.from(env.HERALD_SECRET_KEY, 'hex')), poolSize: 1 });
    await migrator.migrate();
    await migrator.close();
  }
  const { herald, api } = await start();
  const endpoint = (body, headers) => api('POST', '/api/v2/endpoints', { event_types: ['asset.created'], ...body }, headers);
  const recovered = (await endpoint({ url: 'http://127.0.0.1:9/', disabled: true })).body.id;
  const live = (await endpoint({ url: 'http://127.0.0.1:9/live' })).body.id;
  const other = (await api('POST', '/api/v2/accounts', { name: 'other' })).body.id;
  const asOther = { 'x-herald-account': other };
  const otherKey = (await api('POST', '/api/v2/api-keys', { name: 'other admin', role: 'admin' }, asOther)).body.key;
  const otherEndpoint = (await api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/other', event_types: ['asset.created'], disabled: true }, { 'x-api-key': otherKey })).body.id;
  await herald.stop();
  return { recovered, live, other, otherKey, otherEndpoint, account: null };
}

/** N failed deliveries of `endpoint`, with their events, created over the 6 days before `now`. */
async function fill(ids, now, ageMs = 6 * DAY, startAt = 0) {
  const groups = [[ids.account, ids.recovered, rows, 'a'], [ids.other, ids.otherEndpoint, Math.floor(rows / 4), 'b']];
  if (values.postgres) {
    const c = new pg.Client({ connectionString: pgUrl, options: `-c search_path=${schema}` });
    await c.connect();
    const account = ids.account ?? (await c.query('SELECT account_id FROM endpoints WHERE id = $1', [ids.recovered])).rows[0].account_id;
    for (const [acc, ep, n, tag] of groups) {
      const a = acc ?? account;
      await c.query(
        `INSERT INTO events (id, account_id, type, occurred_at, received_at, body)
         SELECT 'msg_${tag}' || lpad(i::text, 24, '0'), $1, 'asset.created', $3::bigint - $4::bigint + i * ($4::bigint / $2::bigint), $3::bigint - $4::bigint + i * ($4::bigint / $2::bigint), '{}' FROM generate_series(${startAt + 1}, ${startAt} + $2) i`,
        [a, n, now, ageMs],
      );
      await c.query(
        `INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
         SELECT 'dlv_${tag}' || lpad(i::text, 24, '0'), $1, 'msg_${tag}' || lpad(i::text, 24, '0'), $5, 'asset.created', 'failed', 8, NULL,
                $3::bigint - $4::bigint + i * ($4::bigint / $2::bigint), $3::bigint - $4::bigint + i * ($4::bigint / $2::bigint) FROM generate_series(${startAt + 1}, ${startAt} + $2) i`,
        [a, n, now, ageMs, ep],
      );
    }
    if (values.delete) await c.query(ATTEMPTS_SQL);
    await c.query('ANALYZE');
    await c.end();
    return;
  }
  const db = new Database(path.join(dir, 'herald.db'));
  const account = ids.account ?? db.prepare('SELECT account_id AS a FROM endpoints WHERE id = ?').get(ids.recovered).a;
  db.transaction(() => {
    for (const [acc, ep, n, tag] of groups) {
      const p = { a: acc ?? account, n, now, age: ageMs, ep };
      db.prepare(`WITH RECURSIVE c(i) AS (SELECT ${startAt + 1} UNION ALL SELECT i + 1 FROM c WHERE i < ${startAt} + @n)
        INSERT INTO events (id, account_id, type, occurred_at, received_at, body)
        SELECT printf('msg_${tag}%024d', i), @a, 'asset.created', @now - @age + i * (@age / @n), @now - @age + i * (@age / @n), '{}' FROM c`).run(p);
      db.prepare(`WITH RECURSIVE c(i) AS (SELECT ${startAt + 1} UNION ALL SELECT i + 1 FROM c WHERE i < ${startAt} + @n)
        INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
        SELECT printf('dlv_${tag}%024d', i), @a, printf('msg_${tag}%024d', i), @ep, 'asset.created', 'failed', 8, NULL,
               @now - @age + i * (@age / @n), @now - @age + i * (@age / @n) FROM c`).run(p);
    }
    if (values.delete) db.prepare(ATTEMPTS_SQL).run();
  })();
  db.close();
}

/** One logged attempt per delivery, as a failed delivery has at least one. */
const ATTEMPTS_SQL = `INSERT INTO attempts (id, delivery_id, account_id, attempt_no, started_at, duration_ms, status_code, request_headers, response_body)
  SELECT 'att_' || substr(id, 5), id, account_id, 1, created_at, 12, 500, '{}', 'upstream failed' FROM deliveries`;

/** Publishes one event every 20 ms until stopped; the latencies of those answered. */
function publisher(api) {
  const latencies = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped && i < 30_000; i++) {
      const t0 = performance.now();
      const r = await api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: `a${i}` } });
      // The first publishes wait for the endpoint cache and the first statements to be prepared.
      if (i < 3) continue;
      if (r.status !== 202) throw new Error(`publish answered ${r.status}`);
      latencies.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  return { async stop() { stopped = true; await done; return latencies; } };
}

function peakRss() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  return () => (clearInterval(timer), Math.round(peak / 1048576));
}

const pct = (v, p) => { const s = [...v].sort((a, b) => a - b); return s.length ? Math.round(s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]) : null; };

/** Polls the operation (when the answer names one) until it is done; its last state. */
async function finished(api, endpointId, answer, limitMs = 600_000) {
  if (answer.body?.id === undefined || answer.body.status !== 'running') return answer.body;
  const until = Date.now() + limitMs;
  for (;;) {
    const r = await api('GET', `/api/v2/endpoints/${endpointId}/recoveries/${answer.body.id}`);
    if (r.body.status !== 'running' || Date.now() > until) return r.body;
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function recoverRun() {
  const ids = await setUp();
  const now = Date.now();
  const t0 = performance.now();
  await fill(ids, now);
  console.log(`${values.postgres ? 'postgres' : 'sqlite'}: ${rows} + ${Math.floor(rows / 4)} failed deliveries written in ${ms(t0)} ms`);
  const { herald, api } = await start();
  try {
    const body = { since: new Date(now - 7 * DAY).toISOString() };
    let t = performance.now();
    const count = await api('POST', `/api/v2/endpoints/${ids.recovered}/recover`, { ...body, dry_run: true });
    console.log(`dry run: ${count.status} ${JSON.stringify(count.body)} in ${ms(t)} ms`);
    const quiet = publisher(api);
    await new Promise((res) => setTimeout(res, 2_000));
    const before = await quiet.stop();
    console.log(`${before.length} publishes before the recover: p50 ${pct(before, 50)} ms, p99 ${pct(before, 99)} ms, max ${pct(before, 100)} ms`);
    const pub = publisher(api);
    await new Promise((res) => setTimeout(res, 200));
    const rss = peakRss();
    t = performance.now();
    const first = await api('POST', `/api/v2/endpoints/${ids.recovered}/recover`, body, { 'idempotency-key': 'bench-1' });
    const answered = ms(t);
    const again = await api('POST', `/api/v2/endpoints/${ids.recovered}/recover`, body, { 'idempotency-key': 'bench-1' });
    const end = await finished(api, ids.recovered, first);
    const all = ms(t);
    const peak = rss();
    const lat = await pub.stop();
    console.log(`recover: ${first.status} ${JSON.stringify(first.body)} answered in ${answered} ms; all re-queued after ${all} ms: ${JSON.stringify(end)}`);
    console.log(`same request again at once: ${again.status} ${JSON.stringify(again.body)}`);
    console.log(`peak RSS ${peak} MiB; ${lat.length} publishes meanwhile: p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, max ${pct(lat, 100)} ms`);
    const other = await api('POST', `/api/v2/endpoints/${ids.otherEndpoint}/recover`, { ...body, dry_run: true }, { 'x-api-key': ids.otherKey });
    console.log(`other account's recoverable afterwards: ${JSON.stringify(other.body)} (expected ${Math.floor(rows / 4)})`);
  } finally {
    await herald.stop();
  }
}

/** A first retention pass on a fresh process, over N events held by failed deliveries past retention. */
async function retentionRun() {
  if (values.postgres) throw new Error('--retention measures the SQLite store');
  const ids = await setUp();
  const now = Date.now();
  await fill(ids, now - 30 * DAY, 6 * DAY);
  const store = new SqliteStore({ file: path.join(dir, 'herald.db'), sealer: new SecretBox(Buffer.from(env.HERALD_SECRET_KEY, 'hex')) });
  try {
    for (let pass = 1; pass <= 3; pass++) {
      const t = performance.now();
      let calls = 0;
      let pruned = { deliveries: 0, events: 0 };
      for (;;) {
        calls++;
        const r = await store.prune(now - 7 * DAY, 1_000);
        pruned = { deliveries: pruned.deliveries + r.deliveries, events: pruned.events + r.events };
        if (r.deliveries < 1_000 && r.events < 1_000) break;
      }
      console.log(`retention pass ${pass}: ${calls} prune call(s), ${ms(t)} ms, removed ${JSON.stringify(pruned)}`);
    }
  } finally {
    await store.close();
  }
}

/** Deletes the endpoint holding N deliveries while another endpoint of the account is published to. */
async function deleteRun() {
  const ids = await setUp();
  const now = Date.now();
  let t = performance.now();
  await fill(ids, now);
  console.log(`${values.postgres ? 'postgres' : 'sqlite'}: ${rows} + ${Math.floor(rows / 4)} failed deliveries with an attempt each, written in ${ms(t)} ms`);
  const { herald, api } = await start();
  try {
    const pub = publisher(api);
    await new Promise((res) => setTimeout(res, 1_000));
    const rss = peakRss();
    t = performance.now();
    const deleted = await api('DELETE', `/api/v2/endpoints/${ids.recovered}`);
    const answered = ms(t);
    const peak = rss();
    await new Promise((res) => setTimeout(res, 500));
    const lat = await pub.stop();
    const gone = await api('GET', `/api/v2/endpoints/${ids.recovered}`);
    console.log(`delete: ${deleted.status} answered in ${answered} ms; GET afterwards ${gone.status}; peak RSS ${peak} MiB`);
    console.log(`${lat.length} publishes meanwhile: p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, max ${pct(lat, 100)} ms`);
    const other = await api('POST', `/api/v2/endpoints/${ids.otherEndpoint}/recover`, { since: new Date(now - 7 * DAY).toISOString(), dry_run: true }, { 'x-api-key': ids.otherKey });
    console.log(`other account's deliveries afterwards: ${JSON.stringify(other.body)} (expected ${Math.floor(rows / 4)})`);
  } finally {
    await herald.stop();
  }
}

try {
  if (values.retention) await retentionRun();
  else if (values.delete) await deleteRun();
  else await recoverRun();
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (values.postgres) {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  }
}
