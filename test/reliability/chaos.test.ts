// Hostile receivers: one endpoint per kind of misbehaviour next to healthy ones, on a Herald
// child process (the built dist, as `npm start` runs it) with a short retry schedule. Proves that
// every delivery ends exactly as the policy says, that 50 MiB and endless bodies do not grow
// Herald's memory, and that healthy endpoints are served at once while the others time out.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChaosReceiver, type ChaosMode, type ChaosReceiver } from '../chaos-receiver.js';
import { eventually, tempDir } from '../helpers.js';
import { apiCall, spawnHerald, type HeraldProcess } from '../process.js';
import { deliveriesOf, MiB, rssOf, sampleRss, statsOf, type DeliveryDto, type RssSampler } from './support.js';

const EVENTS = 20;
const ATTEMPTS = 3; // HERALD_RETRY_SCHEDULE=0,0.2,0.2
const TIMEOUT_MS = 1000;
const RETRY_AFTER_S = 1;
const RSS_GROWTH_LIMIT = 150 * MiB;

interface Expectation {
  readonly status: 'succeeded' | 'failed';
  readonly attempts: number;
  /** Every attempt's status code (null: no HTTP answer) and error kind. */
  readonly statusCode: number | null;
  readonly errorKind: string | null | readonly string[];
}

/** The policy: 2xx succeeds; anything else is retried on the schedule and then fails; 3xx is never followed. */
const POLICY: Record<Exclude<ChaosMode, 'ok'>, Expectation> = {
  'fail-500': { status: 'failed', attempts: ATTEMPTS, statusCode: 500, errorKind: 'http_status' },
  hang: { status: 'failed', attempts: ATTEMPTS, statusCode: null, errorKind: 'timeout' },
  reset: { status: 'failed', attempts: ATTEMPTS, statusCode: null, errorKind: 'connect' },
  endless: { status: 'failed', attempts: ATTEMPTS, statusCode: 500, errorKind: 'http_status' },
  huge: { status: 'succeeded', attempts: 1, statusCode: 200, errorKind: null },
  'slow-headers': { status: 'failed', attempts: ATTEMPTS, statusCode: null, errorKind: 'timeout' },
  'redirect-loop': { status: 'failed', attempts: ATTEMPTS, statusCode: 302, errorKind: 'http_status' },
  'redirect-private': { status: 'failed', attempts: ATTEMPTS, statusCode: 302, errorKind: 'http_status' },
  'retry-after': { status: 'succeeded', attempts: 2, statusCode: null, errorKind: null }, // 429 then 200: checked below
  'always-429': { status: 'failed', attempts: ATTEMPTS, statusCode: 429, errorKind: 'http_status' },
  // A non-HTTP answer is a broken connection (undici's HTTPParserError carries no code).
  garbage: { status: 'failed', attempts: ATTEMPTS, statusCode: null, errorKind: ['connect'] },
};

let chaos: ChaosReceiver;
let proc: HeraldProcess | undefined;
let dir: string;
let rss: RssSampler | undefined;

