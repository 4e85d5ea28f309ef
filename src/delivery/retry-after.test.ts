import { describe, expect, it } from 'vitest';
import { parseHttpDate, parseRetryAfter } from './retry-after.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0); // Wed, 15 Jan 2025 12:00:00 GMT

describe('parseRetryAfter', () => {
  it('reads delta seconds as milliseconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter('3600', NOW)).toBe(3_600_000);
  });

  it('reads an IMF-fixdate as the time until that date', () => {
    expect(parseRetryAfter('Wed, 15 Jan 2025 12:01:30 GMT', NOW)).toBe(90_000);
  });

  it('reads the obsolete RFC 850 and asctime date forms', () => {
    expect(parseRetryAfter('Wednesday, 15-Jan-25 12:00:10 GMT', NOW)).toBe(10_000);
    expect(parseRetryAfter('Wed Jan 15 12:00:20 2025', NOW)).toBe(20_000);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW)).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it('treats an RFC 850 two-digit year more than 50 years ahead as the past century', () => {
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it('answers 0 for a date already past (retry allowed now)', () => {
    expect(parseRetryAfter('Tue, 14 Jan 2025 12:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores absent, empty, negative and garbage values', () => {
    for (const value of [undefined, '', '   ', '-5', '1.5', '5s', 'soon', '0x10', '1e3',
      'Wed, 32 Jan 2025 12:00:00 GMT', 'Wed, 31 Feb 2025 12:00:00 GMT', 'Wed, 15 Jan 2025 12:00:00 UTC',
      'Wed, 15 Jan 2025 25:00:00 GMT']) {
      expect(parseRetryAfter(value, NOW), String(value)).toBeUndefined();
    }
  });

  it('keeps huge delta seconds finite (the retry policy caps them)', () => {
    const ms = parseRetryAfter('9'.repeat(400), NOW);
    expect(ms).toBe(Number.MAX_SAFE_INTEGER);
  });
});
