/**
 * Encryption at rest for endpoint secrets, passwords, header values and OAuth client secrets
 * (key from HERALD_SECRET_KEY). AES-256-GCM gives confidentiality and tamper detection in one
 * primitive from node:crypto.
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
/** 96-bit IV: the size GCM is specified for; random IVs are safe for far more seals than we do. */
const IV_BYTES = 12;
/** Full-length tag. Pinned on decrypt too, or Node would accept a truncated (forgeable) tag. */
const TAG_BYTES = 16;
/** Version prefix so the format (algorithm, layout) can change without a flag day. */
const VERSION = 'v1';

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
/** 32 bytes = 43 base64 characters plus one optional pad; either alphabet. */
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=?$|^[A-Za-z0-9_-]{43}=?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export type SecretBoxErrorCode =
  | 'invalid_key'
  | 'malformed'
  | 'unsupported_version'
  | 'open_failed';

/** Every failure of SecretBox. Messages never contain key material or plaintext. */
export class SecretBoxError extends Error {
  readonly code: SecretBoxErrorCode;

  constructor(code: SecretBoxErrorCode, message: string) {
    super(message);
    this.name = 'SecretBoxError';
    this.code = code;
  }
}

/** Seals strings into `v1.<iv>.<tag>.<ciphertext>` (base64url parts) and opens them again. */
export class SecretBox {
  // A KeyObject rather than the Buffer: the caller's buffer can be wiped or reused safely.
  readonly #key: KeyObject;

  constructor(key: Buffer) {
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
      throw new SecretBoxError('invalid_key', `SecretBox key must be exactly ${KEY_BYTES} bytes`);
    }
    this.#key = createSecretKey(key);
  }

  /**
   * The key from configuration: 64 hex characters or base64 (standard or url-safe) of
   * 32 bytes. Anything else is refused rather than stretched, so a truncated key cannot
   * silently encrypt with a weaker or different key.
   */
  static parseKey(value: string): Buffer {
    const trimmed = typeof value === 'string' ? value.trim() : '';
    if (HEX_KEY.test(trimmed)) return Buffer.from(trimmed, 'hex');
    if (BASE64_KEY.test(trimmed)) {
      // Node's base64 decoder reads the url-safe alphabet too.
      const key = Buffer.from(trimmed, 'base64');
      if (key.length === KEY_BYTES) return key;
    }
    throw new SecretBoxError(
      'invalid_key',
      `secret key must be 64 hex characters or base64 of ${KEY_BYTES} bytes ` +
        `(got ${trimmed.length} characters); generate one with \`openssl rand -hex 32\``,
    );
  }

  /** A fresh random key as 64 hex characters, the form written to the data directory. */
  static generateKey(): string {
    return randomBytes(KEY_BYTES).toString('hex');
  }

  seal(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#key, iv, { authTagLength: TAG_BYTES });
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv, tag, ciphertext].map(encodePart).join('.');
  }

  /** Throws SecretBoxError if the value is malformed, was tampered with or used another key. */
  open(sealed: string): string {
    const { iv, tag, ciphertext } = parseSealed(sealed);
    const decipher = createDecipheriv(ALGORITHM, this.#key, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // GCM cannot tell a wrong key from a modified value; both mean "do not trust this".
      throw new SecretBoxError(
        'open_failed',
        'cannot open sealed value: wrong key or tampered data',
      );
    }
  }
}

function encodePart(part: string | Buffer): string {
  return typeof part === 'string' ? part : part.toString('base64url');
}

interface SealedParts {
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

function parseSealed(sealed: string): SealedParts {
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  if (parts.length !== 4) {
    throw new SecretBoxError(
      'malformed',
      'sealed value must have the form v1.<iv>.<tag>.<ciphertext>',
    );
  }
  const [version, iv, tag, ciphertext] = parts as [string, string, string, string];
  if (version !== VERSION) {
    // Truncated: the field is attacker-controllable and ends up in logs.
    const shown = version.slice(0, 8);
    throw new SecretBoxError('unsupported_version', `unsupported sealed value version "${shown}"`);
  }
  return {
    iv: decodePart(iv, 'iv', IV_BYTES),
    tag: decodePart(tag, 'tag', TAG_BYTES),
    ciphertext: decodePart(ciphertext, 'ciphertext'),
  };
}

/** Strict base64url: Buffer.from would silently drop stray characters. */
function decodePart(value: string, name: string, expectedBytes?: number): Buffer {
  const bytes = BASE64URL.test(value) ? Buffer.from(value, 'base64url') : undefined;
  if (bytes === undefined || (expectedBytes !== undefined && bytes.length !== expectedBytes)) {
    throw new SecretBoxError('malformed', `sealed value has an invalid ${name}`);
  }
  return bytes;
}

/** Never reveal more than this many characters of a secret... */
const MAX_REVEALED = 4;
/** ...nor more than a quarter of it, so a short password stays mostly hidden. */
const REVEAL_DIVISOR = 4;
/** Shorter values are fully masked: a few characters of them would be too large a hint. */
const MIN_PARTIAL_LENGTH = 8;
/** The whole of a masked value that shows nothing of the secret. */
export const FULLY_MASKED = '****';
/** Prefixes that label a format and carry no key material, so showing them leaks nothing. */
const PUBLIC_PREFIXES = ['whsec_'] as const;

/**
 * A display form for API responses and logs: `whsec_abcd…`, `pass…`, or `****`. Enough to
 * tell two secrets apart, never enough to use one.
 */
export function mask(value: string): string {
  const prefix = PUBLIC_PREFIXES.find((p) => value.startsWith(p)) ?? '';
  // Code points, not UTF-16 units, so a masked value never ends in half a character.
  const secret = Array.from(value.slice(prefix.length));
  if (secret.length < MIN_PARTIAL_LENGTH) return `${prefix}${FULLY_MASKED}`;
  const revealed = Math.min(MAX_REVEALED, Math.floor(secret.length / REVEAL_DIVISOR));
  return `${prefix}${secret.slice(0, revealed).join('')}…`;
}

/**
 * Whether `value` has a form mask() gives (`****`, `whsec_****`, or ending in `…`): what a client
 * sends when it copies a masked value back from an answer instead of the secret.
 */
export function looksMasked(value: string): boolean {
  const prefix = PUBLIC_PREFIXES.find((p) => value.startsWith(p)) ?? '';
  const rest = value.slice(prefix.length);
  return rest === FULLY_MASKED || rest.endsWith('…');
}
