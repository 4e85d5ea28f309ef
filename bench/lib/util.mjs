// Small helpers shared by the harness: time, statistics, formatting, the progress line.
import { performance } from 'node:perf_hooks';

/** High-resolution wall clock, ms since the epoch (the receiver uses the same base). */
export const now = () => performance.timeOrigin + performance.now();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class TimeoutError extends Error {}

/** A hard time limit for one scenario run; every wait loop checks it. */
export class Deadline {
  constructor(ms, what) {
    this.at = Date.now() + ms;
    this.ms = ms;
    this.what = what;
  }
  get left() {
    return this.at - Date.now();
  }
  check(detail = '') {
    if (Date.now() > this.at) throw new TimeoutError(`${this.what}: hard timeout of ${Math.round(this.ms / 1000)} s reached${detail ? ` (${detail})` : ''}`);
  }
}

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}

/** 12345.6 → "12,346"; small numbers keep a decimal or two. */
export function fmt(x, unit = '') {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  const abs = Math.abs(x);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return `${x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })}${unit}`;
}

export function fmtBytes(b) {
  if (b === null || b === undefined) return '—';
  return `${fmt(b / (1024 * 1024))} MB`;
}

/**
 * One progress line: rewritten in place on a TTY, plain lines (at most every 5 s) otherwise.
 */
export class Progress {
  constructor(stream = process.stderr) {
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    this.lastPlain = 0;
    this.shown = false;
  }
  update(text) {
    if (this.tty) {
      const width = (this.stream.columns ?? 120) - 1;
      this.stream.write(`\r\x1b[K${text.slice(0, width)}`);
      this.shown = true;
    } else if (Date.now() - this.lastPlain >= 5_000) {
      this.lastPlain = Date.now();
      this.stream.write(`  … ${text}\n`);
    }
  }
  /** Clears the line (TTY) so that ordinary output can follow. */
  clear() {
    if (this.tty && this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
    this.lastPlain = 0;
  }
  log(line) {
    this.clear();
    process.stdout.write(`${line}\n`);
  }
}

export const progress = new Progress();
