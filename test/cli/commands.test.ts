// The client commands of the CLI, run as child processes against a live Herald: send, endpoints,
// deliveries, retry, --json, --help on every command, and exit code 2 for bad arguments.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { closedPort } from '../process.js';
import { runCli } from './cli-support.js';

let h: TestHerald;
let receiver: Receiver;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  // The receiver fails the first attempt of every message and accepts the rest.
  const seen = new Set<string>();
  receiver = await startReceiver((r, _i, res) => {
    const id = String(r.headers['webhook-id']);
    const first = !seen.has(id);
    seen.add(id);
    res.writeHead(first ? 500 : 200).end();
  });
  h = await startTestHerald({ HERALD_RETRY_SCHEDULE: '0' });
  env = { HERALD_URL: h.url, HERALD_API_KEY: ADMIN_KEY };
  dir = mkdtempSync(path.join(tmpdir(), 'herald-cli-'));
});
afterAll(async () => {
  await h.close();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('herald endpoints', () => {
  it('creates, lists and deletes endpoints, in text and --json', async () => {
    const created = await runCli(['endpoints', 'create', '--url', `${receiver.url}/a`, '--events', 'asset.created,asset.deleted', '--description', 'from the CLI'], env);
    expect(created.code, created.stderr).toBe(0);
    const id = /created (ep_\w+)/.exec(created.stdout)![1];
    expect(created.stdout).toMatch(/secret\s+whsec_/);

    const listed = await runCli(['endpoints'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+URL\s+EVENTS\s+PROFILE\s+STATUS$/);
    expect(listed.stdout).toContain(`${id}  ${receiver.url}/a  asset.created,asset.deleted  standard  enabled`);

    const asJson = await runCli(['endpoints', 'list', '--json'], env);
    expect(asJson.code).toBe(0);
    const page = JSON.parse(asJson.stdout);
    expect(page.data.find((e: { id: string }) => e.id === id)).toMatchObject({ url: `${receiver.url}/a`, description: 'from the CLI' });

    const createdJson = await runCli(['endpoints', 'create', '--url', `${receiver.url}/b`, '--events', 'asset.*', '--json'], env);
    expect(JSON.parse(createdJson.stdout)).toMatchObject({ id: expect.stringMatching(/^ep_/), secret: expect.stringMatching(/^whsec_/), event_types: ['asset.*'] });

    const deleted = await runCli(['endpoints', 'delete', id], env);
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted ${id}\n` });
    expect((await h.api('GET', `/api/v2/endpoints/${id}`)).status).toBe(404);
    await runCli(['endpoints', 'delete', JSON.parse(createdJson.stdout).id], env);
  });

  it("reports API errors with Herald's message: exit 2 for a value it refused, naming the flag, else 1", async () => {
    const missing = await runCli(['endpoints', 'delete', 'ep_missing'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/herald: 404 endpoint "ep_missing" not found/);
    const bad = await runCli(['endpoints', 'create', '--url', 'https://example.com/x', '--events', 'no.such.event'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/422 .*no\.such\.event.*\(check --events\)/);
    const unknownType = await runCli(['send', 'asset.bogus'], env);
    expect(unknownType.code).toBe(2);
    expect(unknownType.stderr).toContain('(check the event type)');
    const badProject = await runCli(['send', 'asset.created', '--resource', 'asset:a1', '--project', ''], env);
    expect(badProject.code, badProject.stderr).toBe(2);
    expect(badProject.stderr).toMatch(/400 .*project_id.*\(check --project\)/);
    for (const command of [['endpoints'], ['deliveries', 'ep_any']]) {
      const badCursor = await runCli([...command, '--cursor', 'garbage'], env);
      expect(badCursor.code, badCursor.stderr).toBe(2);
      expect(badCursor.stderr).toMatch(/400 .*cursor.*\(check --cursor\)/);
    }
    const wrongKey = await runCli(['endpoints', '--key', 'wrong-key-wrong-key'], env);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/401/);
  });
});

describe('herald send, deliveries, retry', () => {
  /** Waits until the endpoint has `n` failed deliveries. */
  const failedDeliveries = (endpointId: string, n: number) =>
    eventually(async () => ((await h.api('GET', `/api/v2/deliveries?endpoint_id=${endpointId}&status=failed`)).body.data.length >= n ? true : undefined));

  it('publishes an event and prints its message id; deliveries shows it; retry sends it again', async () => {
    const created = JSON.parse((await runCli(['endpoints', 'create', '--url', `${receiver.url}/flow`, '--events', 'asset.*', '--json'], env)).stdout);
    const sent = await runCli(['send', 'asset.created', '--resource', 'asset:a1', '--data', '{"filename": "logo.png"}'], env);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/^msg_\w+\n$/);
    const messageId = sent.stdout.trim();

    // The first attempt fails (500) and the schedule has no retry left: failed. Waited for
    // through the API: polling with a CLI process each time left few polls on a loaded host.
    await failedDeliveries(created.id, 1);
    const failed = JSON.parse((await runCli(['deliveries', created.id, '--status', 'failed', '--json'], env)).stdout).data[0];
    expect(failed).toMatchObject({ event_id: messageId, status: 'failed', attempts: 1, last_status_code: 500 });
    const table = await runCli(['deliveries', created.id], env);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+MESSAGE\s+STATUS\s+ATTEMPTS\s+LAST\s+CREATED$/);
    expect(table.stdout).toMatch(new RegExp(`${failed.id}\\s+${messageId}\\s+failed\\s+1\\s+500`));

    const retried = await runCli(['retry', failed.id], env);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toBe(`requeued ${failed.id} (pending)\n`);
    await eventually(async () => {
      const d = (await h.api('GET', `/api/v2/deliveries/${failed.id}`)).body;
      return d.status === 'succeeded' ? d : undefined;
    });
    const received = receiver.received.filter((r) => r.headers['webhook-id'] === messageId);
    expect(received).toHaveLength(2);
    expect(JSON.parse(received[1].body)).toMatchObject({ id: messageId, type: 'asset.created', resource: { type: 'asset', id: 'a1' }, data: { filename: 'logo.png' } });

    const retriedJson = await runCli(['retry', failed.id, '--json'], env);
    expect(JSON.parse(retriedJson.stdout)).toMatchObject({ id: failed.id });
  });

  it("prints a next-page hint that keeps the listing's filters", async () => {
    const created = JSON.parse((await runCli(['endpoints', 'create', '--url', `${receiver.url}/pages`, '--events', 'user.created', '--json'], env)).stdout);
    // A type no other endpoint here takes: each message's only (first) attempt fails.
    for (let i = 0; i < 2; i++) expect((await runCli(['send', 'user.created'], env)).code).toBe(0);
    await failedDeliveries(created.id, 2);
    const page = await runCli(['deliveries', created.id, '--status', 'failed', '--limit', '1'], env);
    const hint = /^more: (.+)$/m.exec(page.stdout)![1];
    expect(hint).toMatch(new RegExp(`^herald deliveries ${created.id} --status failed --limit 1 --cursor dlv_\\w+$`));
    const next = await runCli([...hint.split(' ').slice(1)], env);
    expect(next.stdout).toMatch(/\bfailed\b/);
    expect(next.stdout.split('\n').filter((l) => l.startsWith('dlv_'))).toHaveLength(1);
    await runCli(['endpoints', 'create', '--url', `${receiver.url}/pages-2`, '--events', 'user.deleted'], env);
    const endpoints = (await runCli(['endpoints', '--limit', '1'], env)).stdout;
    expect(endpoints, endpoints).toMatch(/^more: herald endpoints --limit 1 --cursor ep_\w+$/m);
  });

  it('send takes --file (or - for stdin), --id for idempotency, and --json', async () => {
    const file = path.join(dir, 'data.json');
    writeFileSync(file, JSON.stringify({ filename: 'from-file.png' }));
    const first = await runCli(['send', 'ASSET_ADDED', '--file', file, '--id', 'cli-evt-1', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const out = JSON.parse(first.stdout);
    expect(out).toMatchObject({ id: expect.stringMatching(/^msg_/), duplicate: false });
    const again = JSON.parse((await runCli(['send', 'asset.created', '--data', '{}', '--id', 'cli-evt-1', '--json'], env)).stdout);
    expect(again).toMatchObject({ id: out.id, duplicate: true });
    const plain = await runCli(['send', 'asset.created', '--id', 'cli-evt-1'], env);
    expect(plain).toMatchObject({ code: 0, stdout: `${out.id}\n`, stderr: 'herald: an event with --id cli-evt-1 was already published; this sent nothing new\n' });
    const event = await h.api('GET', `/api/v2/events/${out.id}`);
    expect(event.body.payload.data).toEqual({ filename: 'from-file.png' });

    const stdin = await runCli(['send', 'asset.created', '--file', '-'], env, '{"filename": "from-stdin.png"}');
    expect(stdin.code, stdin.stderr).toBe(0);
    expect((await h.api('GET', `/api/v2/events/${stdin.stdout.trim()}`)).body.payload.data).toEqual({ filename: 'from-stdin.png' });
  });

  it('reads the address and key from --url and --key too', async () => {
    const res = await runCli(['send', 'asset.created', '--url', h.url, '--key', ADMIN_KEY], {});
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^msg_/);
  });
});

describe('help and bad arguments', () => {
  it.each(['serve', 'api', 'worker', 'migrate', 'listen', 'send', 'endpoints', 'deliveries', 'retry'])('herald %s --help prints its usage and exits 0', async (command) => {
    const res = await runCli([command, '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^Usage: herald ${command}`));
  });

  it('herald --help lists every command; herald alone prints usage and exits 2', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['serve', 'api', 'worker', 'migrate', 'listen', 'send', 'endpoints', 'deliveries', 'retry']) expect(help.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const bare = await runCli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: herald/);
    expect(await runCli(['help', 'send'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: herald send/) });
    expect(await runCli(['help', 'bogus'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "bogus"') });
    const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
    expect(await runCli(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['send'], /missing the event type/],
    [['send', 'asset.created', '--data', '{not json'], /--data is not valid JSON/],
    [['send', 'asset.created', '--data', '{}', '--file', 'x.json'], /--data or --file, not both/],
    [['send', 'asset.created', '--file', '/no/such/file.json'], /cannot read \/no\/such\/file\.json/],
    [['send', 'asset.created', '--resource', 'nocolon'], /--resource must be TYPE:ID/],
    [['send', 'a', 'b'], /unexpected argument "b"/],
    [['send', 'asset.created', '--bogus'], /unknown option --bogus/],
    [['endpoints', 'create', '--events', 'asset.*'], /needs --url/],
    [['endpoints', 'create', '--url', 'ftp://x', '--events', 'asset.*'], /--url must be an http\(s\) URL/],
    [['endpoints', 'delete'], /missing the endpoint id/],
    [['endpoints', 'nope'], /unknown endpoints command "nope"/],
    [['endpoints', '--limit', '0'], /--limit must be a whole number from 1 to 250/],
    [['deliveries'], /missing the endpoint id/],
    [['deliveries', 'ep_x', '--status', 'lost'], /--status must be one of pending, in_flight, succeeded, failed/],
    [['retry'], /missing the delivery id/],
    [['listen'], /needs --forward-to/],
    [['listen', '--forward-to', 'not a url'], /--forward-to must be an http\(s\) URL/],
    [['worker', '--concurrency', '0'], /--concurrency must be a whole number/],
    [['api', '--concurrency', '4'], /--concurrency applies to worker and serve only/],
  ] as const)('herald %j: a clear error and exit code 2', async (args, message) => {
    const res = await runCli(args, env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    expect(res.stderr).toMatch(/Usage: herald/);
  });

  it('refuses an address with credentials or a query without echoing them, naming where it came from', async () => {
    const withPassword = await runCli(['endpoints', '--url', `http://admin:s3cretpw@127.0.0.1:1`], env);
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toContain('--url must not carry a user name or password');
    expect(withPassword.stderr).not.toContain('s3cretpw');
    expect((await runCli(['endpoints'], { ...env, HERALD_URL: 'localhost:8080' })).stderr).toContain('HERALD_URL must be an http(s) URL');
    const server = await runCli(['endpoints', 'create', '--url', 'https://example.com/x', '--events', '*', '--server', 'notaurl'], env);
    expect([server.code, server.stderr.split('\n')[0]]).toEqual([2, 'herald: --server must be an http(s) URL, got "notaurl"']);
    expect((await runCli(['endpoints', '--url', `${h.url}?x=1`], env)).code).toBe(2);
  });

  it('tells a server that is not Herald apart instead of crashing or claiming success', async () => {
    const other = await startReceiver((_r, _i, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not herald</html>'));
    try {
      const otherEnv = { HERALD_URL: other.url, HERALD_API_KEY: ADMIN_KEY };
      for (const args of [['endpoints'], ['endpoints', 'delete', 'ep_x'], ['send', 'asset.created']]) {
        const res = await runCli(args, otherEnv);
        expect(res.code, args.join(' ')).toBe(1);
        expect(res.stderr).toContain(`${other.url} answered 200 without Herald's JSON`);
        expect(res.stdout).toBe('');
      }
    } finally {
      await other.close();
    }
  });

  it('a data directory Herald cannot use stops it with exit 2, naming HERALD_DATA_DIR', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const res = await runCli(['migrate'], { HERALD_DATA_DIR: path.join(file, 'sub'), DATABASE_URL: '' });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^herald: HERALD_DATA_DIR: cannot keep the encryption key in .*a-file\/sub \(ENOTDIR\)/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('a port taken or an address this host lacks stops serve with exit 2, naming PORT or HOST', async () => {
    const taken = await startReceiver();
    try {
      const data = path.join(dir, 'listen');
      const env = { HERALD_DATA_DIR: data, DATABASE_URL: '', HERALD_ADMIN_KEY: ADMIN_KEY, HOST: '127.0.0.1' };
      const port = new URL(taken.url).port;
      const inUse = await runCli(['serve'], { ...env, PORT: port });
      expect([inUse.code, inUse.stderr.trim()]).toEqual([2, `herald: PORT: cannot listen on port ${port} (EADDRINUSE)`]);
      const elsewhere = await runCli(['serve'], { ...env, PORT: '0', HOST: '192.0.2.1' });
      expect([elsewhere.code, elsewhere.stderr.trim()]).toEqual([2, 'herald: HOST: cannot listen on 192.0.2.1 (EADDRNOTAVAIL)']);
    } finally {
      await taken.close();
    }
  });

  it('a first start that cannot listen shows no admin key and keeps none: the next start generates one', async () => {
    const taken = await startReceiver();
    try {
      const data = path.join(dir, 'first-start');
      const failed = await runCli(['serve'], { HERALD_DATA_DIR: data, DATABASE_URL: '', HERALD_ADMIN_KEY: '', HOST: '127.0.0.1', PORT: new URL(taken.url).port });
      expect(failed.code).toBe(2);
      expect(failed.stdout).not.toContain('admin API key');
      const db = new Database(path.join(data, 'herald.db'), { readonly: true });
      try {
        expect(db.prepare('SELECT COUNT(*) AS n FROM api_keys').get()).toEqual({ n: 0 });
      } finally {
        db.close();
      }
    } finally {
      await taken.close();
    }
  });

  // Twelve process starts: on a busy 2-core host they took 12 s, too close to the default 30 s.
  it('migrates a new SQLite database from several processes at once, every one succeeding', async () => {
    for (let round = 0; round < 3; round++) {
      const data = path.join(dir, `together-${round}`);
      const env = { HERALD_DATA_DIR: data, DATABASE_URL: '', HERALD_SECRET_KEY: '22'.repeat(32) };
      const runs = await Promise.all(Array.from({ length: 4 }, () => runCli(['migrate'], env)));
      expect(runs.map((r) => [r.code, r.stderr])).toEqual(runs.map(() => [0, '']));
    }
  }, 90_000);

  it('a key that does not open the stored credentials stops Herald with exit 2, naming HERALD_SECRET_KEY', async () => {
    const data = path.join(dir, 'sealed');
    const first = await startTestHerald({}, { dataDir: data, worker: false });
    await first.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/sealed', event_types: ['*'] });
    await first.close();
    const listen = { PORT: '0', HOST: '127.0.0.1' };
    // Migrating reads no credentials: any key will do for it.
    expect((await runCli(['migrate'], { HERALD_DATA_DIR: data, DATABASE_URL: '', HERALD_SECRET_KEY: '00'.repeat(32) })).code).toBe(0);
    const wrong = await runCli(['serve'], { ...listen, HERALD_DATA_DIR: data, DATABASE_URL: '', HERALD_SECRET_KEY: '00'.repeat(32) });
    expect([wrong.code, wrong.stderr.trim()]).toEqual([
      2,
      'herald: HERALD_SECRET_KEY: this key does not open the credentials stored in the database: it is not the key they were sealed with',
    ]);
    writeFileSync(path.join(data, 'secret.key'), `${'11'.repeat(32)}\n`);
    const replaced = await runCli(['serve'], { ...listen, HERALD_DATA_DIR: data, DATABASE_URL: '', HERALD_SECRET_KEY: '' });
    expect([replaced.code, replaced.stderr]).toEqual([2, expect.stringContaining(`HERALD_SECRET_KEY: unset, and the key in ${path.join(data, 'secret.key')} does not open`)]);
  });

  it('a client command without a key says how to give one (exit 2); an unreachable Herald exits 1', async () => {
    const noKey = await runCli(['endpoints'], { HERALD_URL: h.url });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no API key: set HERALD_API_KEY or pass --key/);
    const port = await closedPort();
    const down = await runCli(['endpoints'], { HERALD_URL: `http://127.0.0.1:${port}`, HERALD_API_KEY: ADMIN_KEY });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach Herald at http://127.0.0.1:${port}: ECONNREFUSED`);
  });
});
