// Herald's own addresses, exempt from the SSRF guard for own-inbox URLs (see api/destination.ts:
// at create time only the account's own inbox paths get the exemption; at connect time the
// guard exempts these host:port pairs).
import { isIP } from 'node:net';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function hostEntry(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * The host:port entries under which this process's API reaches itself: every loopback name when
 * it listens on a wildcard address, else the address it listens on (and `localhost` for a
 * loopback one). Never a name that could lead to another service on the same port.
 */
export function listeningHosts(listenHost: string, port: number): string[] {
  const host = listenHost.trim();
  if (WILDCARDS.has(host) || host === 'localhost') return LOOPBACK_NAMES.map((n) => `${n}:${port}`);
  if (host === '127.0.0.1' || host === '::1') return [hostEntry(host, port), `localhost:${port}`];
  return [hostEntry(host, port)];
}

/** HERALD_PUBLIC_URL's host:port, when set. */
export function publicUrlHost(publicUrl: string | undefined): string | undefined {
  if (!publicUrl) return undefined;
  const u = new URL(publicUrl);
  return `${u.hostname}:${u.port !== '' ? u.port : u.protocol === 'https:' ? 443 : 80}`;
}
