import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './retry-after.js';
import {
  DEFAULT_RETRY_SCHEDULE,
  MAX_RETRY_AFTER_MS,
  nextAttempt,
  parseRetrySchedule,
} from './retry-policy.js';

const NOW = 1_700_000_000_000;
const noJitter = (): number => 0.5;
const SCHEDULE = DEFAULT_RETRY_SCHEDULE;

describe('parseRetrySchedule', () => {
  it('parses the default Tenovos schedule in seconds', () => {
    expect(parseRetrySchedule('0,5,300,1800,7200,18000,36000,36000')).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(DEFAULT_RETRY_SCHEDULE).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
  });

  it('ignores whitespace and accepts decimals and a single entry', () => {
    expect(parseRetrySchedule(' 0 , 1.5,60 ')).toEqual([0, 1.5, 60]);
    expect(parseRetrySchedule('10')).toEqual([10]);
  });

  it('names the bad entry by position and text', () => {
    expect(() => parseRetrySchedule('0,5,abc,60')).toThrow('retry schedule entry 3 ("abc")');
    expect(() => parseRetrySchedule('0,-5')).toThrow('entry 2 ("-5")');
    expect(() => parseRetrySchedule('0,5,')).toThrow('entry 3 ("")');
    expect(() => parseRetrySchedule('0,2592001')).toThrow('entry 2 (2592001) is longer than 2592000 seconds');
    expect(parseRetrySchedule('0,2592000')).toEqual([0, 2592000]);
    expect(() => parseRetrySchedule('0,,5')).toThrow('entry 2 ("")');
    expect(() => parseRetrySchedule('0,1e3')).toThrow('entry 2 ("1e3")');
    expect(() => parseRetrySchedule('   ')).toThrow('retry schedule is empty');
  });
});

