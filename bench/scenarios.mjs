// The benchmark scenarios. Each run starts what it needs (a fresh Herald on a fresh temporary
// data directory, a receiver process), drives the load over loopback, and returns its figures.
// Every loop is bounded by a count AND by the run's Deadline; every child is stopped at the end.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { dispatchCounters, EVENT_TYPES, HeraldClient, makeEvent, SLOW_STORE_CALL_SECONDS } from './lib/client.mjs';
import { CLOCK_TICKS, cpuMsOf, cpuTimes, freePort, importApp, removeTemp, runHerald, startHerald, startReceiver, tempDir, waitHealthy } from './lib/procs.mjs';
import { Deadline, fmt, now, percentile, progress, sleep, TimeoutError } from './lib/util.mjs';

/**
 * @typedef {{ quick: boolean, run: number, runs: number, cpuProfDir?: string, deadline: Deadline, label: string }} RunCtx
 * @typedef {{ metrics: Record<string, number|null>, info?: Record<string, unknown>, timeline?: unknown[], status?: 'ok'|'unavailable', reason?: string }} RunResult
 */

const SECRET_KEY = 'a'.repeat(64);

/**
 * Waits until the receiver has `target` unique deliveries. Prints progress, fails fast when a
 * Herald process exits, when nothing arrives for `stallMs`, or at the deadline.
 */
async function waitArrivals(rx, target, { deadline, heralds = [], label, t0, stallMs = 60_000, onPoll }) {
  let lastUnique = -1;
  let lastChange = Date.now();
  let prev = { at: now(), n: 0 };
  let rate = 0;
  for (;;) {
    for (const h of heralds) h.check();
    const s = await rx.stats();
    const t = now();
    if (t - prev.at >= 1000) {
      rate = ((s.unique - prev.n) * 1000) / (t - prev.at);
      prev = { at: t, n: s.unique };
    }
    onPoll?.(s);
    progress.update(`${label}: delivered ${fmt(s.unique)}/${fmt(target)} (${fmt(rate)}/s)${s.count > s.unique ? ` dup ${fmt(s.count - s.unique)}` : ''} · ${fmt((t - t0) / 1000)} s`);
    if (s.unique >= target) return s;
    if (s.unique !== lastUnique) {
      lastUnique = s.unique;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs) {
      throw new Error(`${label}: deliveries stalled at ${s.unique}/${target} for ${stallMs / 1000} s (lost or stuck deliveries)`);
    }
    deadline.check(`${s.unique}/${target} delivered`);
    await sleep(250);
  }
}

/** Deliveries per second between the first and the last arrival. */
function arrivalRate(rep) {
  const span = rep.last - rep.first;
  return span > 0 ? ((rep.unique - 1) * 1000) / span : null;
}

function heraldEnv(extra = {}) {
  return { HERALD_SECRET_KEY: SECRET_KEY, ...extra };
}

/** Starts a fresh `herald serve` (or `api`) on a fresh data dir and waits for /healthz. */
async function freshHerald(ctx, command = 'serve', env = {}) {
  const dataDir = tempDir();
  const h = await startHerald({ command, dataDir, env: heraldEnv(env), cpuProfDir: ctx.cpuProfDir });
  await waitHealthy(h);
  return { h, dataDir };
}

async function cleanup(...things) {
  for (const t of things) {
    if (!t) continue;
    try {
      await t();
    } catch {
      /* best effort: the exit handler kills whatever is left */
    }
  }
}

// ───────────────────────────────────────────────────────────────────────────── limit
async function limit(ctx, total = ctx.quick ? 10_000 : 100_000) {
  const connections = 64; // Herald's HERALD_ENDPOINT_CONCURRENCY default
  const rx = await startReceiver();
  let sender;
  try {
    const [port] = await rx.listen(1);
    // Herald's own HTTP client, so the ceiling is for the same client code Herald runs.
    const { HttpSender } = await importApp('dist/delivery/http-sender.js');
    sender = new HttpSender({ connectionsPerOrigin: connections });
    const url = `http://127.0.0.1:${port}/hooks`;
    const sentAt = now();
    // The payload Herald would send for the same event (canonical body + Standard Webhooks headers).
    const body = JSON.stringify({ id: 'msg_0000000000000000000000', type: 'asset.created', timestamp: new Date().toISOString(), resource: { type: 'asset', id: 'asset-1' }, ...makeEvent('limit', 1, sentAt) });
    const signature = `v1,${randomBytes(32).toString('base64')}`;
    let next = 0;
    let end = Math.min(2_000, total);
    const worker = async () => {
      while (next < end) {
        ctx.deadline.check();
        const i = next++;
        const res = await sender.send({
          url,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'Herald/bench', 'webhook-id': `msg_limit_${i}`, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': signature },
          body,
          timeoutMs: 10_000,
        });
        if (res.statusCode !== 200) throw new Error(`receiver answered ${res.statusCode}`);
        if ((i & 1023) === 0) progress.update(`${ctx.label}: ${fmt(i)}/${fmt(end)} requests`);
      }
    };
    // warm-up (JIT, connections), then the measured requests
    await Promise.all(Array.from({ length: connections }, worker));
    await rx.reset();
    end = total + next;
    const t0 = now();
    await Promise.all(Array.from({ length: connections }, worker));
    const rep = await rx.report(t0);
    return { metrics: { rps: arrivalRate(rep) }, info: { requests: total, connections, body_bytes: Buffer.byteLength(body) } };
  } finally {
    await cleanup(() => sender?.close(), () => rx.stop());
  }
}

