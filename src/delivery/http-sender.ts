// Sends one attempt over a shared undici Agent (keep-alive pools per origin) and reads at
// most a bounded part of the answer. It never follows redirects.
import { Agent, request, type Dispatcher as UndiciDispatcher } from 'undici';

export const MAX_RESPONSE_READ = 64 * 1024;
export const MAX_RESPONSE_LOGGED = 4 * 1024;

export interface OutboundRequest {
  readonly url: string;
  readonly method: 'POST' | 'PUT';
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
  readonly timeoutMs: number;
}

export interface HttpAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The first 4 KiB of the body, as text. */
  readonly bodyStart: string;
}

export interface HttpSenderOptions {
  /** undici connector options or a custom connector (the SSRF guard pins addresses here). */
  readonly connect?: Agent.Options['connect'];
  readonly connectionsPerOrigin?: number;
}

export class HttpSender {
  readonly agent: Agent;

  constructor(options: HttpSenderOptions = {}) {
    this.agent = new Agent({
      connect: options.connect,
      connections: options.connectionsPerOrigin ?? 64,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      pipelining: 1,
    });
  }

  async send(req: OutboundRequest): Promise<HttpAnswer> {
    // One deadline for the whole exchange, cleared as soon as it is over. AbortSignal.timeout
    // would keep its timer, and through its listeners undici's request state, alive for the
    // full timeout after every answer: at thousands of deliveries a second, hundreds of MB of
    // old-generation garbage (measured on the backlog drain).
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('the endpoint did not answer in time', 'TimeoutError')), req.timeoutMs);
    try {
      const res = await request(req.url, {
        dispatcher: this.agent,
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: controller.signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const bodyStart = await readBounded(res.body);
      return { statusCode: res.statusCode, headers: res.headers, bodyStart };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * Reads up to 64 KiB (so a keep-alive connection can be reused for ordinary answers) and
 * destroys the stream past that: a huge or endless body never costs more than the limit.
 */
async function readBounded(body: UndiciDispatcher.ResponseData['body']): Promise<string> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let readBytes = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      readBytes += buf.length;
      if (keptBytes < MAX_RESPONSE_LOGGED) {
        const part = buf.subarray(0, MAX_RESPONSE_LOGGED - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
      if (readBytes > MAX_RESPONSE_READ) {
        body.destroy();
        break;
      }
    }
  } catch {
    // The status line already arrived; a body cut short does not change the verdict.
  }
  return Buffer.concat(kept).toString('utf8');
}
