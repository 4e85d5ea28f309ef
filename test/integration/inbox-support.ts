// Shared by the inbox tests: a live SSE reader over fetch.
import { readSse, type SseMessage } from '../../src/cli/sse.js';

export interface LiveStream {
  readonly status: number;
  readonly contentType: string | null;
  readonly events: SseMessage[];
  /** Resolves once at least n events arrived. */
  next(n: number, timeoutMs?: number): Promise<SseMessage[]>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

export async function openStream(url: string, key: string, headers: Record<string, string> = {}): Promise<LiveStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { 'x-api-key': key, ...headers }, signal: abort.signal });
  const events: SseMessage[] = [];
  const waiters: (() => void)[] = [];
  const ended = (async () => {
    if (!res.ok || !res.body) return;
    try {
      for await (const m of readSse(res.body)) {
        events.push(m);
        for (const w of waiters.splice(0)) w();
      }
    } catch {
      // aborted
    }
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    ended,
    async next(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} events, got ${events.length}: ${JSON.stringify(events)}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 50))]);
      }
      return events;
    },
    close: () => abort.abort(),
  };
}