// ──────────────────────────────────────────────────────────────────────── throughput
/** 100,000 events via the batch API to `endpoints` endpoints (events split evenly by type). */
async function deliverThroughput(ctx, { endpoints, total, label, command = 'serve', env = {}, workers = 0, databaseUrl }) {
  const rx = await startReceiver();
  const procs = [];
  let client;
  let dataDir;
  try {
    dataDir = tempDir();
    const base = { dataDir, cpuProfDir: ctx.cpuProfDir, env: heraldEnv({ ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...env }) };
    const api = await startHerald({ ...base, command });
    procs.push(api);
    await waitHealthy(api);
    for (let i = 0; i < workers; i++) procs.push(await startHerald({ ...base, command: 'worker', name: `worker${i + 1}` }));
    const ports = await rx.listen(endpoints);
    client = new HeraldClient(api.url, 8);
    await client.createEndpoints(ports.map((p, i) => ({ url: `http://127.0.0.1:${p}/hooks/${i}`, eventTypes: [EVENT_TYPES[i % EVENT_TYPES.length]] })), 8, ctx.deadline);
    const t0 = now();
    const cpu0 = procs.map((p) => p.cpuMs() ?? 0);
    const threads0 = api.threadCpuMs();
    const machine0 = cpuSnapshot(procs, rx);
    let delivered = 0;
    const pub = client
      .publishBatches({
        total,
        batchSize: 1000,
        parallel: 4,
        runTag: `tp${ctx.run}`,
        typeOf: (i) => EVENT_TYPES[i % endpoints],
        deadline: ctx.deadline,
        onProgress: (n) => progress.update(`${label}: published ${fmt(n)}/${fmt(total)} · delivered ${fmt(delivered)} · ${fmt((now() - t0) / 1000)} s`),
      })
      // Where the publish ends, the run splits in two phases: how far delivery had come, and
      // what each of Herald's threads had spent.
      .then(async (r) => ({ ...r, finishedAt: now(), threads: api.threadCpuMs(), deliveredBy: (await rx.stats()).unique }));
    // Deliveries start while publishing goes on: watch both.
    pub.catch(() => {});
    while (delivered < total) {
      procs.forEach((p) => p.check());
      ctx.deadline.check(`${delivered}/${total} delivered`);
      const done = await Promise.race([pub.then(() => true), sleep(250).then(() => false)]);
      if (done) break;
      delivered = (await rx.stats()).unique;
    }
    const published = await pub;
    if (published.accepted !== total) throw new Error(`${label}: ${published.accepted}/${total} events accepted`);
    await waitArrivals(rx, total, { deadline: ctx.deadline, heralds: procs, label, t0 });
    const machine1 = cpuSnapshot(procs, rx);
    const rep = await rx.report(t0);
    // Only one process holds every store call of the run: workers time their own.
    const store = workers === 0 ? storeTime(dispatchCounters(await client.metricsText()), total) : {};
    const phases = publishPhases({ t0, published, rep, total, threads: [threads0, published.threads, api.threadCpuMs()], mainTid: api.pid });
    const mem = procs.map((p) => p.memory()?.hwm ?? null);
    // CPU Herald spent per delivery (publishing included): far steadier than rates on a shared machine.
    const cpuMs = procs.reduce((sum, p, i) => sum + ((p.cpuMs() ?? cpu0[i]) - cpu0[i]), 0);
    return {
      metrics: {
        dps: arrivalRate(rep),
        cpu_us: (cpuMs * 1000) / total,
        publish_eps: published.accepted / published.seconds,
        p50_ms: rep.latency?.p50 ?? null,
        p99_ms: rep.latency?.p99 ?? null,
        ...phases,
        duplicates: rep.duplicates,
        peak_rss_mb: Math.max(...mem.filter((m) => m !== null)) / 2 ** 20,
        ...store,
        ...coresBetween(machine0, machine1),
      },
      info: { events: total, endpoints, deliveries_created: published.deliveries, publish_seconds: published.seconds, first_to_last_s: (rep.last - rep.first) / 1000, processes: procs.map((p) => p.command), throttled: client.throttled },
      timeline: rep.timeline,
    };
  } finally {
    await cleanup(() => client?.close(), ...procs.map((p) => () => p.stop()), () => rx.stop());
    if (dataDir) removeTemp(dataDir);
  }
}

/** The machine's CPU time so far, and that of Herald's processes, the receiver and this process (the load). */
function cpuSnapshot(procs, rx) {
  const self = process.cpuUsage();
  return {
    at: now(),
    machine: cpuTimes(),
    herald: procs.reduce((sum, p) => sum + (p.cpuMs() ?? 0), 0),
    receiver: cpuMsOf(rx.pid) ?? 0,
    load: (self.user + self.system) / 1000,
  };
}

/**
 * Where the machine's CPU went between two snapshots, in cores (CPU seconds a second): Herald,
 * the receiver, the load generator, everything else on the machine, idle (of which waiting for
 * the disk), and what the machine's own accounts lack (a vCPU the host did not run, where it
 * reports no steal). A slow run with idle cores waited; one with none lacked CPU, and the rest
 * say who took it.
 */
