import { describe, expect, it } from 'vitest';
import { AttemptTally, bucketIndex } from './attempt-tally.js';

describe('bucketIndex', () => {
  it('puts a value on a bound into that bound (Prometheus le is inclusive) and beyond the last into +Inf', () => {
    const bounds = [0.005, 0.01, 1];
    expect(bucketIndex(bounds, 0)).toBe(0);
    expect(bucketIndex(bounds, 0.005)).toBe(0);
    expect(bucketIndex(bounds, 0.0051)).toBe(1);
    expect(bucketIndex(bounds, 1)).toBe(2);
    expect(bucketIndex(bounds, 30)).toBe(3);
  });
});

describe('AttemptTally', () => {
  it('counts attempts by profile and outcome, with buckets, sum and count', () => {
    const t = new AttemptTally([0.1, 1], ['standard']);
    t.record('standard', 'succeeded', 0.05);
    t.record('standard', 'retry', 0.5);
    t.record('cmp', 'failed', 2);
    expect(t.count('standard', 'succeeded')).toBe(1);
    expect(t.count('standard', 'retry')).toBe(1);
    expect(t.count('cmp', 'failed')).toBe(1);
    expect(t.count('tenovos', 'failed')).toBe(0);
    const byProfile = new Map(t.profiles());
    expect([...byProfile.get('standard')!.buckets]).toEqual([1, 1, 0]);
    expect(byProfile.get('standard')).toMatchObject({ sum: 0.55, count: 2 });
    expect([...byProfile.get('cmp')!.buckets]).toEqual([0, 0, 1]);
  });

  it('lists the profiles it was given before any attempt, so their series start at 0', () => {
    const t = new AttemptTally(undefined, ['standard', 'cmp']);
    expect([...t.profiles()].map(([p, s]) => [p, s.count])).toEqual([
      ['standard', 0],
      ['cmp', 0],
    ]);
  });
});
