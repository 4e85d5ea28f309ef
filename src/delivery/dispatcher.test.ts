import { describe, expect, it } from 'vitest';
import type { ClaimedDelivery, Settlement } from '../store/contract.js';
import { Dispatcher, type AttemptMade, type AttemptResult, type DispatcherDeps, type EndpointSchedule } from './dispatcher.js';

const NOW = 1_700_000_000_000;

function delivery(id: string, endpointId: string, attempts = 0): ClaimedDelivery {
  return { id, accountId: 'acc', eventId: `msg_${id}`, endpointId, attempts, claimNo: 1, eventType: 'asset.created', body: '{}', sequence: null, resourceKey: null, projectId: null, createdAt: NOW };
}

function attempt(status: number | null): AttemptMade['attempt'] {
  return { attemptNo: 1, startedAt: NOW, durationMs: 1, statusCode: status, errorKind: status === 200 ? null : 'http_status', errorMessage: null, requestHeaders: {}, responseBody: null };
}

interface Harness {
  deps: DispatcherDeps;
  settled: Settlement[];
  claims: { limit: number; exclude: readonly string[] }[];
  events: string[];
  queue: ClaimedDelivery[];
}

function harness(results: (d: ClaimedDelivery) => Promise<AttemptResult>, schedules: Record<string, Partial<EndpointSchedule>> = {}): Harness {
  const h: Harness = { settled: [], claims: [], events: [], queue: [], deps: undefined as unknown as DispatcherDeps };
  h.deps = {
    async claim(limit, exclude) {
      h.claims.push({ limit, exclude: [...exclude] });
      const taken: ClaimedDelivery[] = [];
      for (const d of [...h.queue]) {
        if (taken.length >= limit) break;
        if (exclude.includes(d.endpointId)) continue;
        taken.push(d);
        h.queue.splice(h.queue.indexOf(d), 1);
      }
      return taken;
    },
    async schedules(ids) {
      return new Map(
        ids.filter((id) => schedules[id] !== undefined || !id.startsWith('gone')).map((id) => [id, { id, accountId: 'acc', disabled: false, rateLimitPerSecond: null, accountRateLimitPerSecond: null, ordered: false, ...schedules[id] }]),
      );
    },
    deliver: results,
    async settle(batch) {
      h.settled.push(...batch);
    },
    async nextDueAt() {
      return null;
    },
    reserveRate: () => 0,
    // What was written when notices were to be carried out.
    onNotices: () => h.events.push(`notices:${h.settled.filter((s) => s.outcome === 'failed' && s.notice).map((s) => s.deliveryId).sort().join(',')}`),
  };
  return h;
}

