// Child processes of the benchmark: Herald (bin/herald.js) and the receiver. Every child is
// registered so that it is killed when the harness ends, however it ends (error, Ctrl-C).
import { fork, spawn } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { request } from 'undici';
import { sleep } from './util.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

/** Where the Herald under test lives: a snapshot of the build (see snapshotApp). */
let appRoot = ROOT;

/**
 * Copies the built Herald (bin/, dist/, migrations/, ui/, package.json; node_modules linked)
 * into a temporary directory and runs it from there, so that a rebuild of dist/ while the
 * benchmark runs does not change the code under test half-way.
 */
export function snapshotApp() {
  const dir = tempDir('herald-bench-app-');
  for (const name of ['bin', 'dist', 'migrations', 'ui', 'package.json']) {
    if (existsSync(path.join(ROOT, name))) cpSync(path.join(ROOT, name), path.join(dir, name), { recursive: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  appRoot = dir;
  return dir;
}

/** Imports a module of the Herald under test (e.g. 'dist/delivery/http-sender.js'). */
export function importApp(relative) {
  return import(pathToFileURL(path.join(appRoot, relative)).href);
}

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
/** @type {Set<string>} */
const tempDirs = new Set();
/** Children we are stopping on purpose. */
const intentional = new WeakSet();
let keepTemp = false;

export function setKeepTemp(v) {
  keepTemp = v;
}

/** Synchronous last resort: SIGKILL every child still alive, remove temp dirs. */
export function killAllNow() {
  for (const child of children) {
    intentional.add(child);
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
  if (!keepTemp) for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Graceful: SIGTERM every child, wait up to graceMs, then SIGKILL what is left. */
export async function stopAll(graceMs = 5_000) {
  for (const c of children) intentional.add(c);
  await Promise.all([...children].map((c) => stopChild(c, graceMs)));
}

export function tempDir(prefix = 'herald-bench-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTemp(dir) {
  tempDirs.delete(dir);
  if (!keepTemp) rmSync(dir, { recursive: true, force: true });
}

/** A free TCP port on 127.0.0.1: bind port 0, read it, close. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

function alive(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** @param {import('node:child_process').ChildProcess} child */
export async function stopChild(child, graceMs = 5_000) {
  if (!alive(child)) {
    children.delete(child);
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done && alive(child)) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(2_000)]);
  }
  children.delete(child);
}

/** /proc's clock ticks a second (USER_HZ): 100 on every Linux build Node supports. */
export const CLOCK_TICKS = 100;

/** CPU time (user + system) a process has used so far, in ms; null if gone. */
export function cpuMsOf(pid) {
  try {
    // Fields after the command name (which may contain spaces): utime and stime are 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/**
 * CPU time of each thread of a process (ms by thread id; the main thread's id is the pid), from
 * /proc/<pid>/task: which thread was busy, where a process total cannot tell. Empty if gone.
 */
export function threadCpuMsOf(pid) {
  const out = new Map();
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const ms = cpuMsOf(`${pid}/task/${tid}`);
    if (ms !== null) out.set(Number(tid), ms);
  }
  return out;
}

/** The machine's CPU time so far (from /proc/stat): idle (of which waiting for the disk), stolen by the host, and in total. */
export function cpuTimes() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + (f[4] ?? 0), iowait: f[4] ?? 0, steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** Share of the CPU time between two readings that `key` took; null without /proc/stat. */
export function shareOf(key, a, b) {
  if (!a || !b || b.total === a.total) return null;
  return (b[key] - a[key]) / (b.total - a.total);
}

/** Peak resident set size (VmHWM) and current RSS (VmRSS) of a process, in bytes; null if gone. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) * 1024 : null;
    };
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

/**
 * A Herald process: `node bin/herald.js <command>` with a clean environment built here (the
 * shell's DATABASE_URL and friends never leak in).
 * @param {{ command?: 'serve'|'api'|'worker'|'migrate', dataDir: string, port?: number, env?: Record<string,string>, cpuProfDir?: string, name?: string }} o
 */
export async function startHerald(o) {
  const command = o.command ?? 'serve';
  const port = o.port ?? (command === 'worker' || command === 'migrate' ? 0 : await freePort());
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    PORT: String(port),
    HOST: '127.0.0.1',
    HERALD_DATA_DIR: o.dataDir,
    HERALD_ADMIN_KEY: ADMIN_KEY,
    HERALD_ALLOWED_TARGETS: '127.0.0.0/8',
    LOG_LEVEL: 'warn',
    ...o.env,
    // BENCH_HERALD_ENV (space-separated NAME=value) sets Herald settings for an A/B comparison.
    ...Object.fromEntries((process.env.BENCH_HERALD_ENV ?? '').split(' ').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
  };
  // BENCH_NODE_ARGS (space-separated) adds Node flags to every Herald process, e.g. --trace-gc.
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const nodeArgs = [...extra, ...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [])];
  const child = spawn(process.execPath, [...nodeArgs, path.join(appRoot, 'bin/herald.js'), command], {
    cwd: appRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const logFile = path.join(o.dataDir, `${o.name ?? command}-${child.pid}.log`);
  const log = createWriteStream(logFile);
  /** @type {string[]} */
  const tail = [];
  const keep = (chunk) => {
    log.write(chunk);
    for (const line of String(chunk).split('\n')) if (line.trim()) tail.push(line.slice(0, 500));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let stopping = false;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      log.end();
      if (!stopping && !intentional.has(child) && command !== 'migrate') unexpected.push(`herald ${command} (pid ${child.pid}) exited by itself with ${code ?? signal}: ${tail.slice(-6).join(' | ') || 'no output'} (log: ${logFile})`);
      resolve({ code, signal });
    }),
  );
  const h = {
    child,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    command,
    logFile,
    tail,
    exited,
    get alive() {
      return alive(child);
    },
    /** Throws if the process has exited (a crash while the scenario runs). */
    check() {
      if (!alive(child)) {
        throw new HeraldExited(`herald ${command} (pid ${child.pid}) exited with ${child.exitCode ?? child.signalCode}:\n  ${tail.slice(-12).join('\n  ')}\n  (log: ${logFile})`);
      }
    },
    memory: () => memoryOf(child.pid),
    cpuMs: () => cpuMsOf(child.pid),
    threadCpuMs: () => threadCpuMsOf(child.pid),
    stop: (graceMs = 15_000) => {
      stopping = true;
      return stopChild(child, graceMs);
    },
  };
  return h;
}

export class HeraldExited extends Error {}

/** Herald processes that exited without being asked to (crashes), since the last call. */
const unexpected = [];
export function takeUnexpectedExits() {
  return unexpected.splice(0);
}

/** Waits until GET /healthz answers 200 (or the process exits, or timeoutMs passes). */
export async function waitHealthy(h, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  while (Date.now() < deadline) {
    h.check();
    try {
      const res = await request(`${h.url}/healthz`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
      await res.body.text();
      if (res.statusCode === 200) return;
      lastErr = `status ${res.statusCode}`;
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  h.check();
  throw new Error(`herald ${h.command} did not become healthy within ${timeoutMs} ms (${lastErr}); log: ${h.logFile}`);
}

/** Runs a command to completion (bounded): { code, output }. */
export async function runHerald(o, timeoutMs = 60_000) {
  const h = await startHerald(o);
  const result = await Promise.race([h.exited, sleep(timeoutMs).then(() => null)]);
  if (result === null) {
    await h.stop(1_000);
    throw new Error(`herald ${h.command} did not finish within ${timeoutMs} ms`);
  }
  children.delete(h.child);
  return { code: result.code, output: h.tail.join('\n') };
}

/**
 * The receiver process (bench/receiver.mjs), driven over IPC.
 */
export async function startReceiver() {
  const child = fork(path.join(ROOT, 'bench/receiver.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  children.add(child);
  let seq = 0;
  /** @type {Map<number, {resolve: Function, reject: Function}>} */
  const pending = new Map();
  const ready = new Promise((resolve, reject) => {
    pending.set(0, { resolve, reject });
  });
  child.on('message', (msg) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg);
    else p.reject(new Error(`receiver: ${msg.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`receiver exited with ${code ?? signal}`));
    pending.clear();
  });
  await Promise.race([ready, sleep(10_000).then(() => Promise.reject(new Error('receiver did not start')))]);
  const call = (cmd, args = {}, timeoutMs = 60_000) => {
    if (!alive(child)) return Promise.reject(new Error('receiver is not running'));
    const id = ++seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`receiver: ${cmd} timed out`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ id, cmd, ...args });
    });
  };
  return {
    pid: child.pid,
    /** @returns {Promise<number[]>} */
    listen: async (count, mode = 'ok', ports) => (await call('listen', { count, mode, ports })).ports,
    stats: () => call('stats', {}, 10_000),
    report: (t0, bucketMs = 1000) => call('report', { t0, bucketMs }, 120_000),
    reset: () => call('reset'),
    close: () => call('close'),
    stop: () => stopChild(child, 2_000),
  };
}
