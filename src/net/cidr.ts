// HERALD_ALLOWED_TARGETS: an operator-supplied CIDR list that re-admits destinations the SSRF
// guard would otherwise refuse (e.g. 10.0.0.0/8 for an on-premises DAM system).
import { BlockList, isIP } from 'node:net';
import { unmapIPv4 } from './addresses.js';

export type IpFamily = 'ipv4' | 'ipv6';

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: IpFamily;
}

/**
 * Parses `127.0.0.0/8,::1/128,10.1.2.3` (a bare address means /32 or /128; blanks and empty
 * entries are ignored, so "" is an empty list). Throws Error naming the first bad entry.
 */
export function parseCidrList(value: string): Cidr[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map(parseCidr);
}

function parseCidr(entry: string): Cidr {
  const slash = entry.indexOf('/');
  const rawAddress = slash === -1 ? entry : entry.slice(0, slash);
  const address = rawAddress.startsWith('[') && rawAddress.endsWith(']') ? rawAddress.slice(1, -1) : rawAddress;
  // isIP accepts zone ids (fe80::1%eth0), but a zone is not part of a network.
  const version = address.includes('%') ? 0 : isIP(address);
  if (version === 0) throw new Error(`invalid CIDR "${entry}": "${rawAddress}" is not an IP address`);
  const family: IpFamily = version === 4 ? 'ipv4' : 'ipv6';
  const maxPrefix = version === 4 ? 32 : 128;
  const prefix = slash === -1 ? maxPrefix : parsePrefix(entry, entry.slice(slash + 1), maxPrefix);
  return unmapCidr({ address, prefix, family });
}

function parsePrefix(entry: string, raw: string, maxPrefix: number): number {
  if (!/^\d{1,3}$/.test(raw) || Number(raw) > maxPrefix) {
    throw new Error(`invalid CIDR "${entry}": prefix length must be a number from 0 to ${maxPrefix}`);
  }
  return Number(raw);
}

/**
 * `::ffff:10.0.0.0/104` means the IPv4 network 10.0.0.0/8. Storing it as IPv4 keeps one
 * representation per network, so allows() only ever has to compare IPv4 with IPv4.
 */
function unmapCidr(cidr: Cidr): Cidr {
  if (cidr.family !== 'ipv6' || cidr.prefix < 96) return cidr;
  const v4 = unmapIPv4(cidr.address);
  if (v4 === cidr.address) return cidr;
  return { address: v4, prefix: cidr.prefix - 96, family: 'ipv4' };
}

/** Destinations explicitly permitted despite not being public (see DESIGN.md "Security"). */
export class AllowList {
  readonly cidrs: readonly Cidr[];
  private readonly list = new BlockList();

  constructor(cidrs: readonly Cidr[]) {
    this.cidrs = [...cidrs];
    for (const cidr of cidrs) this.list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }

  static fromString(value: string): AllowList {
    return new AllowList(parseCidrList(value));
  }

  get isEmpty(): boolean {
    return this.cidrs.length === 0;
  }

  allows(ip: string): boolean {
    // An IPv4-mapped IPv6 address reaches the IPv4 host, so it must match IPv4 rules — and
    // only those (mapped rules were converted to IPv4 by parseCidrList).
    const address = unmapIPv4(ip);
    const version = isIP(address);
    if (version === 0) return false;
    return this.list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}
