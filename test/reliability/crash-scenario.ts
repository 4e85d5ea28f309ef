// The crash scenario of issue 7, as a helper any store can run: a Herald child process (the
// built dist) receives events at a steady rate and is killed with SIGKILL at random moments,
// then restarted on the same store. The publisher behaves like a DAM: a request that got no 202
// (refused, reset, or sent while Herald was down) is sent again later with the same idempotency
// key. At the end every event answered 202 must have reached the receiver at least once;
// duplicates are counted and reported (only deliveries in flight at a kill may repeat).
//
// The store is chosen by the spawn environment: SQLite with HERALD_DATA_DIR, PostgreSQL with
// DATABASE_URL (run `herald migrate` first and pass the same HERALD_SECRET_KEY every time).
import { ADMIN_KEY, startReceiver, type Receiver } from '../helpers.js';
import { apiCall, freePort, spawnHerald, type HeraldProcess } from '../process.js';
import { sleep, statsOf } from './support.js';

export interface CrashScenarioOptions {
  /** Environment of every Herald start (store selection, retry schedule, lease, …). */
  readonly env: Record<string, string>;
  /** The command that runs API and dispatcher together (default `serve`). */
  readonly command?: string;
  /**
   * Starts Herald (every time, on the same port) and resolves once its API answers; default:
   * `spawnHerald(command, env, port)`. A multi-process set-up (api + workers on PostgreSQL) can
   * start its processes here and return the API one; only that process is killed.
   */
  readonly start?: (env: Record<string, string>, port: number) => Promise<HeraldProcess>;
  /** Events to publish. */
  readonly events: number;
  /** Publishing rate, events per second (single-event requests). */
  readonly ratePerSecond: number;
  /** Requests in flight at most. */
  readonly maxInFlight?: number;
  /** How many times Herald is killed (default 3). */
  readonly kills?: number;
  /** Seed of the kill moments (printed in the report). */
  readonly seed: number;
  /** How long to wait, after the last 202, for every accepted event to arrive. */
  readonly settleTimeoutMs?: number;
  /** Receives progress lines. */
  readonly log?: (line: string) => void;
}

export interface CrashReport {
  readonly seed: number;
  /** Event indexes (in publishing order) at which Herald was killed. */
  readonly killedAt: readonly number[];
  /** Distinct events answered 202 (some after being sent again). */
  readonly accepted: number;
  /** Requests that got no 202 and were sent again. */
  readonly resent: number;
  /** Distinct accepted messages that reached the receiver. */
  readonly delivered: number;
  /** Accepted messages that never arrived: must be empty. */
  readonly lost: readonly string[];
  /** Messages that arrived but were never answered 202 (idempotency broken): must be empty. */
  readonly unknown: readonly string[];
  /** Messages that arrived more than once, with their counts. */
  readonly duplicates: readonly { id: string; count: number }[];
  /** Extra arrivals beyond the first of each message. */
  readonly duplicateDeliveries: number;
  readonly durationMs: number;
  readonly finalStats: { pending: number; in_flight: number; succeeded: number; failed: number };
}

/** mulberry32: a small seeded PRNG, so a run's kill moments can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `kills` distinct moments spread over the run: one random index in each equal slice of [5 %, 90 %]. */
export function killMoments(events: number, kills: number, random: () => number): number[] {
  const start = events * 0.05;
  const slice = (events * 0.85) / kills;
  return Array.from({ length: kills }, (_, k) => Math.floor(start + slice * k + random() * slice * 0.8));
}

