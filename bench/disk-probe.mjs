#!/usr/bin/env node
// node bench/disk-probe.mjs [DIR]
//
// How fast the disk under DIR (default: the system's temporary directory, where the bench puts
// Herald's data) makes writes durable now, in the two shapes SQLite's commits take: a 16 KiB
// append with fdatasync (a commit's WAL flush), 200 times; and 1,000 4 KiB pages written at
// random offsets of a 64 MiB file and then an fsync (a WAL checkpoint), 5 times. Run beside a
// slow bench run to tell a slow disk from a slow CPU. Bounded: about a second on a healthy disk.
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const file = path.join(process.argv[2] ?? tmpdir(), `herald-disk-probe-${process.pid}.bin`);
const fd = openSync(file, 'w+');
try {
  const appends = timed(200, () => {
    writeSync(fd, Buffer.alloc(16 * 1024, 7));
    fdatasyncSync(fd);
  }).sort((a, b) => a - b);
  const pages = 16_384;
  ftruncateSync(fd, pages * 4096);
  const page = Buffer.alloc(4096, 3);
  const checkpoints = timed(5, () => {
    for (let i = 0; i < 1_000; i++) writeSync(fd, page, 0, page.length, Math.floor(Math.random() * pages) * 4096);
    fsyncSync(fd);
  });
  const at = (p) => appends[Math.min(appends.length - 1, Math.floor(p * appends.length))].toFixed(2);
  console.log(`16 KiB append + fdatasync: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${appends.at(-1).toFixed(2)} ms`);
  console.log(`1,000 random 4 KiB pages + fsync: ${checkpoints.map((ms) => `${ms.toFixed(1)} ms`).join(', ')}`);
} finally {
  closeSync(fd);
  unlinkSync(file);
}

/** The wall time of each of `count` calls of fn, in ms. */
function timed(count, fn) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    fn();
    out.push(performance.now() - start);
  }
  return out;
}
