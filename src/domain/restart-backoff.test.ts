import { describe, expect, it } from 'vitest';
import { RestartBackoff } from './restart-backoff.js';

describe('RestartBackoff', () => {
  it('doubles from 250 ms while threads stop within 30 s of their start, up to 30 s, and starts over after a stable run', () => {
    let now = 0;
    const backoff = new RestartBackoff(() => now);
    const stopAfter = (ms: number) => {
      now += ms;
      const delay = backoff.nextDelay();
      now += delay;
      backoff.started();
      return delay;
    };
    expect([1, 1, 1, 1, 1, 1, 1, 1, 1].map(() => stopAfter(1_000))).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(stopAfter(30_000)).toBe(250);
    expect(stopAfter(29_999)).toBe(500);
  });
});
