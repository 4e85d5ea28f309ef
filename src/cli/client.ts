// The HTTP client of the CLI's client commands: the native API with an API key.
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { loadClientConfig } from '../config/index.js';
import { UsageError } from './args.js';

/** Herald answered with an error. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The request field Herald named, if any. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** Herald could not be reached at all, or did not answer in time. */
export class ConnectionFailure extends Error {
  constructor(url: string, cause: unknown, answerTimeoutMs = ANSWER_TIMEOUT_MS) {
    const error = cause as { code?: unknown; message?: string; cause?: { code?: string; message?: string } } | undefined;
    // undici's request() fails with the network error itself; its fetch() wrapped it as the cause.
    const own = typeof error?.code === 'string' ? error.code : undefined;
    const code = own ?? error?.cause?.code ?? error?.cause?.message ?? error?.message ?? String(cause);
    super(`cannot reach Herald at ${url}: ${TIMEOUT_CODES.has(code) ? `no answer within ${answerTimeoutMs / 1000} s (${code})` : code}`);
    this.name = 'ConnectionFailure';
  }
}

/** A server answers an API call within this, its headers at least. */
const ANSWER_TIMEOUT_MS = 30_000;
/** Herald's event streams send a heartbeat every 15 s: silence this long means the stream is dead. */
const STREAM_SILENCE_MS = 45_000;
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** An answer whose body is still to be read (or dumped). */
interface Answer {
  readonly status: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  readonly body: Dispatcher.ResponseData['body'];
}

export interface ClientFlags {
  readonly url?: string;
  readonly key?: string;
  /** The flag `url` came from, for messages (default --url). */
  readonly urlFlag?: string;
}

export class HeraldClient {
  /** Its own connection pool, closed when the command ends so the process exits promptly. */
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    private readonly key: string,
    private readonly answerTimeoutMs = ANSWER_TIMEOUT_MS,
  ) {
    this.agent = new Agent({ keepAliveTimeout: 2_000, headersTimeout: answerTimeoutMs, bodyTimeout: STREAM_SILENCE_MS, connectTimeout: 10_000 });
  }

  /** From --url/--key, else HERALD_URL/HERALD_API_KEY; a missing key is a usage error. */
  static from(flags: ClientFlags, usage: string, answerTimeoutMs = ANSWER_TIMEOUT_MS): HeraldClient {
    const env = loadClientConfig();
    const source = flags.url !== undefined ? (flags.urlFlag ?? '--url') : 'HERALD_URL';
    const url = (flags.url ?? env.url).replace(/\/+$/, '');
    let parsed: URL;
    try {
      parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
    } catch {
      throw new UsageError(`${source} must be an http(s) URL, got "${url}"`, usage);
    }
    // The key goes in its own header; a password in the URL would only end up in messages.
    if (parsed.username || parsed.password) throw new UsageError(`${source} must not carry a user name or password: give the API key with --key or HERALD_API_KEY`, usage);
    if (parsed.search || parsed.hash) throw new UsageError(`${source} must be Herald's base address, without a query or fragment`, usage);
    const key = flags.key ?? env.apiKey;
    if (!key) throw new UsageError('no API key: set HERALD_API_KEY or pass --key', usage);
    return new HeraldClient(url, key, answerTimeoutMs);
  }

  private async send(path: string, init: { method: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Answer> {
    try {
      // request() rather than fetch: fetch refuses "bad ports" (6000, 6665-6669, 10080, …) a Herald may listen on.
      const res = await request(`${this.baseUrl}${path}`, {
        method: init.method as Dispatcher.HttpMethod,
        dispatcher: this.agent,
        signal: init.signal,
        headers: { 'x-api-key': this.key, accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ConnectionFailure(this.baseUrl, err, this.answerTimeoutMs);
    }
  }

  /** JSON in, JSON out; an error answer becomes an ApiFailure with Herald's message. */
  async request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(path, { method, body });
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw new ConnectionFailure(this.baseUrl, err, this.answerTimeoutMs);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!isSuccess(res.status)) {
      const err = (parsed ?? {}) as { error?: string; message?: string; field?: string };
      throw new ApiFailure(res.status, err.error ?? 'http_error', `${res.status} ${err.message ?? statusDetail(res, text)}`, err.field);
    }
    // Every answer of Herald's API but a 204 is a JSON value: anything else is another server.
    if (res.status !== 204 && (parsed === undefined || parsed === null || typeof parsed !== 'object')) {
      throw new ApiFailure(res.status, 'not_herald', `${this.baseUrl} answered ${res.status} without Herald's JSON: is it Herald's address?`);
    }
    return parsed as T;
  }

  /** A streaming GET (Server-Sent Events): its body, which `signal` ends. */
  async stream(path: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send(path, { method: 'GET', signal, headers: { accept: 'text/event-stream', ...headers } });
    if (!isSuccess(res.status)) {
      const text = await res.body.text().catch(() => '');
      let message: string | undefined;
      try {
        message = (JSON.parse(text) as { message?: string }).message;
      } catch {
        // not JSON
      }
      throw new ApiFailure(res.status, 'http_error', `${res.status} ${message ?? statusDetail(res, text)}`);
    }
    return Readable.toWeb(res.body) as ReadableStream<Uint8Array>;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** What an error answer without Herald's message says: its text, else its reason phrase. */
function statusDetail(res: Answer, text: string): string {
  const location = res.headers.location;
  // Redirects are not followed (fetch did, with the API key, to any origin): say where it points.
  if (res.status >= 300 && res.status < 400 && typeof location === 'string') return `redirects to ${location}: give Herald's own address`;
  return text.slice(0, 200) || (STATUS_CODES[res.status] ?? '');
}
