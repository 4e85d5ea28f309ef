// `herald serve` on the embedded store dispatches on a thread of its own by default
// (HERALD_DISPATCH_THREAD=on, threaded-dispatch.ts): deliveries, logs and metrics come from
// there, changes made through the API reach it at once, and a thread that stops is replaced.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadedDispatch, type ThreadedDispatchOptions } from '../../src/app/threaded-dispatch.js';
import type { HandoffGrant } from '../../src/delivery/dispatcher.js';
import { Ingestor } from '../../src/ingest/ingestor.js';
import { loadConfig } from '../../src/config/index.js';
import { HeraldMetrics } from '../../src/observability/metrics.js';
import { WriteLock } from '../../src/store/sqlite/write-lock.js';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, tempDir } from '../helpers.js';
import { apiCall, spawnHerald, type HeraldProcess } from '../process.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function metricValue(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

/**
 * A Herald without a dispatcher of its own and a dispatch thread on its store, logging to
 * `lines` at `level` (LOG_LEVEL itself is silent: the logger's level is the one that counts).
 */
async function heraldWithThread(level: string, extra: Partial<ThreadedDispatchOptions> = {}, env: Record<string, string> = {}, receiver = startReceiver()) {
  const h = await startTestHerald({}, { worker: false });
  const r = await receiver;
  cleanups.push(() => h.close(), () => r.close());
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const config = loadConfig({ HERALD_DATA_DIR: h.dataDir, HERALD_ALLOWED_TARGETS: '127.0.0.0/8', HERALD_SQLITE_SYNC: 'normal', LOG_LEVEL: 'silent', ...env });
  const dispatch = await ThreadedDispatch.start({
    config,
    ownHosts: [],
    concurrency: 8,
    version: 'test',
    writeLock: new WriteLock().buffer,
    logger,
    beforeRestart: async () => {},
    onEndpointChanged: () => {},
    ...extra,
  });
  cleanups.push(() => dispatch.stop(1_000));
  return { h, r, lines, dispatch };
}

// The sum of its phases' bounds (first delivery 10 s, 41 delivered 10 s, logged 10 s, counted 10 s) with room for starting Herald.
const SERVE_THREAD_MS = 50_000;
// The sum of its phases' bounds (eight waits of 10 s for deliveries, counters, the stop and the replacement; the stop 1 s).
const REPLACED_THREAD_MS = 90_000;

