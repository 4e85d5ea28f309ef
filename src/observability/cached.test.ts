import { describe, expect, it } from 'vitest';
import { cachedFor } from './cached.js';

describe('cachedFor', () => {
  it('loads once per ttl and shares a load in progress', async () => {
    let now = 0;
    let loads = 0;
    const get = cachedFor(5_000, async () => ++loads, () => now);
    expect(await Promise.all([get(), get()])).toEqual([1, 1]);
    now = 4_999;
    expect(await get()).toBe(1);
    now = 5_000;
    expect(await get()).toBe(2);
    expect(loads).toBe(2);
  });

  it('does not keep a failure: the next call loads again', async () => {
    let fail = true;
    const get = cachedFor(60_000, async () => {
      if (fail) throw new Error('store down');
      return 'ok';
    }, () => 0);
    await expect(get()).rejects.toThrow('store down');
    fail = false;
    expect(await get()).toBe('ok');
  });
});
