#!/usr/bin/env node
// npm run soak -- --minutes N
//
// The crash + chaos mix of issue 7, for as long as asked: the built Herald (`node bin/herald.js
// serve`, nothing is compiled here; run `npm run build` first) on SQLite in a temporary directory
// receives events at a steady rate, is killed with SIGKILL at random moments and restarted on the
// same data, while delivering to two healthy receivers and to one hostile receiver per kind of
// misbehaviour (500s, hangs, resets, endless and 50 MiB bodies, slow-drip headers, redirect loops,
// 429 with Retry-After, garbage bytes). Everything runs on 127.0.0.1.
//
// At the end it prints a summary and exits non-zero when anything was lost (an event answered 202
// that never reached a healthy receiver), when a hostile endpoint's delivery did not end as the
// policy says, or when the queue did not drain within the time given.
//
// Options:
//   --minutes N       total duration, publishing included (default 5)
//   --events N        events to publish (default 20000)
//   --batch N         events per request (default 10)
//   --chaos-every N   one event in N also goes to the hostile endpoints (default 20)
//   --kills N         kill -9 this many times (default: 3 per 2 minutes, at least 3)
//   --seed N          seed of the kill moments (default: random, printed)
//   --keep            keep the data directory
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'herald.js');
const ADMIN_KEY = 'soak-admin-key-0123456789abcdef';
const MiB = 1024 * 1024;
const ATTEMPTS = 3;
const SCHEDULE = '0,0.2,0.2';
const TIMEOUT_MS = 1000;

// ---- arguments ------------------------------------------------------------------------------------

function usage(message) {
  if (message) console.error(`soak: ${message}`);
  console.error('Usage: npm run soak -- [--minutes N] [--events N] [--batch N] [--chaos-every N] [--kills N] [--seed N] [--keep]');
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      minutes: { type: 'string' },
      events: { type: 'string' },
      batch: { type: 'string' },
      'chaos-every': { type: 'string' },
      kills: { type: 'string' },
      seed: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (err) {
  usage(err.message);
}
if (args.help) usage();

function number(name, fallback, min, max) {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) usage(`--${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

const minutes = number('minutes', 5, 0.5, 24 * 60);
const totalEvents = Math.floor(number('events', 20_000, 100, 10_000_000));
const batchSize = Math.floor(number('batch', 10, 1, 1000));
const chaosEvery = Math.floor(number('chaos-every', 20, 1, 1_000_000));
const kills = Math.floor(number('kills', Math.max(3, Math.round((minutes * 3) / 2)), 0, 1000));
const seed = Math.floor(number('seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32));

if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('soak: dist/ is missing; run `npm run build` first (the soak runs the built Herald, as npm start does)');
  process.exit(2);
}

// ---- small helpers ----------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** mulberry32, so a run's kill moments can be replayed from its seed. */
function seededRandom(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function rssOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const log = (line) => console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${line}`);

// ---- the hostile receiver (same modes as test/chaos-receiver.ts) -------------------------------------

const CHUNK = Buffer.alloc(64 * 1024, 'x');
const SLOW_RESPONSE = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok';
/** Mode → the outcome the policy prescribes (2xx succeeds; anything else is retried, then fails). */
const CHAOS = {
  'fail-500': 'failed',
  hang: 'failed',
  reset: 'failed',
  endless: 'failed',
  huge: 'succeeded',
  'slow-headers': 'failed',
  'redirect-loop': 'failed',
  'retry-after': 'succeeded',
  'always-429': 'failed',
  garbage: 'failed',
};

function startReceiver() {
  /** healthy path → webhook-id → times received */
  const healthy = new Map();
  const seen429 = new Set();
  const timers = new Set();
  const sockets = new Set();
  const stream = (res, total) => {
    let left = total;
    const pump = () => {
      while (left > 0 && !res.destroyed) {
        const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (left <= 0 && !res.destroyed) res.end();
    };
    res.on('error', () => undefined);
    pump();
  };
  const server = createHttpServer((req, res) => {
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    req.on('end', () => {
      const [, mode, rest] = (req.url ?? '/').split('/');
      const id = req.headers['webhook-id'];
      const socket = req.socket;
      switch (mode) {
        case 'ok': {
          const key = `/ok/${rest}`;
          if (!healthy.has(key)) healthy.set(key, new Map());
          const counts = healthy.get(key);
          counts.set(id, (counts.get(id) ?? 0) + 1);
          return void res.writeHead(200).end('ok');
        }
        case 'fail-500':
          return void res.writeHead(500).end('receiver failed');
        case 'hang':
          return;
        case 'reset':
          return void socket.destroy();
        case 'endless':
          res.writeHead(500, { 'content-type': 'application/octet-stream' });
          return stream(res, Number.POSITIVE_INFINITY);
        case 'huge':
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(50 * MiB) });
          return stream(res, 50 * MiB);
        case 'slow-headers': {
          let i = 0;
          const drip = () => {
            if (socket.destroyed || i >= SLOW_RESPONSE.length) return;
            socket.write(SLOW_RESPONSE[i++]);
            const t = setTimeout(() => (timers.delete(t), drip()), 100);
            timers.add(t);
          };
          return drip();
        }
        case 'redirect-loop':
          return void res.writeHead(302, { location: req.url }).end();
        case 'retry-after':
          if (!seen429.has(id)) {
            seen429.add(id);
            return void res.writeHead(429, { 'retry-after': '1' }).end('slow down');
          }
          return void res.writeHead(200).end('ok');
        case 'always-429':
          return void res.writeHead(429, { 'retry-after': '1' }).end('slow down');
        case 'garbage':
          socket.write('\x00\x01 this is not HTTP\r\n\r\n');
          return void socket.end();
        default:
          return void res.writeHead(404).end();
      }
    });
  });
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        healthy,
        close: () =>
          new Promise((r) => {
            for (const t of timers) clearTimeout(t);
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

// ---- Herald as a child process ------------------------------------------------------------------------

const children = new Set();
function killChildren() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killChildren();
    process.exit(130);
  });
}

