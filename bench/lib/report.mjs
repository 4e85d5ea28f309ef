// Output of a benchmark run: the table, the target verdicts, the JSON file and the SVG chart.
import { fmt } from './util.mjs';

/**
 * The targets of issue 6 (SQLite, 2 cores). `metric` is a scenario metric's key; checked on
 * the median.
 */
export const TARGETS = [
  { scenario: 'throughput', metric: 'dps_1', op: '>=', value: 10_000, text: 'durable delivery ≥ 10,000/s to one endpoint' },
  { scenario: 'throughput', metric: 'ratio_limit', op: '>=', value: 0.25, text: 'delivery ≥ 25% of limit in the same run' },
  { scenario: 'ingest', metric: 'batch_eps', op: '>=', value: 20_000, text: 'ingest ≥ 20,000 events/s batched' },
  { scenario: 'ingest', metric: 'single_rps', op: '>=', value: 5_000, text: 'ingest ≥ 5,000 requests/s single' },
  { scenario: 'latency', metric: 'p99_ms', op: '<=', value: 25, text: 'latency p99 ≤ 25 ms at 1,000 events/s' },
  { scenario: 'fanout', metric: 'last_ms', op: '<=', value: 1_000, text: 'fan-out to 1,000 endpoints ≤ 1 s' },
  { scenario: 'isolation', metric: 'ratio', op: '>=', value: 0.9, text: 'isolation ≥ 90%' },
  { scenario: 'backlog', metric: 'drain_dps', op: '>=', value: 5_000, text: 'backlog drain ≥ 5,000/s' },
  { scenario: 'backlog', metric: 'peak_rss_mb', op: '<=', value: 300, text: 'backlog peak RSS ≤ 300 MB' },
];

export function formatValue(v, unit) {
  if (v === null || v === undefined) return '—';
  if (unit === '%') return `${fmt(v * 100)}%`;
  return `${fmt(v)}${unit}`;
}

/** Plain-text table; also used (with `markdown`) for the README. */
export function table(rows, { markdown = false } = {}) {
  const head = ['scenario', 'metric', 'median', 'min – max', 'target', 'result'];
  const body = rows.map((r) => [r.scenario, r.label, r.median, r.range, r.target ?? '', r.result ?? '']);
  if (markdown) {
    const esc = (s) => String(s).replace(/\|/g, '\\|');
    return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i >= 2 && i <= 3 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

const COLORS = { p50: '#2563eb', p99: '#dc2626', max: '#9ca3af', n: '#d1fae5' };

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * A hand-written SVG: one panel per timeline, publish→arrival latency (p50, p99, max per
 * bucket) over time, with the arrivals per bucket as bars behind (right axis).
 * @param {{ title: string, timeline: {t:number,n:number,p50:number|null,p99:number|null,max:number|null}[] }[]} panels
 */
export function svgChart(panels, heading) {
  const W = 900;
  const PH = 260;
  const M = { l: 64, r: 70, t: 46, b: 36 };
  const H = 40 + panels.length * (PH + 20);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="11">`, `<rect width="100%" height="100%" fill="#fff"/>`, `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="600">${esc(heading)}</text>`];
  panels.forEach((panel, k) => {
    const y0 = 40 + k * (PH + 20);
    const pw = W - M.l - M.r;
    const ph = PH - M.t - M.b;
    const tl = panel.timeline.filter((b) => b.t >= 0);
    const tMax = niceMax(Math.max(...tl.map((b) => b.t), 0) + (tl.length > 1 ? tl[1].t - tl[0].t : 1));
    // The max line can dwarf the rest: scale to p99's maximum, clipping max.
    const lMax = niceMax(Math.max(...tl.map((b) => b.p99 ?? 0), 1) * 1.15);
    const nMax = niceMax(Math.max(...tl.map((b) => b.n), 1));
    const X = (t) => M.l + (t / tMax) * pw;
    const Y = (v) => y0 + M.t + ph - (Math.min(v, lMax) / lMax) * ph;
    const YN = (v) => y0 + M.t + ph - (v / nMax) * ph;
    out.push(`<g>`);
    out.push(`<text x="${M.l}" y="${y0 + 20}" font-size="12" font-weight="600">${esc(panel.title)}</text>`);
    const bw = tl.length > 1 ? Math.max(1, X(tl[1].t) - X(tl[0].t) - 1) : 4;
    for (const b of tl) out.push(`<rect x="${X(b.t).toFixed(1)}" y="${YN(b.n).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y0 + M.t + ph - YN(b.n)).toFixed(1)}" fill="${COLORS.n}"/>`);
    for (let i = 0; i <= 5; i++) {
      const v = (lMax * i) / 5;
      const y = Y(v).toFixed(1);
      out.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
      out.push(`<text x="${M.l - 6}" y="${y}" dy="3" text-anchor="end">${fmt(v)} ms</text>`);
      out.push(`<text x="${M.l + pw + 6}" y="${YN((nMax * i) / 5).toFixed(1)}" dy="3" fill="#059669">${fmt((nMax * i) / 5)}</text>`);
    }
    for (let i = 0; i <= 10; i++) {
      const t = (tMax * i) / 10;
      out.push(`<text x="${X(t).toFixed(1)}" y="${y0 + M.t + ph + 14}" text-anchor="middle">${fmt(t)} s</text>`);
    }
    out.push(`<rect x="${M.l}" y="${y0 + M.t}" width="${pw}" height="${ph}" fill="none" stroke="#9ca3af"/>`);
    for (const key of ['max', 'p99', 'p50']) {
      const pts = tl.filter((b) => b[key] !== null).map((b) => `${X(b.t + (tl.length > 1 ? (tl[1].t - tl[0].t) / 2 : 0)).toFixed(1)},${Y(b[key]).toFixed(1)}`);
      if (pts.length) out.push(`<polyline fill="none" stroke="${COLORS[key]}" stroke-width="${key === 'max' ? 1 : 1.8}" points="${pts.join(' ')}"/>`);
    }
    const legend = [['p50', 'p50'], ['p99', 'p99'], ['max', 'max (clipped)'], ['n', 'arrivals per bucket (right axis)']];
    legend.forEach(([key, text], i) => {
      const x = M.l + i * 110;
      out.push(`<rect x="${x}" y="${y0 + 28}" width="12" height="8" fill="${COLORS[key]}"/><text x="${x + 16}" y="${y0 + 36}">${esc(text)}</text>`);
    });
    out.push(`<text x="${M.l + pw / 2}" y="${y0 + PH - 4}" text-anchor="middle" fill="#6b7280">time since the first publish</text>`);
    out.push(`</g>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
