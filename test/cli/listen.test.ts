// herald listen as a child process against a live Herald that refuses loopback destinations
// (HERALD_ALLOWED_TARGETS empty): the temporary endpoint targets Herald's own inbox, the CLI
// streams it and forwards each delivery to a local receiver with its original headers and body,
// prints one line per delivery, and removes the endpoint and inbox on SIGINT. Each listen keeps
// its machine id under a temporary XDG_CONFIG_HOME: another one stands for another machine.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/signing/verify.js';
import { ADMIN_KEY, startReceiver, startTestHerald, tempDir, type Receiver, type TestHerald } from '../helpers.js';
import { closedPort } from '../process.js';
import { startCli, type LongRunning } from './cli-support.js';

let h: TestHerald;
let local: Receiver;
let cli: LongRunning | undefined;
/** This machine's config directory, for every listen here unless a test says otherwise. */
let config: string;
const configs: string[] = [];

beforeAll(async () => {
  h = await startTestHerald({ HERALD_ALLOWED_TARGETS: '' });
  local = await startReceiver((_r, i, res) => void res.writeHead(i === 0 ? 201 : 500).end());
  config = configDir();
});
afterAll(async () => {
  cli?.child.kill('SIGKILL');
  await h.close();
  await local.close();
  for (const dir of configs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh XDG_CONFIG_HOME: a machine of its own, never the real home's. */
function configDir(): string {
  const dir = tempDir('herald-listen-config-');
  configs.push(dir);
  return dir;
}

function listenEnv(configHome = config, key = ADMIN_KEY): Record<string, string> {
  return { HERALD_URL: h.url, HERALD_API_KEY: key, XDG_CONFIG_HOME: configHome };
}

/** The pid of a process that has exited: running on this machine no more. */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

/** A listen started and killed outright (SIGKILL): the endpoint and inbox it made, left behind. */
async function killedListen(configHome: string): Promise<{ endpoint_id: string; inbox_id: string; pid: number }> {
  const killed = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], listenEnv(configHome));
  const ready = JSON.parse(await killed.waitForLine((l) => l.includes('"ready"')));
  killed.child.kill('SIGKILL');
  await killed.exited;
  expect((await h.api('GET', `/api/v2/endpoints/${ready.endpoint_id}`)).status).toBe(200);
  return { ...ready, pid: killed.child.pid! };
}

/** An inbox, and an endpoint to it, named as a listen names them. */
async function namedLikeListen(name: string): Promise<{ endpoint: string; inbox: string }> {
  const inbox = (await h.api('POST', '/api/v2/inboxes', { name })).body;
  const endpoint = (await h.api('POST', '/api/v2/endpoints', { url: inbox.url, event_types: ['*'], description: name })).body;
  expect(endpoint.id, JSON.stringify(endpoint)).toMatch(/^ep_/);
  return { endpoint: endpoint.id, inbox: inbox.id };
}

async function removeAll(ids: { endpoint?: string; inbox?: string }[]): Promise<void> {
  for (const { endpoint, inbox } of ids) {
    if (endpoint) await h.api('DELETE', `/api/v2/endpoints/${endpoint}`);
    if (inbox) await h.api('DELETE', `/api/v2/inboxes/${inbox}`);
  }
}

// The sum of its phases' bounds (ready 15 s, two deliveries 10 s, their lines 15 s) with room for the CLI's exit.
const FORWARDING_MS = 50_000;
// The sum of the phases' bounds of a test waiting for three lines (15 s each) with room for the CLI's starts and exits.
const THREE_LINES_MS = 50_000;
// The sum of its phases' bounds (ready 15 s, the timeout's line 45 s, the cut request 10 s) with room for the CLI's exit.
const TIMEOUT_LINE_MS = 80_000;

describe('herald listen', () => {
  it('forwards deliveries to the local URL as Herald sent them, prints a line for each, and cleans up on Ctrl-C', async () => {
    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--events', 'asset.*', '--json'], listenEnv());
    const ready = JSON.parse(await cli.waitForLine((l) => l.includes('"ready"')));
    expect(ready).toMatchObject({ event: 'ready', inbox_id: expect.stringMatching(/^inb_/), endpoint_id: expect.stringMatching(/^ep_/), secret: expect.stringMatching(/^whsec_/), events: ['asset.*'] });
    const endpoint = await h.api('GET', `/api/v2/endpoints/${ready.endpoint_id}`);
    expect(endpoint.body).toMatchObject({ url: ready.inbox_url, event_types: ['asset.*'] });

    const first = await h.api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: 'a1' }, data: { filename: 'a.png' } });
    const second = await h.api('POST', '/api/v2/events', { type: 'asset.deleted', resource: { type: 'asset', id: 'a1' } });
    // Not subscribed: never forwarded.
    await h.api('POST', '/api/v2/events', { type: 'collection.created', resource: { type: 'collection', id: 'c1' } });

    const received = await local.waitFor(2);
    const byId = new Map(received.map((r) => [r.headers['webhook-id'], r]));
    for (const [id, type] of [
      [first.body.id, 'asset.created'],
      [second.body.id, 'asset.deleted'],
    ]) {
      const r = byId.get(id)!;
      expect(r).toMatchObject({ method: 'POST', url: '/webhooks' });
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['user-agent']).toMatch(/^Herald\//);
      // The original signature, over the original body: verifiable with the printed secret.
      expect(verify({ headers: r.headers as Record<string, string>, body: r.body, secret: ready.secret }).body).toMatchObject({ id, type });
    }

    const lines = await Promise.all(
      [first.body.id, second.body.id].map(async (id) => JSON.parse(await cli!.waitForLine((l) => l.includes('"delivery"') && l.includes(id)))),
    );
    const statuses = new Map(received.map((r, i) => [r.headers['webhook-id'], i === 0 ? 201 : 500]));
    for (const [i, line] of lines.entries()) {
      expect(line).toMatchObject({ event: 'delivery', event_type: i === 0 ? 'asset.created' : 'asset.deleted', webhook_id: i === 0 ? first.body.id : second.body.id, latency_ms: expect.any(Number) });
      expect(line.status).toBe(statuses.get(line.webhook_id));
      expect(Date.parse(line.time)).toBeGreaterThan(Date.now() - 60_000);
    }
    expect(local.received).toHaveLength(2);

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    const stopped = JSON.parse(cli.lines.find((l) => l.includes('"stopped"'))!);
    expect(stopped).toMatchObject({ forwarded: 2, unreached: 0, removed: [`endpoint ${ready.endpoint_id}`, `inbox ${ready.inbox_id}`] });
    expect((await h.api('GET', `/api/v2/endpoints/${ready.endpoint_id}`)).status).toBe(404);
    expect((await h.api('GET', `/api/v2/inboxes/${ready.inbox_id}`)).status).toBe(404);
  }, FORWARDING_MS);

  it('prints readable lines without --json, and reports an unreachable local service per delivery', async () => {
    const closed = await closedPort();
    cli = startCli(['listen', '--forward-to', `http://127.0.0.1:${closed}/hooks`], listenEnv());
    await cli.waitForLine((l) => l.startsWith('Ready.'));
    expect(cli.lines.join('\n')).toContain(`Forwarding * from ${h.url} to http://127.0.0.1:${closed}/hooks`);
    const secretLine = cli.lines.find((l) => l.includes('secret'))!;
    expect(secretLine).toMatch(/whsec_/);
    const sent = await h.api('POST', '/api/v2/events', { type: 'user.created', resource: { type: 'user', id: 'u1' } });
    const line = await cli.waitForLine((l) => l.includes(sent.body.id));
    expect(line).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  user\\.created  ${sent.body.id}  error: ECONNREFUSED  \\d+ ms  \\(again: herald retry dlv_\\w+\\)$`));
    // The hint names the delivery that brought this message, so retrying it forwards it again.
    const deliveryId = /herald retry (dlv_\w+)/.exec(line)![1];
    expect((await h.api('GET', `/api/v2/deliveries/${deliveryId}`)).body).toMatchObject({ event_id: sent.body.id });
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    // The one delivery never reached the local service: it is not counted as forwarded.
    expect(cli.lines.at(-1)).toMatch(new RegExp(`^Stopped after 0 deliveries \\(1 more did not reach http://127\\.0\\.0\\.1:${closed}/hooks\\); removed endpoint ep_\\w+ and inbox inb_\\w+\\.$`));
    const inboxes = await h.api('GET', '/api/v2/inboxes');
    expect(inboxes.body.data).toEqual([]);
  });

  it('names a local service that does not answer within 30 s a timeout, and one stopped by Ctrl-C mid-request', async () => {
    const silent = await startReceiver(() => undefined);
    try {
      cli = startCli(['listen', '--forward-to', `${silent.url}/hooks`], listenEnv());
      await cli.waitForLine((l) => l.startsWith('Ready.'));
      const late = await h.api('POST', '/api/v2/events', { type: 'user.created', resource: { type: 'user', id: 'u-late' } });
      const line = await cli.waitForLine((l) => l.includes(late.body.id), 45_000);
      expect(line).toMatch(new RegExp(`^[\\d:.]+  user\\.created  ${late.body.id}  error: timeout \\(no answer within 30 s\\)  3\\d{4} ms  \\(again: herald retry dlv_\\w+\\)$`));

      const cut = await h.api('POST', '/api/v2/events', { type: 'user.created', resource: { type: 'user', id: 'u-cut' } });
      await silent.waitFor(2);
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);
      expect(cli.lines.find((l) => l.includes(cut.body.id))).toMatch(/  error: stopped  \d+ ms/);
      expect(cli.lines.at(-1)).toMatch(/^Stopped after 0 deliveries \(2 more did not reach /);
    } finally {
      await silent.close();
    }
  }, TIMEOUT_LINE_MS);

  it('does not forward a capture whose body was over 1 MiB (kept without it, the sender answered 413), and says so', async () => {
    const before = local.received.length;
    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], listenEnv());
    const ready = JSON.parse(await cli.waitForLine((l) => l.includes('"ready"')));
    // What a sender of a body over the inbox's limit gets; the capture has headers and no body.
    const big = await fetch(ready.inbox_url, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'msg_big' }, body: `"${'x'.repeat(1024 * 1024)}"` });
    expect(big.status).toBe(413);
    const line = JSON.parse(await cli.waitForLine((l) => l.includes('msg_big')));
    expect(line).toMatchObject({ event: 'delivery', webhook_id: 'msg_big', status: null, error: 'too_large' });
    expect(line).not.toHaveProperty('delivery_id');
    // A delivery after it still goes through: the listen goes on.
    const sent = await h.api('POST', '/api/v2/events', { type: 'user.created', resource: { type: 'user', id: 'u-after' } });
    await cli.waitForLine((l) => l.includes(sent.body.id));
    expect(local.received.slice(before).map((r) => r.headers['webhook-id'])).toEqual([sent.body.id]);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(JSON.parse(cli.lines.find((l) => l.includes('"stopped"'))!)).toMatchObject({ forwarded: 1, unreached: 1 });
  }, THREE_LINES_MS);

  it('removes what a listen on this machine left when killed outright, told by the machine id it keeps (0600, in a 0700 directory)', async () => {
    const mine = configDir();
    const old = await killedListen(mine);
    const file = path.join(mine, 'herald', 'machine-id');
    const machine = readFileSync(file, 'utf8').trim();
    expect(machine).toMatch(/^[0-9a-f]{32}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect((await h.api('GET', `/api/v2/endpoints/${old.endpoint_id}`)).body.description).toBe(`herald listen on ${hostname()} (pid ${old.pid}, machine ${machine})`);
    // This machine's under a host name it had before goes too; one still running (this test
    // process) stays, and so does an older version's from another host.
    const renamed = await namedLikeListen(`herald listen on renamed-host (pid ${await endedPid()}, machine ${machine})`);
    const running = await namedLikeListen(`herald listen on ${hostname()} (pid ${process.pid}, machine ${machine})`);
    const elsewhere = await h.api('POST', '/api/v2/inboxes', { name: 'herald listen on another-host (pid 1)' });

    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], listenEnv(mine));
    const leftovers = JSON.parse(await cli.waitForLine((l) => l.includes('"removed_leftovers"')));
    expect(leftovers.removed.sort()).toEqual([`endpoint ${old.endpoint_id}`, `endpoint ${renamed.endpoint}`, `inbox ${old.inbox_id}`, `inbox ${renamed.inbox}`].sort());
    const ready = JSON.parse(await cli.waitForLine((l) => l.includes('"ready"')));
    expect(cli.lines.filter((l) => l.includes('"kept_leftovers"'))).toEqual([]);
    for (const path of [`/api/v2/endpoints/${old.endpoint_id}`, `/api/v2/inboxes/${old.inbox_id}`, `/api/v2/endpoints/${renamed.endpoint}`, `/api/v2/inboxes/${renamed.inbox}`]) {
      expect((await h.api('GET', path)).status, path).toBe(404);
    }
    for (const path of [`/api/v2/endpoints/${running.endpoint}`, `/api/v2/inboxes/${running.inbox}`, `/api/v2/inboxes/${elsewhere.body.id}`, `/api/v2/inboxes/${ready.inbox_id}`]) {
      expect((await h.api('GET', path)).status, path).toBe(200);
    }
    // The id is made once and kept.
    expect(readFileSync(file, 'utf8').trim()).toBe(machine);

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    await removeAll([running, { inbox: elsewhere.body.id }]);
  }, THREE_LINES_MS);

  it('keeps what a listen on another machine with this host name left, though its pid runs here no more', async () => {
    // Another machine: a config directory, so a machine id, of its own. Its pid, killed here,
    // stands for one that runs there.
    const theirConfig = configDir();
    const theirs = await killedListen(theirConfig);
    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], listenEnv());
    await cli.waitForLine((l) => l.includes('"ready"'));
    expect(cli.lines.filter((l) => l.includes('_leftovers"'))).toEqual([]);
    for (const path of [`/api/v2/endpoints/${theirs.endpoint_id}`, `/api/v2/inboxes/${theirs.inbox_id}`]) expect((await h.api('GET', path)).status, path).toBe(200);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);

    // That machine's next listen removes them.
    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], listenEnv(theirConfig));
    const leftovers = JSON.parse(await cli.waitForLine((l) => l.includes('"removed_leftovers"')));
    expect(leftovers.removed).toEqual([`endpoint ${theirs.endpoint_id}`, `inbox ${theirs.inbox_id}`]);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  }, THREE_LINES_MS);

  it('keeps what an older version left under this host name and names it in one line', async () => {
    // An older version named its endpoint and inbox by host name and pid only: the pid may run on
    // another machine of that name.
    const old = await namedLikeListen(`herald listen on ${hostname()} (pid ${await endedPid()})`);
    const running = await namedLikeListen(`herald listen on ${hostname()} (pid ${process.pid})`);

    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], listenEnv());
    const kept = JSON.parse(await cli.waitForLine((l) => l.includes('"kept_leftovers"')));
    expect(kept.kept).toEqual([`endpoint ${old.endpoint}`, `inbox ${old.inbox}`]);
    await cli.waitForLine((l) => l.includes('"ready"'));
    expect(cli.lines.filter((l) => l.includes('"removed_leftovers"'))).toEqual([]);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);

    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`], listenEnv());
    await cli.waitForLine((l) => l.startsWith('Ready.'));
    const naming = cli.lines.filter((l) => l.includes(old.endpoint) || l.includes(old.inbox));
    expect(naming).toEqual([
      `Kept what an older herald listen left under this host name, as another machine may share the name: endpoint ${old.endpoint}, inbox ${old.inbox} ` +
        '(if yours and not running: herald endpoints delete ENDPOINT_ID; DELETE /api/v2/inboxes/INBOX_ID).',
    ]);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);

    for (const path of [`/api/v2/endpoints/${old.endpoint}`, `/api/v2/inboxes/${old.inbox}`, `/api/v2/endpoints/${running.endpoint}`, `/api/v2/inboxes/${running.inbox}`]) {
      expect((await h.api('GET', path)).status, path).toBe(200);
    }
    await removeAll([old, running]);
  }, THREE_LINES_MS);

  it('stops with exit 1 once its API key is deleted, naming the endpoint and inbox it leaves behind', async () => {
    const key = (await h.api('POST', '/api/v2/api-keys', { name: 'listen key', role: 'admin' })).body;
    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], listenEnv(config, key.key));
    const ready = JSON.parse(await cli.waitForLine((l) => l.includes('"ready"')));
    expect((await h.api('DELETE', `/api/v2/api-keys/${key.id}`)).status).toBe(204);

    // The stream rechecks its key every 5 s; a listen that kept reconnecting would never exit.
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
    expect(code, cli.stderr()).toBe(1);
    expect(cli.stderr()).toContain('the API key is no longer accepted');
    expect(cli.stderr()).toContain(`endpoint ${ready.endpoint_id}, inbox ${ready.inbox_id}`);
    expect(cli.stderr()).not.toContain('reconnecting');
    for (const path of [`/api/v2/endpoints/${ready.endpoint_id}`, `/api/v2/inboxes/${ready.inbox_id}`]) {
      expect((await h.api('GET', path)).status).toBe(200);
      await h.api('DELETE', path);
    }
  }, 40_000);
});
