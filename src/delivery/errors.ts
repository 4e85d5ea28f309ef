// Classification of an attempt's outcome. Errors are recognised by their `code`, `name` or an
// explicit `kind` property (ours), never by message text; the retry decision follows from the
// kind (see RETRYABLE_KINDS).

import type { AttemptErrorKind } from '../domain/types.js';
import { parseRetryAfter } from './retry-after.js';

/** Why an attempt failed. Same union as the stored `Attempt.errorKind`. */
export type ErrorKind = AttemptErrorKind;

export const ERROR_KINDS: readonly ErrorKind[] = Object.freeze([
  'timeout',
  'dns',
  'connect',
  'tls',
  'http_status',
  'ssrf_blocked',
  'oauth',
  'response_too_large',
  'invalid_url',
  'internal',
] as const);

/**
 * Whether a failure of this kind is worth another attempt on the schedule.
 * - Not retryable: `ssrf_blocked` (the destination is a forbidden address: policy, not luck) and
 *   `invalid_url` (the endpoint's URL cannot be requested at all). Both need the endpoint fixed.
 * - Retryable: everything else, including `dns` (records get fixed), `tls` (certificates get
 *   renewed), `oauth` (the token server may be down), `response_too_large` (the receiver
 *   misbehaved this time) and `internal` (an unknown throwable must never lose a delivery).
 */
export const RETRYABLE_KINDS: Readonly<Record<ErrorKind, boolean>> = Object.freeze({
  timeout: true,
  dns: true,
  connect: true,
  tls: true,
  http_status: true,
  ssrf_blocked: false,
  oauth: true,
  response_too_large: true,
  invalid_url: false,
  internal: true,
});

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && (ERROR_KINDS as readonly string[]).includes(value);
}

export interface DeliveryErrorOptions {
  /** Overrides the kind's default (RETRYABLE_KINDS). */
  readonly retryable?: boolean;
  readonly cause?: unknown;
  /** HTTP status, for `http_status`. */
  readonly status?: number;
}

/** A typed attempt failure. `retryable` defaults from the kind. */
export class DeliveryError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly status: number | undefined;

  constructor(kind: ErrorKind, message: string, options: DeliveryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.kind = kind;
    this.retryable = options.retryable ?? RETRYABLE_KINDS[kind];
    this.status = options.status;
  }
}

export interface ErrorClassification {
  readonly kind: ErrorKind;
  readonly message: string;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'ABORT_ERR', // Node's AbortError from an aborted signal
]);
const TIMEOUT_NAMES = new Set(['HeadersTimeoutError', 'BodyTimeoutError', 'ConnectTimeoutError', 'TimeoutError', 'AbortError']);

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL', 'ENOTIMP', 'EREFUSED']);

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  // The receiver broke the HTTP protocol on the connection.
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** OpenSSL certificate verification codes Node reports as `err.code`. */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'EPROTO',
  'UND_ERR_PRX_TLS',
]);
const TLS_PREFIXES = ['ERR_TLS_', 'ERR_SSL_', 'ERR_OSSL_', 'CERT_', 'CRL_'];

const TOO_LARGE_CODES = new Set(['UND_ERR_RES_EXCEEDED_MAX_SIZE', 'UND_ERR_HEADERS_OVERFLOW']);

const INVALID_URL_CODES = new Set(['ERR_INVALID_URL', 'ERR_INVALID_URL_SCHEME']);

function kindOfCode(code: string): ErrorKind | undefined {
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (DNS_CODES.has(code)) return 'dns';
  if (CONNECT_CODES.has(code) || code.startsWith('HPE_')) return 'connect';
  if (TLS_CODES.has(code) || TLS_PREFIXES.some((p) => code.startsWith(p))) return 'tls';
  if (TOO_LARGE_CODES.has(code)) return 'response_too_large';
  if (INVALID_URL_CODES.has(code)) return 'invalid_url';
  return undefined;
}

function prop(value: object, key: string): unknown {
  return (value as Record<string, unknown>)[key];
}

function messageOf(value: object, fallback: string): string {
  const message = prop(value, 'message');
  return typeof message === 'string' && message !== '' ? message : fallback;
}

