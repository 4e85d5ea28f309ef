import { describe, expect, it } from 'vitest';
import { EndpointWindows } from './endpoint-windows.js';

describe('EndpointWindows', () => {
  it('starts an endpoint at the initial window, never above the ceiling', () => {
    expect(new EndpointWindows(64, 8).of('e')).toBe(8);
    expect(new EndpointWindows(2, 8).of('e')).toBe(2);
  });

  it('grows by one per answer up to the ceiling, and halves on each timeout down to where it started', () => {
    const w = new EndpointWindows(40, 4);
    for (let i = 0; i < 50; i++) w.answered('e', 10);
    expect(w.of('e')).toBe(40);
    w.timedOut('e', 1_000);
    expect(w.of('e')).toBe(20);
    w.timedOut('e', 1_000);
    expect(w.of('e')).toBe(10);
    for (let i = 0; i < 5; i++) w.timedOut('e', 1_000);
    expect(w.of('e')).toBe(4);
    w.answered('e', 10);
    expect(w.of('e')).toBe(5);
    // Each endpoint has its own.
    expect(w.of('other')).toBe(4);
  });

  it('forgets every endpoint once it would remember more than its limit: each starts over', () => {
    const w = new EndpointWindows(64, 8, 2);
    w.answered('a', 10);
    w.answered('b', 10);
    expect([w.of('a'), w.of('b')]).toEqual([9, 9]);
    w.answered('c', 10);
    expect([w.of('a'), w.of('b'), w.of('c')]).toEqual([8, 8, 9]);
    // Their pace too.
    expect([w.paceOf('a'), w.paceOf('c')]).toEqual([undefined, 10]);
  });

  it('keeps an average of each endpoint’s attempt times that follows the newest by a fifth', () => {
    const w = new EndpointWindows(64, 8);
    expect(w.paceOf('e')).toBeUndefined();
    w.answered('e', 100);
    expect(w.paceOf('e')).toBe(100);
    w.answered('e', 200);
    expect(w.paceOf('e')).toBe(120);
    w.timedOut('e', 30_000);
    expect(w.paceOf('e')).toBe(6_096);
    expect(w.paceOf('other')).toBeUndefined();
  });
});
