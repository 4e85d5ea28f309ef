/**
 * Herald receiver SDK, published as `herald/verify`.
 *
 * Verifies a delivery signed the Standard Webhooks way and is wire compatible with the
 * `standardwebhooks` and `svix` libraries. It imports only node:crypto and its own folder so
 * receivers get no server dependencies.
 *
 * Always pass the raw request body (bytes or the exact string received): re-serialising
 * parsed JSON changes whitespace or key order and the signature no longer matches.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  decodeSecret,
  InvalidSecretError,
  sign,
  WebhookVerificationError,
} from './standard-webhooks.js';

export {
  InvalidSecretError,
  WebhookVerificationError,
  type WebhookVerificationErrorCode,
} from './standard-webhooks.js';

/** Payload types of every event in every profile (generated from the catalog; also `herald/types`). */
export type * from './payload-types.js';

/** Standard Webhooks default: wide enough for clock skew, narrow enough to limit replays. */
const DEFAULT_TOLERANCE_SECONDS = 300;

/** Only whole seconds, as the spec sends them; rejects "1e9", "-5", " 12", "1.5". */
const TIMESTAMP = /^\d{1,15}$/;

/** The latest second a Date can hold (8.64e15 ms after the epoch). */
const MAX_DATE_SECONDS = 8_640_000_000_000;

/** The only signature scheme Standard Webhooks defines for symmetric keys. */
const V1 = 'v1,';

/**
 * Node's `req.headers` (strings, and arrays of them for repeated lines), a fetch `Headers`, or a
 * plain object built by hand, which may hold numbers (`{'webhook-timestamp': 1733300000}`): they
 * are read as their decimal text, as the `standardwebhooks` library reads them.
 */
export type HeaderBag = Record<string, string | number | readonly (string | number)[] | undefined> | Headers;

/**
 * The body exactly as received: a string, a Buffer or any other typed array, or the ArrayBuffer
 * of fetch's `request.arrayBuffer()`. Never parsed JSON.
 */
export type RawBody = string | ArrayBuffer | ArrayBufferView;

export interface VerifyOptions {
  /** Node/Fastify `req.headers` or a fetch `Headers`; names are matched case-insensitively. */
  headers: HeaderBag;
  /** The raw body exactly as received. */
  body: RawBody;
  /** `whsec_...`; several during a rotation, any one of them may match. */
  secret: string | readonly string[];
  /** Maximum clock distance from now, in seconds, either direction. Default 300. */
  toleranceSeconds?: number;
  /** Current time in milliseconds since the epoch (a RangeError if not a finite number). Default `Date.now`. */
  now?: () => number;
}

export interface VerifiedWebhook<T = unknown> {
  /** `webhook-id`: the same on every retry, so use it to deduplicate. */
  id: string;
  timestamp: Date;
  /**
   * The body parsed as JSON; `undefined` for an empty body. `T` is what the caller expects (e.g.
   * `StandardPayload<'asset.created'>`): the signature proves Herald sent it, not its shape.
   */
  body: T;
}

/** A required header is absent or empty. `header` is its `webhook-*` name. */
export class MissingHeaderError extends WebhookVerificationError {
  readonly header: string;

  constructor(header: string, alternative: string) {
    super('missing_header', `missing required header ${header} (or ${alternative})`);
    this.name = 'MissingHeaderError';
    this.header = header;
  }
}

/** A header is present but malformed (for example a non-numeric timestamp). */
export class InvalidHeaderError extends WebhookVerificationError {
  readonly header: string;

  constructor(header: string, message: string) {
    super('invalid_header', message);
    this.name = 'InvalidHeaderError';
    this.header = header;
  }
}

/** The signed timestamp is further in the past than the tolerance: possibly a replay. */
export class TimestampTooOldError extends WebhookVerificationError {
  readonly timestamp: Date;

  constructor(timestamp: Date, toleranceSeconds: number) {
    super('timestamp_too_old', `message timestamp is more than ${toleranceSeconds} s old`);
    this.name = 'TimestampTooOldError';
    this.timestamp = timestamp;
  }
}

/** The signed timestamp is further in the future than the tolerance: check the clocks. */
export class TimestampTooNewError extends WebhookVerificationError {
  readonly timestamp: Date;

  constructor(timestamp: Date, toleranceSeconds: number) {
    super(
      'timestamp_too_new',
      `message timestamp is more than ${toleranceSeconds} s in the future`,
    );
    this.name = 'TimestampTooNewError';
    this.timestamp = timestamp;
  }
}

/** No `v1` signature in the header matches any of the secrets. */
export class InvalidSignatureError extends WebhookVerificationError {
  constructor() {
    super('invalid_signature', 'no matching signature found');
    this.name = 'InvalidSignatureError';
  }
}

