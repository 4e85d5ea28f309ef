// Whose sign-in a request is, for the failed sign-in limit: the browser's address, which behind
// a reverse proxy only the proxy's X-Forwarded-For tells. Believed only from proxies the
// operator names: anyone else could write any address there and never be limited.
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { AllowList } from './cidr.js';

/**
 * The connection's address; when that is a trusted proxy, the nearest address X-Forwarded-For
 * names that is not one (read from the right: each trusted proxy appends the address it was
 * reached from, and what lies left of the first untrusted one is whatever the client wrote).
 */
export function clientAddress(req: FastifyRequest, proxies: AllowList): string {
  let address = req.socket.remoteAddress ?? req.ip;
  if (proxies.isEmpty || !proxies.allows(address)) return address;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((hop) => hop.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // A hop that is not an address: nothing further left can be believed.
    if (isIP(hop) === 0) return address;
    address = hop;
    if (!proxies.allows(hop)) return hop;
  }
  return address;
}