/** The kind of one link of a cause chain, judged by `kind`, then `code`, then `name`. */
function classifyOne(value: object): ErrorKind | undefined {
  const kind = prop(value, 'kind');
  if (isErrorKind(kind)) return kind;
  const code = prop(value, 'code');
  if (typeof code === 'string') {
    const byCode = kindOfCode(code);
    if (byCode) return byCode;
  }
  const name = prop(value, 'name');
  if (typeof name === 'string' && TIMEOUT_NAMES.has(name)) return 'timeout';
  // undici's parser error for an answer that is not HTTP at all carries no code.
  if (name === 'HTTPParserError') return 'connect';
  return undefined;
}

/**
 * Map anything thrown by an attempt (undici, Node net/tls/dns, AbortSignal, our own
 * DeliveryError or any object carrying `kind`) to an ErrorKind and a message for the attempt log.
 *
 * Walks `err.cause` (and AggregateError `errors`, as thrown by happy-eyeballs connects) outermost
 * first: the first link that is recognised decides, so a deliberately typed wrapper (an `oauth`
 * error wrapping a token-server ECONNREFUSED) keeps its own kind. Unrecognised → `internal`.
 * The message is the deciding link's message (or its code when it has none).
 */
export function classifyError(err: unknown): ErrorClassification {
  const seen = new Set<object>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const kind = classifyOne(current);
    if (kind) {
      const code = prop(current, 'code');
      return { kind, message: messageOf(current, typeof code === 'string' ? code : kind) };
    }
    const cause = prop(current, 'cause');
    if (cause !== undefined) queue.push(cause);
    const errors = prop(current, 'errors');
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  if (typeof err === 'object' && err !== null) return { kind: 'internal', message: messageOf(err, 'unknown error') };
  return { kind: 'internal', message: err === undefined ? 'unknown error' : String(err) };
}

/** Normalise any throwable to a DeliveryError (returned unchanged if it already is one). */
export function toDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const { kind, message } = classifyError(err);
  return new DeliveryError(kind, message, { cause: err });
}

// ---------------------------------------------------------------------------------------------
// HTTP status

export type StatusOutcome =
  | { readonly outcome: 'success' }
  | { readonly outcome: 'retry'; readonly retryAfterMs?: number }
  | { readonly outcome: 'gone' };

export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface ClassifyStatusOptions {
  /**
   * Which statuses count as delivered. Default: any 2xx. A profile can narrow it, e.g.
   * `successStatuses(200, 202)` for CMP ("200 or 202 is success").
   */
  readonly isSuccess?: (status: number) => boolean;
}

export function isSuccess2xx(status: number): boolean {
  return status >= 200 && status <= 299;
}

/** A success predicate accepting exactly the given statuses. */
export function successStatuses(...statuses: number[]): (status: number) => boolean {
  const set = new Set(statuses);
  return (status) => set.has(status);
}

function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  let value = headers[name];
  if (value === undefined) {
    const lower = name.toLowerCase();
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === lower) {
        value = headers[key];
        break;
      }
    }
  }
  return Array.isArray(value) ? value[0] : value;
}

/**
 * What a received HTTP status means for the delivery.
 * - success: the predicate (default 2xx) accepts it.
 * - gone: 410; the dispatcher disables the endpoint at once.
 * - retry: everything else, 3xx included (redirects are never followed). 429 and 503 carry the
 *   receiver's `Retry-After` (seconds or HTTP-date) as `retryAfterMs` when it parses.
 * `options` is `{ isSuccess }` or the success predicate itself.
 */
export function classifyStatus(
  status: number,
  headers: ResponseHeaders,
  now: number,
  options: ClassifyStatusOptions | ((status: number) => boolean) = {},
): StatusOutcome {
  const isSuccess = (typeof options === 'function' ? options : options.isSuccess) ?? isSuccess2xx;
  if (isSuccess(status)) return { outcome: 'success' };
  if (status === 410) return { outcome: 'gone' };
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(headerValue(headers, 'retry-after'), now);
    if (retryAfterMs !== undefined) return { outcome: 'retry', retryAfterMs };
  }
  return { outcome: 'retry' };
}
