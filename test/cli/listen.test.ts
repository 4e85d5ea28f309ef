// herald listen as a child process against a live Herald that refuses loopback destinations
// (HERALD_ALLOWED_TARGETS empty): the temporary endpoint targets Herald's own inbox, the CLI
// streams it and forwards each delivery to a local receiver with its original headers and body,
// prints one line per delivery, and removes the endpoint and inbox on SIGINT.
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/signing/verify.js';
import { ADMIN_KEY, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { freePort } from '../process.js';
import { startCli, type LongRunning } from './cli-support.js';

let h: TestHerald;
let local: Receiver;
let cli: LongRunning | undefined;

beforeAll(async () => {
  h = await startTestHerald({ HERALD_ALLOWED_TARGETS: '' });
  local = await startReceiver((_r, i, res) => void res.writeHead(i === 0 ? 201 : 500).end());
});
afterAll(async () => {
  cli?.child.kill('SIGKILL');
  await h.close();
  await local.close();
});

describe('herald listen', () => {
  it('forwards deliveries to the local URL as Herald sent them, prints a line for each, and cleans up on Ctrl-C', async () => {
    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--events', 'asset.*', '--json'], { HERALD_URL: h.url, HERALD_API_KEY: ADMIN_KEY });
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
  });

  it('prints readable lines without --json, and reports an unreachable local service per delivery', async () => {
    const closed = await freePort();
    cli = startCli(['listen', '--forward-to', `http://127.0.0.1:${closed}/hooks`], { HERALD_URL: h.url, HERALD_API_KEY: ADMIN_KEY });
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

  it('removes the endpoint and inbox of an earlier listen on this host that was killed outright', async () => {
    const killed = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], { HERALD_URL: h.url, HERALD_API_KEY: ADMIN_KEY });
    const old = JSON.parse(await killed.waitForLine((l) => l.includes('"ready"')));
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect((await h.api('GET', `/api/v2/endpoints/${old.endpoint_id}`)).status).toBe(200);
    // Another host's listener, or one still running (this test process), is left alone.
    const elsewhere = await h.api('POST', '/api/v2/inboxes', { name: 'herald listen on another-host (pid 1)' });
    const running = await h.api('POST', '/api/v2/inboxes', { name: `herald listen on ${hostname()} (pid ${process.pid})` });

    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], { HERALD_URL: h.url, HERALD_API_KEY: ADMIN_KEY });
    const leftovers = JSON.parse(await cli.waitForLine((l) => l.includes('"removed_leftovers"')));
    expect(leftovers.removed).toEqual([`endpoint ${old.endpoint_id}`, `inbox ${old.inbox_id}`]);
    const ready = JSON.parse(await cli.waitForLine((l) => l.includes('"ready"')));
    expect((await h.api('GET', `/api/v2/endpoints/${old.endpoint_id}`)).status).toBe(404);
    expect((await h.api('GET', `/api/v2/inboxes/${old.inbox_id}`)).status).toBe(404);
    for (const id of [elsewhere.body.id, running.body.id, ready.inbox_id]) expect((await h.api('GET', `/api/v2/inboxes/${id}`)).status).toBe(200);

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    for (const id of [elsewhere.body.id, running.body.id]) await h.api('DELETE', `/api/v2/inboxes/${id}`);
  });

  it('stops with exit 1 once its API key is deleted, naming the endpoint and inbox it leaves behind', async () => {
    const key = (await h.api('POST', '/api/v2/api-keys', { name: 'listen key', role: 'admin' })).body;
    cli = startCli(['listen', '--forward-to', `${local.url}/webhooks`, '--json'], { HERALD_URL: h.url, HERALD_API_KEY: key.key });
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
