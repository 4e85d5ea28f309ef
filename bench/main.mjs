// npm run bench [-- --scenario NAME[,NAME…]] [--quick] [--runs N] [--profile] [--keep]
// Runs the scenarios of bench/scenarios.mjs against Herald as separate processes, prints a
// table and the target verdicts, writes bench/results/<date>.json and <date>.svg.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatSummary, summarizeProfile } from './profile-summary.mjs';
import { cpuTimes, killAllNow, ROOT, setKeepTemp, shareOf, snapshotApp, stopAll, takeUnexpectedExits } from './lib/procs.mjs';
import { formatValue, svgChart, table, TARGETS } from './lib/report.mjs';
import { Deadline, fmt, median, progress } from './lib/util.mjs';
import { ORDER, SCENARIOS } from './scenarios.mjs';

const USAGE = `Usage: npm run bench [-- options]

Options:
  --scenario NAME   run only these scenarios (repeat or comma-separate):
                    ${ORDER.join(', ')}
                    (throughput measures limit again before each of its runs, for its ratio)
  --quick           1 run each and scaled-down counts (a few minutes for everything)
  --runs N          runs per scenario (default 3; --quick: 1); the median is reported
  --profile         run Herald with --cpu-prof; print the top self-time functions
  --keep            keep the temporary data directories and Herald logs
  --report          run nothing: rewrite today's .md table and .svg chart from its .json
  -h, --help        this help

Writes bench/results/<YYYY-MM-DD>.json (merged with earlier runs of the day, per scenario)
and bench/results/<YYYY-MM-DD>.svg (publish→arrival latency over time).`;

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        scenario: { type: 'string', multiple: true },
        quick: { type: 'boolean', default: false },
        runs: { type: 'string' },
        profile: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        report: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  let names = (values.scenario ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!SCENARIOS[n]) {
      process.stderr.write(`bench: unknown scenario "${n}"; one of ${ORDER.join(', ')}\n`);
      process.exit(2);
    }
  }
  if (names.length === 0) names = [...ORDER];
  names = ORDER.filter((n) => names.includes(n));
  const runs = values.runs === undefined ? (values.quick ? 1 : 3) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    process.stderr.write('bench: --runs must be a whole number from 1 to 20\n');
    process.exit(2);
  }
  return { names, quick: values.quick, runs, profile: values.profile, keep: values.keep, report: values.report };
}

function newestMtime(dir, ext) {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (entry.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function machine() {
  const cpuModel = (() => {
    try {
      return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpus()[0]?.model;
    } catch {
      return cpus()[0]?.model;
    }
  })();
  return { nproc: cpus().length, cpu: cpuModel, memory_gb: +(totalmem() / 2 ** 30).toFixed(1), free_gb: +(freemem() / 2 ** 30).toFixed(1), node: process.version, platform: `${process.platform} ${process.arch}` };
}

/** Figures every scenario reports besides its own. */
const COMMON_METRICS = [
  ['host_steal', 'CPU time the host gave other guests (steal)', '%'],
  ['host_idle', 'CPU time idle, waits for the disk included', '%'],
  ['host_iowait', 'CPU time idle while waiting for the disk (iowait)', '%'],
  ['cpu_probe_us', 'CPU time of a fixed probe before the run (HMAC-SHA256 of 1 KiB)', ' µs'],
];
const metricsOf = (def) => [...def.metrics, ...COMMON_METRICS];

/**
 * The CPU time one HMAC-SHA256 of 1 KiB takes, the median of 5 rounds of 2,000: the same work
 * every time, so it shows how fast the CPU itself runs now (frequency, caches shared with other
 * guests), which steal does not.
 */
function cpuProbe() {
  const key = Buffer.alloc(32, 7);
  const data = Buffer.alloc(1024, 1);
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < 2_000; i++) createHmac('sha256', key).update(data).digest();
    const used = process.cpuUsage(before);
    rounds.push((used.user + used.system) / 2_000);
  }
  return median(rounds);
}

/** Share of CPU time busy over `ms`, before anything of ours runs. */
async function cpuBusy(ms) {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const idle = shareOf('idle', a, cpuTimes());
  return idle === null ? null : 1 - idle;
}

function installSignalHandlers() {
  process.on('exit', () => killAllNow());
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (interrupted) {
        killAllNow();
        process.exit(130);
      }
      interrupted = true;
      progress.clear();
      process.stderr.write(`\nbench: ${sig}: stopping every child process…\n`);
      void stopAll(2_000).finally(() => {
        killAllNow();
        process.exit(130);
      });
    });
  }
  process.on('uncaughtException', (err) => {
    progress.clear();
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    killAllNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    progress.clear();
    process.stderr.write(`bench: unhandled rejection: ${err instanceof Error ? err.stack : err}\n`);
    killAllNow();
    process.exit(1);
  });
}

