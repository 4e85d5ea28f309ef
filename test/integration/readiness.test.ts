// /readyz of a process that dispatches waits for its dispatcher: `herald serve` on the embedded
// store starts its dispatch thread once the API listens, and replaces one that stops; until the
// thread runs, no delivery goes out, so a load balancer or orchestrator should not count the
// process ready. Publishing goes on meanwhile (events are durable).
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startHerald, type RunningHerald } from '../../src/app/herald.js';
import { loadConfig } from '../../src/config/index.js';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, tempDir } from '../helpers.js';
import { apiCall } from '../process.js';

const HELD_THREAD = new URL('../fixtures/held-dispatch-thread.mjs', import.meta.url);

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function readiness(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: await res.json() };
}

/**
 * `herald serve` (API and dispatch thread) whose thread is held while `hold-dispatch-thread`
 * exists in its data directory; the API's URL as soon as it listens, before the start is over.
 */
function serveWithHeldThread(dir: string): { started: Promise<RunningHerald>; url: Promise<string> } {
  const lines: { msg?: string; url?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg?: string; url?: string }) });
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    HERALD_DATA_DIR: dir,
    HERALD_ADMIN_KEY: ADMIN_KEY,
    HERALD_ALLOWED_TARGETS: '127.0.0.0/8',
    HERALD_SQLITE_SYNC: 'normal',
    LOG_LEVEL: 'silent',
  });
  const started = startHerald(config, { api: true, worker: true, logger, announce: () => {}, dispatchThreadScript: HELD_THREAD });
  cleanups.push(() => {
    // A thread still held would keep the start from ending.
    rmSync(path.join(dir, 'hold-dispatch-thread'), { force: true });
    return started.then((h) => h.stop()).catch(() => undefined);
  });
  let failed: unknown;
  started.catch((err: unknown) => (failed = err));
  const url = eventually(() => {
    if (failed !== undefined) throw failed;
    return lines.find((l) => l.msg === 'Herald API listening')?.url;
  });
  return { started, url };
}

// The sum of its phases' bounds (listening 10 s, first delivery 10 s, 503 10 s, ready again 10 s, second delivery 10 s) with room for the start.
const STARTING_AND_RESTARTING_MS = 60_000;

describe('readiness of a process that dispatches', () => {
  it('answers 503 dispatcher_starting until the dispatch thread runs, and dispatcher_restarting while a stopped one is replaced; publishing goes on', async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const hold = path.join(dir, 'hold-dispatch-thread');
    writeFileSync(hold, '');

    const { started, url: listening } = serveWithHeldThread(dir);
    const url = await listening;
    expect(await readiness(url)).toEqual({ status: 503, body: { status: 'unavailable', reason: 'dispatcher_starting' } });
    expect((await apiCall(url, 'POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] })).status).toBe(201);
    expect((await apiCall(url, 'POST', '/api/v2/events', { type: 'asset.created', data: { n: 1 } })).status).toBe(202);
    expect(await readiness(url)).toMatchObject({ status: 503, body: { reason: 'dispatcher_starting' } });

    rmSync(hold);
    await started;
    expect(await readiness(url)).toEqual({ status: 200, body: { status: 'ready', schema: expect.any(Number) } });
    await r.waitFor(1);

    // The thread stops (the fixture's way: a metrics request with its marker there); its
    // replacement is held, so the process stays without a dispatcher for as long as we look.
    writeFileSync(hold, '');
    writeFileSync(path.join(dir, 'stop-dispatch-thread'), '');
    await fetch(`${url}/metrics`).then((res) => res.text());
    expect(
      await eventually(async () => {
        const ready = await readiness(url);
        return ready.status === 503 ? ready : undefined;
      }),
    ).toEqual({ status: 503, body: { status: 'unavailable', reason: 'dispatcher_restarting' } });
    expect((await apiCall(url, 'POST', '/api/v2/events', { type: 'asset.created', data: { n: 2 } })).status).toBe(202);
    expect(await readiness(url)).toMatchObject({ status: 503, body: { reason: 'dispatcher_restarting' } });

    rmSync(hold);
    await eventually(async () => ((await readiness(url)).status === 200 ? true : undefined));
    await r.waitFor(2);
  }, STARTING_AND_RESTARTING_MS);

  it('a process without a dispatcher (herald api) is ready once its store is', async () => {
    const h = await startTestHerald({}, { worker: false });
    cleanups.push(() => h.close());
    expect(await readiness(h.url)).toEqual({ status: 200, body: { status: 'ready', schema: expect.any(Number) } });
  });
});
