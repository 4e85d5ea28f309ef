// Shared test fixtures: a real Herald on a temp data dir and real receivers on 127.0.0.1.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { fetch as fetchVia, type Dispatcher } from 'undici';
import { type HeraldOptions, startHerald, type RunningHerald } from '../src/app/herald.js';
import { loadConfig } from '../src/config/index.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';

export function tempDir(prefix = 'herald-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface TestHerald {
  readonly herald: RunningHerald;
  readonly url: string;
  readonly dataDir: string;
  api(method: string, route: string, body?: unknown, key?: string): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function startTestHerald(env: Record<string, string> = {}, options: { worker?: boolean; dataDir?: string; clock?: () => number; logger?: Logger; recoverPace?: HeraldOptions['recoverPace'] } = {}): Promise<TestHerald> {
  const dataDir = options.dataDir ?? tempDir();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    HERALD_DATA_DIR: dataDir,
    HERALD_ADMIN_KEY: ADMIN_KEY,
    HERALD_ALLOWED_TARGETS: '127.0.0.0/8',
    HERALD_SQLITE_SYNC: 'normal',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const herald = await startHerald(config, { api: true, worker: options.worker ?? true, logger: options.logger ?? pino({ level: 'silent' }), announce: () => {}, clock: options.clock, recoverPace: options.recoverPace });
  const url = herald.url!;
  return {
    herald,
    url,
    dataDir,
    async api(method, route, body, key = ADMIN_KEY) {
      const res = await fetch(url + route, {
        method,
        headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async close() {
      await herald.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly at: number;
}

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Resolves when at least n requests have arrived (or rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export type Responder = (req: Received, index: number, res: ServerResponse) => void | Promise<void>;

export async function startReceiver(respond: Responder = (_r, _i, res) => void res.writeHead(200).end('ok')): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(r);
      void respond(r, received.length - 1, res);
      for (const w of waiters.filter((w) => received.length >= w.n)) w.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    waitFor(n, timeoutMs = 10_000) {
      if (received.length >= n) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} requests, got ${received.length}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(received)) });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `resources` × `each` asset.metadata.updated events, round-robin over assets `<prefix>0`, `<prefix>1`, …. */
export function eventsOfResources(prefix: string, resources: number, each: number): { type: string; resource: { type: string; id: string } }[] {
  return Array.from({ length: resources * each }, (_, i) => ({ type: 'asset.metadata.updated', resource: { type: 'asset', id: `${prefix}${i % resources}` } }));
}

/** The `sequence` of each request received, by the id of its payload's `resource`, in arrival order. */
export function sequencesByResource(received: readonly Received[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of received) {
    const body = JSON.parse(r.body) as { resource: { id: string }; sequence: number };
    out.set(body.resource.id, [...(out.get(body.resource.id) ?? []), body.sequence]);
  }
  return out;
}

/**
 * Waits until `resources` resources have each arrived with sequences 1 to `last`, then the
 * arrivals of each, to check with arrivedInOrder.
 */
export async function allSequences(receiver: Receiver, resources: number, last: number): Promise<Map<string, number[]>> {
  return eventually(() => {
    const seen = sequencesByResource(receiver.received);
    return seen.size === resources && [...seen.values()].every((l) => new Set(l).size === last) ? seen : undefined;
  }, 30_000);
}

/**
 * Whether arrivals of one resource came in order: each the one before again (a delivery sent
 * twice: at least once allows it) or the next after it, from 1 to `last`, never one skipped ahead.
 */
export function arrivedInOrder(sequences: readonly number[], last: number): boolean {
  return sequences[0] === 1 && sequences.at(-1) === last && sequences.every((s, i) => i === 0 || s === sequences[i - 1] || s === sequences[i - 1] + 1);
}

/** Signs in to the admin UI with `key` through its login form; the session cookie as a Cookie header. */
export async function uiSession(url: string, key = ADMIN_KEY): Promise<string> {
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key }),
    redirect: 'manual',
  });
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('herald_session='));
  if (res.status !== 303 || cookie === undefined) throw new Error(`sign-in answered ${res.status} without a session cookie`);
  return cookie.split(';')[0]!;
}

/** The status the admin UI's login form answers `key` with, sent through `via` (a client on an address of its own). */
export async function signInStatus(url: string, key: string, via?: Dispatcher): Promise<number> {
  const res = await fetchVia(`${url}/login`, {
    method: 'POST',
    headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key }).toString(),
    redirect: 'manual',
    dispatcher: via,
  });
  await res.body?.cancel();
  return res.status;
}
