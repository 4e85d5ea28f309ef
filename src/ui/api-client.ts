// The admin UI's only way to Herald's data: its own public JSON API, over HTTP on the loopback
// address the server listens on, authenticated with the signed-in user's API key.
import type { AddressInfo } from 'node:net';

/**
 * An answer of the API other than 2xx, with its `{error, message, field}` body when it has one.
 * `explained`: the body was that shape, so `message` is the API's own words, fit to show; without
 * one (a proxy's page, an empty answer) it is only the status.
 */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly explained = true,
    /** The API's Retry-After (seconds), with a 429 or 503: when trying again makes sense. */
    readonly retryAfter?: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** A Retry-After in seconds, the only form Herald sends; anything else is not passed on. */
function retryAfterOf(res: Response): string | undefined {
  const value = res.headers.get('retry-after')?.trim();
  return value && /^\d{1,9}$/.test(value) ? value : undefined;
}

/**
 * The API did not answer within the admin UI's wait. `changesState`: the call could have
 * changed something (not a GET), which may or may not have been done.
 */
export class ApiTimeoutError extends Error {
  constructor(
    readonly method: string,
    cause: unknown,
    ms = API_TIMEOUT_MS,
  ) {
    super(`the API did not answer a ${method} within ${ms} ms`, { cause });
    this.name = 'ApiTimeoutError';
  }

  get changesState(): boolean {
    return this.method !== 'GET' && this.method !== 'HEAD';
  }
}

/** The wait of AbortSignal.timeout ran out (fetch rejects with it, and so does reading the body). */
function timedOut(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

const API_TIMEOUT_MS = 15_000;

/** The URL of the loopback interface a listening server answers on, e.g. http://127.0.0.1:8080. */
export function loopbackBase(address: string | AddressInfo | null): string {
  if (address === null || typeof address === 'string') throw new Error('the admin UI needs the API to listen on a TCP port');
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::' || host === '::0') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/**
 * The API URL of `path`. An id taken from the page's address and put through
 * encodeURIComponent can still be `..` or `.` (or `%2E%2E`), which the URL parser resolves:
 * `/api/v2/endpoints/..` would ask for `/api/v2/`. No id of the API is a dot segment, so
 * such a path is not found rather than sent somewhere else.
 */
function apiUrl(base: string, path: string): URL {
  const url = new URL(path, base);
  if (url.pathname !== path.split('?')[0]) throw new ApiCallError(404, 'not_found', 'no such page');
  return url;
}

export class HeraldApi {
  constructor(
    private readonly base: string,
    private readonly key: string,
    /** How long a stream waits for the API's response headers (the stream itself is not limited). */
    private readonly streamConnectMs = API_TIMEOUT_MS,
    /** Sent with every call (the admin UI's mark of its own calls). */
    private readonly own: Readonly<Record<string, string>> = {},
  ) {}

  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T> {
    return this.call<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.call<T>('POST', path, body, undefined, headers);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.call('DELETE', path);
  }

  /**
   * A streaming GET (Server-Sent Events): the open response, for the caller to relay and abort.
   * Only the wait for the response's headers is bounded (ApiTimeoutError); once they arrive the
   * stream stays open until the caller aborts it or the API ends it.
   */
  async stream(path: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
    const url = apiUrl(this.base, path);
    // A plain timer and controller rather than AbortSignal.any with AbortSignal.timeout, whose
    // timeout signal Node 20 can garbage-collect before it fires (nodejs/node#57736). The
    // controller also carries the caller's abort, for the body as well as the connection.
    const connection = new AbortController();
    const follow = () => connection.abort(signal.reason);
    if (signal.aborted) follow();
    else signal.addEventListener('abort', follow, { once: true });
    const timer = setTimeout(() => connection.abort(new DOMException(`no response headers within ${this.streamConnectMs} ms`, 'TimeoutError')), this.streamConnectMs);
    let res: Response;
    try {
      res = await fetch(url, { headers: { ...this.own, 'x-api-key': this.key, accept: 'text/event-stream', ...headers }, redirect: 'error', signal: connection.signal });
    } catch (err) {
      throw timedOut(err) && !signal.aborted ? new ApiTimeoutError('GET', err, this.streamConnectMs) : err;
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ApiCallError(res.status, 'error', `the API answered ${res.status}`, undefined, true, retryAfterOf(res));
    }
    return res;
  }

  private async call<T>(method: string, path: string, body?: unknown, query?: Record<string, string | undefined>, headers?: Record<string, string>): Promise<T> {
    const url = apiUrl(this.base, path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, v);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: { ...headers, ...this.own, 'x-api-key': this.key, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(API_TIMEOUT_MS),
      });
      text = await res.text();
    } catch (err) {
      throw timedOut(err) ? new ApiTimeoutError(method, err) : err;
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const err = (parsed ?? {}) as { error?: unknown; message?: unknown; field?: unknown };
      const explained = typeof err.error === 'string' && typeof err.message === 'string' && err.message !== '';
      throw new ApiCallError(
        res.status,
        typeof err.error === 'string' ? err.error : 'error',
        explained ? (err.message as string) : `the API answered ${res.status}`,
        typeof err.field === 'string' ? err.field : undefined,
        explained,
        retryAfterOf(res),
      );
    }
    return parsed as T;
  }
}
