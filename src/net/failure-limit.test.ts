import { describe, expect, it } from 'vitest';
import { FailureLimit, limitedAddress, type SharedFailures } from './failure-limit.js';

const OPTIONS = { failures: 3, windowMs: 60_000, addresses: 100 };

function limitAt(now: { t: number }, options = OPTIONS) {
  return new FailureLimit(options, () => now.t);
}

function fail(limit: FailureLimit, ip: string, times: number): void {
  for (let i = 0; i < times; i++) {
    const attempt = limit.admit(ip);
    if (!attempt.admitted) throw new Error(`refused at failure ${i + 1}`);
    void attempt.failed();
  }
}

describe('FailureLimit', () => {
  it('refuses an address past its failures until its window ends, then admits it again', () => {
    const now = { t: 1_000_000 };
    const limit = limitAt(now);
    fail(limit, '203.0.113.7', 3);
    now.t += 10_000;
    expect(limit.admit('203.0.113.7')).toEqual({ admitted: false, until: 1_060_000, first: true, failures: 3 });
    expect(limit.admit('203.0.113.7')).toMatchObject({ admitted: false, first: false });
    expect(limit.admit('203.0.113.8').admitted).toBe(true);
    now.t = 1_060_000;
    expect(limit.admit('203.0.113.7').admitted).toBe(true);
  });

  it('counts sign-ins still being checked, so parallel guesses cannot overrun the limit', () => {
    const limit = limitAt({ t: 0 });
    const inFlight = [limit.admit('198.51.100.1'), limit.admit('198.51.100.1'), limit.admit('198.51.100.1')];
    expect(inFlight.every((a) => a.admitted)).toBe(true);
    expect(limit.admit('198.51.100.1').admitted).toBe(false);
  });

  it('does not count a sign-in that succeeded, and forgets an address with nothing against it', () => {
    const limit = limitAt({ t: 0 });
    for (let i = 0; i < 10; i++) {
      const attempt = limit.admit('198.51.100.2');
      if (!attempt.admitted) throw new Error('a successful sign-in was refused');
      attempt.forget();
    }
    expect(limit.size).toBe(0);
    fail(limit, '198.51.100.2', 2);
    const ok = limit.admit('198.51.100.2');
    if (ok.admitted) ok.forget();
    // A success does not wipe the failures before it: one valid key must not buy more guesses at another.
    fail(limit, '198.51.100.2', 1);
    expect(limit.admit('198.51.100.2').admitted).toBe(false);
  });

  it('remembers a bounded number of addresses, the oldest forgotten first', () => {
    const limit = limitAt({ t: 0 }, { ...OPTIONS, addresses: 50 });
    for (let i = 0; i < 10_000; i++) fail(limit, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1);
    expect(limit.size).toBe(50);
  });

  it('keys IPv6 clients by their /64 and IPv4-mapped clients by their IPv4 address', () => {
    expect(limitedAddress('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(limitedAddress('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(limitedAddress('::1')).toBe('0:0:0:0::/64');
    expect(limitedAddress('::ffff:192.0.2.9')).toBe('192.0.2.9');
    expect(limitedAddress('192.0.2.9')).toBe('192.0.2.9');
    const limit = limitAt({ t: 0 });
    fail(limit, '2001:db8:1:2::1', 2);
    fail(limit, '2001:db8:1:2::2', 1);
    expect(limit.admit('2001:db8:1:2:ffff::9').admitted).toBe(false);
    expect(limit.admit('2001:db8:1:3::1').admitted).toBe(true);
  });
});

describe('FailureLimit with no limit (HERALD_UI_SIGN_IN_FAILURES=0, HERALD_API_KEY_FAILURES=0)', () => {
  it('admits every sign-in and remembers no address', () => {
    const limit = limitAt({ t: 0 }, { ...OPTIONS, failures: 0 });
    fail(limit, '203.0.113.9', 1000);
    expect(limit.size).toBe(0);
  });
});

describe('FailureLimit with attempts naming what they try (API keys by hash)', () => {
  it('admits any number of attempts at once that try one key, and remembers no address for them', () => {
    const limit = limitAt({ t: 0 });
    const inFlight = Array.from({ length: 50 }, () => limit.admit('198.51.100.3', 'hash-of-the-key'));
    expect(inFlight.every((a) => a.admitted)).toBe(true);
    for (const a of inFlight) if (a.admitted) a.forget();
    expect(limit.size).toBe(0);
  });

  it('counts each different key being checked, so guesses sent at once cannot overrun the limit', () => {
    const limit = limitAt({ t: 0 });
    const guesses = ['k1', 'k2', 'k3'].map((k) => limit.admit('198.51.100.4', k));
    expect(guesses.every((a) => a.admitted)).toBe(true);
    // Refused for a second only: the keys being checked may all be good.
    expect(limit.admit('198.51.100.4', 'k4')).toEqual({ admitted: false, until: 1_000, first: false, failures: 0 });
    // One of the keys already being checked is the same attempt again.
    const again = limit.admit('198.51.100.4', 'k1');
    expect(again.admitted).toBe(true);
    for (const a of [...guesses, again]) if (a.admitted) void a.failed();
    expect(limit.admit('198.51.100.4', 'k1')).toMatchObject({ admitted: false, failures: 4 });
  });
});

describe('FailureLimit with a shared record', () => {
  it('takes the count of failures made through other processes from the record', async () => {
    const record = new Map<string, SharedFailures>();
    const shared = async (address: string, now: number) => {
      const was = record.get(address);
      const next = was && now < was.since + 60_000 ? { since: was.since, failures: was.failures + 1 } : { since: now, failures: 1 };
      record.set(address, next);
      return next;
    };
    const now = { t: 0 };
    const one = new FailureLimit(OPTIONS, () => now.t, shared);
    const other = new FailureLimit(OPTIONS, () => now.t, shared);
    for (const limit of [one, one, other]) {
      const attempt = limit.admit('203.0.113.20');
      if (!attempt.admitted) throw new Error('refused too early');
      await attempt.failed();
    }
    // The third failure, made through the other process, reached the limit there at once.
    expect(other.admit('203.0.113.20')).toMatchObject({ admitted: false, failures: 3 });
    // This one learns of it at its next failure, and refuses from then on.
    const next = one.admit('203.0.113.20');
    if (!next.admitted) throw new Error('refused before learning of the other failures');
    await next.failed();
    expect(one.admit('203.0.113.20')).toMatchObject({ admitted: false, failures: 4 });
  });
});
