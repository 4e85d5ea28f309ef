// What `herald serve` does when the disk under its embedded store fills up or fails: real disks,
// no stand-ins. Herald runs in a mount namespace of its own (unshare -m: the tests run as root)
// with its data directory on a 64 MiB tmpfs, or on an ext4 image (loop device) that the kernel
// turns read-only after an error; the disk is filled, freed or failed from inside that namespace
// (nsenter), and the mount goes away with the process whatever a test leaves behind.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, tempDir, type Receiver } from '../helpers.js';
import { apiCall, BIN, spawnHerald, type HeraldProcess } from '../process.js';

let receiver: Receiver | undefined;
let proc: HeraldProcess | undefined;
let publishing: Publishing | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await publishing?.stop();
  proc?.child.kill('SIGKILL');
  await proc?.exited;
  await receiver?.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  publishing = proc = receiver = undefined;
});

function dirForTest(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

/** Herald's command line run with `mount` (a shell command mounting on `$0`) done first, in a mount namespace of its own. */
function mountedAt(dataDir: string, mount: string): string[] {
  return ['unshare', '-m', 'sh', '-c', `${mount} && exec "$@"`, dataDir];
}
const TMPFS = 'mount -t tmpfs -o size=64m tmpfs "$0"';
/** Fills the file system of `$0` to the last byte; dd stops at ENOSPC, which is the point. */
const FILL = 'dd if=/dev/zero of="$0/filler" bs=64k 2>/dev/null; true';

/** A shell command in Herald's mount namespace, `$0` being the data directory. */
function inHeraldMounts(pid: number, script: string, dataDir: string): void {
  execFileSync('nsenter', ['-t', String(pid), '-m', 'sh', '-c', script, dataDir], { timeout: 10_000 });
}

interface Publishing {
  readonly accepted: Set<string>;
  /** Every answer other than 202, as received (status 0: no answer, which ends that publisher). */
  readonly refused: { status: number; retryAfter: string | null; body: unknown }[];
  stop(): Promise<void>;
}

type Answer = Publishing['refused'][number];

/** One batch of 20 events published: the answer, or status 0 when none came (the process is gone). */
async function publishBatch(url: string, events: readonly unknown[]): Promise<Answer> {
  try {
    const res = await fetch(`${url}/api/v2/events/batch`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    const text = await res.text();
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  } catch (err) {
    return { status: 0, retryAfter: null, body: String(err) };
  }
}

/** Publishers sending batches of 20 events until stopped (or 60 s at most). */
function publish(url: string, publishers: number): Publishing {
  const accepted = new Set<string>();
  const refused: Answer[] = [];
  let stopped = false;
  const deadline = Date.now() + 60_000;
  let n = 0;
  const one = async () => {
    while (!stopped && Date.now() < deadline) {
      const events = Array.from({ length: 20 }, () => ({ type: 'asset.created', resource: { type: 'asset', id: `a${n % 50}` }, data: { n: n++, note: 'x'.repeat(400) } }));
      const answer = await publishBatch(url, events);
      if (answer.status === 202) {
        for (const out of (answer.body as { data: { id: string }[] }).data) accepted.add(out.id);
        continue;
      }
      refused.push(answer);
      if (answer.status === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const running = Array.from({ length: publishers }, one);
  return {
    accepted,
    refused,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/**
 * A phase's wait, failing with the phase's name: the tests under load wait in several phases,
 * each with its own bound, and a slow machine should fail at the phase that was slow.
 */
async function phase<T>(name: string, waiting: Promise<T>): Promise<T> {
  try {
    return await waiting;
  } catch (err) {
    throw new Error(`${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** How long the receiver may take to have every accepted event once the disk is back. */
const DELIVERY_MS = 60_000;

/**
 * The tests under load wait in phases (load started 20 s, refusals 10 s, readiness 10 s, e2fsck
 * 20 s, delivery 60 s): each test's bound is their sum with room for starting Herald twice, not
 * the suite's 30 s, which a slow machine reached before any phase ran out.
 */
const UNDER_LOAD_MS = 150_000;

async function readiness(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: await res.json() };
}

/** Herald serving with its data directory mounted by `mount`, an endpoint to a receiver, and four publishers at work. */
async function underLoad(dataDir: string, mount: string): Promise<{ url: string; pid: number } & Publishing> {
  receiver = await startReceiver();
  proc = await spawnHerald('serve', { HERALD_DATA_DIR: dataDir, LOG_LEVEL: 'info' }, undefined, [], mountedAt(dataDir, mount));
  const { url } = proc;
  expect((await apiCall(url, 'POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'] })).status).toBe(201);
  publishing = publish(url, 4);
  const { accepted } = publishing;
  await phase('load started (400 accepted, one delivered)', eventually(() => (accepted.size >= 400 && receiver!.received.length > 0 ? true : undefined), 20_000));
  return { url, pid: proc.child.pid!, ...publishing };
}

/** Waits for publishing to be refused, and for /readyz to say why. */
async function refusing(url: string, refused: readonly Answer[]): Promise<void> {
  await phase('20 publishes refused', eventually(() => (refused.length >= 20 ? true : undefined), 10_000));
  const notReady = await phase(
    '/readyz answering 503',
    eventually(async () => {
      const ready = await readiness(url);
      return ready.status === 503 ? ready.body : undefined;
    }),
  );
  expect(notReady).toEqual({ status: 'unavailable', reason: 'store_unwritable' });
}

/** Every refusal was the README's: 503 store_unavailable with Retry-After, never a 500. */
function expectOnlyStoreUnavailable(refused: readonly Answer[]): void {
  expect(refused.length).toBeGreaterThan(0);
  for (const r of refused) expect(r).toEqual({ status: 503, retryAfter: '5', body: { error: 'store_unavailable', message: expect.any(String), field: null } });
}

/**
 * Resolves once the receiver has had every accepted event (webhook-id), with the ids it had.
 * If some never come, the failure shows what Herald holds of the first few: lost (404), or
 * waiting, and for what.
 */
async function allDelivered(accepted: ReadonlySet<string>): Promise<Set<string>> {
  const delivered = () => new Set(receiver!.received.map((r) => r.headers['webhook-id'] as string));
  try {
    return await eventually(() => {
      const ids = delivered();
      return [...accepted].every((id) => ids.has(id)) ? ids : undefined;
    }, DELIVERY_MS);
  } catch (err) {
    const ids = delivered();
    const missing = [...accepted].filter((id) => !ids.has(id));
    const held = await Promise.all(missing.slice(0, 5).map((id) => heldOf(id)));
    throw new Error(`${missing.length} of ${accepted.size} accepted events not delivered in ${DELIVERY_MS / 1000} s; Herald holds of the first: ${JSON.stringify(held)}`, { cause: err });
  }
}

/** What Herald answers about an event: its deliveries' states, or the status it answered. */
async function heldOf(eventId: string): Promise<unknown> {
  const res = await apiCall(proc!.url, 'GET', `/api/v2/events/${eventId}`).catch((err: unknown) => ({ status: 0, body: String(err) }));
  if (res.status !== 200) return { eventId, status: res.status };
  const deliveries = (res.body as { deliveries: Record<string, unknown>[] }).deliveries;
  return { eventId, deliveries: deliveries.map(({ status, attempts, next_attempt_at, last_error }) => ({ status, attempts, next_attempt_at, last_error })) };
}

/**
 * Herald's error lines are the store's refusal alone, once per connection (the API's and the
 * dispatch thread's), with a code matching `code`; how many lines said writes resumed.
 */
function refusalsLogged(output: string, code: RegExp): { refusals: number; resumed: number } {
  const lines = output.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as { level: number; msg: string; err?: { code?: string } }];
    } catch {
      return [];
    }
  });
  const errors = lines.filter((l) => l.level >= 50);
  expect(errors.length).toBeGreaterThanOrEqual(1);
  expect(errors.length).toBeLessThanOrEqual(2);
  for (const line of errors) expect([line.msg.startsWith('the disk refuses the store'), code.test(line.err?.code ?? '')]).toEqual([true, true]);
  return { refusals: errors.length, resumed: lines.filter((l) => l.msg.startsWith('the store writes again')).length };
}

describe('a full disk under load', () => {
  it('refuses publishing with 503 while the disk is full, is not ready, says so once, and delivers everything accepted once space is back', async () => {
    const dir = dirForTest();
    const { url, pid, accepted, refused } = await underLoad(dir, TMPFS);
    inHeraldMounts(pid, FILL, dir);
    await refusing(url, refused);
    const acceptedWhileFull = accepted.size;

    inHeraldMounts(pid, 'rm "$0/filler"', dir);
    await eventually(async () => ((await readiness(url)).status === 200 ? true : undefined));
    // Publishing goes on by itself, no restart: more is accepted than before the disk filled.
    await eventually(() => (accepted.size > acceptedWhileFull + 200 ? true : undefined), 10_000);
    await publishing!.stop();

    expectOnlyStoreUnavailable(refused);
    expect((await allDelivered(accepted)).size).toBe(accepted.size);
    // Their outcomes are written a moment after the receiver answered: every one of them succeeded.
    const settled = await eventually(async () => {
      const { deliveries } = (await apiCall(url, 'GET', '/api/v2/stats')).body;
      return deliveries.in_flight === 0 && deliveries.pending === 0 ? deliveries : undefined;
    });
    expect(settled).toMatchObject({ succeeded: accepted.size, failed: 0 });

    // Said once when the disk began refusing and once when it took writes again, by each
    // connection (the API's and the dispatch thread's), however many writes failed between.
    const log = refusalsLogged(proc!.output(), /^SQLITE_FULL$/);
    expect(log.resumed).toBe(log.refusals);
  }, UNDER_LOAD_MS);
});

describe('a data directory that turns read-only under load', () => {
  it('refuses publishing with 503 (not 500), is not ready, says so once, and loses nothing accepted once the disk is repaired', async () => {
    const dir = dirForTest();
    const image = path.join(dirForTest(), 'disk.img');
    execFileSync('truncate', ['-s', '64M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    const mountImage = `mount -o loop,errors=remount-ro "${image}" "$0"`;
    const { url, pid, accepted, refused } = await underLoad(dir, mountImage);
    // An error on the file system, as a failing disk gives: ext4 remounts it read-only.
    inHeraldMounts(pid, 'echo 1 > "/sys/fs/ext4/$(basename "$(findmnt -n -o SOURCE "$0")")/trigger_fs_error"', dir);
    await refusing(url, refused);
    await publishing!.stop();
    expectOnlyStoreUnavailable(refused);
    expect(refusalsLogged(proc!.output(), /^SQLITE_(IOERR|READONLY|CANTOPEN)/).resumed).toBe(0);

    // Repaired (the mount went with the process; fsck exits 1 when it corrected errors), Herald
    // starts on it again and delivers every event it had accepted.
    proc!.child.kill('SIGKILL');
    await proc!.exited;
    const fsck = spawnSync('e2fsck', ['-f', '-y', image], { timeout: 20_000 });
    expect(fsck.status === 0 || fsck.status === 1, fsck.stdout.toString()).toBe(true);
    proc = await spawnHerald('serve', { HERALD_DATA_DIR: dir }, undefined, [], mountedAt(dir, mountImage));
    await allDelivered(accepted);
  }, UNDER_LOAD_MS);
});

describe('starting on a full disk', () => {
  it('stops with exit code 2 naming the data directory, and starts once space is freed', async () => {
    const dir = dirForTest();
    // One mount namespace for the whole sequence: start on a full disk (no key yet), free it and
    // migrate, then fill it again and start with the database in place.
    const script = `mount -t tmpfs -o size=4m tmpfs "$0" || exit 90
      fill() { ${FILL}; }
      run() { timeout 20 "${process.execPath}" "${BIN}" "$@"; echo "exit=$?"; }
      fill; run serve; rm "$0/filler"; run migrate; fill; run serve`;
    const { stdout, stderr } = await promisify(execFile)('unshare', ['-m', 'sh', '-c', script, dir], {
      env: { ...process.env, HERALD_DATA_DIR: dir, HERALD_ADMIN_KEY: ADMIN_KEY, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' },
      timeout: 60_000,
    });
    expect(stdout.match(/exit=\d+/g)).toEqual(['exit=2', 'exit=0', 'exit=2']);
    const refusals = stderr.split('\n').filter((l) => l.startsWith('herald:'));
    expect(refusals).toEqual([
      expect.stringMatching(/^herald: HERALD_DATA_DIR: cannot keep the encryption key in .* \(ENOSPC\)/),
      expect.stringMatching(new RegExp(`^herald: HERALD_DATA_DIR: cannot write the database ${dir}/herald\\.db \\(SQLITE_[A-Z_]+: .*\\); free space on its disk or make it writable$`)),
    ]);
  });
});
