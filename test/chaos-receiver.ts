// A hostile webhook receiver on 127.0.0.1 for reliability tests: one HTTP server whose first
// path segment picks how it misbehaves (`/<mode>/<anything>`). Every request is recorded with
// the time it arrived and its `webhook-id`, so tests can count attempts per message and measure
// the gaps between them.
//
//   ok              200 "ok" at once
//   fail-500        500 with a short body
//   hang            reads the request and never answers (the sender's timeout must fire)
//   reset           destroys the connection as soon as the request has arrived
//   endless         500 and a body that never ends (chunked, until the sender hangs up)
//   huge            200 with a 50 MiB body (Content-Length set; written as the sender reads)
//   slow-headers    drips "HTTP/1.1 200 OK…" one byte per 100 ms: the headers never finish in time
//   redirect-loop   302 with Location: the very same URL
//   redirect-private 302 with Location: http://10.0.0.1/ (a private address)
//   retry-after     the first request of each webhook-id: 429 + Retry-After: <n> s; later ones 200
//   always-429      429 + Retry-After: <n> s every time
//   garbage         writes bytes that are not HTTP and closes the connection
//
// Bodies are written with back-pressure from one shared 64 KiB chunk, so the receiver itself
// never holds a huge body in memory.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const CHAOS_MODES = [
  'ok',
  'fail-500',
  'hang',
  'reset',
  'endless',
  'huge',
  'slow-headers',
  'redirect-loop',
  'redirect-private',
  'retry-after',
  'always-429',
  'garbage',
] as const;
export type ChaosMode = (typeof CHAOS_MODES)[number];

export interface ChaosRequest {
  readonly mode: ChaosMode | 'unknown';
  readonly path: string;
  readonly webhookId: string | undefined;
  readonly at: number;
}

export interface ChaosReceiverOptions {
  /** Seconds sent in Retry-After by `retry-after` and `always-429` (default 1). */
  readonly retryAfterSeconds?: number;
  /** Size of the `huge` body (default 50 MiB). */
  readonly hugeBytes?: number;
  /** Delay between the bytes of `slow-headers` (default 100 ms). */
  readonly dripMs?: number;
}

export interface ChaosReceiver {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** `${url}/${mode}/${suffix}` */
  urlFor(mode: ChaosMode, suffix?: string): string;
  readonly requests: ChaosRequest[];
  /** Requests whose path starts with `/${mode}/` (or `/${mode}/${suffix}` when given). */
  requestsTo(mode: ChaosMode, suffix?: string): ChaosRequest[];
  /** Bytes of response bodies written so far by `endless` and `huge`, to show they were cut short. */
  bodyBytesWritten(mode: 'endless' | 'huge'): number;
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 'x');
const SLOW_RESPONSE = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok';

function modeOf(path: string): ChaosMode | 'unknown' {
  const first = path.split('?')[0].split('/')[1] ?? '';
  return (CHAOS_MODES as readonly string[]).includes(first) ? (first as ChaosMode) : 'unknown';
}

export async function startChaosReceiver(options: ChaosReceiverOptions = {}): Promise<ChaosReceiver> {
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  const hugeBytes = options.hugeBytes ?? 50 * 1024 * 1024;
  const dripMs = options.dripMs ?? 100;
  const requests: ChaosRequest[] = [];
  const seenIds = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const written = { endless: 0, huge: 0 };

  /** Writes `total` bytes (Infinity: forever) with back-pressure until the peer goes away. */
  const stream = (res: ServerResponse, total: number, mode: 'endless' | 'huge') => {
    let left = total;
    const pump = () => {
      while (left > 0 && !res.destroyed) {
        const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= chunk.length;
        written[mode] += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (left <= 0 && !res.destroyed) res.end();
    };
    res.on('error', () => undefined);
    pump();
  };

  const respond = (req: IncomingMessage, res: ServerResponse, mode: ChaosMode | 'unknown', webhookId: string | undefined) => {
    const socket = req.socket;
    switch (mode) {
      case 'ok':
        return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      case 'fail-500':
        return void res.writeHead(500, { 'content-type': 'text/plain' }).end('receiver failed');
      case 'hang':
        return; // never answer; the connection closes when the sender gives up
      case 'reset':
        return void socket.destroy();
      case 'endless':
        res.writeHead(500, { 'content-type': 'application/octet-stream' });
        return stream(res, Number.POSITIVE_INFINITY, 'endless');
      case 'huge':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(hugeBytes) });
        return stream(res, hugeBytes, 'huge');
      case 'slow-headers': {
        let i = 0;
        const drip = () => {
          if (socket.destroyed || i >= SLOW_RESPONSE.length) return;
          socket.write(SLOW_RESPONSE[i++]);
          const t = setTimeout(() => (timers.delete(t), drip()), dripMs);
          timers.add(t);
        };
        return drip();
      }
      case 'redirect-loop':
        return void res.writeHead(302, { location: req.url ?? '/' }).end();
      case 'redirect-private':
        return void res.writeHead(302, { location: 'http://10.0.0.1/' }).end();
      case 'retry-after':
        if (webhookId !== undefined && !seenIds.has(webhookId)) {
          seenIds.add(webhookId);
          return void res.writeHead(429, { 'retry-after': retryAfter }).end('slow down');
        }
        return void res.writeHead(200).end('ok');
      case 'always-429':
        return void res.writeHead(429, { 'retry-after': retryAfter }).end('slow down');
      case 'garbage':
        socket.write('\x00\x01 this is not HTTP \xff\xfe\r\n\r\n');
        return void socket.end();
      default:
        return void res.writeHead(404).end('unknown chaos mode');
    }
  };

  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const mode = modeOf(path);
    const id = req.headers['webhook-id'];
    const webhookId = typeof id === 'string' ? id : undefined;
    // Read (and drop) the request body before misbehaving, as a real receiver would.
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    req.on('end', () => {
      requests.push({ mode, path, webhookId, at: Date.now() });
      respond(req, res, mode, webhookId);
    });
  });
  // Node's own request timeouts would cut `hang` short on the receiver side; the sender decides.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const prefix = (mode: ChaosMode, suffix?: string) => (suffix === undefined ? `/${mode}/` : `/${mode}/${suffix}`);

  return {
    url,
    urlFor: (mode, suffix = '') => `${url}/${mode}/${suffix}`,
    requests,
    requestsTo: (mode, suffix) => requests.filter((r) => r.path.startsWith(prefix(mode, suffix))),
    bodyBytesWritten: (mode) => written[mode],
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
