// A minimal Server-Sent Events writer over a raw Node response.
import type { ServerResponse } from 'node:http';

export const HEARTBEAT_MS = 15_000;
/** A client this far behind is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface EventStream {
  /** One event; `data` is serialised as one JSON line. Returns false once the stream is closed. */
  send(event: string, data: unknown, id?: string): boolean;
  comment(text: string): void;
  close(): void;
  readonly closed: boolean;
}

export interface EventStreamOptions {
  readonly heartbeatMs?: number;
  /** Reconnection delay advertised to EventSource clients. */
  readonly retryMs?: number;
  /** Called once when the stream ends, whichever side ended it. */
  readonly onClose?: () => void;
}

/** Writes the SSE head and starts the heartbeat; the caller has hijacked the response. */
export function openEventStream(res: ServerResponse, o: EventStreamOptions = {}): EventStream {
  let closed = false;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // Reverse proxies (nginx) would otherwise buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.write(`retry: ${o.retryMs ?? 3_000}\n: connected\n\n`);

  const heartbeat = setInterval(() => write(': heartbeat\n\n'), o.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();

  function close(): void {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    if (!res.writableEnded) res.end();
    o.onClose?.();
  }

  function write(chunk: string): boolean {
    if (closed || res.destroyed) {
      close();
      return false;
    }
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      res.destroy();
      close();
      return false;
    }
    res.write(chunk);
    return true;
  }

  res.on('close', close);
  res.on('error', close);

  return {
    send(event, data, id) {
      const lines = `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      return write(lines);
    },
    comment(text) {
      write(`: ${text.replace(/[\r\n]/g, ' ')}\n\n`);
    },
    close,
    get closed() {
      return closed;
    },
  };
}
