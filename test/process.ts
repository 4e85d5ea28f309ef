// Herald as a child process (the compiled dist/, as `npm start` runs it), for crash tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ADMIN_KEY } from './helpers.js';

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

export interface HeraldProcess {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `launcher`: a command Herald's command line is appended to, which runs it (e.g. in a mount
 * namespace of its own, ending in `exec "$@"`, so the child's pid stays Herald's).
 */
export async function spawnHerald(command: string, env: Record<string, string>, port?: number, args: readonly string[] = [], launcher: readonly string[] = []): Promise<HeraldProcess> {
  const p = port ?? (await freePort());
  const [file, ...argv] = [...launcher, process.execPath, BIN, command, ...args];
  const child = spawn(file, argv, {
    env: { ...process.env, PORT: String(p), HOST: '127.0.0.1', HERALD_ADMIN_KEY: ADMIN_KEY, HERALD_ALLOWED_TARGETS: '127.0.0.0/8', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnTestExit(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${p}`;
  if (command !== 'worker' && command !== 'migrate') await waitHealthy(url, exited, () => out);
  return { child, url, output: () => out, exited };
}

async function waitHealthy(url: string, exited: Promise<unknown>, output: () => string): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`herald exited during start:\n${output()}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
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