export async function runCrashScenario(options: CrashScenarioOptions): Promise<CrashReport> {
  const command = options.command ?? 'serve';
  const start = options.start ?? ((env: Record<string, string>, port: number) => spawnHerald(command, env, port));
  const kills = options.kills ?? 3;
  const maxInFlight = options.maxInFlight ?? 32;
  const log = options.log ?? (() => undefined);
  const killedAt = killMoments(options.events, kills, seededRandom(options.seed));
  log(`crash scenario: seed ${options.seed}, ${options.events} events at ${options.ratePerSecond}/s, kill -9 after events ${killedAt.join(', ')}`);

  // A receiver that takes a moment per request, so deliveries are in flight at each kill.
  const receiver: Receiver = await startReceiver((_r, _i, res) => void setTimeout(() => res.writeHead(200).end(), 2));
  const port = await freePort();
  const watch = (p: HeraldProcess) => {
    // Herald dying of its own accord (anything but our SIGKILL) is a finding: show why.
    void p.exited.then(({ code, signal }) => {
      if (signal !== 'SIGKILL') log(`  herald exited by itself (code ${code}, signal ${signal}):\n${p.output().slice(-4000)}`);
    });
    return p;
  };
  let proc: HeraldProcess = watch(await start(options.env, port));
  const started = Date.now();
  try {
    const endpoint = await apiCall(proc.url, 'POST', '/api/v2/endpoints', { url: `${receiver.url}/crash`, event_types: ['asset.*'] });
    if (endpoint.status !== 201) throw new Error(`creating the endpoint answered ${endpoint.status}: ${JSON.stringify(endpoint.body)}`);

    const accepted = new Map<number, string>(); // event index → message id
    const retry: number[] = [];
    let resent = 0;
    let next = 0;
    let inFlight = 0;
    let killIndex = 0;
    let down: Promise<void> | undefined;

    const publish = async (i: number, url: string) => {
      inFlight++;
      try {
        const res = await fetch(`${url}/api/v2/events`, {
          method: 'POST',
          headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ id: `crash-${i}`, type: 'asset.created', resource: { type: 'asset', id: `a${i % 100}` }, data: { i } }),
        });
        const body = (await res.json().catch(() => undefined)) as { id?: string } | undefined;
        if (res.status === 202 && body?.id) accepted.set(i, body.id);
        else (retry.push(i), resent++);
      } catch {
        retry.push(i); // no answer: not accepted, send again
        resent++;
      } finally {
        inFlight--;
      }
    };

    const crashAndRestart = async () => {
      const k = killIndex + 1;
      proc.child.kill('SIGKILL');
      await proc.exited;
      log(`  kill ${k}: after ${next} events sent, ${accepted.size} accepted, ${receiver.received.length} deliveries received`);
      proc = watch(await start(options.env, port));
    };

    const progress = setInterval(
      () => log(`  … ${next} sent, ${accepted.size} accepted, ${inFlight} in flight, ${retry.length} to send again, ${receiver.received.length} deliveries received`),
      10_000,
    );
    const interval = 1000 / options.ratePerSecond;
    let slot = Date.now();
    while (accepted.size < options.events) {
      if (down) {
        await down;
        down = undefined;
        slot = Date.now();
      }
      if (killIndex < killedAt.length && next >= killedAt[killIndex]) {
        down = crashAndRestart();
        killIndex++;
        continue;
      }
      if (inFlight >= maxInFlight || (retry.length === 0 && next >= options.events)) {
        await sleep(5);
        continue;
      }
      const i = retry.length > 0 ? retry.shift()! : next++;
      slot += interval;
      const wait = slot - Date.now();
      if (wait > 1) await sleep(wait);
      void publish(i, proc.url);
    }
    while (inFlight > 0) await sleep(5);
    clearInterval(progress);
    const acceptedIds = new Set(accepted.values());
    log(`  all ${acceptedIds.size} events accepted after ${Date.now() - started} ms (${resent} requests sent again)`);

    // Wait until every accepted message has arrived.
    const deadline = Date.now() + (options.settleTimeoutMs ?? 60_000);
    const arrived = new Set<string>();
    let seen = 0;
    const missing = () => {
      for (; seen < receiver.received.length; seen++) arrived.add(receiver.received[seen].headers['webhook-id'] as string);
      return [...acceptedIds].some((id) => !arrived.has(id));
    };
    while (Date.now() < deadline && missing()) await sleep(100);
    // Let the queue drain completely, so late duplicates are counted too.
    let finalStats = await statsOf(proc.url);
    while (Date.now() < deadline && (finalStats.pending > 0 || finalStats.in_flight > 0)) {
      await sleep(100);
      finalStats = await statsOf(proc.url);
    }

    const counts = new Map<string, number>();
    for (const r of receiver.received) {
      const id = r.headers['webhook-id'] as string;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const duplicates = [...counts].filter(([, n]) => n > 1).map(([id, count]) => ({ id, count }));
    const report: CrashReport = {
      seed: options.seed,
      killedAt,
      accepted: acceptedIds.size,
      resent,
      delivered: [...acceptedIds].filter((id) => counts.has(id)).length,
      lost: [...acceptedIds].filter((id) => !counts.has(id)),
      unknown: [...counts.keys()].filter((id) => !acceptedIds.has(id)),
      duplicates,
      duplicateDeliveries: duplicates.reduce((sum, d) => sum + d.count - 1, 0),
      durationMs: Date.now() - started,
      finalStats,
    };
    log(
      `  events ${options.events}, accepted ${report.accepted}, delivered ${report.delivered}, lost ${report.lost.length}, ` +
        `unknown ${report.unknown.length}, duplicates ${report.duplicateDeliveries} (${duplicates.length} messages), ${report.durationMs} ms`,
    );
    duplicates.sort((a, b) => b.count - a.count);
    if (duplicates.length > 0) log(`  duplicated messages: ${duplicates.slice(0, 50).map((d) => `${d.id}×${d.count}`).join(' ')}${duplicates.length > 50 ? ' …' : ''}`);
    return report;
  } finally {
    proc.child.kill('SIGKILL');
    await proc.exited;
    await receiver.close();
  }
}