async function runScenario(name, opts, profDir) {
  const def = SCENARIOS[name];
  const runs = [];
  let error = null;
  let status = 'ok';
  let reason;
  const partial = [];
  for (let run = 1; run <= opts.runs; run++) {
    const label = `${name} ${run}/${opts.runs}`;
    const ctx = { quick: opts.quick, run, runs: opts.runs, cpuProfDir: profDir, deadline: new Deadline(def.timeout(opts.quick), label), label };
    const started = Date.now();
    takeUnexpectedExits();
    const probe = cpuProbe();
    const times = cpuTimes();
    try {
      const r = await def.run(ctx);
      progress.clear();
      r.metrics.cpu_probe_us = probe;
      // On a virtual machine the host may run other guests on our cores: what it took shows
      // as steal, and explains figures that move between runs of the same build.
      // A run slower than its CPU per delivery explains left cores idle: waiting (for the disk,
      // or between processes) rather than computing.
      const timesAfter = cpuTimes();
      r.metrics.host_steal = shareOf('steal', times, timesAfter) ?? undefined;
      r.metrics.host_idle = shareOf('idle', times, timesAfter) ?? undefined;
      r.metrics.host_iowait = shareOf('iowait', times, timesAfter) ?? undefined;
      if (r.status === 'unavailable') {
        status = 'unavailable';
        reason = r.reason;
        progress.log(`  ${label}: unavailable: ${reason}`);
        break;
      }
      runs.push({ ...r, seconds: (Date.now() - started) / 1000 });
      if (r.partial) partial.push(`run ${run}: ${r.partial}`);
      const brief = def.metrics
        .filter(([k]) => r.metrics[k] !== undefined)
        .slice(0, 3)
        .map(([k, l, u]) => `${l} ${formatValue(r.metrics[k], u)}`)
        .join(' · ');
      const machineState = `${r.metrics.host_steal === undefined ? '' : ` · host steal ${formatValue(r.metrics.host_steal, '%')} · idle ${formatValue(r.metrics.host_idle, '%')} (iowait ${formatValue(r.metrics.host_iowait, '%')})`} · CPU probe ${formatValue(probe, ' µs')}`;
      progress.log(`  ${label} (${fmt((Date.now() - started) / 1000)} s): ${brief}${machineState}`);
    } catch (err) {
      progress.clear();
      error = err instanceof Error ? err.message : String(err);
      // A crash shows first as a refused or reset request: name the crash.
      const crashed = takeUnexpectedExits();
      if (crashed.length) error = `${crashed.join('; ')} — then: ${error}`;
      status = 'error';
      progress.log(`  ${label}: FAILED: ${error}`);
      break;
    } finally {
      await stopAll(15_000);
    }
  }
  const metrics = {};
  for (const [key] of metricsOf(def)) {
    const values = runs.map((r) => r.metrics[key]).filter((v) => typeof v === 'number' && Number.isFinite(v));
    if (values.length) metrics[key] = { median: median(values), min: Math.min(...values), max: Math.max(...values), values };
  }
  return { name, title: def.title, status, reason, error, partial: partial.length ? partial.join('; ') : undefined, quick: opts.quick, runs: runs.length, at: new Date().toISOString(), metrics, details: runs.map((r) => ({ seconds: r.seconds, metrics: r.metrics, info: r.info })), timeline: medianTimeline(def, runs) };
}

/** The timeline of the run whose first metric is the median one. */
function medianTimeline(def, runs) {
  const withTl = runs.filter((r) => r.timeline?.length);
  if (!withTl.length) return undefined;
  const key = def.metrics[0][0];
  const sorted = [...withTl].sort((a, b) => (a.metrics[key] ?? 0) - (b.metrics[key] ?? 0));
  return sorted[Math.floor((sorted.length - 1) / 2)].timeline;
}

