import { afterEach, describe, expect, it, vi } from 'vitest';
import { HoldReports } from './hold-reports.js';

afterEach(() => void vi.useRealTimers());

describe('HoldReports', () => {
  it('posts the hold limits above a round when they changed, at most every 50 ms and at the end of it, the whole set each time', () => {
    vi.useFakeTimers({ now: 1_000 });
    let limits = new Map([['a', 80], ['b', 128], ['slow', 8]]);
    const posted: [string, number][][] = [];
    const r = new HoldReports(() => new Map(limits), 64, (all) => posted.push(all));
    r.changed();
    expect(posted).toEqual([[['a', 80], ['b', 128]]]);
    // Within 50 ms of the last post nothing goes out at once, even when a limit moved...
    limits.set('a', 96);
    vi.advanceTimersByTime(30);
    r.changed();
    r.changed();
    expect(posted).toHaveLength(1);
    // ...but once the 50 ms are over, the last state does.
    vi.advanceTimersByTime(20);
    expect(posted).toEqual([[['a', 80], ['b', 128]], [['a', 96], ['b', 128]]]);
    // Nothing changed: nothing posted.
    vi.advanceTimersByTime(50);
    r.changed();
    expect(posted).toHaveLength(2);
    // An endpoint it no longer holds work for, or that fell to a round, drops out of the set.
    limits = new Map([['a', 64], ['b', 128]]);
    vi.advanceTimersByTime(50);
    r.changed();
    expect(posted.at(-1)).toEqual([['b', 128]]);
    r.stop();
  });
});
