import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE } from '../delivery/retry-policy.js';
import { DEFAULT_FAILING_GAP_MS } from '../store/contract.js';
import { failingGapMs, thresholdText } from './health-hooks.js';

const HOUR = 3_600_000;

describe('failingGapMs', () => {
  it('is 25 hours on the default schedule and threshold: a 24-hour Retry-After, the longest wait, and an hour of slack', () => {
    expect(failingGapMs({ retrySchedule: DEFAULT_RETRY_SCHEDULE, disableAfterMs: 120 * HOUR })).toBe(25 * HOUR);
    expect(DEFAULT_FAILING_GAP_MS).toBe(failingGapMs({ retrySchedule: DEFAULT_RETRY_SCHEDULE, disableAfterMs: 120 * HOUR }));
  });

  it('follows a schedule whose longest step, jittered up, is longer than a day', () => {
    expect(failingGapMs({ retrySchedule: [0, 60, 2 * 86_400], disableAfterMs: 30 * 24 * HOUR })).toBe(52.8 * HOUR + HOUR);
  });

  it('is never longer than the threshold', () => {
    expect(failingGapMs({ retrySchedule: DEFAULT_RETRY_SCHEDULE, disableAfterMs: HOUR })).toBe(HOUR);
  });
});

describe('thresholdText', () => {
  it.each([
    [120, '5 days'],
    [24, '1 day'],
    [1, '1 hour'],
    [2, '2 hours'],
    [36, '36 hours'],
  ])('%i hours reads "%s"', (hours, text) => expect(thresholdText(hours * HOUR)).toBe(text));
});
