import { describe, it, expect } from 'vitest';
import { classifyAddress, ipLiteral, parseLooseIPv4, unmapIPv4, type AddressClass } from './addresses.js';

const IPV4: ReadonlyArray<[string, AddressClass]> = [
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['11.0.0.1', 'public'],
  ['100.63.255.255', 'public'],
  ['100.64.0.1', 'cgnat'],
  ['100.127.255.255', 'cgnat'],
  ['100.128.0.0', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['169.254.169.254', 'link_local'],
  ['169.254.0.1', 'link_local'],
  ['172.15.255.255', 'public'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.0', 'public'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.10', 'documentation'],
  ['192.88.99.1', 'reserved'],
  ['192.168.1.1', 'private'],
  ['198.17.255.255', 'public'],
  ['198.18.0.1', 'benchmark'],
  ['198.19.255.255', 'benchmark'],
  ['198.20.0.0', 'public'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.254', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['8.8.8.8', 'public'],
  ['93.184.215.14', 'public'],
  ['223.255.255.255', 'public'],
];

const IPV6: ReadonlyArray<[string, AddressClass]> = [
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['[::1]', 'loopback'],
  ['fe80::1%eth0', 'link_local'],
  ['fe80::1', 'link_local'],
  ['febf:ffff::1', 'link_local'],
  ['fec0::1', 'private'],
  ['fc00::1', 'private'],
  ['fd12:3456:789a::1', 'private'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'documentation'],
  ['2001:2::1', 'benchmark'],
  ['2001::1', 'reserved'], // Teredo
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'], // Teredo
  ['2001:10::1', 'reserved'], // ORCHID
  ['100::1', 'reserved'], // discard-only
  ['64:ff9b:1::a00:1', 'private'], // local-use NAT64
  ['5f00::1', 'reserved'], // outside 2000::/3
  ['2606:4700:4700::1111', 'public'],
  ['2a00:1450:4001:80b::200e', 'public'],
  // IPv4-mapped, both spellings: judged by the embedded IPv4 address.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:169.254.169.254', 'link_local'],
  ['::ffff:8.8.8.8', 'public'],
  ['0:0:0:0:0:ffff:a9fe:a9fe', 'link_local'],
  // IPv4-compatible (deprecated).
  ['::127.0.0.1', 'loopback'],
  ['::7f00:1', 'loopback'],
  ['::10.0.0.1', 'private'],
  ['::8.8.8.8', 'public'],
  // NAT64 well-known prefix.
  ['64:ff9b::10.0.0.1', 'private'],
  ['64:ff9b::7f00:1', 'loopback'],
  ['64:ff9b::a9fe:a9fe', 'link_local'],
  ['64:ff9b::8.8.8.8', 'public'],
  // 6to4.
  ['2002:7f00:1::1', 'loopback'],
  ['2002:a00:1::', 'private'],
  ['2002:c0a8:101::1', 'private'],
  ['2002:808:808::1', 'public'],
];

describe('classifyAddress', () => {
  it.each(IPV4)('IPv4 %s is %s', (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });

  it.each(IPV6)('IPv6 %s is %s', (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });

  it('classifies loose IPv4 spellings by their value', () => {
    expect(classifyAddress('2130706433')).toBe('loopback');
    expect(classifyAddress('0xa9fea9fe')).toBe('link_local');
  });

  it('rejects things that are not IP addresses', () => {
    expect(() => classifyAddress('example.com')).toThrow(TypeError);
    expect(() => classifyAddress('')).toThrow(TypeError);
    expect(() => classifyAddress('1.2.3.256')).toThrow(TypeError);
  });
});

describe('URL hosts', () => {
  // The WHATWG parser in Node normalises most of these itself; ipLiteral must agree with it,
  // and also handle them when it has not (hosts that reach us without URL parsing).
  const HOSTS: ReadonlyArray<[string, AddressClass]> = [
    ['2130706433', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['0x7f.0.0.1', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['127.1', 'loopback'],
    ['127.0.1', 'loopback'],
    ['127.0.0.1.', 'loopback'],
    ['012.0.0.1', 'private'],
    ['0xa.1', 'private'],
    ['169.254.43518', 'link_local'],
    ['2852039166', 'link_local'],
    ['0', 'unspecified'],
    ['[::1]', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['[0:0:0:0:0:ffff:7f00:1]', 'loopback'],
    ['[::127.0.0.1]', 'loopback'],
    ['[64:ff9b::10.0.0.1]', 'private'],
    ['[fe80::1]', 'link_local'],
    ['[2606:4700:4700::1111]', 'public'],
  ];

  it.each(HOSTS)('http://%s/ is %s after URL parsing', (host, cls) => {
    const { hostname } = new URL(`http://${host}/`);
    const literal = ipLiteral(hostname);
    expect(literal).not.toBeNull();
    expect(classifyAddress(literal as string)).toBe(cls);
  });

  it.each(HOSTS)('%s is %s without URL parsing', (host, cls) => {
    const literal = ipLiteral(host);
    expect(literal).not.toBeNull();
    expect(classifyAddress(literal as string)).toBe(cls);
  });

  it('leaves DNS names alone', () => {
    expect(ipLiteral('example.com')).toBeNull();
    expect(ipLiteral('localhost')).toBeNull();
    expect(ipLiteral('1.2.3.example')).toBeNull();
    expect(ipLiteral('0x7g.0.0.1')).toBeNull();
  });
});

describe('parseLooseIPv4', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0X7F.0.0.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['10.0.258', '10.0.1.2'],
    ['1.2.3.4.', '1.2.3.4'],
    ['0x', '0.0.0.0'],
    ['00', '0.0.0.0'],
    ['4294967295', '255.255.255.255'],
  ])('%s → %s', (input, expected) => {
    expect(parseLooseIPv4(input)).toBe(expected);
  });

  it.each([
    '',
    '.',
    'example.com',
    '1.2.3.4.5',
    '1..2.3',
    '256.0.0.1',
    '1.2.3.256',
    '1.2.65536',
    '4294967296',
    '08.0.0.1', // 8 is not an octal digit
    '0x1g',
    '-1.0.0.1',
    '1.2.3.4..',
    '::1',
  ])('%j is not IPv4', (input) => {
    expect(parseLooseIPv4(input)).toBeNull();
  });
});

describe('unmapIPv4', () => {
  it('turns IPv4-mapped IPv6 into IPv4 and leaves everything else', () => {
    expect(unmapIPv4('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(unmapIPv4('::ffff:a00:1')).toBe('10.0.0.1');
    expect(unmapIPv4('[::ffff:a00:1]')).toBe('10.0.0.1');
    expect(unmapIPv4('10.0.0.1')).toBe('10.0.0.1');
    expect(unmapIPv4('::1')).toBe('::1');
    expect(unmapIPv4('64:ff9b::a00:1')).toBe('64:ff9b::a00:1');
  });
});
