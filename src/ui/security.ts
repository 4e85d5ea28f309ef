// Session cookie and request checks of the admin UI. No cookie library: the UI sets one cookie
// and reads one cookie.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** The session cookie: a random token naming a session the store keeps (ui_sessions). */
export const COOKIE_NAME = 'herald_session';
/** The cookie of earlier versions, which held the API key itself: never read, always removed. */
export const LEGACY_COOKIE_NAME = 'herald_key';

/** Longest API key accepted from the login form or the cookie (the API refuses longer ones). */
export const MAX_KEY_LENGTH = 512;

/**
 * Headers of every UI response. No inline script or style anywhere, no framing; a page opened
 * from another site's window keeps no handle on it (which would let that site count its frames
 * or follow its navigation), and no other site may embed a UI response.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': "default-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

/** Strict-Transport-Security, for a UI reached over https (see cookieAttributes). */
export const HSTS = 'max-age=31536000';

/** Every cookie of a Cookie header, first occurrence of a name winning (RFC 6265 §5.4 order). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!name || out.has(name)) continue;
    try {
      out.set(name, decodeURIComponent(value));
    } catch {
      // a malformed escape: not a cookie we set
    }
  }
  return out;
}

/**
 * Whether `key` could be an API key at all: visible ASCII within the length limit. Anything else
 * can never be accepted and cannot even travel in an X-API-Key header.
 */
export function isKeyShaped(key: string): boolean {
  return key.length > 0 && key.length <= MAX_KEY_LENGTH && /^[\x21-\x7e]+$/.test(key);
}

/**
 * A Cookie header without the UI's session cookies, or undefined when nothing else is left. The
 * browser sends them with every request to this host, an inbox URL opened in the same browser
 * included, where they must not be captured.
 */
export function withoutSessionCookie(header: string): string | undefined {
  const kept = header.split(';').filter((part) => {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    return name !== COOKIE_NAME && name !== LEGACY_COOKIE_NAME;
  });
  const rest = kept.join(';').trim();
  return rest === '' ? undefined : rest;
}

/** Pages of the UI a sign-in may lead back to: a path of this origin, never another site's address. */
const PAGE_ADDRESS = /^\/(?:endpoints|logs|catalog|activity|inboxes)(?=[/?]|$)[^\\\s\x00-\x1f\x7f]*$/;

/** `value` when it is the address of a UI page to return to after signing in, else undefined. */
export function pageAddress(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 2000 && PAGE_ADDRESS.test(value) ? value : undefined;
}

/**
 * A page asked for from another site's link (mail, chat, the DAM): the browser leaves the
 * SameSite=Strict cookie out of such a navigation, so a signed-in person would be sent to the
 * sign-in form. Answered instead with a page that loads the same address again from this site,
 * which carries the cookie. Only a document navigation without the cookie, and only a
 * cross-site or same-site one: the second load is same-origin, so this happens at most once.
 */
export function arrivesFromAnotherSite(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  return (
    req.method === 'GET' &&
    (site === 'cross-site' || site === 'same-site') &&
    req.headers['sec-fetch-dest'] === 'document' &&
    sessionToken(req) === undefined &&
    pageAddress(req.url) !== undefined
  );
}

/** A new session token (256 random bits, base64url) and the hash the store keeps of it. */
export function newSessionToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: tokenHash(token) };
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The session token the browser sent, or undefined when there is none of the right shape. */
export function sessionToken(req: FastifyRequest): string | undefined {
  const token = parseCookies(req.headers.cookie).get(COOKIE_NAME);
  return token !== undefined && /^[A-Za-z0-9_-]{43}$/.test(token) ? token : undefined;
}

/**
 * The cookie is Secure when the request came over TLS, or when Herald's public URL is https:
 * behind a TLS-terminating proxy the request itself is plain HTTP (proxy headers are not
 * trusted), yet the cookie must never travel over http:// to that host.
 */
function cookieAttributes(req: FastifyRequest, publicUrl: string | undefined): string {
  return `Path=/; HttpOnly; SameSite=Strict${overHttps(req, publicUrl) ? '; Secure' : ''}`;
}

/** Whether the browser reaches the UI over https: the request came over TLS, or the public URL says so. */
export function overHttps(req: FastifyRequest, publicUrl: string | undefined): boolean {
  return req.protocol === 'https' || publicUrl?.startsWith('https:') === true;
}

/** The session cookie, kept by the browser as long as the session lasts. */
export function sessionCookie(req: FastifyRequest, token: string, maxAgeMs: number, publicUrl?: string): string {
  return `${COOKIE_NAME}=${token}; Max-Age=${Math.floor(maxAgeMs / 1000)}; ${cookieAttributes(req, publicUrl)}`;
}

/** Set-Cookie values that remove the session cookie, and the key cookie of earlier versions. */
export function clearedSessionCookies(req: FastifyRequest, publicUrl?: string): string[] {
  const gone = `Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; ${cookieAttributes(req, publicUrl)}`;
  return [`${COOKIE_NAME}=; ${gone}`, `${LEGACY_COOKIE_NAME}=; ${gone}`];
}

/**
 * CSRF defence for state-changing UI requests, on top of the SameSite=Strict cookie: the
 * browser must say the request comes from this origin. Fetch Metadata (`Sec-Fetch-Site`) when
 * the browser sends it, else `Origin` compared with `Host`. A request with neither is refused:
 * every browser that could be tricked into sending one sends at least `Origin` on a POST.
 * Returns the reason for a refusal, or undefined when the request is same-origin.
 */
export function crossSiteReason(req: FastifyRequest): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site.length > 0) {
    return site === 'same-origin' ? undefined : `Sec-Fetch-Site is ${site}`;
  }
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (typeof origin !== 'string' || origin.length === 0 || origin === 'null') return 'the request has no Origin';
  if (typeof host !== 'string' || host.length === 0) return 'the request has no Host';
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return 'the Origin is not a URL';
  }
  return originHost.toLowerCase() === host.toLowerCase() ? undefined : `Origin ${origin} is not this site`;
}
