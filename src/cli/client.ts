// The HTTP client of the CLI's client commands: the native API with an API key.
import { Agent, fetch, type Response } from 'undici';
import { loadClientConfig } from '../config/index.js';
import { UsageError } from './args.js';

/** Herald answered with an error. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** Herald could not be reached at all. */
export class ConnectionFailure extends Error {
  constructor(url: string, cause: unknown) {
    const detail = (cause as { cause?: { code?: string; message?: string } })?.cause;
    super(`cannot reach Herald at ${url}: ${detail?.code ?? detail?.message ?? (cause as Error)?.message ?? String(cause)}`);
    this.name = 'ConnectionFailure';
  }
}

export interface ClientFlags {
  readonly url?: string;
  readonly key?: string;
}

export class HeraldClient {
  /** Its own connection pool, closed when the command ends so the process exits promptly. */
  private readonly agent = new Agent({ keepAliveTimeout: 2_000 });

  constructor(
    readonly baseUrl: string,
    private readonly key: string,
  ) {}

  /** From --url/--key, else HERALD_URL/HERALD_API_KEY; a missing key is a usage error. */
  static from(flags: ClientFlags, usage: string): HeraldClient {
    const env = loadClientConfig();
    const url = (flags.url ?? env.url).replace(/\/+$/, '');
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
    } catch {
      throw new UsageError(`--url must be an http(s) URL, got "${url}"`, usage);
    }
    const key = flags.key ?? env.apiKey;
    if (!key) throw new UsageError('no API key: set HERALD_API_KEY or pass --key', usage);
    return new HeraldClient(url, key);
  }

  private async fetch(path: string, init: { method: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method: init.method,
        dispatcher: this.agent,
        signal: init.signal,
        headers: { 'x-api-key': this.key, accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ConnectionFailure(this.baseUrl, err);
    }
  }

  /** JSON in, JSON out; an error answer becomes an ApiFailure with Herald's message. */
  async request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(path, { method, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const err = (parsed ?? {}) as { error?: string; message?: string; field?: string };
      throw new ApiFailure(res.status, err.error ?? 'http_error', `${res.status} ${err.message ?? (text.slice(0, 200) || res.statusText)}`);
    }
    return parsed as T;
  }

  /** A streaming GET (Server-Sent Events); the caller reads and cancels the body. */
  async stream(path: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.fetch(path, { method: 'GET', signal, headers: { accept: 'text/event-stream', ...headers } });
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON
      }
      throw new ApiFailure(res.status, 'http_error', `${res.status} ${message}`);
    }
    return res;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
