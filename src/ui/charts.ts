// Geometry of the Activity page's inline SVG charts: deliveries per minute stacked by outcome,
// and attempt latency per minute. Templates only print the numbers computed here.
import type { ActivityPoint } from './models.js';

const WIDTH = 960;
const HEIGHT = 220;
const LEFT = 48;
const RIGHT = 8;
const TOP = 12;
const BOTTOM = 28;
const PLOT_W = WIDTH - LEFT - RIGHT;
const PLOT_H = HEIGHT - TOP - BOTTOM;

export interface Rect {
  readonly cls: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface Tick {
  readonly pos: number;
  readonly label: string;
}

interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly top: number;
  readonly baseline: number;
  readonly right: number;
  readonly xTicks: readonly Tick[];
  readonly yTicks: readonly Tick[];
}

export interface BarChart extends Frame {
  readonly rects: readonly Rect[];
  readonly total: { readonly succeeded: number; readonly retried: number; readonly failed: number };
}

export interface Dot {
  readonly cls: string;
  readonly cx: number;
  readonly cy: number;
}

export interface LineChart extends Frame {
  readonly lines: readonly { readonly cls: string; readonly d: string }[];
  /** Minutes with a value but no neighbour to draw a line to: a line of one point is invisible. */
  readonly dots: readonly Dot[];
  readonly empty: boolean;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** 1, 2, 5 × 10ⁿ at or above `n`, so axis labels read as round numbers. */
export function niceCeiling(n: number): number {
  if (n <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(n));
  const m = [1, 2, 5, 10].find((f) => f * exp >= n)!;
  return m * exp;
}

/** One label per hour boundary (fewer on short ranges), `HH:MM` UTC. */
function timeTicks(points: readonly ActivityPoint[], slot: number): Tick[] {
  const every = points.length > 120 ? 60 : points.length > 30 ? 15 : 5;
  const ticks: Tick[] = [];
  points.forEach((p, i) => {
    const d = new Date(p.at);
    if (d.getUTCMinutes() % every === 0) ticks.push({ pos: round1(LEFT + i * slot), label: p.at.slice(11, 16) });
  });
  return ticks;
}

function frame(points: readonly ActivityPoint[], max: number, unit: string): Frame {
  const slot = PLOT_W / Math.max(1, points.length);
  const baseline = TOP + PLOT_H;
  return {
    width: WIDTH,
    height: HEIGHT,
    left: LEFT,
    top: TOP,
    baseline,
    right: WIDTH - RIGHT,
    xTicks: timeTicks(points, slot),
    yTicks: [0, max / 2, max].map((v) => ({ pos: round1(baseline - (v / max) * PLOT_H), label: `${Number.isInteger(v) ? v : round1(v)}${unit}` })),
  };
}

const OUTCOMES = [
  ['succeeded', 'bar-succeeded'],
  ['retried', 'bar-pending'],
  ['failed', 'bar-failed'],
] as const;

/** Deliveries per minute, stacked succeeded / retried / failed from the baseline up. */
export function deliveriesChart(points: readonly ActivityPoint[]): BarChart {
  const max = niceCeiling(Math.max(...points.map((p) => p.succeeded + p.retried + p.failed), 0));
  const f = frame(points, max, '');
  const slot = PLOT_W / Math.max(1, points.length);
  const rects: Rect[] = [];
  const total = { succeeded: 0, retried: 0, failed: 0 };
  points.forEach((p, i) => {
    let y = f.baseline;
    for (const [key, cls] of OUTCOMES) {
      total[key] += p[key];
      if (p[key] === 0) continue;
      const h = Math.max(1, (p[key] / max) * PLOT_H);
      y -= h;
      rects.push({ cls, x: round1(LEFT + i * slot), y: round1(y), width: round1(Math.max(1, slot - (slot > 3 ? 1 : 0))), height: round1(h) });
    }
  });
  return { ...f, rects, total };
}

interface Plotted {
  readonly x: number;
  readonly y: number;
  readonly alone: boolean;
}

/** Where each minute with a value sits, and whether it has a neighbour with a value. */
function plot(points: readonly ActivityPoint[], value: (p: ActivityPoint) => number | null, max: number, baseline: number): (Plotted | null)[] {
  const slot = PLOT_W / Math.max(1, points.length);
  const has = (i: number) => i >= 0 && i < points.length && value(points[i]!) !== null;
  return points.map((p, i) => {
    const v = value(p);
    if (v === null) return null;
    return { x: round1(LEFT + i * slot + slot / 2), y: round1(baseline - (Math.min(v, max) / max) * PLOT_H), alone: !has(i - 1) && !has(i + 1) };
  });
}

/** An SVG path through the plotted minutes, lifting the pen over minutes without a value. */
function pathOf(plotted: readonly (Plotted | null)[]): string {
  let d = '';
  let pen = false;
  for (const p of plotted) {
    if (p === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${p.x} ${p.y} `;
    pen = true;
  }
  return d.trim();
}

/** Average and slowest attempt per minute, in milliseconds. */
export function latencyChart(points: readonly ActivityPoint[]): LineChart {
  const max = niceCeiling(Math.max(...points.map((p) => p.latency_max_ms ?? 0), 0));
  const f = frame(points, max, ' ms');
  const series = [
    { cls: 'max', plotted: plot(points, (p) => p.latency_max_ms, max, f.baseline) },
    { cls: 'avg', plotted: plot(points, (p) => p.latency_avg_ms, max, f.baseline) },
  ];
  return {
    ...f,
    empty: points.every((p) => p.latency_avg_ms === null),
    lines: series.map((s) => ({ cls: `line-${s.cls}`, d: pathOf(s.plotted) })),
    dots: series.flatMap((s) => s.plotted.filter((p): p is Plotted => p !== null && p.alone).map((p) => ({ cls: `dot-${s.cls}`, cx: p.x, cy: p.y }))),
  };
}