describe('dispatch thread', () => {
  it('delivers from its own thread in `herald serve`, handed over by the ingest commit, logging there and counting in /metrics', async () => {
    const dir = tempDir();
    const r = await startReceiver();
    let proc: HeraldProcess | undefined;
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => r.close(), () => void proc?.child.kill('SIGKILL'));
    // Default settings: the thread is what `npm start` runs.
    proc = await spawnHerald('serve', { HERALD_DATA_DIR: dir, LOG_LEVEL: 'debug' });
    const ep = await apiCall(proc.url, 'POST', '/api/v2/endpoints', {
      url: r.url,
      event_types: ['asset.created'],
      auth: { type: 'basic', username: 'dam', password: 'pa55word-xyz' },
    });
    expect(ep.status).toBe(201);
    // The API answers before the thread has started (it starts once the API listens): one event
    // first, delivered once the thread is there.
    expect((await apiCall(proc.url, 'POST', '/api/v2/events', { type: 'asset.created', data: { n: -1 } })).status).toBe(202);
    await r.waitFor(1);
    const batch = await apiCall(proc.url, 'POST', '/api/v2/events/batch', { events: Array.from({ length: 40 }, (_, i) => ({ type: 'asset.created', data: { n: i } })) });
    expect(batch.status).toBe(202);
    await r.waitFor(41);

    const attemptLines = await eventually(() => {
      const lines = proc!.output().split('\n').filter((l) => l.includes('"msg":"delivery attempt"'));
      return lines.length === 41 ? lines.map((l) => JSON.parse(l) as Record<string, unknown>) : undefined;
    });
    for (const line of attemptLines) expect(line).toMatchObject({ thread: 'dispatch', component: 'dispatcher', endpointId: ep.body.id, outcome: 'succeeded' });
    expect(proc.output()).not.toContain('pa55word-xyz');

    // One scrape: the thread's counters next to the main thread's, process metrics once.
    const text = await eventually(async () => {
      const res = await fetch(`${proc!.url}/metrics`, { headers: { 'x-api-key': ADMIN_KEY } });
      const body = await res.text();
      return metricValue(body, 'herald_delivery_attempts_total{outcome="succeeded",profile="standard"}') === 41 ? body : undefined;
    });
    expect(metricValue(text, 'herald_deliveries_total{outcome="succeeded",profile="standard"}')).toBe(41);
    expect(metricValue(text, 'herald_events_ingested_total')).toBe(41);
    expect(metricValue(text, 'herald_in_flight')).toBe(0);
    expect(metricValue(text, 'herald_dispatch_thread_up')).toBe(1);
    expect(metricValue(text, 'herald_dispatch_thread_stops_total')).toBe(0);
    // The thread had room: the batch's commit handed every delivery over (the first event may
    // have been committed before the thread started, and then claimed). Those beyond what the
    // endpoint may hold yet (its first answer's time sets how many) went back to the store and
    // were claimed again: taken twice, sent once.
    const fromIngest = metricValue(text, 'herald_dispatcher_taken_total{from="ingest"}')!;
    expect(fromIngest).toBeGreaterThanOrEqual(40);
    expect(fromIngest + metricValue(text, 'herald_dispatcher_taken_total{from="claim"}')!).toBeGreaterThanOrEqual(41);
    expect(r.received).toHaveLength(41);
    expect(new Set(r.received.map((req) => req.headers['webhook-id'])).size).toBe(41);
    expect(text.match(/^herald_process_cpu_user_seconds_total /gm)).toHaveLength(1);
    expect(text.match(/^# TYPE herald_delivery_attempts_total /gm)).toHaveLength(1);
  }, SERVE_THREAD_MS);

  it('sends to an endpoint as changed through the API at once, not when a cache expires', async () => {
    const h = await startTestHerald({ HERALD_DISPATCH_THREAD: 'on' });
    const [a, b] = [await startReceiver(), await startReceiver()];
    cleanups.push(() => h.close(), () => a.close(), () => b.close());
    const ep = await h.api('POST', '/api/v2/endpoints', { url: a.url, event_types: ['asset.created'] });
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    await a.waitFor(1);
    expect((await h.api('PATCH', `/api/v2/endpoints/${ep.body.id}`, { url: `${b.url}/moved` })).status).toBe(200);
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [moved] = await b.waitFor(1, 5_000);
    expect(moved!.url).toBe('/moved');
    expect(a.received).toHaveLength(1);
  });

  it("writes the thread's log lines through the logger it was given, at that logger's level", async () => {
    const { h, r, lines, dispatch } = await heraldWithThread('debug');
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], auth: { type: 'basic', username: 'dam', password: 'pa55word-xyz' } });
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    dispatch.notify();
    await r.waitFor(1);
    const attempt = await eventually(() => lines.find((l) => l.msg === 'delivery attempt'));
    expect(attempt).toMatchObject({ thread: 'dispatch', endpointId: ep.body.id, outcome: 'succeeded' });
    expect(JSON.stringify(lines)).not.toContain('pa55word-xyz');
  });

  it('hands an endpoint of an ingest commit a round at first, and up to the hold limit the thread reports once it is busy with it', async () => {
    // Answers wait while `held` collects them.
    let holding = false;
    const held: (() => void)[] = [];
    const receiver = startReceiver((_r, _i, res) => {
      const answer = () => void res.writeHead(200).end('ok');
      if (holding) held.push(answer);
      else answer();
    });
    // 8 requests, 2 per endpoint.
    const { h, r, dispatch } = await heraldWithThread('silent', {}, { HERALD_ENDPOINT_CONCURRENCY: '2' }, receiver);
    const ep = (await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] })).body.id as string;
    const ingestor = new Ingestor({ store: h.herald.context.store, handoff: () => dispatch });
    const granted: number[] = [];
    const offer = dispatch.offer.bind(dispatch);
    dispatch.offer = (wanted) => {
      const grant = offer(wanted);
      granted.push(grant?.counts.get(ep) ?? 0);
      return grant;
    };
    const publish = async (n: number) => {
      await ingestor.publish(h.herald.context.defaultAccountId, Array.from({ length: n }, () => ({ type: 'asset.created' })));
      dispatch.notify();
    };
    // Unknown to the thread: a round of its concurrency.
    await publish(5);
    expect(granted).toEqual([2]);
    await r.waitFor(5);
    // Busy with it (answers held), the thread reports how much it may hold: a commit gives it
    // more than a round, and more than the 6 requests left free.
    holding = true;
    let published = 5;
    await eventually(async () => {
      await publish(20);
      published += 20;
      await new Promise((resolve) => setTimeout(resolve, 60));
      return granted.at(-1)! > 6 ? true : undefined;
    });
    holding = false;
    held.splice(0).forEach((answer) => answer());
    const got = await eventually(async () => {
      held.splice(0).forEach((answer) => answer());
      return r.received.length >= published ? r.received : undefined;
    });
    // Each once: nothing handed over twice, nothing claimed that was handed over.
    expect(new Set(got.map((x) => x.headers['webhook-id'])).size).toBe(published);
    expect(got).toHaveLength(published);
  });

  it('replaces a thread that stopped, handing its leases back first', async () => {
    let released = 0;
    const { h, r, lines: errors, dispatch } = await heraldWithThread('error', {
      beforeRestart: async () => void released++,
      script: new URL('../fixtures/stopping-dispatch-thread.mjs', import.meta.url),
    });
    const metrics = new HeraldMetrics({ defaultMetrics: false });
    metrics.watchDispatchThread(() => dispatch.health());
    metrics.include(() => dispatch.metrics());
    const health = async () => {
      const text = await metrics.render();
      return {
        up: metricValue(text, 'herald_dispatch_thread_up'),
        stops: metricValue(text, 'herald_dispatch_thread_stops_total'),
        sent: metricValue(text, 'herald_delivery_attempts_total{outcome="succeeded",profile="standard"}') ?? 0,
      };
    };
    expect(await health()).toEqual({ up: 1, stops: 0, sent: 0 });
    await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    dispatch.notify();
    await r.waitFor(1);
    await eventually(async () => ((await health()).sent === 1 ? true : undefined));

    // The scrape that makes the thread stop still counts what it had sent.
    writeFileSync(path.join(h.dataDir, 'stop-dispatch-thread'), '');
    expect((await health()).sent).toBe(1);
    const [stopped] = await eventually(() => (errors.length > 0 ? errors : undefined));
    expect(stopped).toMatchObject({ msg: expect.stringContaining('dispatch thread stopped'), restartInMs: 250 });
    // Down until the replacement starts, 250 ms later; its counters are not lost with it.
    expect(await health()).toEqual({ up: 0, stops: 1, sent: 1 });

    // The replacement delivers what is published after the stop, counted on top.
    await eventually(async () => ((await health()).up === 1 ? true : undefined));
    expect(released).toBe(1);
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    dispatch.notify();
    await r.waitFor(2);
    await eventually(async () => ((await health()).sent === 2 ? true : undefined));
    expect(await health()).toEqual({ up: 1, stops: 1, sent: 2 });

    // And takes new deliveries from ingest commits, leased to it (not to the thread it replaced).
    const ingestor = new Ingestor({ store: h.herald.context.store, handoff: () => dispatch });
    const offers: (HandoffGrant | undefined)[] = [];
    const offer = dispatch.offer.bind(dispatch);
    dispatch.offer = (wanted) => {
      const grant = offer(wanted);
      offers.push(grant);
      return grant;
    };
    const [out] = await ingestor.publish(h.herald.context.defaultAccountId, [{ type: 'asset.created' }]);
    await r.waitFor(3);
    expect(offers).toHaveLength(1);
    expect(offers[0]?.counts.size).toBe(1);
    const delivery = await eventually(async () => {
      const d = (await h.api('GET', `/api/v2/events/${out.id}`)).body.deliveries?.[0];
      return d?.status === 'succeeded' ? d : undefined;
    });
    expect(delivery.attempts).toBe(1);

    // Once asked to stop it takes nothing more from ingest: what is committed meanwhile stays
    // pending for the next start, rather than leased to a thread that is going away.
    const stopping = dispatch.stop(1_000);
    const [late] = await ingestor.publish(h.herald.context.defaultAccountId, [{ type: 'asset.created' }]);
    expect(offers.at(-1)).toBeUndefined();
    await stopping;
    const lateDelivery = (await h.api('GET', `/api/v2/events/${late.id}`)).body.deliveries?.[0];
    expect(lateDelivery).toMatchObject({ status: 'pending', attempts: 0 });
  }, REPLACED_THREAD_MS);
});