/** The signature is valid but the body is not JSON. */
export class InvalidPayloadError extends WebhookVerificationError {
  constructor() {
    super('invalid_payload', 'webhook body is not valid JSON');
    this.name = 'InvalidPayloadError';
  }
}

/** Verifies signature and timestamp and returns the parsed delivery, or throws. */
export function verify<T = unknown>(options: VerifyOptions): VerifiedWebhook<T> {
  return verifyWithKeys(decodeSecrets(options.secret), options) as VerifiedWebhook<T>;
}

interface SignedHeaders {
  id: string;
  timestamp: string;
  signatures: string;
}

/** The shared core of `verify()` and `Webhook.verify()`; keys are already decoded. */
function verifyWithKeys(
  keys: readonly Buffer[],
  options: Omit<VerifyOptions, 'secret'>,
): VerifiedWebhook {
  const tolerance = checkTolerance(options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS);
  // Caller mistakes first: a wrong argument must not pass for a bad delivery.
  const body = toBuffer(options.body);
  const headers = readSignedHeaders(checkHeaders(options.headers));
  const timestampSec = parseTimestamp(headers.timestamp);
  checkTimestamp(timestampSec, currentSeconds(options.now ?? Date.now), tolerance);

  if (!anySignatureMatches(keys, headers, timestampSec, body)) {
    throw new InvalidSignatureError();
  }
  return { id: headers.id, timestamp: new Date(timestampSec * 1000), body: parseJson(body) };
}

function decodeSecrets(secret: string | readonly string[]): Buffer[] {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new InvalidSecretError('at least one webhook secret is required');
  }
  return secrets.map(decodeSecret);
}

function checkTolerance(seconds: number): number {
  // A programming error, not a bad delivery: do not let it pass as a verification failure.
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(`toleranceSeconds must be a non-negative number, got ${seconds}`);
  }
  return seconds;
}

/**
 * Each header is looked up as `webhook-*` first, then `svix-*`, per header (as the Svix
 * library does), so senders of either flavour verify with one call.
 */
function readSignedHeaders(headers: HeaderBag): SignedHeaders {
  const read = (name: string): string => {
    const value = headerValue(headers, `webhook-${name}`) ?? headerValue(headers, `svix-${name}`);
    if (value === undefined || value === '') {
      throw new MissingHeaderError(`webhook-${name}`, `svix-${name}`);
    }
    return value;
  };
  return { id: read('id'), timestamp: read('timestamp'), signatures: read('signature') };
}

/** Case-insensitive header lookup over both header shapes; repeated headers are joined. */
function headerValue(headers: HeaderBag, lowerName: string): string | undefined {
  if (isFetchHeaders(headers)) {
    return headers.get(lowerName) ?? undefined;
  }
  // Node and Fastify already lower-case names, so the direct hit is the common path.
  const value: unknown = Object.hasOwn(headers, lowerName)
    ? headers[lowerName]
    : findIgnoringCase(headers, lowerName);
  return headerText(value, lowerName);
}

/**
 * A header's value as text: a number as its decimal text, a list (repeated lines) space-joined,
 * which keeps repeated signature headers usable as signatures are space separated. null counts
 * as absent. Any other type is a caller mistake (no request carries one), named as such rather
 * than left to fail somewhere deeper or pass for a bad delivery.
 */
function headerText(value: unknown, lowerName: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const parts: unknown[] = Array.isArray(value) ? value : [value];
  const wrong = parts.findIndex((part) => typeof part !== 'string' && typeof part !== 'number');
  if (wrong !== -1) {
    throw new TypeError(
      `headers['${lowerName}'] must be a string, a number or an array of them; got ${kindOf(parts[wrong])}`,
    );
  }
  return parts.join(' ');
}

function findIgnoringCase(
  headers: Exclude<HeaderBag, Headers>,
  lowerName: string,
): unknown {
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === lowerName) return headers[key];
  }
  return undefined;
}

/** Duck-typed so a `Headers` from undici or another realm works, not only the global one. */
function isFetchHeaders(headers: HeaderBag): headers is Headers {
  return typeof (headers as Headers).get === 'function';
}

function parseTimestamp(value: string): number {
  if (!TIMESTAMP.test(value)) {
    throw new InvalidHeaderError(
      'webhook-timestamp',
      'webhook-timestamp must be whole seconds since the epoch',
    );
  }
  const seconds = Number(value);
  // Past year 275760 a Date is invalid: the result and the errors carry the time as a Date.
  if (seconds > MAX_DATE_SECONDS) {
    throw new InvalidHeaderError('webhook-timestamp', 'webhook-timestamp is out of range');
  }
  return seconds;
}

/**
 * The injected clock, in whole seconds. Anything but a finite number (NaN, undefined) would make
 * both tolerance comparisons false and pass every timestamp: a caller mistake, not a bad delivery.
 */
function currentSeconds(now: () => number): number {
  const ms = now();
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new RangeError(`now() must return milliseconds since the epoch, got ${String(ms)}`);
  }
  return Math.floor(ms / 1000);
}

