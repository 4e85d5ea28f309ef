// The benchmark's webhook receiver: a separate process (forked by the harness, driven over IPC).
// node:http, keep-alive, answers 200 at once, records the arrival time and `webhook-id` of
// every request, and reports counts and latency figures back to the parent on request.
//
// Messages from the parent: { id, cmd, ...args }; every answer is { id, ok, ...result }.
//   listen { count, mode: 'ok' | 'hang', ports? }  → { ports }   (127.0.0.1 only)
//   stats                                         → cheap counters (progress lines)
//   report { t0, bucketMs }                       → counters, latency percentiles, timeline
//   reset                                         → forget every recording
//   close                                         → close every server
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

/** High-resolution wall clock in ms since the epoch (same base as the parent's). */
const now = () => performance.timeOrigin + performance.now();

const MAX_SAMPLES = 4_000_000;
const SENT_AT = /"sent_at":(\d+(?:\.\d+)?)/;

/** @type {import('node:http').Server[]} */
const servers = [];
/** @type {Set<import('node:net').Socket>} */
const sockets = new Set();

let state = fresh();
function fresh() {
  return {
    count: 0,
    hung: 0,
    ids: new Set(),
    first: 0,
    last: 0,
    /** arrival time and latency of each sample (latency NaN when the body had no sent_at) */
    at: new Float64Array(1 << 16),
    lat: new Float64Array(1 << 16),
    n: 0,
    /** per-port arrivals */
    perPort: new Map(),
  };
}

function record(arrival, id, port, body) {
  const s = state;
  s.count++;
  if (s.first === 0) s.first = arrival;
  s.last = arrival;
  if (id) s.ids.add(`${port}:${id}`);
  s.perPort.set(port, (s.perPort.get(port) ?? 0) + 1);
  if (s.n < MAX_SAMPLES) {
    if (s.n === s.at.length) {
      const grow = (a) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      s.at = grow(s.at);
      s.lat = grow(s.lat);
    }
    const m = SENT_AT.exec(body);
    s.at[s.n] = arrival;
    s.lat[s.n] = m ? arrival - Number(m[1]) : NaN;
    s.n++;
  }
}

function makeServer(mode) {
  const server = createServer({ keepAliveTimeout: 120_000, headersTimeout: 130_000, requestTimeout: 0 }, (req, res) => {
    const arrival = now();
    if (mode === 'hang') {
      // Never answers: the caller's timeout is the only way out. Keep the body flowing.
      state.hung++;
      req.resume();
      return;
    }
    const id = req.headers['webhook-id'];
    const port = req.socket.localPort;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      if (body.length < 64 * 1024) body += chunk;
    });
    req.on('end', () => {
      record(arrival, typeof id === 'string' ? id : '', port, body);
      res.writeHead(200, { 'content-length': '2', 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 120_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return server;
}

function listenOne(mode, port) {
  return new Promise((resolve, reject) => {
    const server = makeServer(mode);
    server.once('error', reject);
    server.listen({ port: port ?? 0, host: '127.0.0.1', backlog: 4096 }, () => {
      servers.push(server);
      resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port);
    });
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function report({ t0 = 0, bucketMs = 1000 } = {}) {
  const s = state;
  const lats = [];
  for (let i = 0; i < s.n; i++) if (!Number.isNaN(s.lat[i])) lats.push(s.lat[i]);
  const sorted = Float64Array.from(lats).sort();
  // Timeline: per bucket (arrival time since t0): arrivals, p50, p99, max latency.
  const buckets = new Map();
  for (let i = 0; i < s.n; i++) {
    const b = Math.floor((s.at[i] - t0) / bucketMs);
    let e = buckets.get(b);
    if (!e) buckets.set(b, (e = { n: 0, l: [] }));
    e.n++;
    if (!Number.isNaN(s.lat[i])) e.l.push(s.lat[i]);
  }
  const timeline = [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([b, e]) => {
      const l = Float64Array.from(e.l).sort();
      return { t: (b * bucketMs) / 1000, n: e.n, p50: percentile(l, 50), p99: percentile(l, 99), max: l.length ? l[l.length - 1] : null };
    });
  return {
    count: s.count,
    unique: s.ids.size,
    duplicates: s.count - s.ids.size,
    hung: s.hung,
    first: s.first,
    last: s.last,
    perPort: Object.fromEntries(s.perPort),
    latency: sorted.length
      ? { n: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted[sorted.length - 1], min: sorted[0] }
      : null,
    timeline,
  };
}

async function closeAll() {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(() => r(undefined)))));
}

process.on('message', async (msg) => {
  const { id, cmd } = msg;
  try {
    let result = {};
    if (cmd === 'listen') {
      const ports = [];
      for (let i = 0; i < msg.count; i++) ports.push(await listenOne(msg.mode ?? 'ok', msg.ports?.[i]));
      result = { ports };
    } else if (cmd === 'stats') {
      result = { count: state.count, unique: state.ids.size, hung: state.hung, first: state.first, last: state.last, rss: process.memoryUsage.rss() };
    } else if (cmd === 'report') {
      result = report(msg);
    } else if (cmd === 'reset') {
      state = fresh();
    } else if (cmd === 'close') {
      await closeAll();
    } else {
      throw new Error(`unknown command ${cmd}`);
    }
    process.send?.({ id, ok: true, ...result });
  } catch (err) {
    process.send?.({ id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});

// The harness owns this process: when it goes away, so do we.
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, ready: true });
