import { describe, expect, it } from 'vitest';
import { isId, newId } from './ids.js';

describe('newId', () => {
  it('makes well-formed ids that sort in creation order, within one millisecond and across', () => {
    const now = Date.now();
    const ids = [
      ...Array.from({ length: 2_000 }, () => newId('dlv', now)),
      ...Array.from({ length: 2_000 }, (_, i) => newId('dlv', now + 1 + Math.floor(i / 100))),
    ];
    expect(ids.every((id) => isId('dlv', id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws fresh randomness for every millisecond, past the size of its random pool', () => {
    const base = Date.now() + 10_000;
    const tails = Array.from({ length: 1_000 }, (_, i) => newId('evt', base + i).slice(-16));
    expect(new Set(tails).size).toBe(tails.length);
    // 80 random bits per id: no two of 1,000 share their first 8 random characters.
    expect(new Set(tails.map((t) => t.slice(0, 8))).size).toBe(tails.length);
  });
});