function dispatcher(h: Harness, overrides: Partial<ConstructorParameters<typeof Dispatcher>[1]> = {}): Dispatcher {
  return new Dispatcher(h.deps, { owner: 'w1', concurrency: 4, endpointConcurrency: 2, retrySchedule: [0, 5, 300], clock: () => NOW, random: () => 0.5, settleDelayMs: 1, ...overrides });
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('Dispatcher', () => {
  it('with idleAfterShortClaim, claims again only when told of new work after a claim came back short', async () => {
    const claimsAfterShort = async (idleAfterShortClaim: boolean) => {
      const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }));
      const d = dispatcher(h, { concurrency: 10, endpointConcurrency: 10, idleAfterShortClaim });
      h.queue.push(delivery('first', 'e1'));
      d.start();
      await until(() => d.status().succeeded === 1);
      await new Promise((r) => setTimeout(r, 50));
      const claims = h.claims.length;
      h.queue.push(delivery('second', 'e1'));
      d.notify();
      await until(() => d.status().succeeded === 2);
      await d.stop(1000);
      return claims;
    };
    // One claim took the only delivery and nothing more was claimed until the notify.
    expect(await claimsAfterShort(true)).toBe(1);
    // Without it, the claim that came back empty is made at once.
    expect(await claimsAfterShort(false)).toBe(2);
  });

  it('writes settlements in batches, but at once when one frees the next delivery of an ordered chain', async () => {
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }), { chain: { ordered: true } });
    const d = dispatcher(h, { concurrency: 10, endpointConcurrency: 10, settleDelayMs: 60_000, chainSettleDelayMs: 1 });
    h.queue.push(delivery('plain', 'e1'));
    d.start();
    await until(() => d.status().succeeded === 1);
    // Waiting for more to batch with (the minute is only there to make the wait observable).
    expect(d.status().pendingSettlements).toBe(1);
    expect(h.settled).toEqual([]);

    h.queue.push({ ...delivery('link1', 'chain'), resourceKey: 'asset:a1', sequence: 1 });
    d.notify();
    await until(() => h.settled.length === 2);
    expect(h.settled.map((s) => s.deliveryId).sort()).toEqual(['link1', 'plain']);
    await d.stop(1000);
  });

  it('settles each verdict: success, retry at the next step, fail, gone, give-up after the last step', async () => {
    const verdicts: Record<string, AttemptResult> = {
      ok: { attempt: attempt(200), verdict: 'success' },
      again: { attempt: attempt(500), verdict: 'retry' },
      blocked: { attempt: attempt(null), verdict: 'fail' },
      gone: { attempt: attempt(410), verdict: 'gone' },
      last: { attempt: attempt(500), verdict: 'retry' },
      later: { attempt: attempt(429), verdict: 'retry', retryAfterMs: 600_000 },
    };
    const h = harness(async (d) => verdicts[d.id]);
    h.queue.push(delivery('ok', 'e1'), delivery('again', 'e2'), delivery('blocked', 'e3'), delivery('gone', 'e4'), delivery('last', 'e5', 2), delivery('later', 'e6'));
    const d = dispatcher(h, { concurrency: 10, endpointConcurrency: 10 });
    d.start();
    await until(() => h.settled.length === 6);
    await d.stop(1000);
    const by = (id: string) => h.settled.find((s) => s.deliveryId === id)!;
    expect(by('ok').outcome).toBe('succeeded');
    expect(by('again')).toMatchObject({ outcome: 'retry', nextAttemptAt: NOW + 5_000 });
    expect(by('blocked')).toMatchObject({ outcome: 'failed', notice: 'exhausted' });
    expect(by('gone')).toMatchObject({ outcome: 'failed', notice: 'gone' });
    expect(by('last')).toMatchObject({ outcome: 'failed', notice: 'exhausted' });
    expect(by('later')).toMatchObject({ outcome: 'retry', nextAttemptAt: NOW + 600_000 });
    expect([by('ok'), by('again')].every((x) => !('notice' in x))).toBe(true);
    // Notices are carried out only once the settlements that record them are written.
    expect(h.events.at(-1)).toBe('notices:blocked,gone,last');
    expect(d.status()).toMatchObject({ succeeded: 1, retried: 2, failed: 3, inFlight: 0 });
  });

  it('never runs more than endpointConcurrency attempts for one endpoint and excludes it from claims meanwhile', async () => {
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const h = harness(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((r) => release.push(r));
      running--;
      return { attempt: attempt(200), verdict: 'success' };
    });
    for (let i = 0; i < 6; i++) h.queue.push(delivery(`s${i}`, 'slow'));
    h.queue.push(delivery('f1', 'fast'));
    const d = dispatcher(h);
    d.start();
    await until(() => running === 3);
    expect(h.claims.some((c) => c.exclude.includes('slow'))).toBe(true);
    while (h.settled.length < 7) {
      release.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 5));
    }
    await d.stop(1000);
    expect(peak).toBeLessThanOrEqual(3); // 2 for "slow" + 1 for "fast"
  });

  it('holds several rounds claimed ahead for an endpoint that answers quickly, one round for a slow one', async () => {
    const release: (() => void)[] = [];
    // Slow: a receiver that times out after 1 s, well within the lease, still holds one round.
    const durationMs: Record<string, number> = { fast: 1, slow: 1_000 };
    const h = harness(async (d) => {
      await new Promise<void>((r) => release.push(r));
      return { attempt: { ...attempt(200), durationMs: durationMs[d.endpointId] }, verdict: 'success' };
    });
    for (let i = 0; i < 100; i++) h.queue.push(delivery(`f${i}`, 'fast'), delivery(`s${i}`, 'slow'));
    // As the stores do: one round (endpointConcurrency) per endpoint in a claim, or its own limit.
    const ownLimits: Record<string, number>[] = [];
    h.deps.claim = async (limit, exclude, endpointLimits = {}) => {
      ownLimits.push(endpointLimits);
      const taken: ClaimedDelivery[] = [];
      for (const ep of ['fast', 'slow'].filter((e) => !exclude.includes(e))) {
        const mine = h.queue.filter((q) => q.endpointId === ep).slice(0, Math.min(endpointLimits[ep] ?? 2, limit - taken.length));
        taken.push(...mine);
        h.queue = h.queue.filter((q) => !mine.includes(q));
      }
      return taken;
    };
    const held = (ep: string) => 100 - h.queue.filter((q) => q.endpointId === ep).length - h.settled.filter((s) => s.endpointId === ep).length;
    const peak = { fast: 0, slow: 0 };
    // What it tells a hand-off each may hold.
    const reported = { fast: 0, slow: 0 };
    const d = dispatcher(h, { concurrency: 100, endpointConcurrency: 2, leaseMs: 60_000 });
    d.start();
    while (h.settled.length < 200) {
      await new Promise((r) => setTimeout(r, 5));
      peak.fast = Math.max(peak.fast, held('fast'));
      peak.slow = Math.max(peak.slow, held('slow'));
      const limits = d.holdLimits();
      reported.fast = Math.max(reported.fast, limits.get('fast') ?? 0);
      reported.slow = Math.max(reported.slow, limits.get('slow') ?? 0);
      release.splice(0).forEach((r) => r());
    }
    await d.stop(1000);
    // Fast: up to 32 rounds of 2 before a claim, plus the claim's round. Slow: 1 round + 1 round.
    expect(peak.fast).toBeGreaterThan(8);
    expect(peak.fast).toBeLessThanOrEqual(66);
    expect(peak.slow).toBeLessThanOrEqual(4);
    expect(reported.fast).toBeGreaterThan(8);
    expect(reported.fast).toBeLessThanOrEqual(64);
    expect(reported.slow).toBe(2);
    expect(h.settled.filter((s) => s.outcome === 'release')).toEqual([]);
    // Claims took more than a round for the quick endpoint, never more than a round for the slow one.
    expect(Math.max(...ownLimits.map((l) => l.fast ?? 0))).toBeGreaterThan(2);
    expect(Math.max(...ownLimits.map((l) => l.slow ?? 0))).toBeLessThanOrEqual(2);
  });

  it('hands a waiting delivery back untried once half its lease is spent, instead of starting it', async () => {
    let now = NOW;
    const release: (() => void)[] = [];
    const h = harness(async () => {
      await new Promise<void>((r) => release.push(r));
      return { attempt: attempt(200), verdict: 'success' };
    });
    for (let i = 0; i < 4; i++) h.queue.push(delivery(`d${i}`, 'e'));
    const d = dispatcher(h, { concurrency: 10, endpointConcurrency: 2, leaseMs: 1_000, clock: () => now });
    d.start();
    await until(() => release.length === 2 && d.status().waiting === 2);
    now += 600; // the endpoint took longer than half the lease to answer
    release.splice(0).forEach((r) => r());
    await until(() => h.settled.length === 4);
    await d.stop(1000);
    const ids = (outcome: string) => h.settled.filter((s) => s.outcome === outcome).map((s) => s.deliveryId).sort();
    expect(ids('succeeded')).toEqual(['d0', 'd1']);
    expect(ids('release')).toEqual(['d2', 'd3']);
    expect(release).toEqual([]);
  });

  it('hands back a claimed delivery whose endpoint was deleted or disabled, untried', async () => {
    const tried: string[] = [];
    const h = harness(
      async (d) => {
        tried.push(d.id);
        return { attempt: attempt(200), verdict: 'success' };
      },
      { off: { disabled: true } },
    );
    h.queue.push(delivery('a', 'gone-endpoint'), delivery('b', 'off'));
    const d = dispatcher(h);
    d.start();
    await until(() => h.settled.length === 2);
    await d.stop(1000);
    expect(tried).toEqual([]);
    expect(h.settled.map((s) => s.outcome)).toEqual(['release', 'release']);
  });

  it('hands back untried a delivery whose endpoint went away while it waited (deliver answers release)', async () => {
    const h = harness(async (d) => (d.id === 'paused' ? { verdict: 'release' } : { attempt: attempt(200), verdict: 'success' }));
    h.queue.push(delivery('paused', 'e1'), delivery('ok', 'e2'));
    const d = dispatcher(h);
    d.start();
    await until(() => h.settled.length === 2);
    await d.stop(1000);
    expect(h.settled.find((s) => s.deliveryId === 'paused')).toMatchObject({ outcome: 'release', nextAttemptAt: NOW });
    expect(h.settled.find((s) => s.deliveryId === 'paused')).not.toHaveProperty('attempt');
    expect(d.status()).toMatchObject({ succeeded: 1, retried: 0, failed: 0 });
  });

  it("claims a chain's next delivery as soon as the settlement that frees it is written, not at the next idle poll", async () => {
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }), { chain: { ordered: true } });
    const link = (n: number) => ({ ...delivery(`link${n}`, 'chain'), resourceKey: 'asset:a1', sequence: n });
    // The store holds link 2 back until link 1's outcome is written, as BLOCKED_BY_HEAD does.
    const claim = h.deps.claim;
    let blocked = true;
    h.deps.claim = async (limit, exclude) => {
      if (blocked && h.settled.some((s) => s.deliveryId === 'link1')) {
        blocked = false;
        h.queue.push(link(2));
      }
      return claim(limit, exclude);
    };
    h.queue.push(link(1));
    // An idle poll of a minute: without the wake, link 2 would wait that long.
    const d = dispatcher(h, { concurrency: 10, endpointConcurrency: 10, chainSettleDelayMs: 1, idlePollMs: 60_000 });
    d.start();
    await until(() => d.status().succeeded === 2);
    await d.stop(1000);
  });

  /**
   * Ten deliveries to an endpoint limited to 25/s (each slot 40 ms after the one before) under a
   * 400 ms lease (slots may be held up to 100 ms ahead); `answer` hands each reservation's delay back.
   */
  async function throttledRun(answer: (delayMs: number) => number | Promise<number>, rate = 25, leaseMs = 400): Promise<{ settled: Settlement[]; reserved: number }> {
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }), { slow: { rateLimitPerSecond: rate } });
    let reserved = 0;
    h.deps.reserveRate = () => answer((1000 / rate) * reserved++);
    for (let i = 0; i < 10; i++) h.queue.push(delivery(`m${i}`, 'slow'));
    const d = dispatcher(h, { concurrency: 20, endpointConcurrency: 10, leaseMs });
    d.start();
    await until(() => h.settled.length === 10);
    await d.stop(1000);
    return { settled: h.settled, reserved };
  }

  it('holds rate-limit slots only a quarter of a lease ahead: the rest go back to the store, due when those slots are used', async () => {
    const { settled, reserved } = await throttledRun((delayMs) => delayMs);
    // Slots at 0, 40, 80 and 120 ms were taken; then the next free one lay 120 ms ahead.
    expect(reserved).toBe(4);
    expect(settled.filter((s) => s.outcome === 'succeeded')).toHaveLength(4);
    const released = settled.filter((s) => s.outcome === 'release');
    expect(released).toHaveLength(6);
    for (const r of released) expect(r).toMatchObject({ nextAttemptAt: NOW + 120 });
  });

  it('leaves an endpoint held back by its rate limit out of the hold limits it reports for hand-offs', async () => {
    const release: (() => void)[] = [];
    const h = harness(async () => {
      await new Promise<void>((r) => release.push(r));
      return { attempt: attempt(200), verdict: 'success' };
    }, { limited: { rateLimitPerSecond: 25 } });
    let reserved = 0;
    h.deps.reserveRate = () => 40 * reserved++;
    const d = dispatcher(h, { concurrency: 20, endpointConcurrency: 10, leaseMs: 400 });
    d.start();
    d.take([delivery('l1', 'limited'), delivery('f1', 'free')]);
    await until(() => release.length === 2);
    // Its first slot was free at once: it is not held back (yet).
    expect([...d.holdLimits().keys()].sort()).toEqual(['free', 'limited']);
    // The next one waits 40 ms for its slot.
    d.take([delivery('l2', 'limited')]);
    await until(() => reserved === 2);
    expect([...d.holdLimits().keys()]).toEqual(['free']);
    await until(() => release.length === 3);
    release.splice(0).forEach((r) => r());
    await d.stop(1000);
  });

  it('hands deliveries back at whole milliseconds when slots fall between them (3/s: 333.3 ms apart)', async () => {
    // PostgreSQL keeps times as bigint and refused a fraction, failing every settlement of the batch.
    const { settled } = await throttledRun((delayMs) => delayMs, 3, 2_000);
    const released = settled.filter((s) => s.outcome === 'release');
    expect(released.length).toBeGreaterThan(0);
    for (const r of released) expect(r).toMatchObject({ nextAttemptAt: NOW + 667 });
  });

  it('with a limit shared through the store (reservations answered later), still reserves only a quarter of a lease ahead', async () => {
    const { settled, reserved } = await throttledRun(async (delayMs) => delayMs);
    // Deliveries begun before the store answered counted the slots asked for: 3 reserved, none wasted.
    expect(reserved).toBe(3);
    expect(settled.filter((s) => s.outcome === 'succeeded')).toHaveLength(3);
    expect(settled.filter((s) => s.outcome === 'release')).toHaveLength(7);
  });

  it('waits for a shared slot beyond those it reserves ahead (other workers took the ones before) instead of handing it back and losing the slot', async () => {
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }), { slow: { rateLimitPerSecond: 25 } });
    let answeredAt = 0;
    let sentAt = 0;
    // A 400 ms lease holds slots 100 ms ahead; the store answers a slot 1,200 ms away.
    h.deps.reserveRate = async () => {
      answeredAt = Date.now();
      return 1_200;
    };
    const deliver = h.deps.deliver;
    h.deps.deliver = (d) => {
      sentAt = Date.now();
      return deliver(d);
    };
    h.queue.push(delivery('m0', 'slow'));
    const d = dispatcher(h, { concurrency: 20, endpointConcurrency: 10, leaseMs: 400 });
    d.start();
    await until(() => h.settled.length === 1);
    await d.stop(1000);
    expect(h.settled.map((s) => s.outcome)).toEqual(['succeeded']);
    expect(sentAt - answeredAt).toBeGreaterThanOrEqual(1_150);
  });

  it('on stop, hands back a delivery still waiting for its slot, due at that slot, without sending it', async () => {
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }), { slow: { rateLimitPerSecond: 25 } });
    let reserved = false;
    h.deps.reserveRate = async () => {
      reserved = true;
      return 60_000;
    };
    h.queue.push(delivery('m0', 'slow'));
    const d = dispatcher(h, { concurrency: 20, endpointConcurrency: 10, leaseMs: 400 });
    d.start();
    await until(() => reserved);
    await new Promise((r) => setTimeout(r, 20));
    const { unfinished } = await d.stop(5_000);
    expect(unfinished).toBe(0);
    expect(h.settled).toEqual([expect.objectContaining({ deliveryId: 'm0', outcome: 'release', nextAttemptAt: NOW + 60_000 })]);
  });

  /** Deliveries to one endpoint, each answered after 10 ms as `answer` says for the nth attempt started; the requests in flight as each starts. */
  async function concurrencyAtStarts(n: number, answer: (i: number) => AttemptResult, options: Partial<ConstructorParameters<typeof Dispatcher>[1]>): Promise<number[]> {
    let running = 0;
    const atStart: number[] = [];
    const h = harness(async () => {
      const started = atStart.push(++running) - 1;
      await new Promise((r) => setTimeout(r, 10));
      running--;
      return answer(started);
    });
    const all = new Map(Array.from({ length: n }, (_, i) => [`m${i}`, delivery(`m${i}`, 'e1')]));
    h.queue.push(...all.values());
    // Claimed beyond what the endpoint may hold, deliveries go back to the queue.
    const settle = h.deps.settle;
    h.deps.settle = async (batch) => {
      for (const s of batch) if (s.outcome === 'release') h.queue.push(all.get(s.deliveryId)!);
      return settle(batch.filter((s) => s.outcome !== 'release'));
    };
    const d = dispatcher(h, { concurrency: 64, claimBatch: 64, idlePollMs: 5, ...options });
    d.start();
    await until(() => h.settled.length === n);
    await d.stop(1000);
    return atStart;
  }
  const answered: AttemptResult = { attempt: attempt(200), verdict: 'success' };
  const timedOut: AttemptResult = { attempt: { ...attempt(0), statusCode: null, errorKind: 'timeout' }, verdict: 'fail' };

  it('starts an endpoint at a few requests at once and lets it earn its concurrency one answer at a time', async () => {
    const atStart = await concurrencyAtStarts(120, () => answered, { endpointConcurrency: 16, initialEndpointConcurrency: 4 });
    // The first four started before any answer; then each answer started two.
    expect(atStart.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(Math.max(...atStart.slice(0, 5))).toBe(4);
    expect(Math.max(...atStart)).toBe(16);
  });

  it('an endpoint that never answers keeps the few requests it started with', async () => {
    const atStart = await concurrencyAtStarts(40, () => timedOut, { endpointConcurrency: 16, initialEndpointConcurrency: 4 });
    expect(Math.max(...atStart)).toBe(4);
  });

  it('halves the concurrency an endpoint earned on each timeout, back to where it started', async () => {
    // The first sixty attempts are answered, which earns it well past its start; every later one times out.
    const atStart = await concurrencyAtStarts(120, (i) => (i < 60 ? answered : timedOut), { endpointConcurrency: 16, initialEndpointConcurrency: 2 });
    expect(Math.max(...atStart.slice(0, 60))).toBeGreaterThanOrEqual(12);
    expect(Math.max(...atStart.slice(-30))).toBe(2);
  });

  it('shares three quarters of the process between busy endpoints that answer slowly, and a new one starts while they hold theirs', async () => {
    const slow = ['s1', 's2', 's3', 's4'];
    let running = 0;
    let hanging = 0;
    let slowAnswered = 0;
    let freshStarted = false;
    // Answered after 150 ms (2 s by their attempts' durations), each earns its window; once
    // `hold` is set, new attempts hang until the end.
    let hold = false;
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const h = harness(async (d) => {
      if (d.endpointId === 'fresh') {
        freshStarted = true;
        return answered;
      }
      running++;
      if (hold) {
        hanging++;
        await held;
      } else await new Promise((r) => setTimeout(r, 150));
      running--;
      slowAnswered++;
      // Slow by the time they say they took (2 s), quick in the test's.
      return { attempt: { ...attempt(200), durationMs: 2_000 }, verdict: 'success' };
    });
    for (let i = 0; i < 150; i++) for (const e of slow) h.queue.push(delivery(`${e}-${i}`, e));
    const d = dispatcher(h, { concurrency: 32, endpointConcurrency: 32, initialEndpointConcurrency: 2, claimBatch: 32, idlePollMs: 5 });
    d.start();
    try {
      await until(() => slowAnswered >= 60);
      hold = true;
      await until(() => hanging > 0 && hanging === running);
      // Six each: an even share of 24 (each earned more, and 32 between them would fill it).
      expect(running).toBe(24);
      h.queue.push(delivery('f1', 'fresh'));
      await until(() => freshStarted);
    } finally {
      release();
      await d.stop(1_000);
    }
  });

  it('keeps settlements that failed to write and writes them on the next flush', async () => {
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }));
    let failures = 1;
    const settle = h.deps.settle;
    h.deps.settle = async (batch) => {
      if (failures-- > 0) throw new Error('disk full');
      return settle(batch);
    };
    h.queue.push(delivery('x', 'e1'));
    const d = dispatcher(h);
    d.start();
    await until(() => h.settled.length === 1);
    await d.stop(1000);
    expect(d.status().lastError).toMatch(/settle: disk full/);
  });

  it('drops a settlement the store keeps refusing while it writes the others, so one cannot jam the rest', async () => {
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }));
    const settle = h.deps.settle;
    let calls = 0;
    h.deps.settle = async (batch) => {
      calls++;
      if (batch.some((s) => s.deliveryId === 'poison')) throw new Error('invalid input syntax for type bigint');
      return settle(batch);
    };
    for (const id of ['a', 'poison', 'b', 'c']) h.queue.push(delivery(id, `e-${id}`));
    const d = dispatcher(h, { settleDelayMs: 50 });
    d.start();
    await until(() => h.settled.length === 3);
    // Later outcomes are written too: nothing is left queued behind the refused one.
    h.queue.push(delivery('d', 'e-d'));
    d.notify();
    await until(() => h.settled.length === 4);
    await d.stop(1000);
    expect(h.settled.map((s) => s.deliveryId).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(d.status().lastError).toMatch(/settlement of poison \(succeeded\) dropped: invalid input syntax/);
    expect(calls).toBeLessThan(10);
  });

  it("writes a settlement refused for its attempt's text with an attempt without it, alone or in a batch refused whole", async () => {
    // PostgreSQL refused a response body holding NUL: the delivery stayed leased, unrecorded, and
    // went out again at each lease expiry.
    const refusing = (h: Harness) => {
      const settle = h.deps.settle;
      h.deps.settle = async (batch) => {
        if (batch.some((s) => s.outcome !== 'release' && s.attempt.responseBody === 'bad')) throw new Error('invalid byte sequence for encoding "UTF8": 0x00');
        return settle(batch);
      };
    };
    const withBody = (d: ClaimedDelivery, status: number): AttemptMade['attempt'] => ({ ...attempt(status), responseBody: 'bad', requestHeaders: { 'webhook-id': d.eventId } });

    const lone = harness(async (d) => ({ attempt: withBody(d, 200), verdict: 'success' }));
    refusing(lone);
    lone.queue.push(delivery('only', 'e1'));
    const d1 = dispatcher(lone);
    d1.start();
    await until(() => lone.settled.length === 1);
    await d1.stop(1000);
    expect(lone.settled[0]).toMatchObject({ deliveryId: 'only', outcome: 'succeeded', attempt: { attemptNo: 1, statusCode: 200, errorKind: null, responseBody: null, requestHeaders: {} } });
    expect((lone.settled[0] as { attempt: AttemptMade['attempt'] }).attempt.errorMessage).toMatch(/could not record the details/);
    expect(d1.status().lastError).toMatch(/settlement of only \(succeeded\) written without its attempt's details: invalid byte sequence/);

    const all = harness(async (d) => ({ attempt: withBody(d, 500), verdict: 'retry' }));
    refusing(all);
    for (const id of ['a', 'b', 'c']) all.queue.push(delivery(id, `e-${id}`));
    const d2 = dispatcher(all, { settleDelayMs: 50 });
    d2.start();
    await until(() => all.settled.length === 3);
    await d2.stop(1000);
    expect(all.settled.map((s) => [s.deliveryId, s.outcome, s.outcome === 'release' ? null : s.attempt.responseBody]).sort()).toEqual([
      ['a', 'retry', null],
      ['b', 'retry', null],
      ['c', 'retry', null],
    ]);
  });

  it('keeps what a full disk refuses as it is, details and hand-backs included, writes what fits, and the rest once it has room', async () => {
    // A disk with room for a few small writes (SQLite's free pages, a WAL it can reuse): the batch
    // fails whole, one at a time some fit. What does not fit was refused for its size, not its
    // text: stripped of its details, or dropped, it would be lost though the disk has room later.
    const h = harness(async (d) => ({ attempt: { ...attempt(200), responseBody: d.id === 'big' ? 'x'.repeat(5_000) : 'ok' }, verdict: 'success' }));
    const settle = h.deps.settle;
    let room = 2;
    const size = (s: Settlement) => (s.outcome === 'release' ? 1 : 1 + Math.floor((s.attempt.responseBody?.length ?? 0) / 1_000));
    h.deps.settle = async (batch) => {
      const needed = batch.reduce((n, s) => n + size(s), 0);
      if (needed > room) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      room -= needed;
      return settle(batch);
    };
    const errors: string[] = [];
    h.deps.onError = (_stage, err) => errors.push(String(err));
    for (const [id, endpoint] of [['handed-back', 'gone-1'], ['big', 'e-big'], ['small', 'e-small']]) h.queue.push(delivery(id, endpoint));
    const d = dispatcher(h, { settleDelayMs: 50 });
    d.start();
    await until(() => h.settled.length === 2);
    expect(h.settled.map((s) => s.deliveryId).sort()).toEqual(['handed-back', 'small']);
    room = 100;
    await until(() => h.settled.length === 3);
    await d.stop(1000);
    const big = h.settled.find((s) => s.deliveryId === 'big');
    expect(big).toMatchObject({ outcome: 'succeeded', attempt: { errorMessage: null, responseBody: 'x'.repeat(5_000) } });
    expect(errors.filter((e) => /dropped|without its attempt's details/.test(e))).toEqual([]);
  });

  it('keeps a whole batch while the store refuses every settlement of it (down), and writes it once back', async () => {
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }));
    const settle = h.deps.settle;
    let down = true;
    h.deps.settle = async (batch) => {
      if (down) throw new Error('connection refused');
      return settle(batch);
    };
    for (const id of ['a', 'b', 'c']) h.queue.push(delivery(id, `e-${id}`));
    const d = dispatcher(h, { settleDelayMs: 50 });
    d.start();
    await until(() => d.status().lastError !== null);
    await new Promise((r) => setTimeout(r, 300));
    down = false;
    await until(() => h.settled.length === 3);
    await d.stop(1000);
    expect(h.settled.map((s) => s.deliveryId).sort()).toEqual(['a', 'b', 'c']);
  });

  it("records a throw of deliver() as an internal attempt that follows the schedule to its end, not an untried loop", async () => {
    const h = harness(async () => {
      throw new Error('unable to authenticate data');
    });
    h.queue.push(delivery('x', 'e1'), delivery('y', 'e2', 2));
    const errors: string[] = [];
    h.deps.onError = (stage, err) => errors.push(`${stage}: ${(err as Error).message}`);
    const d = dispatcher(h);
    d.start();
    await until(() => h.settled.length === 2);
    await d.stop(1000);
    const by = (id: string) => h.settled.find((s) => s.deliveryId === id);
    // x had attempts left: retried at its next step (5 s); y had made its last: failed, with the notice.
    expect(by('x')).toMatchObject({ outcome: 'retry', nextAttemptAt: NOW + 5_000, attempt: { attemptNo: 1, errorKind: 'internal', statusCode: null } });
    expect(by('y')).toMatchObject({ outcome: 'failed', notice: 'exhausted', attempt: { attemptNo: 3, errorKind: 'internal' } });
    expect(JSON.stringify(h.settled)).not.toContain('authenticate');
    expect(errors).toContain('deliver: delivery x: unable to authenticate data');
  });

  it('waits for in-flight attempts on stop, within the grace period', async () => {
    let finished = false;
    const h = harness(async () => {
      await new Promise((r) => setTimeout(r, 50));
      finished = true;
      return { attempt: attempt(200), verdict: 'success' };
    });
    h.queue.push(delivery('x', 'e1'));
    const d = dispatcher(h);
    d.start();
    await until(() => d.status().inFlight === 1);
    const result = await d.stop(5_000);
    expect(finished).toBe(true);
    expect(result.unfinished).toBe(0);
    expect(h.settled).toHaveLength(1);
  });
});

