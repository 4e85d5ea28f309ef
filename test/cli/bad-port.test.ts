// The CLI against a Herald on a port fetch refuses as a "bad port" (6666, 6000, 10080, …):
// the client commands and listen's event stream must reach it all the same.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startReceiver, startTestHerald, tempDir, type Receiver, type TestHerald } from '../helpers.js';
import { runCli, startCli } from './cli-support.js';

/** Ports fetch refuses (its "bad ports" list); the first free one is used. */
const BAD_PORTS = [6666, 6665, 6667, 6668, 6669, 6000, 10080];

let h: TestHerald;
let local: Receiver;
/** listen's config directory (its machine id), not the real home's. */
let config: string;

beforeAll(async () => {
  config = tempDir('herald-listen-config-');
  local = await startReceiver();
  const taken: string[] = [];
  for (const port of BAD_PORTS) {
    try {
      h = await startTestHerald({ PORT: String(port), HERALD_ALLOWED_TARGETS: '' });
      return;
    } catch (err) {
      // Only a taken port moves on to the next: any other failure to start fails the test.
      if (!/EADDRINUSE/.test((err as Error).message)) throw err;
      taken.push(String(port));
    }
  }
  throw new Error(`every port fetch refuses that this test may use is taken: ${taken.join(', ')}`);
});
afterAll(async () => {
  await h?.close();
  await local.close();
  rmSync(config, { recursive: true, force: true });
});

// The sum of its phases' bounds (ready 15 s, the delivery's line 15 s) with room for the two runs of the CLI between them.
const LISTS_SENDS_LISTENS_MS = 40_000;

describe('herald against a Herald on a port fetch refuses', () => {
  it('lists, sends and listens', async () => {
    expect(BAD_PORTS.map((p) => `http://127.0.0.1:${p}`)).toContain(h.url);
    const env = { HERALD_URL: h.url, HERALD_API_KEY: ADMIN_KEY, XDG_CONFIG_HOME: config };
    const listed = await runCli(['endpoints'], env);
    expect(listed.code, listed.stderr).toBe(0);

    const cli = startCli(['listen', '--forward-to', `${local.url}/hooks`, '--json'], env);
    try {
      await cli.waitForLine((l) => l.includes('"ready"'));
      const sent = await runCli(['send', 'asset.created', '--resource', 'asset:a1', '--json'], env);
      expect(sent.code, sent.stderr).toBe(0);
      const id = JSON.parse(sent.stdout).id as string;
      expect(JSON.parse(await cli.waitForLine((l) => l.includes(id)))).toMatchObject({ event: 'delivery', status: 200 });
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);
    } finally {
      cli.child.kill('SIGKILL');
    }
  }, LISTS_SENDS_LISTENS_MS);
});