function coresBetween(a, b) {
  const seconds = (b.at - a.at) / 1000;
  if (!a.machine || !b.machine || seconds <= 0) return {};
  const jiffies = (key) => (b.machine[key] - a.machine[key]) / CLOCK_TICKS / seconds;
  const of = (key) => (b[key] - a[key]) / 1000 / seconds;
  const busy = jiffies('total') - jiffies('idle') - jiffies('steal');
  return {
    idle_cores: jiffies('idle'),
    iowait_cores: jiffies('iowait'),
    herald_cores: of('herald'),
    receiver_cores: of('receiver'),
    load_cores: of('load'),
    other_cores: busy - of('herald') - of('receiver') - of('load'),
    unaccounted_cores: cpus().length - jiffies('total'),
  };
}

/**
 * Store time per delivery (ingest, claims, settlements: the wall time of each call, its wait
 * for the write lock and the disk included) and the claims and settlements slower than
 * SLOW_STORE_CALL_SECONDS: beside the CPU per delivery, whether a slow run waited on the store.
 */
function storeTime(counters, deliveries) {
  const ops = Object.values(counters.store);
  return {
    store_us: (ops.reduce((sum, op) => sum + op.seconds, 0) * 1e6) / deliveries,
    // A batch of 1,000 events commits in tens of milliseconds by itself: only a slow claim or
    // settlement says the dispatch thread waited.
    slow_dispatch_calls: (counters.store.claim?.slow ?? 0) + (counters.store.settle?.slow ?? 0),
  };
}

/**
 * Delivery while the batches are published and after, and the CPU share (of one core) of the
 * API process's main thread and of its busiest other thread (the dispatch thread on SQLite) in
 * each phase: whether a phase is held back by a saturated thread or by waiting.
 */
function publishPhases({ t0, published, rep, total, threads, mainTid }) {
  const during = published.finishedAt - t0;
  const after = rep.last - published.finishedAt;
  const share = (from, to, pick, ms) => {
    const used = [...to].map(([tid, cpu]) => [tid, cpu - (from.get(tid) ?? 0)]).filter(([tid]) => pick(tid));
    return ms > 0 && used.length ? Math.max(...used.map(([, cpu]) => cpu)) / ms : null;
  };
  const isMain = (tid) => tid === mainTid;
  const notMain = (tid) => tid !== mainTid;
  return {
    dps_publishing: during > 0 ? published.deliveredBy / (during / 1000) : null,
    dps_after: after > 0 ? (total - published.deliveredBy) / (after / 1000) : null,
    main_cpu_publishing: share(threads[0], threads[1], isMain, during),
    other_cpu_publishing: share(threads[0], threads[1], notMain, during),
    main_cpu_after: share(threads[1], threads[2], isMain, after),
    other_cpu_after: share(threads[1], threads[2], notMain, after),
  };
}

async function throughput(ctx) {
  const total = ctx.quick ? 10_000 : 100_000;
  // The ceiling again, right before the run it is compared with: the machine's speed drifts by up
  // to 2× within minutes, so a ceiling measured at another time skews the ratio either way.
  const ceiling = await limit({ ...ctx, label: `${ctx.label} limit` }, ctx.quick ? 10_000 : 50_000);
  const one = await deliverThroughput(ctx, { endpoints: 1, total, label: `${ctx.label} 1 endpoint` });
  const ten = await deliverThroughput(ctx, { endpoints: 10, total, label: `${ctx.label} 10 endpoints` });
  return {
    metrics: {
      dps_1: one.metrics.dps,
      dps_10: ten.metrics.dps,
      limit_rps: ceiling.metrics.rps,
      ratio_limit: one.metrics.dps / ceiling.metrics.rps,
      cpu_us_1: one.metrics.cpu_us,
      cpu_us_10: ten.metrics.cpu_us,
      store_us_1: one.metrics.store_us,
      slow_dispatch_calls_1: one.metrics.slow_dispatch_calls,
      herald_cores_1: one.metrics.herald_cores,
      receiver_cores_1: one.metrics.receiver_cores,
      load_cores_1: one.metrics.load_cores,
      other_cores_1: one.metrics.other_cores,
      idle_cores_1: one.metrics.idle_cores,
      iowait_cores_1: one.metrics.iowait_cores,
      unaccounted_cores_1: one.metrics.unaccounted_cores,
      publish_eps: one.metrics.publish_eps,
      p99_ms_1: one.metrics.p99_ms,
      dps_publishing_1: one.metrics.dps_publishing,
      dps_after_1: one.metrics.dps_after,
      main_cpu_publishing_1: one.metrics.main_cpu_publishing,
      other_cpu_publishing_1: one.metrics.other_cpu_publishing,
      main_cpu_after_1: one.metrics.main_cpu_after,
      other_cpu_after_1: one.metrics.other_cpu_after,
      duplicates: one.metrics.duplicates + ten.metrics.duplicates,
      peak_rss_mb: Math.max(one.metrics.peak_rss_mb, ten.metrics.peak_rss_mb),
    },
    info: { one: one.info, ten: ten.info },
    timeline: one.timeline,
  };
}