describe('Dispatcher stop past its grace', () => {
  it('hands back the attempts still running and writes nothing they answer later', async () => {
    let answer: (() => void) | undefined;
    const h = harness(async () => {
      await new Promise<void>((r) => (answer = r));
      return { attempt: attempt(200), verdict: 'success' };
    });
    h.queue.push(delivery('slow', 'e1'));
    const d = dispatcher(h, { clock: Date.now });
    d.start();
    await until(() => d.status().inFlight === 1);
    expect(await d.stop(30)).toEqual({ unfinished: 1 });
    expect(h.settled).toMatchObject([{ deliveryId: 'slow', owner: 'w1', outcome: 'release' }]);
    answer!();
    await new Promise((r) => setTimeout(r, 20));
    expect(h.settled).toHaveLength(1);
  });
});

describe('Dispatcher handoff from ingest', () => {
  /** Attempts that run until released, so what the dispatcher holds stays observable. */
  function blockingHarness() {
    const release: (() => void)[] = [];
    const started: string[] = [];
    const h = harness(async (d) => {
      started.push(d.id);
      await new Promise<void>((r) => release.push(r));
      return { attempt: attempt(200), verdict: 'success' };
    });
    return { h, release, started };
  }

  it('takes new deliveries within its free requests and each endpoint hold limit, and starts them without a claim', async () => {
    const { h, release, started } = blockingHarness();
    // 4 requests and room for 4 more waiting (four payloads of the expected 1 KiB); an endpoint
    // without a known pace holds one round of its concurrency (2).
    const d = dispatcher(h, { maxWaitingBytes: 4 * 1_024 });
    d.start();
    expect([d.room(), d.requestRoom()]).toEqual([8, 4]);
    const first = d.offer(new Map([['e1', 5], ['e2', 1]]));
    expect(first?.counts).toEqual(new Map([['e1', 2], ['e2', 1]]));
    expect(first?.lease).toEqual({ owner: 'w1', until: NOW + 60_000 });
    // What is promised counts as held: e1 is full, one request is left, and then none (the
    // room to wait is for the dispatch thread's hand-off).
    const second = d.offer(new Map([['e1', 1], ['e3', 3]]));
    expect(second?.counts).toEqual(new Map([['e3', 1]]));
    expect(d.room()).toBe(4);
    expect(d.offer(new Map([['e4', 1]]))).toBeUndefined();
    d.adopt(second!, []);

    d.adopt(first!, [delivery('a1', 'e1'), delivery('a2', 'e1'), delivery('b1', 'e2')]);
    await until(() => started.length === 3);
    expect(d.status()).toMatchObject({ adopted: 3, claimed: 0, inFlight: 3 });
    // A claim made meanwhile leaves out the endpoint that is full.
    const claimsBefore = h.claims.length;
    h.queue.push(delivery('c1', 'e1'));
    d.notify();
    await until(() => h.claims.length > claimsBefore);
    expect(h.claims.at(-1)?.exclude).toContain('e1');

    release.splice(0).forEach((r) => r());
    await until(() => h.settled.length === 3);
    expect(h.settled.map((s) => [s.deliveryId, s.outcome]).sort()).toEqual([['a1', 'succeeded'], ['a2', 'succeeded'], ['b1', 'succeeded']]);
    await until(() => started.includes('c1'));
    release.splice(0).forEach((r) => r());
    await d.stop(1000);
  });

  it("takes a quick endpoint's hand-over beyond its free requests, within its room, and holds what its window does not start yet", async () => {
    const { h, release, started } = blockingHarness();
    // 4 requests and room for 8 more waiting.
    const d = dispatcher(h, { endpointConcurrency: 4, maxWaitingBytes: 8 * 1_024 });
    d.start();
    // e1 answers once (1 ms: a quick one) and is busy again.
    d.take([delivery('a1', 'e1')]);
    await until(() => started.length === 1);
    release.splice(0).forEach((r) => r());
    await until(() => d.status().succeeded === 1);
    d.take([delivery('a2', 'e1')]);
    await until(() => started.length === 2);
    // Its own offer keeps to the free requests; its room (what the dispatch thread's hand-off
    // may bring) counts the room to wait, and e1 may hold well beyond a round.
    expect([d.room(), d.requestRoom()]).toEqual([11, 3]);
    const grant = d.offer(new Map([['e1', 20]]));
    expect(grant?.counts).toEqual(new Map([['e1', 3]]));
    d.adopt(grant!, []);
    expect(d.holdLimits().get('e1')).toBeGreaterThan(8);
    d.take(Array.from({ length: 8 }, (_, i) => delivery(`b${i}`, 'e1')));
    // Its window (4) starts what it may, the rest waits for it.
    await until(() => started.length === 5);
    expect(d.status()).toMatchObject({ inFlight: 4, waiting: 5 });
    for (let i = 0; i < 20 && d.status().succeeded < 10; i++) {
      release.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(d.status()).toMatchObject({ succeeded: 10, adopted: 10 });
    expect(h.settled.filter((x) => x.outcome === 'release')).toEqual([]);
    await d.stop(10);
  });

  it('sizes a claim that waited for its turn at the store by the room free once the turn came', async () => {
    const { h, release, started } = blockingHarness();
    const turns: (() => void)[] = [];
    let gated = true;
    h.deps.writeTurn = (fn) => (gated ? new Promise((resolve, reject) => turns.push(() => void fn().then(resolve, reject))) : fn());
    for (let i = 0; i < 8; i++) h.queue.push(delivery(`q${i}`, `e${i}`));
    // 4 requests, all free when the claim starts waiting for its turn.
    const d = dispatcher(h);
    d.start();
    await until(() => turns.length === 1);
    expect(h.claims).toEqual([]);
    // Meanwhile an ingest commit hands over three deliveries: one request is left.
    d.take([delivery('t1', 'x1'), delivery('t2', 'x1'), delivery('t3', 'x2')]);
    await until(() => started.length === 3);
    turns.shift()!();
    await until(() => started.length === 4);
    expect(h.claims[0]?.limit).toBe(1);
    expect(d.status().inFlight).toBe(4);
    gated = false;
    turns.splice(0).forEach((open) => open());
    release.splice(0).forEach((r) => r());
    await d.stop(10);
  });

  it('starts what an endpoint holds once its own attempts are done and a request of the process comes free', async () => {
    const { h, release, started } = blockingHarness();
    // 2 requests in all, 1 per endpoint.
    const d = dispatcher(h, { concurrency: 2, endpointConcurrency: 1 });
    d.start();
    // Each endpoint runs one and holds one more (its hold limit before it has answered).
    d.take([delivery('a1', 'A'), delivery('a2', 'A')]);
    d.take([delivery('b1', 'B'), delivery('b2', 'B')]);
    d.take([delivery('c1', 'C')]);
    await until(() => started.length === 2);
    // a1's request goes to C, held back by the process; a2 waits for the next one, b1's.
    for (let i = 0; i < 20 && started.length < 5; i++) {
      release.splice(0, 1).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 5));
      expect(d.status().inFlight).toBeLessThanOrEqual(2);
    }
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2', 'b2']);
    expect(h.settled.filter((x) => x.outcome === 'release')).toEqual([]);
    release.splice(0).forEach((r) => r());
    await d.stop(10);
  });

  it('claims ahead no more payload bytes than it may hold waiting', async () => {
    /** 10 endpoints with 4 deliveries each; each runs 2 and holds 2 more waiting. */
    async function waitingWith(bytes: number): Promise<number> {
      const { h, release } = blockingHarness();
      for (let e = 0; e < 10; e++) for (let i = 0; i < 4; i++) h.queue.push({ ...delivery(`${e}-${i}`, `e${e}`), body: 'x'.repeat(bytes) });
      // 20 requests, 80 waiting by count, but 10 KiB of payloads waiting.
      const d = dispatcher(h, { concurrency: 20, endpointConcurrency: 2, maxWaitingBytes: 10 * 1_024, idlePollMs: 5 });
      d.start();
      await until(() => h.claims.length > 0);
      await new Promise((r) => setTimeout(r, 100));
      const waiting = d.status().waiting;
      release.splice(0).forEach((r) => r());
      await d.stop(10);
      return waiting;
    }
    expect(await waitingWith(1_024)).toBeLessThanOrEqual(10);
    // Small payloads: the free requests decide.
    expect(await waitingWith(2)).toBeGreaterThan(10);
  });

  it('frees the room a commit did not use (a duplicate, a failed commit)', async () => {
    const { h } = blockingHarness();
    // New endpoints: the 4 free requests are what they may take.
    const d = dispatcher(h);
    d.start();
    const grant = d.offer(new Map([['e1', 2], ['e2', 2]]));
    expect(d.offer(new Map([['e3', 1]]))).toBeUndefined();
    d.adopt(grant!, []);
    expect(d.offer(new Map([['e3', 1]]))?.counts).toEqual(new Map([['e3', 1]]));
    await d.stop(10);
  });

  it('starts deliveries leased to it elsewhere (take) and tells each change of its room', async () => {
    const { h, release, started } = blockingHarness();
    const rooms: number[] = [];
    const d: Dispatcher = dispatcher(h, { onRoomChanged: () => rooms.push(d.room()) });
    d.start();
    // 4 requests, and 8 deliveries per request may wait.
    expect(d.room()).toBe(4 + 32);
    d.take([delivery('t1', 'e1'), delivery('t2', 'e2'), delivery('t3', 'e3')]);
    await until(() => started.length === 3);
    expect(d.room()).toBe(1 + 32);
    expect(rooms.at(-1)).toBe(33);
    release.splice(0).forEach((r) => r());
    await until(() => rooms.at(-1) === 36);
    expect(d.status()).toMatchObject({ adopted: 3, succeeded: 3 });
    await d.stop(10);
  });

  it('offers nothing once stopped, and hands back untried what it adopts after', async () => {
    const { h, release, started } = blockingHarness();
    const d = dispatcher(h);
    d.start();
    const grant = d.offer(new Map([['e1', 1]]));
    await d.stop(1000);
    expect(d.offer(new Map([['e1', 1]]))).toBeUndefined();
    d.adopt(grant!, [delivery('late', 'e1')]);
    await until(() => h.settled.length === 1);
    expect(h.settled[0]).toMatchObject({ deliveryId: 'late', outcome: 'release', nextAttemptAt: NOW });
    expect(started).toEqual([]);
    release.forEach((r) => r());
  });
});