async function startHerald(env, port) {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  const keep = (c) => {
    output = (output + c.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => (children.delete(child), resolve({ code, signal }))));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Herald exited during start:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Herald did not become healthy:\n${output}`);
    await sleep(50);
  }
  return { child, url, exited, output: () => output };
}

async function api(url, method, route, body) {
  const res = await fetch(url + route, {
    method,
    headers: { 'x-api-key': ADMIN_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

// ---- the run -------------------------------------------------------------------------------------------

const startedAt = Date.now();
const deadline = startedAt + minutes * 60_000;
const publishDeadline = startedAt + minutes * 60_000 * 0.6;
const random = seededRandom(seed);
const killAt = Array.from({ length: kills }, (_, k) => (0.05 + (0.85 * (k + random() * 0.8)) / Math.max(1, kills)) * (publishDeadline - startedAt)).map((ms) => startedAt + ms);

const dir = mkdtempSync(path.join(tmpdir(), 'herald-soak-'));
const receiver = await startReceiver();
const port = await freePort();
const env = {
  HERALD_DATA_DIR: dir,
  HERALD_ADMIN_KEY: ADMIN_KEY,
  HERALD_ALLOWED_TARGETS: '127.0.0.0/8',
  HERALD_RETRY_SCHEDULE: SCHEDULE,
  HERALD_LEASE_MS: '2000',
  LOG_LEVEL: 'warn',
};
const concurrency = Number(process.env.HERALD_CONCURRENCY ?? 256);

let herald;
let exitCode = 1;
let maxRss = 0;
try {
  log(`soak: ${minutes} min, ${totalEvents} events in batches of ${batchSize}, 1 in ${chaosEvery} also to ${Object.keys(CHAOS).length} hostile endpoints, ${kills} kill -9 (seed ${seed}), data in ${dir}`);
  herald = await startHerald(env, port);
  const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, herald ? rssOf(herald.child.pid) : 0)), 1000);

  const endpoints = [];
  for (const name of ['a', 'b']) {
    const res = await api(herald.url, 'POST', '/api/v2/endpoints', { url: `${receiver.url}/ok/${name}`, event_types: ['asset.*'], timeout_ms: TIMEOUT_MS, description: `healthy ${name}` });
    if (res.status !== 201) throw new Error(`creating an endpoint answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  for (const mode of Object.keys(CHAOS)) {
    const res = await api(herald.url, 'POST', '/api/v2/endpoints', { url: `${receiver.url}/${mode}/x`, event_types: ['asset.deleted'], timeout_ms: TIMEOUT_MS, description: mode });
    if (res.status !== 201) throw new Error(`creating an endpoint answered ${res.status}: ${JSON.stringify(res.body)}`);
    endpoints.push({ mode, id: res.body.id });
  }

  // Publishing at a steady rate over 60 % of the time; kills at random moments within it.
  const batches = Math.ceil(totalEvents / batchSize);
  const interval = (publishDeadline - Date.now()) / batches;
  const accepted = new Map(); // event index → message id
  const chaosIds = new Set();
  const retry = [];
  let next = 0;
  let inFlight = 0;
  let resent = 0;
  let killed = 0;
  let down;

  const eventsOf = (b) =>
    Array.from({ length: Math.min(batchSize, totalEvents - b * batchSize) }, (_, j) => {
      const i = b * batchSize + j;
      return { id: `soak-${i}`, type: i % chaosEvery === 0 ? 'asset.deleted' : 'asset.created', resource: { type: 'asset', id: `a${i % 500}` }, data: { i } };
    });
  const publish = async (b) => {
    inFlight++;
    try {
      const res = await fetch(`${herald.url}/api/v2/events/batch`, {
        method: 'POST',
        headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ events: eventsOf(b) }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = await res.json().catch(() => undefined);
      if (res.status !== 202) throw new Error(String(res.status));
      body.data.forEach((out, j) => {
        const i = b * batchSize + j;
        accepted.set(i, out.id);
        if (i % chaosEvery === 0) chaosIds.add(out.id);
      });
    } catch {
      retry.push(b);
      resent++;
    } finally {
      inFlight--;
    }
  };
  const crash = async () => {
    herald.child.kill('SIGKILL');
    await herald.exited;
    killed++;
    log(`kill -9 #${killed}: ${accepted.size} events accepted so far, ${inFlight} requests in flight`);
    herald = await startHerald(env, port);
  };

  let slot = Date.now();
  let lastProgress = Date.now();
  while ((next < batches || retry.length > 0 || inFlight > 0) && Date.now() < deadline) {
    if (down) {
      await down;
      down = undefined;
      slot = Date.now();
    }
    if (killed < killAt.length && Date.now() >= killAt[killed] && !down) {
      down = crash();
      continue;
    }
    if (Date.now() - lastProgress > 10_000) {
      lastProgress = Date.now();
      log(`${accepted.size} events accepted, ${inFlight} requests in flight`);
    }
    if (inFlight >= 16 || (retry.length === 0 && next >= batches)) {
      await sleep(5);
      continue;
    }
    const b = retry.length > 0 ? retry.shift() : next++;
    slot += interval;
    const wait = slot - Date.now();
    if (wait > 1) await sleep(wait);
    void publish(b);
  }
  while (inFlight > 0) await sleep(10);
  // Kills planned after publishing finished early still happen, while deliveries are under way.
  while (killed < killAt.length && Date.now() < deadline) {
    await sleep(Math.max(0, Math.min(killAt[killed] - Date.now(), deadline - Date.now())));
    if (Date.now() >= killAt[killed]) await crash();
  }
  const acceptedIds = new Set(accepted.values());
  log(`publishing done: ${acceptedIds.size} of ${totalEvents} events accepted (${resent} batches sent again), ${killed} kills`);

  // Drain: wait until nothing is pending or in flight, within the time given.
  let drained = false;
  let stats;
  while (Date.now() < deadline) {
    stats = (await api(herald.url, 'GET', '/api/v2/stats').catch(() => ({ body: undefined }))).body?.deliveries;
    if (stats && stats.pending === 0 && stats.in_flight === 0) {
      drained = true;
      break;
    }
    await sleep(500);
  }
  log(drained ? 'queue drained' : `time is up with deliveries left: ${JSON.stringify(stats)}`);

  // Healthy receivers: every accepted message at least once.
  let lost = 0;
  let duplicates = 0;
  let delivered = 0;
  let unknown = 0;
  const lostExamples = [];
  for (const name of ['a', 'b']) {
    const counts = receiver.healthy.get(`/ok/${name}`) ?? new Map();
    for (const id of acceptedIds) {
      const n = counts.get(id) ?? 0;
      if (n === 0) {
        lost++;
        if (lostExamples.length < 20) lostExamples.push(`${name}:${id}`);
      } else {
        delivered++;
        duplicates += n - 1;
      }
    }
    for (const id of counts.keys()) if (!acceptedIds.has(id)) unknown++;
  }

  // Hostile endpoints: every delivery ended as the policy says.
  const outcome = { failed: 0, succeeded: 0, unexpected: 0, missing: 0 };
  const unexpectedExamples = [];
  for (const { mode, id } of endpoints) {
    const seen = new Set();
    let cursor = null;
    do {
      const res = await api(herald.url, 'GET', `/api/v2/endpoints/${id}/deliveries?limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const d of res.body.data) {
        seen.add(d.event_id);
        if (d.status === CHAOS[mode]) outcome[d.status]++;
        else {
          outcome.unexpected++;
          if (unexpectedExamples.length < 20) unexpectedExamples.push(`${mode} ${d.id}: ${d.status} after ${d.attempts} attempts (expected ${CHAOS[mode]})`);
        }
      }
      cursor = res.body.next_cursor;
    } while (cursor);
    for (const eid of chaosIds) if (!seen.has(eid)) outcome.missing++;
  }

  clearInterval(rssTimer);
  const ok = drained && lost === 0 && unknown === 0 && outcome.unexpected === 0 && outcome.missing === 0 && acceptedIds.size > 0;
  console.log('');
  console.log('soak summary');
  console.log(`  duration            ${((Date.now() - startedAt) / 1000).toFixed(0)} s of ${minutes * 60} s, seed ${seed}, ${killed} kill -9 and restarts`);
  console.log(`  events              ${acceptedIds.size} accepted of ${totalEvents} planned (${resent} batches sent again after a failure)`);
  console.log(`  delivered           ${delivered} of ${acceptedIds.size * 2} to the 2 healthy endpoints`);
  console.log(`  lost                ${lost}${lostExamples.length ? `  e.g. ${lostExamples.join(' ')}` : ''}`);
  console.log(`  duplicates          ${duplicates} (at-least-once: deliveries in flight at a kill; bound ${killed} × ${concurrency} = ${killed * concurrency})`);
  console.log(`  unknown             ${unknown} (received but never answered 202)`);
  console.log(`  hostile endpoints   ${chaosIds.size} events × ${endpoints.length} endpoints: failed as expected ${outcome.failed}, succeeded as expected ${outcome.succeeded}, unexpected ${outcome.unexpected}, missing ${outcome.missing}`);
  for (const line of unexpectedExamples) console.log(`    ${line}`);
  console.log(`  drained             ${drained ? 'yes' : 'no'}`);
  console.log(`  Herald max RSS      ${(maxRss / MiB).toFixed(0)} MiB`);
  console.log(`  result              ${ok ? 'OK' : 'FAILED'}`);
  if (duplicates > killed * concurrency) console.log('  note: more duplicates than the in-flight bound');
  exitCode = ok ? 0 : 1;
} catch (err) {
  console.error(`soak: ${err instanceof Error ? err.message : String(err)}`);
  if (herald) console.error(herald.output().slice(-3000));
  exitCode = 1;
} finally {
  killChildren();
  await receiver.close();
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
