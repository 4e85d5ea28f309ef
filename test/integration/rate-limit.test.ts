import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const open: { close(): Promise<void> }[] = [];
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
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

  // The sum of its phases' bounds (5 delivered 5 s, 15 delivered 5 s, paused 1.3 s, all 40 delivered 15 s, settled 10 s).
  const QUEUED_THROUGH_CHANGES_MS = 40_000;

  it('keeps queued deliveries through changes to their endpoint: an edit costs none an attempt, a pause hands them back untried', async () => {
    const h = await startTestHerald();
    const receiver = await startReceiver();
    open.push(h, receiver);
    const COUNT = 40;
    const ep = (await h.api('POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.created'], rate_limit_per_second: 10 })).body;
    await h.api('POST', '/api/v2/events/batch', { events: Array.from({ length: COUNT }, (_, k) => ({ type: 'asset.created', data: { n: k } })) });
    await receiver.waitFor(5, 5_000);
    expect((await h.api('PATCH', `/api/v2/endpoints/${ep.id}`, { description: 'renamed while its deliveries wait' })).status).toBe(200);
    await receiver.waitFor(15, 5_000);
    expect((await h.api('PATCH', `/api/v2/endpoints/${ep.id}`, { disabled: true })).status).toBe(200);
    await pause(300);
    const whilePaused = receiver.received.length;
    await pause(1_000);
    expect(receiver.received.length).toBe(whilePaused);
    expect(whilePaused).toBeLessThan(COUNT);
    expect((await h.api('PATCH', `/api/v2/endpoints/${ep.id}`, { disabled: false })).status).toBe(200);
    await receiver.waitFor(COUNT, 15_000);

    const deliveries = await eventually(async () => {
      const page = (await h.api('GET', `/api/v2/endpoints/${ep.id}/deliveries?limit=250`)).body.data as { status: string; attempts: number; attempt_log: { error_kind: string | null }[] }[];
      return page.length === COUNT && page.every((d) => d.status === 'succeeded') ? page : undefined;
    });
    // One attempt each: none was spent on the edit or the pause.
    expect(deliveries.map((d) => d.attempts)).toEqual(Array(COUNT).fill(1));
    expect(deliveries.flatMap((d) => d.attempt_log.map((a) => a.error_kind)).filter((k) => k !== null)).toEqual([]);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(COUNT);
  }, QUEUED_THROUGH_CHANGES_MS);
});