describe('Dispatcher observer', () => {
  it('is told each attempt with the outcome its settlement records, and each rate-limit postponement', async () => {
    const seen: string[] = [];
    const verdicts: Record<string, AttemptResult['verdict']> = { ok: 'success', again: 'retry', gone: 'gone', blocked: 'fail' };
    const h = harness(async (d) => ({ attempt: attempt(200), verdict: verdicts[d.id] }), { e1: { rateLimitPerSecond: 10 } });
    let delay = 0;
    h.deps.reserveRate = () => delay++;
    h.deps.observer = {
      attempted: (d, _result, outcome) => seen.push(`${d.id}:${outcome}`),
      throttled: (endpointId, ms) => seen.push(`throttled:${endpointId}:${ms}`),
    };
    h.queue.push(delivery('ok', 'e1'), delivery('again', 'e2'), delivery('gone', 'e3'), delivery('blocked', 'e4'));
    const d = dispatcher(h, { concurrency: 10, endpointConcurrency: 10 });
    d.start();
    await until(() => h.settled.length === 4);
    await d.stop(1000);
    expect(seen.sort()).toEqual(['again:retry', 'blocked:failed', 'gone:failed', 'ok:succeeded']);
    expect(h.settled.map((s) => s.outcome).sort()).toEqual(['failed', 'failed', 'retry', 'succeeded']);
  });

  it('reports a throwing observer as an error and settles the delivery once', async () => {
    const errors: string[] = [];
    const h = harness(async () => ({ attempt: attempt(200), verdict: 'success' }), { e1: { rateLimitPerSecond: 1 } });
    h.deps.reserveRate = () => 1;
    h.deps.onError = (stage) => errors.push(stage);
    h.deps.observer = {
      attempted: () => {
        throw new Error('bad observer');
      },
      throttled: () => {
        throw new Error('bad observer');
      },
    };
    h.queue.push(delivery('ok', 'e1'));
    const d = dispatcher(h);
    d.start();
    await until(() => h.settled.length === 1);
    await d.stop(1000);
    expect(h.settled).toEqual([expect.objectContaining({ deliveryId: 'ok', outcome: 'succeeded' })]);
    expect(errors).toEqual(['observer', 'observer']);
  });
});
