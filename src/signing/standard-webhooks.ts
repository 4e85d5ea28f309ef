/**
 * Standard Webhooks signing primitives (https://www.standardwebhooks.com/).
 *
 * This module is the leaf of `src/signing/`: it imports only node:crypto, so the public
 * receiver SDK (`herald/verify`, see ./verify.ts) can reuse it without pulling in the server.
 * The two error classes that both sides need live here for the same reason; verify.ts
 * re-exports them.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Prefix Standard Webhooks (and Svix) put in front of the base64 key material. */
export const SECRET_PREFIX = 'whsec_';

/** 24 bytes = 192 bits: inside the 24–64 byte range the Standard Webhooks spec recommends. */
const SECRET_BYTES = 24;

/**
 * Strict base64 (standard alphabet, padding optional). Buffer.from(x, 'base64') silently skips
 * characters outside the alphabet, so without this check a typo would yield a different key
 * and every signature would fail with no hint why.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

export type WebhookVerificationErrorCode =
  | 'missing_header'
  | 'invalid_header'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'invalid_signature'
  | 'invalid_secret'
  | 'invalid_payload';

/**
 * Base of every error the verifier throws. Callers branch on `instanceof` or on `code`
 * (stable, machine readable), never on the message text.
 */
export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationErrorCode;

  constructor(code: WebhookVerificationErrorCode, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = code;
  }
}

/** The secret is not `whsec_<base64>` (or plain base64) of at least one byte. */
export class InvalidSecretError extends WebhookVerificationError {
  constructor(message: string) {
    super('invalid_secret', message);
    this.name = 'InvalidSecretError';
  }
}

/** A new signing secret: `whsec_` + base64 of 24 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/**
 * The HMAC key inside a secret. The prefix is optional because Svix and the `standardwebhooks`
 * library accept the bare base64 too. The error never echoes the secret.
 */
export function decodeSecret(secret: string): Buffer {
  if (typeof secret !== 'string') {
    throw new InvalidSecretError('webhook secret must be a string');
  }
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (encoded.length === 0) {
    throw new InvalidSecretError('webhook secret is empty');
  }
  if (!BASE64.test(encoded)) {
    throw new InvalidSecretError('webhook secret must be "whsec_" followed by base64');
  }
  return Buffer.from(encoded, 'base64');
}

/**
 * `v1,<base64 HMAC-SHA256 of "{msgId}.{timestampSec}.{body}">`.
 *
 * Runs once per delivery per key, so the body is fed to the HMAC as is rather than
 * concatenated into a new string: a Buffer body is never copied or re-decoded.
 */
export function sign(
  key: Buffer,
  msgId: string,
  timestampSec: number,
  body: string | Buffer,
): string {
  // A fractional or unsafe timestamp would be rendered differently by receivers
  // ("1.5", "1e+21") and no signature would ever match.
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new RangeError(`timestamp must be whole seconds since the epoch, got ${timestampSec}`);
  }
  const mac = createHmac('sha256', key);
  mac.update(msgId);
  mac.update(`.${timestampSec}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/**
 * The `webhook-signature` header value: one `v1,...` per key, space separated. During a
 * rotation the new and the previous secret both sign, so receivers still holding either
 * one accept the delivery.
 */
export function signatureHeader(
  keys: readonly Buffer[],
  msgId: string,
  timestampSec: number,
  body: string | Buffer,
): string {
  if (keys.length === 0) {
    throw new InvalidSecretError('at least one signing key is required');
  }
  return keys.map((key) => sign(key, msgId, timestampSec, body)).join(' ');
}

/**
 * Lower-case hex HMAC-SHA256 of the body keyed by the raw value (no base64 decoding): the
 * Media Pocket `hmac` custom header type, equal to `openssl dgst -sha256 -hmac <value>`.
 */
export function hmacHex(value: string | Buffer, body: string | Buffer): string {
  return createHmac('sha256', value).update(body).digest('hex');
}
