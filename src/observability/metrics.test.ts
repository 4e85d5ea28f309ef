import { describe, expect, it } from 'vitest';
import type { QueueDepth } from '../store/contract.js';
import { HeraldMetrics } from './metrics.js';

const DEPTH: QueueDepth = { pending: 7, retrying: 3, inFlight: 2 };

describe('HeraldMetrics', () => {
  it('exposes tallied attempts as Prometheus counters and a cumulative histogram', async () => {
    const m = new HeraldMetrics({ profiles: ['standard'] });
    m.recordAttempt('standard', 'succeeded', 3);
    m.recordAttempt('standard', 'retry', 40);
    m.recordAttempt('standard', 'failed', 40_000);
    const text = await m.render();
    expect(text).toContain('herald_delivery_attempts_total{outcome="succeeded",profile="standard"} 1');
    expect(text).toContain('herald_delivery_attempts_total{outcome="retry",profile="standard"} 1');
    expect(text).toContain('herald_deliveries_total{outcome="failed",profile="standard"} 1');
    expect(text).toContain('# TYPE herald_attempt_duration_seconds histogram');
    expect(text).toContain('herald_attempt_duration_seconds_bucket{le="0.005",profile="standard"} 1');
    expect(text).toContain('herald_attempt_duration_seconds_bucket{le="0.05",profile="standard"} 2');
    expect(text).toContain('herald_attempt_duration_seconds_bucket{le="30",profile="standard"} 2');
    expect(text).toContain('herald_attempt_duration_seconds_bucket{le="+Inf",profile="standard"} 3');
    expect(text).toContain('herald_attempt_duration_seconds_sum{profile="standard"} 40.043');
    expect(text).toContain('herald_attempt_duration_seconds_count{profile="standard"} 3');
  });

  it('reads queue depths through a cache, so frequent scrapes query the store once per ttl', async () => {
    let now = 0;
    let queries = 0;
    const m = new HeraldMetrics({ queueDepthTtlMs: 5_000, clock: () => now });
    m.watch({ queueDepth: async () => (queries++, DEPTH), dispatcher: () => undefined, ingest: () => ({ queuedItems: 0, flushing: false, batches: 0, lastBatchSize: 0 }) });
    const text = await m.render();
    expect(text).toContain('herald_queue_depth 4');
    expect(text).toContain('herald_retry_queue_depth 3');
    expect(text).toContain('herald_leased_deliveries 2');
    await m.render();
    expect(queries).toBe(1);
    now = 5_000;
    await m.render();
    expect(queries).toBe(2);
  });

  it('still answers when the store cannot be queried', async () => {
    const m = new HeraldMetrics();
    m.watch({ queueDepth: () => Promise.reject(new Error('down')), dispatcher: () => undefined, ingest: () => ({ queuedItems: 2, flushing: false, batches: 0, lastBatchSize: 0 }) });
    const text = await m.render();
    expect(text).toContain('herald_ingest_queued_events 2');
  });

  it('still answers when the store hangs, keeping the last values', async () => {
    let hang = false;
    const m = new HeraldMetrics({ queueDepthTtlMs: 0, queueDepthWaitMs: 50 });
    m.watch({ queueDepth: () => (hang ? new Promise<never>(() => undefined) : Promise.resolve(DEPTH)), dispatcher: () => undefined, ingest: () => ({ queuedItems: 2, flushing: false, batches: 0, lastBatchSize: 0 }) });
    expect(await m.render()).toContain('herald_queue_depth 4');
    hang = true;
    const text = await m.render();
    expect(text).toContain('herald_queue_depth 4');
    expect(text).toContain('herald_ingest_queued_events 2');
  });

  it('names every metric herald_*, and two instances do not share values', async () => {
    const a = new HeraldMetrics();
    const b = new HeraldMetrics();
    a.recordThrottled();
    a.ingested([{ id: 'e1', deliveries: 2, duplicate: false }, { id: 'e2', deliveries: 1, duplicate: true }]);
    const text = await a.render();
    expect(text).toContain('herald_throttled_total 1');
    expect(text).toContain('herald_events_ingested_total 1');
    expect(text).toContain('herald_deliveries_enqueued_total 2');
    expect(await b.render()).toContain('herald_throttled_total 0');
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^herald_/);
  });
});
