// Pure classification of IP addresses for the SSRF guard. No I/O: everything here works on
// strings so it can be unit-tested exhaustively and reused at create time and connect time.
import { isIP, isIPv4, isIPv6 } from 'node:net';

/**
 * What kind of destination an address is. Everything except `public` is refused by the SSRF
 * guard unless explicitly allowed by HERALD_ALLOWED_TARGETS.
 */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'multicast'
  | 'broadcast'
  | 'unspecified'
  | 'reserved'
  | 'documentation'
  | 'benchmark';

interface V4Range {
  readonly base: number;
  readonly prefix: number;
  readonly cls: AddressClass;
}

function v4Range(cidr: string, cls: AddressClass): V4Range {
  const [base, prefix] = cidr.split('/');
  return { base: ipv4ToInt(base), prefix: Number(prefix), cls };
}

// Ordered most specific first where ranges nest (255.255.255.255 inside 240/4). Sources: IANA
// IPv4 Special-Purpose Address Registry (RFC 6890 and successors).
const IPV4_RANGES: readonly V4Range[] = [
  v4Range('0.0.0.0/8', 'unspecified'), // "this network"; Linux connects 0.0.0.0 to localhost
  v4Range('10.0.0.0/8', 'private'),
  v4Range('100.64.0.0/10', 'cgnat'),
  v4Range('127.0.0.0/8', 'loopback'),
  v4Range('169.254.0.0/16', 'link_local'), // includes the cloud metadata address 169.254.169.254
  v4Range('172.16.0.0/12', 'private'),
  v4Range('192.0.0.0/24', 'reserved'), // IETF protocol assignments
  v4Range('192.0.2.0/24', 'documentation'),
  v4Range('192.88.99.0/24', 'reserved'), // deprecated 6to4 relay anycast
  v4Range('192.168.0.0/16', 'private'),
  v4Range('198.18.0.0/15', 'benchmark'),
  v4Range('198.51.100.0/24', 'documentation'),
  v4Range('203.0.113.0/24', 'documentation'),
  v4Range('224.0.0.0/4', 'multicast'),
  v4Range('255.255.255.255/32', 'broadcast'),
  v4Range('240.0.0.0/4', 'reserved'),
];

/** Dotted quad → unsigned 32-bit integer. Caller guarantees a valid dotted quad. */
function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function intToIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function inV4Range(n: number, range: V4Range): boolean {
  if (range.prefix === 0) return true;
  const mask = (0xffffffff << (32 - range.prefix)) >>> 0;
  return ((n & mask) >>> 0) === range.base;
}

function classifyIPv4Int(n: number): AddressClass {
  return IPV4_RANGES.find((range) => inV4Range(n, range))?.cls ?? 'public';
}

/** Two 16-bit groups (as found at the end of an IPv6 address) → dotted quad. */
function groupsToIPv4(hi: number, lo: number): string {
  return intToIPv4(((hi << 16) | lo) >>> 0);
}

/** `[::1]` → `::1`; `fe80::1%eth0` → `fe80::1`. Zone ids do not change what an address is. */
function stripBracketsAndZone(host: string): string {
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const zone = unbracketed.indexOf('%');
  return zone === -1 ? unbracketed : unbracketed.slice(0, zone);
}

/**
 * Expands a valid IPv6 literal to its eight 16-bit groups. Handles `::` compression and a
 * trailing dotted-quad (`::ffff:1.2.3.4`). Returns null when the input is not valid IPv6.
 */
export function parseIPv6(ip: string): number[] | null {
  const bare = stripBracketsAndZone(ip);
  if (!isIPv6(bare)) return null;
  const halves = bare.split('::');
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1].split(':') : [];
  const toGroups = (parts: string[]): number[] =>
    parts.flatMap((part) => {
      if (!part.includes('.')) return [parseInt(part, 16)];
      const n = ipv4ToInt(part);
      return [n >>> 16, n & 0xffff];
    });
  const headGroups = toGroups(head);
  const tailGroups = toGroups(tail);
  const zeros = new Array<number>(8 - headGroups.length - tailGroups.length).fill(0);
  return [...headGroups, ...zeros, ...tailGroups];
}

function allZero(groups: number[], from: number, to: number): boolean {
  return groups.slice(from, to).every((g) => g === 0);
}

/**
 * If the IPv6 address carries an IPv4 destination that the kernel or a translator will actually
 * reach, return that IPv4 address. Those forms must be judged by the embedded address, otherwise
 * `::ffff:127.0.0.1` or `64:ff9b::10.0.0.1` would sneak past as "public IPv6".
 */
function embeddedIPv4(g: number[]): string | null {
  // ::ffff:a.b.c.d — IPv4-mapped: a dual-stack socket connects straight to the IPv4 address.
  if (allZero(g, 0, 5) && g[5] === 0xffff) return groupsToIPv4(g[6], g[7]);
  // ::a.b.c.d — deprecated IPv4-compatible (excluding :: and ::1, handled by the caller).
  if (allZero(g, 0, 6)) return groupsToIPv4(g[6], g[7]);
  // 64:ff9b::/96 — well-known NAT64 prefix: the translator forwards to the embedded IPv4.
  if (g[0] === 0x64 && g[1] === 0xff9b && allZero(g, 2, 6)) return groupsToIPv4(g[6], g[7]);
  // 2002::/16 — 6to4: the IPv4 tunnel endpoint sits in bits 16..47.
  if (g[0] === 0x2002) return groupsToIPv4(g[1], g[2]);
  return null;
}