function rowsOf(results, names) {
  const rows = [];
  const verdicts = [];
  const notes = [];
  for (const name of names) {
    const r = results[name];
    const def = SCENARIOS[name];
    if (!r) continue;
    if (r.status !== 'ok') {
      rows.push({ scenario: name, label: r.status === 'unavailable' ? 'unavailable (see notes)' : 'FAILED (see notes)', median: '', range: '', target: '', result: r.status === 'unavailable' ? 'n/a' : 'FAIL' });
      notes.push(`${name}: ${r.status === 'unavailable' ? `unavailable: ${r.reason}` : `FAILED: ${r.error}`}`);
    }
    if (r.partial) notes.push(`${name}: incomplete: ${r.partial}; its figures are over what arrived`);
    for (const [key, label, unit] of metricsOf(def)) {
      const m = r.metrics[key];
      if (!m) continue;
      const target = TARGETS.find((t) => t.scenario === name && t.metric === key);
      let result;
      let targetText;
      if (target) {
        const pass = target.op === '>=' ? m.median >= target.value : m.median <= target.value;
        result = pass ? 'pass' : 'FAIL';
        targetText = `${target.op === '>=' ? '≥' : '≤'} ${formatValue(target.value, unit)}`;
        verdicts.push({ ...target, measured: m.median, pass });
      }
      rows.push({ scenario: name, label, median: formatValue(m.median, unit), range: m.values.length > 1 ? `${formatValue(m.min, unit)} – ${formatValue(m.max, unit)}` : '', target: targetText, result });
    }
    for (const t of TARGETS.filter((t) => t.scenario === name && !r.metrics[t.metric])) verdicts.push({ ...t, measured: null, pass: false });
  }
  return { rows, verdicts, notes };
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/**
 * The day's merged report: <date>.md (every scenario's latest result, ready for the README)
 * and <date>.svg (latency over time). Returns the chart's path, if any.
 */
function writeDayReport(resultsDir, date, doc, profile) {
  const m = doc.machine;
  // Each scenario's latest full result, or its latest quick one when it has no full one.
  const latest = {};
  for (const n of ORDER) {
    const sc = doc.scenarios?.[n] ?? doc.quick?.[n];
    if (sc) latest[n] = sc;
  }
  if (!profile) {
    const names = ORDER.filter((n) => latest[n]);
    const merged = rowsOf(latest, names);
    for (const row of merged.rows) {
      const sc = latest[row.scenario];
      row.scenario = `${row.scenario}${sc.quick ? ' (quick)' : sc.runs === 1 ? ' (1 run)' : ''}`;
    }
    const builds = new Map();
    for (const n of names) {
      const sc = latest[n];
      const key = `dist/ built ${sc.dist_built ?? '?'}${sc.commit ? ` (checkout ${sc.commit})` : ''}`;
      builds.set(key, [...(builds.get(key) ?? []), `${n} (${sc.quick ? 'quick' : `${sc.runs} run${sc.runs === 1 ? '' : 's'}`}, ${sc.at})`]);
    }
    const md = [
      `<!-- ${date}: ${m.nproc} × ${m.cpu}, ${m.memory_gb} GB, Node ${m.node} -->`,
      table(merged.rows, { markdown: true }),
      '',
      ...merged.notes.map((n) => `- ${n}`),
      ...[...builds].map(([b, list]) => `- ${b}: ${list.join(', ')}`),
    ].join('\n');
    writeFileSync(path.join(resultsDir, `${date}.md`), `${md}\n`);
  }
  const panels = ORDER.filter((n) => latest[n]?.timeline?.length && n !== 'fanout').map((n) => ({
    title: `${n}${latest[n].quick ? ' (quick)' : ''}: ${SCENARIOS[n].title}`,
    timeline: latest[n].timeline,
  }));
  if (!panels.length) return undefined;
  const svgFile = path.join(resultsDir, `${date}${profile ? '-profile' : ''}.svg`);
  writeFileSync(svgFile, svgChart(panels, `Herald · publish → arrival latency over time · ${date} · ${m.nproc} × ${m.cpu}`));
  return svgFile;
}

export async function main() {
  const opts = parse();
  if (opts.report) {
    const date = today();
    const resultsDir = path.join(ROOT, 'bench/results');
    const file = path.join(resultsDir, `${date}.json`);
    if (!existsSync(file)) {
      process.stderr.write(`bench: no results for today (${path.relative(process.cwd(), file)})\n`);
      process.exit(2);
    }
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const svg = writeDayReport(resultsDir, date, doc, false);
    process.stdout.write(`${readFileSync(path.join(resultsDir, `${date}.md`), 'utf8')}\nwritten: bench/results/${date}.md${svg ? `, ${path.relative(process.cwd(), svg)}` : ''}\n`);
    return;
  }
  setKeepTemp(opts.keep);
  installSignalHandlers();
  if (!existsSync(path.join(ROOT, 'dist/cli/main.js'))) {
    process.stderr.write('bench: dist/ is missing: run `npm run build` first\n');
    process.exit(2);
  }
  if (newestMtime(path.join(ROOT, 'src'), '.ts') > newestMtime(path.join(ROOT, 'dist'), '.js')) {
    process.stderr.write('bench: warning: src/ is newer than dist/; run `npm run build` to benchmark the current code\n');
  }
  const distBuilt = new Date(newestMtime(path.join(ROOT, 'dist'), '.js')).toISOString();
  const commit = checkoutCommit();
  snapshotApp();
  const resultsDir = path.join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const date = today();
  let profDir;
  if (opts.profile) {
    profDir = path.join(resultsDir, 'profiles', `${date}-${Date.now()}`);
    mkdirSync(profDir, { recursive: true });
  }
  const m = machine();
  const mode = opts.quick ? 'quick (1 run, scaled-down counts: indicative only)' : `${opts.runs} run${opts.runs > 1 ? 's' : ''} each, median`;
  process.stdout.write(`Herald benchmark · ${m.nproc} × ${m.cpu} · ${m.memory_gb} GB · Node ${m.node}\n`);
  process.stdout.write(`scenarios: ${opts.names.join(', ')} · ${mode} · dist/ built ${distBuilt} (snapshot) · checkout ${commit ?? 'unknown'}\n`);
  if (m.nproc !== 2) process.stdout.write(`note: the targets are set for 2 cores; this machine has ${m.nproc}\n`);
  m.loadavg_at_start = loadavg().map((x) => +x.toFixed(2));
  m.cpu_busy_at_start = await cpuBusy(1_000);
  if (m.cpu_busy_at_start !== null && m.cpu_busy_at_start > 0.15) {
    process.stdout.write(`note: the CPUs were ${fmt(m.cpu_busy_at_start * 100)}% busy before the start: other work on this machine will lower the figures\n`);
  }

  const results = {};
  const startedAll = Date.now();
  for (const name of opts.names) {
    progress.log(`▸ ${name}: ${SCENARIOS[name].title}`);
    results[name] = await runScenario(name, opts, profDir);
  }
  const { rows, verdicts, notes } = rowsOf(results, opts.names);

  process.stdout.write(`\n${table(rows)}\n\n`);
  if (notes.length) process.stdout.write(`Notes:\n${notes.map((n) => `  ${n}`).join('\n')}\n\n`);
  if (verdicts.length) {
    process.stdout.write(`Targets (SQLite, 2 cores; on the median${opts.quick ? '; --quick figures are indicative' : ''}):\n`);
    for (const v of verdicts) process.stdout.write(`  ${v.pass ? 'pass' : 'FAIL'}  ${v.text}: measured ${v.measured === null ? '—' : formatValue(v.measured, SCENARIOS[v.scenario].metrics.find(([k]) => k === v.metric)?.[2] ?? '')}\n`);
  }

  // JSON: merge with earlier results of the day (per scenario), so a quick run of everything
  // and a full run of one scenario end up in one file.
  // A profiled run is slowed by the profiler: its figures go to a file of their own.
  const jsonFile = path.join(resultsDir, `${date}${opts.profile ? '-profile' : ''}.json`);
  let doc = { date, machine: m, scenarios: {} };
  if (existsSync(jsonFile)) {
    try {
      const prev = JSON.parse(readFileSync(jsonFile, 'utf8'));
      if (prev && typeof prev.scenarios === 'object') doc = { ...prev, machine: m };
    } catch {
      /* unreadable: start over */
    }
  }
  // Full and --quick results are kept apart: a quick run never replaces a full figure.
  doc.quick ??= {};
  for (const name of opts.names) {
    const { timeline, ...rest } = results[name];
    (opts.quick ? doc.quick : doc.scenarios)[name] = { ...rest, dist_built: distBuilt, commit, timeline };
  }
  doc.last_run = { at: new Date().toISOString(), dist_built: distBuilt, commit, scenarios: opts.names, quick: opts.quick, runs: opts.runs, seconds: (Date.now() - startedAll) / 1000, targets: verdicts.map(({ text, measured, pass }) => ({ text, measured, pass })), table_markdown: table(rows, { markdown: true }), notes };
  writeFileSync(jsonFile, `${JSON.stringify(doc, null, 2)}\n`);

  const svgFile = writeDayReport(resultsDir, date, doc, opts.profile);
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), jsonFile)}${svgFile ? `, chart: ${path.relative(process.cwd(), svgFile)}` : ''}\n`);

  if (profDir) {
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    const profiles = [];
    if (!files.length) process.stdout.write(`no .cpuprofile written in ${profDir} (did Herald exit gracefully?)\n`);
    for (const f of files) {
      const file = path.join(profDir, f);
      const summary = summarizeProfile(file, 10);
      process.stdout.write(`\n${formatSummary(summary, path.relative(process.cwd(), file))}\n`);
      profiles.push({ file: path.relative(ROOT, file), ...summary });
    }
    doc.profiles = profiles;
    writeFileSync(jsonFile, `${JSON.stringify(doc, null, 2)}\n`);
  }
  process.stdout.write(`done in ${fmt((Date.now() - startedAll) / 1000)} s\n`);
  const failed = opts.names.filter((n) => results[n].status === 'error');
  process.exitCode = failed.length ? 1 : 0;
}

/**
 * The commit checked out when the run started, marked when src/ had uncommitted changes
 * (dist/ is built from src/); null outside a git checkout.
 */
function checkoutCommit() {
  try {
    const git = (...args) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short=12', 'HEAD');
    return git('status', '--porcelain', '--', 'src') === '' ? head : `${head}+uncommitted`;
  } catch {
    return null;
  }
}