function checkTimestamp(timestampSec: number, nowSec: number, toleranceSeconds: number): void {
  if (nowSec - timestampSec > toleranceSeconds) {
    throw new TimestampTooOldError(new Date(timestampSec * 1000), toleranceSeconds);
  }
  if (timestampSec - nowSec > toleranceSeconds) {
    throw new TimestampTooNewError(new Date(timestampSec * 1000), toleranceSeconds);
  }
}

/**
 * True if any `v1` signature matches any key. Other versions (e.g. a future `v1a`) are
 * skipped, not rejected, so senders can add schemes without breaking old receivers.
 */
function anySignatureMatches(
  keys: readonly Buffer[],
  headers: SignedHeaders,
  timestampSec: number,
  body: Buffer,
): boolean {
  // Node's req.headers and fetch Headers join repeated header lines with ", ": the comma
  // sticks to the entry before it. Base64 never ends with ",", so stripping it is safe.
  const candidates = headers.signatures
    .split(/\s+/)
    .map((entry) => (entry.endsWith(',') ? entry.slice(0, -1) : entry))
    .filter((entry) => entry.startsWith(V1))
    .map((entry) => Buffer.from(entry.slice(V1.length)));
  if (candidates.length === 0) return false;

  for (const key of keys) {
    const expected = Buffer.from(sign(key, headers.id, timestampSec, body).slice(V1.length));
    if (candidates.some((candidate) => constantTimeEqual(candidate, expected))) return true;
  }
  return false;
}

/** timingSafeEqual throws on unequal lengths; the length of a valid MAC is public anyway. */
function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A view over the caller's bytes, not a copy: bodies can be large. Typed `unknown` because
 * JavaScript callers pass what their framework gave them, often already parsed.
 */
function toBuffer(body: unknown): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (isArrayBuffer(body)) return Buffer.from(body);
  throw new TypeError(
    `body must be the raw request body (string, Buffer, Uint8Array or ArrayBuffer), not parsed JSON; got ${kindOf(body)}`,
  );
}

/** By tag rather than instanceof, so an ArrayBuffer from another realm (vm, worker) passes. */
function isArrayBuffer(value: unknown): value is ArrayBuffer {
  const tag = Object.prototype.toString.call(value);
  return tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
}

function checkHeaders(headers: unknown): HeaderBag {
  if (typeof headers === 'object' && headers !== null && !Array.isArray(headers)) {
    return headers as HeaderBag;
  }
  throw new TypeError(
    `headers must be the request's headers (Node req.headers or a fetch Headers); got ${kindOf(headers)}`,
  );
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new InvalidPayloadError();
  }
}

export interface WebhookOptions {
  /** `'raw'`: the secret is the key itself, not `whsec_<base64>` (as in `standardwebhooks`). */
  format?: 'raw';
  toleranceSeconds?: number;
  now?: () => number;
}

/**
 * Drop-in for `new Webhook(secret)` from the `standardwebhooks` package: same constructor,
 * `verify(body, headers)` returning the parsed JSON and `sign(msgId, date, body)`, but with
 * the typed errors above and svix-* header support.
 */
export class Webhook {
  readonly #key: Buffer;
  readonly #options: WebhookOptions;

  constructor(secret: string | Uint8Array, options: WebhookOptions = {}) {
    this.#key = options.format === 'raw' ? rawKey(secret) : decodeSecretInput(secret);
    if (this.#key.length === 0) throw new InvalidSecretError('webhook secret is empty');
    this.#options = options;
  }

  /** Returns the parsed body (`undefined` if empty) or throws a WebhookVerificationError. */
  verify(payload: RawBody, headers: HeaderBag): unknown {
    return verifyWithKeys([this.#key], {
      headers,
      body: payload,
      toleranceSeconds: this.#options.toleranceSeconds,
      now: this.#options.now,
    }).body;
  }

  /** `v1,<base64>` for the given id, time (truncated to seconds) and body. */
  sign(msgId: string, timestamp: Date, payload: string | Buffer): string {
    return sign(this.#key, msgId, Math.floor(timestamp.getTime() / 1000), payload);
  }
}

function decodeSecretInput(secret: string | Uint8Array): Buffer {
  if (typeof secret !== 'string') {
    throw new InvalidSecretError('expected the secret as a string (or pass { format: "raw" })');
  }
  return decodeSecret(secret);
}

/**
 * Exactly as `standardwebhooks` reads a raw string key: one byte per character, by code point
 * (a character outside the BMP gives one byte, of its first UTF-16 unit), each cut to 8 bits.
 */
function rawKey(secret: string | Uint8Array): Buffer {
  return typeof secret === 'string' ? Buffer.from(Array.from(secret, (c) => c.charCodeAt(0) & 0xff)) : Buffer.from(secret);
}
