// The tests' Herald processes are their own: a port taken by another process (another test's
// Herald, say) makes a start fail, never pass that process's answers off as this one's.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, tempDir, type Receiver } from './helpers.js';
import { closedPort, listeningPorts, spawnHerald, type HeraldProcess } from './process.js';

let proc: HeraldProcess | undefined;
let other: Receiver | undefined;
const dirs: string[] = [];
afterEach(async () => {
  proc?.child.kill('SIGKILL');
  await proc?.exited;
  await other?.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  proc = other = undefined;
});

function dataDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

describe('spawnHerald', () => {
  it("does not take another process's /healthz on the port it was given for its own Herald's: the start fails", async () => {
    // Another process holds the port and answers /healthz as a Herald would.
    other = await startReceiver((_r, _i, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
    const port = Number(new URL(other.url).port);
    await expect(spawnHerald('serve', { HERALD_DATA_DIR: dataDir() }, port)).rejects.toThrow(/herald exited during start[\s\S]*PORT: cannot listen on port \d+ \(EADDRINUSE\)/);
  });

  it('without a port, answers with the address its own Herald listens on', async () => {
    proc = await spawnHerald('serve', { HERALD_DATA_DIR: dataDir() });
    expect(listeningPorts(proc.child.pid!)).toEqual([Number(new URL(proc.url).port)]);
    expect(await proc.listening()).toBe(proc.url);
  });
});

describe('closedPort', () => {
  it('is a port that refuses connections', async () => {
    const port = await closedPort();
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });
});
