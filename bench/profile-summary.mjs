// Aggregates a V8 .cpuprofile (node --cpu-prof) into self time per function and per file.
//   node bench/profile-summary.mjs FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function shortUrl(url) {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(ROOT)) u = u.slice(ROOT.length + 1);
  u = u.replace(/^.*\/herald-bench-app-[^/]+\//, '');
  return u.replace(/^.*node_modules\//, 'node_modules/');
}

/**
 * @param {string} file
 * @param {number} top
 * @returns {{ totalMs: number, functions: {name:string, where:string, selfMs:number, pct:number}[], files: {file:string, selfMs:number, pct:number}[] }}
 */
export function summarizeProfile(file, top = 10) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < prof.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the interval after it to sample i.
    const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const label = (n) => {
    const cf = n.callFrame;
    const name = cf.functionName || (cf.url ? '(anonymous)' : '(root)');
    return { name, where: cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '' };
  };
  const fns = new Map();
  const files = new Map();
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const cf = n.callFrame;
    const { name, where } = label(n);
    const key = `${name}\u0000${where}`;
    const e = fns.get(key) ?? { name, where, selfMs: 0, callers: new Map() };
    e.selfMs += ms;
    // Generic helpers (a store's run/all/get) say little alone: keep who called them.
    const p = parent.get(id);
    if (p) {
      const pl = label(p);
      const ck = `${pl.name} ${pl.where}`.trim();
      e.callers.set(ck, (e.callers.get(ck) ?? 0) + ms);
    }
    fns.set(key, e);
    const f = cf.url ? shortUrl(cf.url) : name;
    files.set(f, (files.get(f) ?? 0) + ms);
  }
  const pct = (ms) => (total ? (ms / total) * 100 : 0);
  return {
    totalMs: total,
    functions: [...fns.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((e) => ({
        name: e.name,
        where: e.where,
        selfMs: e.selfMs,
        pct: pct(e.selfMs),
        callers: [...e.callers.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([caller, ms]) => ({ caller, selfMs: ms })),
      })),
    files: [...files.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([f, ms]) => ({ file: f, selfMs: ms, pct: pct(ms) })),
  };
}

export function formatSummary(s, file) {
  const lines = [`CPU profile ${file}: ${(s.totalMs / 1000).toFixed(1)} s sampled`, '  top self time, by function:'];
  for (const f of s.functions) {
    lines.push(`  ${f.selfMs.toFixed(0).padStart(8)} ms ${f.pct.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
    if (f.where && f.callers.length) lines.push(`                    called from: ${f.callers.map((c) => `${c.caller} (${c.selfMs.toFixed(0)} ms)`).join(', ')}`);
  }
  lines.push('  top self time, by file:');
  for (const f of s.files) lines.push(`  ${f.selfMs.toFixed(0).padStart(8)} ms ${f.pct.toFixed(1).padStart(5)}%  ${f.file}`);
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(summarizeProfile(file, Number(top) || 10), file)}\n`);
}