// ──────────────────────────────────────────────────────────────────────────── ingest
/** Closed-loop load: `parallel` workers each send requests until `count` or `seconds`. */
async function closedLoop({ parallel, count, seconds, deadline, send, label, unit }) {
  let started = 0;
  let done = 0;
  let accepted = 0;
  const lat = [];
  const t0 = now();
  const stopAt = t0 + seconds * 1000;
  const worker = async () => {
    while (started < count && now() < stopAt) {
      deadline.check();
      const i = ++started;
      const a = now();
      const n = await send(i);
      accepted += n;
      lat.push(now() - a);
      done++;
      if ((done & 255) === 0) progress.update(`${label}: ${fmt(accepted)} ${unit} accepted · ${fmt((now() - t0) / 1000)} s`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds_ = (now() - t0) / 1000;
  return { accepted, requests: done, seconds: seconds_, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

const SINGLE_WARMUP = 3_000;

async function ingest(ctx) {
  let herald;
  let client;
  try {
    // API only (no dispatcher): the figure is ingest alone. One matching endpoint, so every
    // event also writes its delivery row in the same transaction. SQLite, synchronous=full.
    herald = await freshHerald(ctx, 'api');
    const { h } = herald;
    client = new HeraldClient(h.url, 128);
    await client.createEndpoint(`http://127.0.0.1:${await freePort()}/hooks`, ['asset.created']);
    const tag = `in${ctx.run}-${Date.now()}`;
    // Warm-up, not counted: the same 64 in flight for up to 3,000 requests (or 3 s), so the
    // figure is the server's steady state (optimised code, statement cache, the commit's rhythm)
    // rather than its first seconds of module compilation and unoptimised code.
    const warm = await closedLoop({
      parallel: 64,
      count: SINGLE_WARMUP,
      seconds: 3,
      deadline: ctx.deadline,
      label: `${ctx.label} warm-up`,
      unit: 'events',
      send: async (i) => {
        await client.call('POST', '/api/v2/events', makeEvent(`${tag}-w`, i, now()));
        return 1;
      },
    });
    const single = await closedLoop({
      parallel: 64,
      count: ctx.quick ? 5_000 : 50_000,
      seconds: ctx.quick ? 10 : 30,
      deadline: ctx.deadline,
      label: `${ctx.label} single`,
      unit: 'events',
      send: async (i) => {
        const out = await client.call('POST', '/api/v2/events', makeEvent(`${tag}-s`, i, now()));
        return out.duplicate ? 0 : 1;
      },
    });
    h.check();
    const batch = await closedLoop({
      parallel: 16,
      count: ctx.quick ? 200 : 3_000,
      seconds: ctx.quick ? 10 : 30,
      deadline: ctx.deadline,
      label: `${ctx.label} batch of 100`,
      unit: 'events',
      send: async (i) => {
        const sentAt = now();
        const events = Array.from({ length: 100 }, (_, k) => makeEvent(`${tag}-b${i}`, k, sentAt));
        const out = await client.call('POST', '/api/v2/events/batch', { events });
        return out.data.filter((e) => !e.duplicate).length;
      },
    });
    h.check();
    return {
      metrics: {
        single_rps: single.accepted / single.seconds,
        warmup_rps: warm.accepted / warm.seconds,
        batch_eps: batch.accepted / batch.seconds,
        single_p99_ms: single.p99,
        batch_p99_ms: batch.p99,
        peak_rss_mb: (h.memory()?.hwm ?? 0) / 2 ** 20,
      },
      info: { warmup: { requests: warm.accepted, seconds: warm.seconds, parallel: 64 }, single: { ...single, parallel: 64 }, batch: { ...batch, parallel: 16, batch_size: 100 }, sqlite_sync: 'full', throttled: client.throttled },
    };
  } finally {
    await cleanup(() => client?.close(), () => herald?.h.stop());
    if (herald) removeTemp(herald.dataDir);
  }
}

// ─────────────────────────────────────────────────────────────────────────── latency
async function latency(ctx) {
  const rate = 1000;
  const seconds = ctx.quick ? 10 : 30;
  const total = rate * seconds;
  const warmSeconds = 3;
  const rx = await startReceiver();
  let herald;
  let client;
  try {
    herald = await freshHerald(ctx);
    const { h } = herald;
    const [port] = await rx.listen(1);
    client = new HeraldClient(h.url, 64);
    await client.createEndpoint(`http://127.0.0.1:${port}/hooks`, ['asset.created']);
    // Open loop: event i is sent at t0 + i ms whatever the answers do (bounded in flight).
    const openLoop = async (count, tag, label) => {
      const t0 = now();
      let sent = 0;
      let inFlight = 0;
      let failed = null;
      const acks = [];
      while (sent < count) {
        ctx.deadline.check();
        if (failed) throw failed;
        const due = Math.min(count, Math.floor(((now() - t0) * rate) / 1000) + 1);
        while (sent < due) {
          if (inFlight >= 5_000) throw new Error(`${label}: 5,000 publish requests outstanding; Herald cannot keep up with ${rate}/s`);
          const i = sent++;
          inFlight++;
          const a = now();
          client
            .call('POST', '/api/v2/events', makeEvent(tag, i, a))
            .then(() => acks.push(now() - a))
            .catch((err) => (failed ??= err))
            .finally(() => inFlight--);
        }
        if ((sent & 255) === 0) progress.update(`${label}: published ${fmt(sent)}/${fmt(count)} at ${rate}/s · in flight ${inFlight}`);
        h.check();
        await sleep(1);
      }
      await waitArrivals(rx, count, { deadline: ctx.deadline, heralds: [h], label, t0 });
      if (failed) throw failed;
      return { t0, acks };
    };
    // Warm-up at the same rate (connection pools, JIT, page cache), reported apart, then measure.
    const warm = await openLoop(warmSeconds * rate, `lat${ctx.run}-w`, `${ctx.label} warm-up`);
    const warmRep = await rx.report(warm.t0, 1000);
    await rx.reset();
    const before = dispatchCounters(await client.metricsText());
    const { t0, acks } = await openLoop(total, `lat${ctx.run}`, ctx.label);
    const rep = await rx.report(t0, 1000);
    const after = dispatchCounters(await client.metricsText());
    const slow = (...ops) => ops.reduce((sum, op) => sum + (after.store[op]?.slow ?? 0) - (before.store[op]?.slow ?? 0), 0);
    return {
      metrics: {
        p50_ms: rep.latency?.p50 ?? null,
        p99_ms: rep.latency?.p99 ?? null,
        p999_ms: rep.latency?.p999 ?? null,
        max_ms: rep.latency?.max ?? null,
        ack_p99_ms: percentile(acks, 99),
        slow_ingests: slow('ingest'),
        slow_dispatch_calls: slow('claim', 'settle'),
        warmup_p99_ms: warmRep.latency?.p99 ?? null,
        duplicates: rep.duplicates,
      },
      info: { rate, seconds, events: total, warmup_seconds: warmSeconds },
      timeline: rep.timeline,
    };
  } finally {
    await cleanup(() => client?.close(), () => herald?.h.stop(), () => rx.stop());
    if (herald) removeTemp(herald.dataDir);
  }
}

// ──────────────────────────────────────────────────────────────────────────── fanout
async function fanout(ctx) {
  const endpoints = 1000;
  const rx = await startReceiver();
  let herald;
  let client;
  try {
    herald = await freshHerald(ctx);
    const { h } = herald;
    // One port per endpoint: 1,000 distinct origins, as 1,000 customers' endpoints would be.
    const ports = await rx.listen(endpoints);
    client = new HeraldClient(h.url, 16);
    const created = now();
    await client.createEndpoints(ports.map((p, i) => ({ url: `http://127.0.0.1:${p}/hooks/${i}`, eventTypes: ['asset.*'] })), 16, ctx.deadline);
    const createSeconds = (now() - created) / 1000;
    await sleep(200);
    const t0 = now();
    const out = await client.call('POST', '/api/v2/events', makeEvent(`fan${ctx.run}`, 0, t0));
    const ack = now() - t0;
    if (out.deliveries !== endpoints) throw new Error(`${ctx.label}: the event matched ${out.deliveries} endpoints, expected ${endpoints}`);
    await waitArrivals(rx, endpoints, { deadline: ctx.deadline, heralds: [h], label: ctx.label, t0, stallMs: 30_000 });
    const rep = await rx.report(t0, 50);
    return {
      metrics: { last_ms: rep.last - t0, first_ms: rep.first - t0, ack_ms: ack, duplicates: rep.duplicates },
      info: { endpoints, create_endpoints_s: createSeconds },
      timeline: rep.timeline,
    };
  } finally {
    await cleanup(() => client?.close(), () => herald?.h.stop(), () => rx.stop());
    if (herald) removeTemp(herald.dataDir);
  }
}

// ───────────────────────────────────────────────────────────────────────── isolation
async function healthyRate(ctx, { dead, events, label }) {
  const rx = await startReceiver();
  let herald;
  let client;
  try {
    herald = await freshHerald(ctx);
    const { h } = herald;
    const ports = await rx.listen(10);
    client = new HeraldClient(h.url, 8);
    const specs = ports.map((p, i) => ({ url: `http://127.0.0.1:${p}/hooks/${i}`, eventTypes: ['asset.created'] }));
    if (dead) {
      const [deadPort] = await rx.listen(1, 'hang');
      specs.push({ url: `http://127.0.0.1:${deadPort}/never`, eventTypes: ['asset.created'], extra: { timeout_ms: 1000 } });
    }
    await client.createEndpoints(specs, 8, ctx.deadline);
    const t0 = now();
    const cpu0 = h.cpuMs() ?? 0;
    const pub = client.publishBatches({ total: events, batchSize: 1000, parallel: 2, runTag: `iso${ctx.run}${dead ? 'd' : 'h'}`, deadline: ctx.deadline });
    pub.catch(() => {});
    await waitArrivals(rx, events * 10, { deadline: ctx.deadline, heralds: [h], label, t0 });
    const cpuMs = (h.cpuMs() ?? cpu0) - cpu0;
    await pub;
    const rep = await rx.report(t0);
    const counters = dispatchCounters(await client.metricsText());
    return {
      dead,
      rate: arrivalRate(rep),
      cpuUs: (cpuMs * 1000) / (events * 10),
      storeUs: storeTime(counters, events * 10).store_us,
      counters,
      hung: rep.hung,
      duplicates: rep.duplicates,
    };
  } finally {
    await cleanup(() => client?.close(), () => herald?.h.stop(), () => rx.stop());
    if (herald) removeTemp(herald.dataDir);
  }
}

async function isolation(ctx) {
  const events = ctx.quick ? 2_000 : 10_000;
  const aloneRun = () => healthyRate(ctx, { dead: false, events, label: `${ctx.label} 10 healthy` });
  const deadRun = () => healthyRate(ctx, { dead: true, events, label: `${ctx.label} 10 healthy + 1 dead` });
  // Three parts, the outer two of a kind and compared with the middle one through their mean:
  // the machine's speed drifts by up to 2× within minutes, and a drift that is steady over the
  // run cancels out. The kind that comes twice alternates between runs.
  const [first, middle, last] = ctx.run % 2 === 1 ? [aloneRun, deadRun, aloneRun] : [deadRun, aloneRun, deadRun];
  const parts = [await first(), await middle(), await last()];
  /** The mean of `key` over the parts with (or without) the dead endpoint; null if any is null. */
  const meanOf = (dead, key) => {
    const values = parts.filter((part) => part.dead === dead).map((part) => part[key]);
    return values.includes(null) ? null : values.reduce((sum, v) => sum + v, 0) / values.length;
  };
  const alone = meanOf(false, 'rate');
  const withDead = meanOf(true, 'rate');
  return {
    metrics: {
      ratio: alone && withDead !== null ? withDead / alone : null,
      healthy_alone_dps: alone,
      healthy_with_dead_dps: withDead,
      cpu_us_alone: meanOf(false, 'cpuUs'),
      cpu_us_with_dead: meanOf(true, 'cpuUs'),
      store_us_alone: meanOf(false, 'storeUs'),
      store_us_with_dead: meanOf(true, 'storeUs'),
      dead_attempts: meanOf(true, 'hung'),
    },
    info: { events, healthy_deliveries: events * 10, dead_timeout_ms: 1000, duplicates: parts.reduce((sum, part) => sum + part.duplicates, 0), parts: parts.map((part) => ({ dead: part.dead, rate: part.rate, cpu_us: part.cpuUs, store_us: part.storeUs, ...part.counters })) },
  };
}

// ─────────────────────────────────────────────────────────────────────────── backlog
async function backlog(ctx) {
  const total = ctx.quick ? 50_000 : 1_000_000;
  const dataDir = tempDir();
  const rx = await startReceiver();
  /** @type {Awaited<ReturnType<typeof startHerald>>[]} */
  const procs = [];
  let client;
  try {
    // Phase 1: the endpoint is down (nothing listens on its port) and no dispatcher runs
    // (`herald api`): 1,000,000 deliveries pile up as pending rows.
    const port = await freePort();
    const api = await startHerald({ command: 'api', dataDir, env: heraldEnv(), cpuProfDir: ctx.cpuProfDir, name: 'api' });
    procs.push(api);
    await waitHealthy(api);
    client = new HeraldClient(api.url, 8);
    await client.createEndpoint(`http://127.0.0.1:${port}/hooks`, ['asset.created']);
    const t1 = now();
    const pub = await client.publishBatches({
      total,
      batchSize: 1000,
      parallel: 4,
      runTag: `bk${ctx.run}`,
      deadline: ctx.deadline,
      onProgress: (n) => progress.update(`${ctx.label}: queueing ${fmt(n)}/${fmt(total)} · ${fmt((now() - t1) / 1000)} s`),
    });
    if (pub.deliveries !== total) throw new Error(`${ctx.label}: ${pub.deliveries}/${total} deliveries queued`);
    const apiPeak = api.memory()?.hwm ?? null;
    await client.close();
    client = undefined;
    await api.stop();
    // Phase 2: the endpoint comes up, and so does the dispatcher (`herald serve`).
    await rx.listen(1, 'ok', [port]);
    const t0 = now();
    const serve = await startHerald({ command: 'serve', dataDir, env: heraldEnv(), cpuProfDir: ctx.cpuProfDir, name: 'serve' });
    procs.push(serve);
    let maxRss = 0;
    const rssTimeline = [];
    // The drain has its own budget, shorter than the run's: a drain too slow to finish still
    // reports its rate and memory (marked incomplete) instead of only a timeout.
    const drainBudget = new Deadline(Math.min(ctx.quick ? 90_000 : 900_000, ctx.deadline.left - 30_000), `${ctx.label} drain`);
    let incomplete = null;
    await waitArrivals(rx, total, {
      deadline: drainBudget,
      heralds: [serve],
      label: `${ctx.label} draining`,
      t0,
      stallMs: 60_000,
      onPoll: () => {
        const m = serve.memory();
        if (m?.rss) {
          maxRss = Math.max(maxRss, m.rss);
          if (rssTimeline.length === 0 || now() - t0 - rssTimeline[rssTimeline.length - 1].t * 1000 >= 1000) rssTimeline.push({ t: (now() - t0) / 1000, rss_mb: m.rss / 2 ** 20 });
        }
      },
    }).catch((err) => {
      if (!(err instanceof TimeoutError)) throw err;
      incomplete = err.message;
    });
    const peak = serve.memory()?.hwm ?? maxRss;
    const rep = await rx.report(t0);
    if (incomplete) progress.log(`  ${ctx.label}: drain incomplete (${fmt(rep.unique)}/${fmt(total)} delivered when its budget ran out); figures are over what arrived`);
    return {
      partial: incomplete ? `${rep.unique}/${total} drained within ${Math.round(drainBudget.ms / 1000)} s` : undefined,
      metrics: {
        drain_dps: arrivalRate(rep),
        drain_s: incomplete ? null : (rep.last - t0) / 1000,
        drained: rep.unique,
        peak_rss_mb: peak / 2 ** 20,
        queue_eps: pub.accepted / pub.seconds,
        api_peak_rss_mb: apiPeak === null ? null : apiPeak / 2 ** 20,
        duplicates: rep.duplicates,
      },
      info: { backlog: total, queue_seconds: pub.seconds, rss: rssTimeline },
    };
  } finally {
    await cleanup(() => client?.close(), ...procs.map((p) => () => p.stop()), () => rx.stop());
    removeTemp(dataDir);
  }
}

// ────────────────────────────────────────────────────────────────────────── postgres
const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function pgAdmin() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_BASE, connectionTimeoutMillis: 5_000 });
  await client.connect();
  return client;
}

async function postgres(ctx) {
  const total = ctx.quick ? 10_000 : 100_000;
  let admin;
  try {
    admin = await pgAdmin();
  } catch (err) {
    return { status: 'unavailable', reason: `PostgreSQL not reachable at ${PG_BASE}: ${err.message}`, metrics: {} };
  }
  const metrics = {};
  const info = {};
  try {
    for (const workers of [1, 2]) {
      // A fresh database per measurement: whatever the driver does with schemas, nothing is shared.
      const db = `herald_bench_${process.pid}_${ctx.run}_${workers}`;
      await admin.query(`DROP DATABASE IF EXISTS ${db}`);
      await admin.query(`CREATE DATABASE ${db}`);
      const url = new URL(PG_BASE);
      url.pathname = `/${db}`;
      const dataDir = tempDir();
      try {
        const migrate = await runHerald({ command: 'migrate', dataDir, env: heraldEnv({ DATABASE_URL: url.href }) }, 60_000);
        if (migrate.code !== 0) {
          if (/postgres/i.test(migrate.output)) return { status: 'unavailable', reason: migrate.output.trim().split('\n').pop(), metrics: {} };
          throw new Error(`herald migrate failed (${migrate.code}): ${migrate.output}`);
        }
        const r = await deliverThroughput(ctx, { endpoints: 1, total, label: `${ctx.label} ${workers} worker${workers > 1 ? 's' : ''}`, command: 'api', workers, databaseUrl: url.href });
        metrics[`dps_w${workers}`] = r.metrics.dps;
        metrics[`p99_ms_w${workers}`] = r.metrics.p99_ms;
        info[`w${workers}`] = r.info;
      } finally {
        removeTemp(dataDir);
        await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
      }
    }
    return { metrics, info };
  } finally {
    await admin.end().catch(() => {});
  }
}

// ─────────────────────────────────────────────────────────────────────── definitions
/**
 * metric: [key, label, unit, decimals-ish]; hardTimeout: per run, ms.
 * @type {Record<string, { title: string, run: (ctx: RunCtx) => Promise<RunResult>, metrics: [string, string, string][], timeout: (quick: boolean) => number, runs?: number }>}
 */
export const SCENARIOS = {
  limit: {
    title: 'undici → receiver, no Herald (the machine ceiling)',
    run: limit,
    metrics: [['rps', 'requests/s straight to the receiver', '/s']],
    timeout: (q) => (q ? 60_000 : 180_000),
  },
  throughput: {
    title: 'events via the batch API, delivered (SQLite, synchronous=full)',
    run: throughput,
    metrics: [
      ['dps_1', 'deliveries/s, 1 endpoint', '/s'],
      ['dps_10', 'deliveries/s, 10 endpoints', '/s'],
      ['ratio_limit', 'deliveries/s ÷ limit, 1 endpoint (limit measured just before each run)', '%'],
      ['limit_rps', 'limit just before each run', '/s'],
      ['cpu_us_1', 'Herald CPU per delivery (publish included), 1 endpoint', ' µs'],
      ['cpu_us_10', 'Herald CPU per delivery (publish included), 10 endpoints', ' µs'],
      ['store_us_1', 'store time per delivery (ingest, claim, settle; waits included), 1 endpoint', ' µs'],
      ['slow_dispatch_calls_1', `claims and settlements over ${SLOW_STORE_CALL_SECONDS * 1000} ms, 1 endpoint`, ''],
      ['herald_cores_1', 'cores used from publish to last arrival, 1 endpoint: Herald', ''],
      ['receiver_cores_1', '… the receiver', ''],
      ['load_cores_1', '… the load generator (the bench process)', ''],
      ['other_cores_1', '… every other process on the machine', ''],
      ['idle_cores_1', '… idle', ''],
      ['iowait_cores_1', '… idle while waiting for the disk (iowait)', ''],
      ['unaccounted_cores_1', "… not in the machine's accounts at all (taken by the host, where it reports no steal)", ''],
      ['publish_eps', 'batch publish, events/s accepted', '/s'],
      ['p99_ms_1', 'publish→arrival p99, 1 endpoint', ' ms'],
      ['dps_publishing_1', 'deliveries/s while publishing, 1 endpoint', '/s'],
      ['dps_after_1', 'deliveries/s after the publish, 1 endpoint', '/s'],
      ['main_cpu_publishing_1', 'main thread CPU while publishing (share of a core)', '%'],
      ['other_cpu_publishing_1', 'busiest other thread (dispatch) CPU while publishing', '%'],
      ['main_cpu_after_1', 'main thread CPU after the publish', '%'],
      ['other_cpu_after_1', 'busiest other thread (dispatch) CPU after the publish', '%'],
      ['duplicates', 'duplicate deliveries', ''],
      ['peak_rss_mb', 'peak RSS of Herald', ' MB'],
    ],
    timeout: (q) => (q ? 180_000 : 900_000),
  },
  ingest: {
    title: 'accepted events/s, 202 after commit (herald api, SQLite, synchronous=full)',
    run: ingest,
    metrics: [
      ['single_rps', 'single-event requests/s (64 in flight)', '/s'],
      ['warmup_rps', 'single-event requests/s in the warm-up before it (not counted above)', '/s'],
      ['batch_eps', 'events/s in batches of 100 (16 in flight)', '/s'],
      ['single_p99_ms', 'single request p99', ' ms'],
      ['batch_p99_ms', 'batch request p99', ' ms'],
      ['peak_rss_mb', 'peak RSS of Herald', ' MB'],
    ],
    timeout: (q) => (q ? 120_000 : 300_000),
  },
  latency: {
    title: '1,000 events/s, one request each, 1 endpoint',
    run: latency,
    metrics: [
      ['p50_ms', 'publish→arrival p50', ' ms'],
      ['p99_ms', 'publish→arrival p99', ' ms'],
      ['p999_ms', 'publish→arrival p99.9', ' ms'],
      ['max_ms', 'publish→arrival max', ' ms'],
      ['ack_p99_ms', 'publish 202 p99', ' ms'],
      ['slow_ingests', `ingest commits over ${SLOW_STORE_CALL_SECONDS * 1000} ms`, ''],
      ['slow_dispatch_calls', `claims and settlements over ${SLOW_STORE_CALL_SECONDS * 1000} ms`, ''],
      ['warmup_p99_ms', 'publish→arrival p99 in the first 3 s (warm-up, not counted above)', ' ms'],
    ],
    timeout: (q) => (q ? 120_000 : 240_000),
  },
  fanout: {
    title: 'one event to 1,000 endpoints (1,000 origins)',
    run: fanout,
    metrics: [
      ['last_ms', 'publish → last arrival', ' ms'],
      ['first_ms', 'publish → first arrival', ' ms'],
      ['ack_ms', 'publish 202', ' ms'],
    ],
    timeout: (q) => (q ? 120_000 : 180_000),
  },
  isolation: {
    title: '10 healthy endpoints, with and without 1 that never answers (timeout 1 s)',
    run: isolation,
    metrics: [
      ['ratio', 'healthy deliveries/s with ÷ without the dead one', '%'],
      ['healthy_alone_dps', 'healthy deliveries/s, alone', '/s'],
      ['healthy_with_dead_dps', 'healthy deliveries/s, with the dead one', '/s'],
      ['cpu_us_alone', 'Herald CPU per healthy delivery, alone', ' µs'],
      ['cpu_us_with_dead', 'Herald CPU per healthy delivery, with the dead one', ' µs'],
      ['store_us_alone', 'store time per healthy delivery (ingest, claim, settle), alone', ' µs'],
      ['store_us_with_dead', 'store time per healthy delivery, with the dead one', ' µs'],
      ['dead_attempts', 'attempts that hung on the dead endpoint', ''],
    ],
    timeout: (q) => (q ? 180_000 : 600_000),
  },
  backlog: {
    title: 'deliveries queued while the endpoint was down, then drained',
    run: backlog,
    metrics: [
      ['drain_dps', 'drain deliveries/s', '/s'],
      ['peak_rss_mb', 'peak RSS of herald serve while draining', ' MB'],
      ['drain_s', 'start → last arrival', ' s'],
      ['drained', 'deliveries drained', ''],
      ['queue_eps', 'queueing, events/s (batch API)', '/s'],
      ['api_peak_rss_mb', 'peak RSS of herald api while queueing', ' MB'],
    ],
    timeout: (q) => (q ? 240_000 : 1_800_000),
  },
  postgres: {
    title: 'throughput on PostgreSQL: herald api + N × herald worker',
    run: postgres,
    metrics: [
      ['dps_w1', 'deliveries/s, 1 worker', '/s'],
      ['dps_w2', 'deliveries/s, 2 workers', '/s'],
      ['p99_ms_w1', 'publish→arrival p99, 1 worker', ' ms'],
      ['p99_ms_w2', 'publish→arrival p99, 2 workers', ' ms'],
    ],
    timeout: (q) => (q ? 300_000 : 900_000),
  },
};

export const ORDER = ['limit', 'throughput', 'ingest', 'latency', 'fanout', 'isolation', 'backlog', 'postgres'];