function classifyIPv6Groups(g: number[]): AddressClass {
  if (allZero(g, 0, 8)) return 'unspecified';
  if (allZero(g, 0, 7) && g[7] === 1) return 'loopback';
  const v4 = embeddedIPv4(g);
  if (v4 !== null) return classifyIPv4Int(ipv4ToInt(v4));
  const [g0, g1, g2] = g;
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return 'private'; // 64:ff9b:1::/48 local-use NAT64
  if (g0 === 0x100 && allZero(g, 1, 4)) return 'reserved'; // 100::/64 discard-only
  if (g0 === 0x2001 && g1 === 0) return 'reserved'; // 2001::/32 Teredo: tunnels to hidden IPv4
  if (g0 === 0x2001 && g1 === 2 && g2 === 0) return 'benchmark'; // 2001:2::/48
  if (g0 === 0x2001 && g1 === 0xdb8) return 'documentation'; // 2001:db8::/32
  if (g0 === 0x2001 && g1 < 0x200) return 'reserved'; // 2001::/23 IETF protocol assignments (ORCHID…)
  if (g0 === 0x3fff && g1 < 0x1000) return 'documentation'; // 3fff::/20 (RFC 9637)
  if ((g0 & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique-local
  if ((g0 & 0xffc0) === 0xfe80) return 'link_local'; // fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return 'private'; // fec0::/10 deprecated site-local
  if ((g0 & 0xff00) === 0xff00) return 'multicast'; // ff00::/8
  // Only 2000::/3 is allocated for global unicast; anything else is not a real destination.
  if ((g0 & 0xe000) !== 0x2000) return 'reserved';
  return 'public';
}

/**
 * Normalises the IPv4 spellings that inet_aton(3) and WHATWG URL parsing accept to a dotted quad:
 * `2130706433`, `0177.0.0.1`, `0x7f.0.0.1`, `0x7f000001`, `127.1`, `127.0.1`. Returns null when
 * `host` is not an IPv4 address in any of those forms (e.g. a DNS name or an out-of-range part).
 */
export function parseLooseIPv4(host: string): string | null {
  // One trailing dot is accepted by both resolvers and URL parsers ("127.0.0.1.").
  const trimmed = host.endsWith('.') ? host.slice(0, -1) : host;
  const parts = trimmed.split('.');
  if (parts.length < 1 || parts.length > 4) return null;
  const values = parts.map(parseLooseIPv4Part);
  if (values.some((v) => v === null)) return null;
  const numbers = values as number[];
  const last = numbers[numbers.length - 1];
  const leading = numbers.slice(0, -1);
  // Every part but the last is one byte; the last fills all remaining bytes (so `127.1`
  // is 127.0.0.1 and `2130706433` is the whole address).
  if (leading.some((v) => v > 0xff)) return null;
  if (last >= 256 ** (5 - numbers.length)) return null;
  const value = leading.reduce((acc, v, i) => acc + v * 256 ** (3 - i), 0) + last;
  return intToIPv4(value);
}

/** One dot-separated part: decimal, 0-prefixed octal or 0x-prefixed hex. */
function parseLooseIPv4Part(part: string): number | null {
  if (/^0[xX][0-9a-fA-F]*$/.test(part)) return part.length === 2 ? 0 : parseInt(part.slice(2), 16);
  if (/^0[0-7]+$/.test(part)) return parseInt(part.slice(1), 8);
  if (/^(0|[1-9][0-9]*)$/.test(part)) return Number(part);
  return null;
}

/**
 * If `host` (as found in a URL: possibly bracketed, possibly a loose IPv4 spelling) is an IP
 * literal, return it in canonical form; return null for DNS names that need resolving.
 */
export function ipLiteral(host: string): string | null {
  const bare = stripBracketsAndZone(host);
  if (isIP(bare) !== 0) return bare;
  return parseLooseIPv4(host);
}

/** `::ffff:10.0.0.1` / `::ffff:a00:1` → `10.0.0.1`; anything else is returned unchanged. */
export function unmapIPv4(ip: string): string {
  const bare = stripBracketsAndZone(ip);
  const g = parseIPv6(bare);
  if (g !== null && allZero(g, 0, 5) && g[5] === 0xffff) return groupsToIPv4(g[6], g[7]);
  return bare;
}

/**
 * Classifies an IP literal (IPv4 in any inet_aton spelling, IPv6 optionally bracketed or with a
 * zone id). Throws TypeError for anything that is not an IP address: callers resolve DNS names
 * first, and silently classifying a name would hide that bug.
 */
export function classifyAddress(ip: string): AddressClass {
  const literal = ipLiteral(ip);
  if (literal === null) throw new TypeError(`not an IP address: "${ip}"`);
  if (isIPv4(literal)) return classifyIPv4Int(ipv4ToInt(literal));
  // ipLiteral only returns valid IPv4 or IPv6, so parseIPv6 cannot fail here.
  return classifyIPv6Groups(parseIPv6(literal) as number[]);
}

export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip) === 'public';
}