describe('nextAttempt', () => {
  it('waits exactly schedule[n] seconds after attempt n fails when random is 0.5', () => {
    const expected = [5, 300, 1800, 7200, 18000, 36000, 36000];
    expected.forEach((seconds, i) => {
      expect(nextAttempt({ attemptsMade: i + 1, schedule: SCHEDULE, now: NOW, random: noJitter })).toEqual({
        action: 'retry',
        at: NOW + seconds * 1000,
      });
    });
  });

  it('gives up after the last step (8 attempts with the default schedule)', () => {
    expect(nextAttempt({ attemptsMade: 8, schedule: SCHEDULE, now: NOW, random: noJitter })).toEqual({ action: 'give_up' });
    expect(nextAttempt({ attemptsMade: 9, schedule: SCHEDULE, now: NOW, random: noJitter })).toEqual({ action: 'give_up' });
    expect(nextAttempt({ attemptsMade: 1, schedule: [0], now: NOW, random: noJitter })).toEqual({ action: 'give_up' });
  });

  it('makes the first attempt at once (schedule[0] = 0), never jittered', () => {
    for (const r of [0, 0.5, 0.999]) {
      expect(nextAttempt({ attemptsMade: 0, schedule: SCHEDULE, now: NOW, random: () => r })).toEqual({ action: 'retry', at: NOW });
    }
  });

  it('keeps jittered delays within ±10 % by default, at the exact bounds', () => {
    // 300 s step: [270 s, 330 s)
    expect(nextAttempt({ attemptsMade: 2, schedule: SCHEDULE, now: NOW, random: () => 0 })).toEqual({ action: 'retry', at: NOW + 270_000 });
    expect(nextAttempt({ attemptsMade: 2, schedule: SCHEDULE, now: NOW, random: () => 0.75 })).toEqual({ action: 'retry', at: NOW + 315_000 });
    const top = nextAttempt({ attemptsMade: 2, schedule: SCHEDULE, now: NOW, random: () => 0.999999 });
    expect(top).toEqual({ action: 'retry', at: NOW + 330_000 }); // rounded to whole ms
  });

  it('keeps every jittered delay inside its bounds for many random draws', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 1; n < SCHEDULE.length; n++) {
      const d = SCHEDULE[n] * 1000;
      for (let k = 0; k < 200; k++) {
        const result = nextAttempt({ attemptsMade: n, schedule: SCHEDULE, now: NOW, random });
        if (result.action !== 'retry') throw new Error('expected retry');
        expect(result.at - NOW).toBeGreaterThanOrEqual(Math.round(d * 0.9));
        expect(result.at - NOW).toBeLessThanOrEqual(Math.round(d * 1.1));
      }
    }
  });

  it('honours a custom jitter fraction and jitter 0', () => {
    expect(nextAttempt({ attemptsMade: 1, schedule: [0, 100], now: NOW, random: () => 0, jitter: 0.5 })).toEqual({ action: 'retry', at: NOW + 50_000 });
    expect(nextAttempt({ attemptsMade: 1, schedule: [0, 100], now: NOW, random: () => 0, jitter: 0 })).toEqual({ action: 'retry', at: NOW + 100_000 });
    expect(nextAttempt({ attemptsMade: 1, schedule: [0, 100], now: NOW, random: () => 0, jitter: 1 })).toEqual({ action: 'retry', at: NOW });
  });

  it('lets a Retry-After longer than the scheduled step win', () => {
    // after attempt 2 the step is 300 s; the receiver asks for 1 h
    const retryAfterMs = parseRetryAfter('3600', NOW);
    expect(nextAttempt({ attemptsMade: 2, schedule: SCHEDULE, now: NOW, random: noJitter, retryAfterMs })).toEqual({
      action: 'retry',
      at: NOW + 3_600_000,
    });
  });

  it('keeps the scheduled step when Retry-After is shorter', () => {
    expect(nextAttempt({ attemptsMade: 2, schedule: SCHEDULE, now: NOW, random: noJitter, retryAfterMs: 10_000 })).toEqual({
      action: 'retry',
      at: NOW + 300_000,
    });
    expect(nextAttempt({ attemptsMade: 2, schedule: SCHEDULE, now: NOW, random: noJitter, retryAfterMs: 0 })).toEqual({
      action: 'retry',
      at: NOW + 300_000,
    });
  });

  it('caps a receiver Retry-After at 24 h', () => {
    expect(MAX_RETRY_AFTER_MS).toBe(86_400_000);
    const retryAfterMs = parseRetryAfter(String(7 * 86_400), NOW);
    expect(nextAttempt({ attemptsMade: 1, schedule: SCHEDULE, now: NOW, random: noJitter, retryAfterMs })).toEqual({
      action: 'retry',
      at: NOW + 86_400_000,
    });
  });

  it('does not let Retry-After grant an attempt beyond the schedule', () => {
    expect(nextAttempt({ attemptsMade: 8, schedule: SCHEDULE, now: NOW, random: noJitter, retryAfterMs: 5_000 })).toEqual({ action: 'give_up' });
  });

  it('applies Retry-After as a floor after jitter', () => {
    expect(nextAttempt({ attemptsMade: 1, schedule: SCHEDULE, now: NOW, random: () => 0, retryAfterMs: 5_000 })).toEqual({
      action: 'retry',
      at: NOW + 5_000,
    });
  });

  it('rejects nonsense input', () => {
    expect(() => nextAttempt({ attemptsMade: -1, schedule: SCHEDULE, now: NOW, random: noJitter })).toThrow(RangeError);
    expect(() => nextAttempt({ attemptsMade: 1.5, schedule: SCHEDULE, now: NOW, random: noJitter })).toThrow(RangeError);
    expect(() => nextAttempt({ attemptsMade: 1, schedule: SCHEDULE, now: NOW, random: noJitter, jitter: 2 })).toThrow(RangeError);
    expect(() => nextAttempt({ attemptsMade: 1, schedule: [0, -1], now: NOW, random: noJitter })).toThrow(RangeError);
  });
});
