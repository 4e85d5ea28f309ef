// The load driver's side of Herald's native API, over one keep-alive undici Pool per Herald.
import { Pool } from 'undici';
import { ADMIN_KEY } from './procs.mjs';
import { now, sleep } from './util.mjs';

export const EVENT_TYPES = [
  'asset.created',
  'asset.deleted',
  'asset.downloaded',
  'asset.shared',
  'asset.restored',
  'asset.metadata.updated',
  'collection.created',
  'collection.updated',
  'collection.deleted',
  'collection.shared',
];

export class HttpError extends Error {
  constructor(status, body, what) {
    super(`${what}: HTTP ${status} ${String(body).slice(0, 300)}`);
    this.status = status;
  }
}

/** A representative DAM event; `data.sent_at` lets the receiver measure publish → arrival. */
export function makeEvent(runTag, i, sentAt, type = 'asset.created') {
  return {
    id: `${runTag}-${i}`,
    type,
    resource: { type: 'asset', id: `asset-${i}` },
    actor: { id: 'user-42', first_name: 'Ada', last_name: 'Bench' },
    data: { filename: `IMG_${i}.jpg`, mime_type: 'image/jpeg', size: 2_483_122, folder: '/campaigns/2025/spring', sent_at: sentAt },
  };
}

export class HeraldClient {
  /** @param {string} url @param {number} connections */
  constructor(url, connections = 16) {
    this.url = url;
    this.pool = new Pool(url, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    /** 429/503 answers that were retried */
    this.throttled = 0;
  }

  /** Herald's Prometheus exposition (GET /metrics), as text. */
  async metricsText() {
    const res = await this.pool.request({ method: 'GET', path: '/metrics' });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new HttpError(res.statusCode, text, 'GET /metrics');
    return text;
  }

  /** One request; 429/503 are retried (bounded) after Retry-After, other non-2xx throw. */
  async call(method, path, body, what = `${method} ${path}`) {
    for (let attempt = 0; ; attempt++) {
      const res = await this.pool.request({
        method,
        path,
        headers: { 'x-api-key': ADMIN_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.body.text();
      if ((res.statusCode === 429 || res.statusCode === 503) && attempt < 20) {
        this.throttled++;
        const ra = Number(res.headers['retry-after']);
        await sleep(Number.isFinite(ra) && ra > 0 ? Math.min(ra * 1000, 5_000) : 100 * (attempt + 1));
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) throw new HttpError(res.statusCode, text, what);
      return text ? JSON.parse(text) : undefined;
    }
  }

  async createEndpoint(url, eventTypes = ['asset.created'], extra = {}) {
    const ep = await this.call('POST', '/api/v2/endpoints', { url, event_types: eventTypes, ...extra }, 'create endpoint');
    return ep.id;
  }

  /** Creates endpoints with bounded parallelism; returns their ids in order. */
  async createEndpoints(specs, parallel = 8, deadline) {
    const ids = new Array(specs.length);
    let next = 0;
    const worker = async () => {
      while (next < specs.length) {
        deadline?.check('creating endpoints');
        const i = next++;
        ids[i] = await this.createEndpoint(specs[i].url, specs[i].eventTypes, specs[i].extra);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, specs.length) }, worker));
    return ids;
  }

  /**
   * Publishes `total` events in batches of `batchSize` with `parallel` requests in flight.
   * `typeOf(i)` picks each event's type. Returns { accepted, deliveries, seconds }.
   */
  async publishBatches({ total, batchSize = 1000, parallel = 4, runTag, typeOf = () => 'asset.created', deadline, onProgress }) {
    let next = 0;
    let accepted = 0;
    let deliveries = 0;
    const started = now();
    const worker = async () => {
      while (next < total) {
        deadline?.check(`publishing (${accepted}/${total} accepted)`);
        const from = next;
        const to = Math.min(total, from + batchSize);
        next = to;
        const sentAt = now();
        const events = [];
        for (let i = from; i < to; i++) events.push(makeEvent(runTag, i, sentAt, typeOf(i)));
        const out = await this.call('POST', '/api/v2/events/batch', { events }, 'publish batch');
        accepted += out.data.length;
        for (const e of out.data) deliveries += e.deliveries;
        onProgress?.(accepted);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    return { accepted, deliveries, seconds: (now() - started) / 1000 };
  }

  async close() {
    await this.pool.close();
  }
}

/** The histogram bucket that store calls over this are counted from (one of Herald's bounds). */
export const SLOW_STORE_CALL_SECONDS = 0.025;

/**
 * What Herald's dispatch did so far, from its /metrics: store calls, their seconds and the calls
 * slower than SLOW_STORE_CALL_SECONDS by operation (ingest, claim, settle, nextDueAt), and
 * deliveries taken by claim and from ingest.
 */
export function dispatchCounters(text) {
  const out = { store: {}, taken: {} };
  const fast = {};
  for (const line of text.split('\n')) {
    let m = /^herald_store_operation_duration_seconds_(count|sum)\{operation="(\w+)"\} (\S+)$/.exec(line);
    if (m) {
      const op = (out.store[m[2]] ??= { calls: 0, seconds: 0, slow: 0 });
      if (m[1] === 'count') op.calls = Number(m[3]);
      else op.seconds = Number(m[3]);
      continue;
    }
    m = /^herald_store_operation_duration_seconds_bucket\{le="([^"]+)",operation="(\w+)"\} (\S+)$/.exec(line);
    if (m && Number(m[1]) === SLOW_STORE_CALL_SECONDS) fast[m[2]] = Number(m[3]);
    m = /^herald_dispatcher_taken_total\{from="(\w+)"\} (\S+)$/.exec(line);
    if (m) out.taken[m[1]] = Number(m[2]);
  }
  for (const [name, op] of Object.entries(out.store)) op.slow = op.calls - (fast[name] ?? op.calls);
  return out;
}
