import { describe, expect, it } from 'vitest';
import { deliveriesChart, latencyChart, niceCeiling } from './charts.js';
import type { ActivityPoint } from './models.js';

function minutes(n: number, fill: (i: number) => Partial<ActivityPoint> = () => ({})): ActivityPoint[] {
  const start = Date.UTC(2026, 0, 1, 10, 0);
  return Array.from({ length: n }, (_, i) => ({
    at: new Date(start + i * 60_000).toISOString(),
    succeeded: 0,
    retried: 0,
    failed: 0,
    latency_avg_ms: null,
    latency_max_ms: null,
    ...fill(i),
  }));
}

describe('activity charts', () => {
  it('rounds axis maxima up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 1, 3, 7, 11, 180, 2001].map(niceCeiling)).toEqual([1, 1, 5, 10, 20, 200, 5000]);
  });

  it('stacks succeeded, retried and failed from the baseline, tallest minute at the top', () => {
    const chart = deliveriesChart(minutes(360, (i) => (i === 10 ? { succeeded: 6, retried: 2, failed: 2 } : i === 20 ? { succeeded: 1 } : {})));
    expect(chart.total).toEqual({ succeeded: 7, retried: 2, failed: 2 });
    const at10 = chart.rects.filter((r) => r.x === chart.rects[0]!.x);
    expect(at10.map((r) => r.cls)).toEqual(['bar-succeeded', 'bar-pending', 'bar-failed']);
    expect(at10[0]!.y + at10[0]!.height).toBeCloseTo(chart.baseline, 0);
    expect(at10[2]!.y).toBeCloseTo(chart.top, 0);
    expect(chart.rects).toHaveLength(4);
    expect(chart.xTicks.map((t) => t.label)).toEqual(['10:00', '11:00', '12:00', '13:00', '14:00', '15:00']);
  });

  it('draws nothing for an empty period', () => {
    const chart = deliveriesChart(minutes(360));
    expect(chart.rects).toEqual([]);
    expect(latencyChart(minutes(360)).empty).toBe(true);
  });

  it('breaks the latency line over minutes without attempts', () => {
    const chart = latencyChart(minutes(4, (i) => (i === 2 ? {} : { latency_avg_ms: 10 * (i + 1), latency_max_ms: 50 })));
    const avg = chart.lines.find((l) => l.cls === 'line-avg')!.d;
    expect(avg.match(/M/g)).toHaveLength(2);
    expect(avg.match(/L/g)).toHaveLength(1);
    expect(chart.yTicks.at(-1)!.label).toBe('50 ms');
    // The minute after the gap stands alone: it gets a dot, since a one-point line is invisible.
    expect(chart.dots.filter((d) => d.cls === 'dot-avg')).toHaveLength(1);
    expect(chart.dots[0]!.cx).toBeGreaterThan(chart.left + (chart.right - chart.left) * 0.75);
  });
});
