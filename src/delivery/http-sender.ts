// Sends one attempt over a shared undici Agent (an OriginPool of keep-alive connections per
// origin) and reads at most a bounded part of the answer. It never follows redirects.
//
// It dispatches with its own handler instead of undici's request(): an attempt needs the
// status, the headers and the first 4 KiB of the body, and request()'s Readable stream,
// abort-signal wiring and async iteration were a tenth of the dispatcher's CPU (profiled).
import { Agent, buildConnector, type Dispatcher as UndiciDispatcher } from 'undici';
import { OriginPool, type OriginPoolOptions } from './origin-pool.js';

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
  /**
   * Connections per origin; unlimited by default. Herald's dispatcher bounds requests per
   * endpoint, and several endpoints may share an origin (one receiving host, many paths): a cap
   * per origin would let one hung endpoint hold every connection and starve the others.
   */
  readonly connectionsPerOrigin?: number;
}

/** Endpoint URLs repeat: their origin and path are split once, not per attempt. */
const MAX_CACHED_TARGETS = 10_000;

export class HttpSender {
  readonly agent: Agent;
  private readonly targets = new Map<string, { readonly origin: string; readonly path: string }>();

  constructor(options: HttpSenderOptions = {}) {
    // One connector for every connection: given an object, each Client would build its own.
    const connect = typeof options.connect === 'function' ? options.connect : buildConnector({ ...options.connect });
    this.agent = new Agent({
      factory: (origin, opts) => new OriginPool(origin, opts as OriginPoolOptions),
      connect,
      connections: options.connectionsPerOrigin ?? null,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      pipelining: 1,
    });
  }

  send(req: OutboundRequest): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const { origin, path } = this.target(req.url);
      const exchange = new Exchange(resolve, reject, req.timeoutMs);
      try {
        this.agent.dispatch(
          { origin, path, method: req.method, headers: req.headers, body: req.body, headersTimeout: req.timeoutMs, bodyTimeout: req.timeoutMs },
          exchange,
        );
      } catch (err) {
        exchange.fail(err);
      }
    });
  }

  /** Closes its connections once their requests are done; `abort`: at once, failing those still running. */
  async close(abort = false): Promise<void> {
    await (abort ? this.agent.destroy() : this.agent.close());
  }

  private target(url: string): { origin: string; path: string } {
    let t = this.targets.get(url);
    if (!t) {
      const u = new URL(url);
      t = { origin: u.origin, path: `${u.pathname}${u.search}` };
      if (this.targets.size >= MAX_CACHED_TARGETS) this.targets.clear();
      this.targets.set(url, t);
    }
    return t;
  }
}

/**
 * One request's answer as it arrives. It keeps the first 4 KiB of the body, reads up to 64 KiB
 * (so a keep-alive connection can be reused for ordinary answers) and aborts past that: a huge
 * or endless body never costs more than the limit. One deadline covers the whole exchange,
 * queueing for a connection included.
 */
class Exchange implements UndiciDispatcher.DispatchHandler {
  private controller: UndiciDispatcher.DispatchController | null = null;
  private readonly timer: NodeJS.Timeout;
  private timedOut: Error | null = null;
  private done = false;
  private statusCode = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private readBytes = 0;

  constructor(
    private readonly resolve: (answer: HttpAnswer) => void,
    private readonly reject: (err: unknown) => void,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => this.timeout(), timeoutMs);
  }

  onRequestStart(controller: UndiciDispatcher.DispatchController): void {
    this.controller = controller;
    if (this.timedOut) controller.abort(this.timedOut);
  }

  onResponseStart(_controller: UndiciDispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx: the real answer follows
    this.statusCode = statusCode;
    this.headers = headers;
  }

  onResponseData(controller: UndiciDispatcher.DispatchController, chunk: Buffer): void {
    this.readBytes += chunk.length;
    if (this.keptBytes < MAX_RESPONSE_LOGGED) {
      const part = chunk.subarray(0, MAX_RESPONSE_LOGGED - this.keptBytes);
      this.kept.push(part);
      this.keptBytes += part.length;
    }
    if (this.readBytes > MAX_RESPONSE_READ) {
      // Enough read: answer now; the abort only closes the connection.
      this.answer();
      controller.abort(new Error('response body beyond the read limit'));
    }
  }

  onResponseEnd(): void {
    this.answer();
  }

  onResponseError(_controller: UndiciDispatcher.DispatchController, err: Error): void {
    this.end(err);
  }

  fail(err: unknown): void {
    if (this.finish()) this.reject(err);
  }

  private answer(): void {
    if (this.finish()) this.resolve({ statusCode: this.statusCode, headers: this.headers, bodyStart: Buffer.concat(this.kept).toString('utf8') });
  }

  private timeout(): void {
    this.timedOut = new DOMException('the endpoint did not answer in time', 'TimeoutError');
    this.controller?.abort(this.timedOut);
    this.end(this.timedOut);
  }

  /** Once the status line has arrived, a body cut short does not change the verdict. */
  private end(err: unknown): void {
    if (this.statusCode !== 0) this.answer();
    else this.fail(err);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.timer);
    return true;
  }
}
