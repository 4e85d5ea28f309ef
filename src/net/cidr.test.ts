import { describe, it, expect } from 'vitest';
import { AllowList, parseCidrList } from './cidr.js';

describe('parseCidrList', () => {
  it('parses networks and bare addresses', () => {
    expect(parseCidrList('127.0.0.0/8, ::1/128,10.1.2.3 ,fd00::1')).toEqual([
      { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
      { address: '10.1.2.3', prefix: 32, family: 'ipv4' },
      { address: 'fd00::1', prefix: 128, family: 'ipv6' },
    ]);
  });

  it('treats an empty value or empty entries as nothing', () => {
    expect(parseCidrList('')).toEqual([]);
    expect(parseCidrList(' , ,')).toEqual([]);
    expect(parseCidrList('10.0.0.0/8,')).toHaveLength(1);
  });

  it('stores IPv4-mapped networks as IPv4', () => {
    expect(parseCidrList('::ffff:10.0.0.0/104,::ffff:7f00:1')).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
    ]);
  });

  it('accepts /0 and bracketed IPv6', () => {
    expect(parseCidrList('0.0.0.0/0,[::1]/128')).toEqual([
      { address: '0.0.0.0', prefix: 0, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
  });

  it.each([
    ['10.0.0.0/33', '10.0.0.0/33'],
    ['::1/129', '::1/129'],
    ['10.0.0.0/', '10.0.0.0/'],
    ['10.0.0.0/8/8', '10.0.0.0/8/8'],
    ['10.0.0.0/-1', '10.0.0.0/-1'],
    ['10.0.0.0/x', '10.0.0.0/x'],
    ['example.com', 'example.com'],
    ['10.0.0.0/8,10.0.0.256', '10.0.0.256'],
    ['127.1', '127.1'], // loose IPv4 spellings are not accepted in configuration
    ['fe80::1%eth0', 'fe80::1%eth0'],
  ])('rejects %j naming %j', (value, bad) => {
    expect(() => parseCidrList(value)).toThrow(Error);
    expect(() => parseCidrList(value)).toThrow(`"${bad}"`);
  });
});

describe('AllowList', () => {
  const list = AllowList.fromString('127.0.0.0/8,::1/128,10.1.2.3,fd00::/8');

  it.each([
    ['127.0.0.1', true],
    ['127.9.9.9', true],
    ['10.1.2.3', true],
    ['10.1.2.4', false],
    ['10.0.0.1', false],
    ['::1', true],
    ['[::1]', true],
    ['::2', false],
    ['fd12::1', true],
    ['fe80::1', false],
    // IPv4-mapped IPv6 reaches the IPv4 host, so IPv4 rules apply, in either spelling.
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:a01:203', true],
    ['::ffff:10.0.0.1', false],
    ['not-an-ip', false],
  ])('%s → %s', (ip, allowed) => {
    expect(list.allows(ip)).toBe(allowed);
  });

  it('allows nothing when empty', () => {
    const empty = new AllowList([]);
    expect(empty.isEmpty).toBe(true);
    expect(empty.allows('127.0.0.1')).toBe(false);
    expect(empty.allows('::1')).toBe(false);
  });

  it('matches IPv4 addresses against IPv4-mapped rules', () => {
    const mapped = AllowList.fromString('::ffff:192.168.0.0/112');
    expect(mapped.allows('192.168.5.5')).toBe(true);
    expect(mapped.allows('192.169.0.1')).toBe(false);
  });
});
