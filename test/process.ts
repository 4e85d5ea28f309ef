// Herald as a child process (the compiled dist/, as `npm start` runs it), for crash tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TEST_DATABASE_URL } from '../src/store/conformance/pg-harness.js';
import { ADMIN_KEY, tempDir } from './helpers.js';

export const BIN = fileURLToPath(new URL('../bin/herald.js', import.meta.url));

/** Every child the tests started: none may outlive the test process, whatever a test forgot. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Registers a child to be killed when the test process exits, if it is still running then. */
export function killOnTestExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * A port that was free a moment ago. The kernel hands it to the next process asking for any port,
 * so a test that needs it to stay free, or to be its own, must not rely on it: a Herald it starts
 * listens on port 0 (spawnHerald finds the port it got), and a port that must refuse connections
 * comes from closedPort().
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A port nothing listens on, for the whole test: ECONNREFUSED. One below 1024, which no process
 * asking for any port is given and no test binds, and not on fetch's list of bad ports; checked
 * closed.
 */
export async function closedPort(): Promise<number> {
  for (const port of [1021, 1019, 1018]) if (await refuses(port)) return port;
  throw new Error('ports 1021, 1019 and 1018 on 127.0.0.1 all accept connections: no closed port for the test');
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/**
 * The TCP ports process `pid` listens on: its sockets (/proc/PID/fd) found listening in its
 * network namespace's tables (/proc/PID/net/tcp, tcp6). Linux only, as the tests are.
 */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // gone
  }
  for (const fd of fds) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket) inodes.add(socket[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode; 0A = LISTEN
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) ports.add(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return [...ports];
}

export interface HeraldProcess {
  readonly child: ChildProcess;
  /** The API's address: the port given, or the one Herald got asking for any (PORT=0). */
  readonly url: string;
  /**
   * The address of what the process listens on, once it does: a worker's probes on
   * HERALD_METRICS_PORT=0, say. Rejects if it exits first.
   */
  listening(): Promise<string>;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `launcher`: a command Herald's command line is appended to, which runs it (e.g. in a mount
 * namespace of its own, ending in `exec "$@"`, so the child's pid stays Herald's).
 */
/**
 * Starts Herald; serve and api are waited for until healthy. Without `port` the API listens on
 * port 0 and `url` has the port it got: a port picked free beforehand could be taken by another
 * test's process meanwhile, whose /healthz would then pass for this one's. With `port` (a restart
 * on the port of before), health counts only once this child is the one listening there.
 */
export async function spawnHerald(command: string, env: Record<string, string>, port?: number, args: readonly string[] = [], launcher: readonly string[] = []): Promise<HeraldProcess> {
  const [file, ...argv] = [...launcher, process.execPath, BIN, command, ...args];
  const child = spawn(file, argv, {
    env: { ...process.env, PORT: String(port ?? 0), HOST: '127.0.0.1', HERALD_ADMIN_KEY: ADMIN_KEY, HERALD_ALLOWED_TARGETS: '127.0.0.0/8', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnTestExit(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let dead = false;
  void exited.then(() => (dead = true));
  const listening = () => waitListening(child.pid!, port, () => dead, () => out);
  const url = command !== 'worker' && command !== 'migrate' ? await waitHealthy(await listening(), () => dead, () => out) : `http://127.0.0.1:${port ?? 0}`;
  return { child, url, listening, output: () => out, exited };
}

/** The address `pid` listens on (`port` if given), once it does. */
async function waitListening(pid: number, port: number | undefined, dead: () => boolean, output: () => string): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (dead()) throw new Error(`herald exited during start:\n${output()}`);
    const ports = listeningPorts(pid);
    const found = port === undefined ? ports[0] : ports.find((p) => p === port);
    if (found !== undefined) return `http://127.0.0.1:${found}`;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`herald did not listen${port === undefined ? '' : ` on ${port}`}:\n${output()}`);
}

async function waitHealthy(url: string, dead: () => boolean, output: () => string): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (dead()) throw new Error(`herald exited during start:\n${output()}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return url;
    } catch {
      // not serving yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`herald did not become healthy:\n${output()}`);
}

export async function apiCall(url: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url + route, {
    method,
    headers: { 'x-api-key': ADMIN_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Herald processes on a PostgreSQL schema of their own: their environment, and what drops the schema and data directory. */
export interface PostgresProcesses {
  readonly env: Record<string, string>;
  drop(): Promise<void>;
}

export function postgresProcesses(prefix: string, env: Record<string, string> = {}): PostgresProcesses {
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema);
  const dir = tempDir();
  return {
    env: { DATABASE_URL: url.toString(), HERALD_DATA_DIR: dir, HERALD_SECRET_KEY: randomBytes(32).toString('hex'), ...env },
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