beforeAll(async () => {
  dir = tempDir('herald-chaos-');
  chaos = await startChaosReceiver({ retryAfterSeconds: RETRY_AFTER_S });
});
afterAll(async () => {
  rss?.stop();
  proc?.child.kill('SIGKILL');
  await proc?.exited;
  await chaos.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('hostile receivers', () => {
  it('every delivery ends as the policy says, memory stays bounded, healthy endpoints are unaffected', async () => {
    proc = await spawnHerald('serve', {
      HERALD_DATA_DIR: dir,
      HERALD_RETRY_SCHEDULE: '0,0.2,0.2',
      HERALD_SQLITE_SYNC: 'normal',
    });
    const url = proc.url;

    const endpoints = new Map<string, { mode: ChaosMode; id: string }>();
    const create = async (key: string, mode: ChaosMode, suffix: string) => {
      const res = await apiCall(url, 'POST', '/api/v2/endpoints', { url: chaos.urlFor(mode, suffix), event_types: ['asset.*'], timeout_ms: TIMEOUT_MS, description: key });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      endpoints.set(key, { mode, id: res.body.id });
    };
    await create('healthy-a', 'ok', 'a');
    await create('healthy-b', 'ok', 'b');
    for (const mode of Object.keys(POLICY) as (keyof typeof POLICY)[]) await create(mode, mode, 'x');

    // Warm up (first requests load code and fill caches), then take the memory baseline.
    await new Promise((r) => setTimeout(r, 300));
    const baseline = rssOf(proc.child.pid!)!;
    rss = sampleRss(proc.child.pid!, 50);

    const t0 = Date.now();
    const events = Array.from({ length: EVENTS }, (_, i) => ({ type: 'asset.created', resource: { type: 'asset', id: `chaos-${i}` }, data: { i } }));
    const published = await apiCall(url, 'POST', '/api/v2/events/batch', { events });
    expect(published.status).toBe(202);
    const messageIds = new Set<string>(published.body.data.map((e: { id: string }) => e.id));
    expect(published.body.data.every((e: { deliveries: number }) => e.deliveries === endpoints.size)).toBe(true);

    // Healthy endpoints get everything promptly, while the hanging one is still being retried.
    await eventually(() => (chaos.requestsTo('ok', 'a').length >= EVENTS && chaos.requestsTo('ok', 'b').length >= EVENTS ? true : undefined), 5_000, 10);
    const healthyAfterMs = Date.now() - t0;
    const hangAttemptsSoFar = chaos.requestsTo('hang').length;
    expect(healthyAfterMs).toBeLessThan(2_000);
    expect(hangAttemptsSoFar).toBeLessThan(EVENTS * ATTEMPTS);

    // Everything settles: nothing pending or in flight.
    await eventually(
      async () => {
        const s = await statsOf(url);
        return s.pending === 0 && s.in_flight === 0 ? s : undefined;
      },
      30_000,
      100,
    );
    rss.stop();
    const growth = rss.max() - baseline;
    console.log(
      `chaos: healthy endpoints served in ${healthyAfterMs} ms (hang had ${hangAttemptsSoFar}/${EVENTS * ATTEMPTS} attempts); ` +
        `RSS baseline ${(baseline / MiB).toFixed(0)} MiB, max ${(rss.max() / MiB).toFixed(0)} MiB over ${rss.samples()} samples; ` +
        `bodies written: huge ${(chaos.bodyBytesWritten('huge') / MiB).toFixed(1)} MiB for ${EVENTS} requests, endless ${(chaos.bodyBytesWritten('endless') / MiB).toFixed(1)} MiB for ${EVENTS * ATTEMPTS}`,
    );
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
    // Herald hung up on the 50 MiB bodies after its read limit: on average far less than the body
    // left the receiver (what did is mostly loopback socket buffers).
    expect(chaos.bodyBytesWritten('huge') / EVENTS).toBeLessThan((50 * MiB) / 4);

    const problems: string[] = [];
    for (const [key, { mode, id }] of endpoints) {
      const deliveries = await deliveriesOf(url, id);
      if (deliveries.length !== EVENTS) problems.push(`${key}: ${deliveries.length} deliveries, expected ${EVENTS}`);
      for (const d of deliveries) {
        if (!messageIds.has(d.event_id)) problems.push(`${key}: delivery of unknown message ${d.event_id}`);
        const why = judge(mode, d);
        if (why) problems.push(`${key} ${d.id}: ${why}`);
      }
    }
    expect(problems).toEqual([]);

    // Exactly the attempts the policy allows reached each receiver: a 302 was never followed.
    const perMode = (mode: ChaosMode) => chaos.requestsTo(mode).length;
    expect(perMode('redirect-loop')).toBe(EVENTS * ATTEMPTS);
    expect(perMode('redirect-private')).toBe(EVENTS * ATTEMPTS);
    expect(perMode('fail-500')).toBe(EVENTS * ATTEMPTS);
    expect(perMode('ok')).toBe(2 * EVENTS);
    expect(perMode('huge')).toBe(EVENTS);
    expect(chaos.requests.filter((r) => r.mode === 'unknown')).toEqual([]);

    // 429 + Retry-After postpones the next attempt by at least Retry-After (the schedule says 0.2 s).
    for (const mode of ['retry-after', 'always-429'] as const) {
      const byId = new Map<string, number[]>();
      for (const r of chaos.requestsTo(mode)) byId.set(r.webhookId!, [...(byId.get(r.webhookId!) ?? []), r.at]);
      expect(byId.size).toBe(EVENTS);
      for (const [wid, times] of byId) {
        for (let i = 1; i < times.length; i++) {
          expect(times[i] - times[i - 1], `${mode} ${wid} attempt ${i + 1}`).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 50);
        }
      }
    }

    // Herald is still healthy and answers at once.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  }, 60_000);
});

/** Why a delivery does not match the policy for its receiver's mode; undefined when it does. */
function judge(mode: ChaosMode, d: DeliveryDto): string | undefined {
  if (mode === 'ok') {
    return d.status === 'succeeded' && d.attempts === 1 ? undefined : `healthy delivery ended ${d.status} after ${d.attempts} attempts`;
  }
  const want = POLICY[mode];
  if (d.status !== want.status) return `ended ${d.status}, expected ${want.status}`;
  if (d.attempts !== want.attempts || d.attempt_log.length !== want.attempts) return `${d.attempts} attempts (${d.attempt_log.length} logged), expected ${want.attempts}`;
  if (mode === 'retry-after') {
    const codes = [...d.attempt_log].sort((a, b) => a.attempt - b.attempt).map((a) => a.status_code);
    return codes.join(',') === '429,200' ? undefined : `attempt statuses ${codes.join(',')}, expected 429,200`;
  }
  for (const a of d.attempt_log) {
    const kinds: readonly (string | null)[] = Array.isArray(want.errorKind) ? want.errorKind : [want.errorKind as string | null];
    if (a.status_code !== want.statusCode || !kinds.includes(a.error_kind)) {
      return `attempt ${a.attempt}: status ${a.status_code}, error ${a.error_kind}; expected ${want.statusCode}, ${kinds.join(' or ')}`;
    }
  }
  return undefined;
}
