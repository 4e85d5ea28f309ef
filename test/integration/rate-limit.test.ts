import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** Most arrivals in any window of `windowMs` starting at an arrival. */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[i] - times[j] >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('rate limits', () => {
  it('holds a throttled endpoint within 5% of its limit over 10 s, drops nothing, and leaves others at full speed', async () => {
    const h: TestHerald = await startTestHerald();
    const limited: Receiver = await startReceiver();
    const free: Receiver = await startReceiver();
    open.push(h, limited, free);
    const RATE = 40;
    const COUNT = 520; // 13 s of work at the limit
    await h.api('POST', '/api/v2/endpoints', { url: limited.url, event_types: ['asset.created'], rate_limit_per_second: RATE });
    await h.api('POST', '/api/v2/endpoints', { url: free.url, event_types: ['asset.created'] });
    for (let i = 0; i < COUNT; i += 260) {
      await h.api('POST', '/api/v2/events/batch', { events: Array.from({ length: 260 }, (_, k) => ({ type: 'asset.created', data: { n: i + k } })) });
    }
    // The unthrottled endpoint has everything long before the throttled one is a fifth through.
    await free.waitFor(COUNT, 5_000);
    expect(limited.received.length).toBeLessThan(COUNT / 5);

    await limited.waitFor(COUNT, 30_000);
    const times = limited.received.map((r) => r.at);
    const span = times.at(-1)! - times[0];
    const peak10s = maxInWindow(times, 10_000);
    expect(peak10s).toBeLessThanOrEqual(RATE * 10 * 1.05);
    expect(peak10s).toBeGreaterThanOrEqual(RATE * 10 * 0.95);
    // Every message arrived exactly once.
    expect(new Set(limited.received.map((r) => JSON.parse(r.body).data.n)).size).toBe(COUNT);
    expect(span).toBeGreaterThan(((COUNT - RATE) / RATE) * 1000 * 0.95);
  }, 60_000);
});
