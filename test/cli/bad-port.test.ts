// The CLI against a Herald on a port fetch refuses as a "bad port" (6666, as 6000, 10080, …):
// the client commands and listen's event stream must reach it all the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { runCli, startCli } from './cli-support.js';

const BAD_PORT = 6666;

let h: TestHerald | undefined;
let local: Receiver;
/** Why the cases cannot run on this host, when they cannot. */
let unavailable: string | undefined;

beforeAll(async () => {
  local = await startReceiver();
  try {
    h = await startTestHerald({ PORT: String(BAD_PORT), HERALD_ALLOWED_TARGETS: '' });
  } catch (err) {
    // Only a taken port skips: any other failure to start is this test's failure.
    if (!/EADDRINUSE/.test((err as Error).message)) throw err;
    unavailable = `port ${BAD_PORT} is taken on this host (${(err as Error).message})`;
    console.warn(`SKIPPED: the bad-port CLI test: ${unavailable}`);
  }
});
afterAll(async () => {
  await h?.close();
  await local.close();
});

describe(`herald against a Herald on port ${BAD_PORT}`, () => {
  it('lists, sends and listens', async (ctx) => {
    if (!h) return ctx.skip(unavailable);
    expect(h.url).toBe(`http://127.0.0.1:${BAD_PORT}`);
    const env = { HERALD_URL: h.url, HERALD_API_KEY: ADMIN_KEY };
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
  });
});
