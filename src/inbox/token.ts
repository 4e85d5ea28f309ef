// Inbox tokens: the unguessable part of a public capture URL `/in/<token>`.
//
// 24 random bytes (192 bits) in base64url: 32 characters. The database keeps the token's SHA-256
// (the capture route's lookup key: an indexed equality, no plaintext needed) and the token sealed
// with the credentials key, so the URL can be shown again on GET without the database ever
// holding it in the clear. A leaked database without HERALD_SECRET_KEY reveals no inbox URL.
import { createHash, randomBytes } from 'node:crypto';

const TOKEN_BYTES = 24;
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;

export function generateInboxToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

export function hashInboxToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Path characters a capture URL may carry below the token: no escapes, no dot segments. */
const SUFFIX = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@-]*)*$/;

/**
 * The token of a path `/in/<token>` or `/in/<token>/<more>` (as the capture route matches it),
 * or undefined. Strict on purpose: it decides the SSRF exemption of own-inbox URLs, so a path
 * that could be read differently by the router (escapes, `..`) is not an inbox path.
 */
export function inboxPathToken(pathname: string): string | undefined {
  if (!pathname.startsWith('/in/')) return undefined;
  const rest = pathname.slice(4);
  const slash = rest.indexOf('/');
  const token = slash < 0 ? rest : rest.slice(0, slash);
  const suffix = slash < 0 ? '' : rest.slice(slash);
  if (!TOKEN_PATTERN.test(token) || !SUFFIX.test(suffix)) return undefined;
  if (suffix.split('/').some((seg) => seg === '.' || seg === '..')) return undefined;
  return token;
}

/** The public URL of an inbox under a base such as `https://herald.example.com`. */
export function inboxUrl(base: string, token: string): string {
  return `${base.replace(/\/+$/, '')}/in/${token}`;
}
