// Bad input at the command line and in the environment, property-based.
// - The CLI (`node bin/herald.js`, the built dist) with random arguments: exit code 0, 1 or 2,
//   never a hang or a stack trace; 2 (bad arguments or configuration) always with a message.
//   Client commands talk to a closed port on 127.0.0.1 and server commands get an invalid PORT,
//   so no run reaches the network or starts a server.
// - loadConfig() with random environments: a Config, or a ConfigError naming one of the variables
//   that was set; never another exception. The encryption key is checked the same way.
// FUZZ_SEED=<n> replays; FUZZ_RUNS scales the number of runs.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecretBox } from '../../src/app/open-store.js';
import { ConfigError, loadClientConfig, loadConfig, type Config } from '../../src/config/index.js';
import { tempDir } from '../helpers.js';
import { closedPort } from '../process.js';
import { anyString } from './fuzz-support.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_107);
const BIN = fileURLToPath(new URL('../../bin/herald.js', import.meta.url));
const STACK_TRACE = /\n\s+at [^\n]*\((?:file:|node:|\/)|\.(?:js|ts|mjs):\d+:\d+/;

let dir: string;
let closedUrl: string;
beforeAll(async () => {
  dir = tempDir('herald-fuzz-cli-');
  closedUrl = `http://127.0.0.1:${await closedPort()}`;
  writeFileSync(path.join(dir, 'bad.json'), '{"not": json');
  writeFileSync(path.join(dir, 'good.json'), '{"filename": "logo.png"}');
  mkdirSync(path.join(dir, 'a-directory'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

function runCli(args: readonly string[], timeoutMs = 10_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        // Client commands: a closed port on loopback. Server commands: an invalid PORT, so none starts.
        HERALD_URL: closedUrl,
        HERALD_API_KEY: 'fuzz-cli-key-0123456789',
        PORT: 'not-a-port',
        HERALD_DATA_DIR: path.join(dir, 'data'),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function cliProblem(args: readonly string[], r: CliResult): string | undefined {
  const shown = `herald ${args.map((a) => JSON.stringify(a)).join(' ')}`.slice(0, 400);
  if (r.timedOut) return `${shown}: still running after 10 s`;
  if (r.code === null || ![0, 1, 2].includes(r.code)) return `${shown}: exit ${r.code ?? r.signal}\n${r.stderr.slice(0, 500)}`;
  if (STACK_TRACE.test(r.stderr) || STACK_TRACE.test(r.stdout)) return `${shown}: stack trace\n${r.stderr.slice(0, 800)}`;
  // A failure says what went wrong ("herald: <problem>"); no command at all (`herald ""`) prints the usage.
  if (r.code !== 0 && !/^herald: \S/m.test(r.stderr) && !(args[0] === '' && r.code === 2 && r.stderr.startsWith('Usage: herald'))) {
    return `${shown}: exit ${r.code} without a "herald: <problem>" line\n${r.stderr.slice(0, 500)}`;
  }
  return undefined;
}

const COMMANDS = ['serve', 'api', 'worker', 'migrate', 'listen', 'send', 'endpoints', 'deliveries', 'retry', 'help'];
const FLAGS = ['--url', '--key', '--json', '--help', '-h', '--data', '--file', '--id', '--resource', '--project', '--forward-to', '--events', '--limit', '--cursor', '--description', '--server', '--status', '--concurrency', '--', '-', '--bogus', '-x', '---', '--url=', '--limit=-1', '--json=yes'];

describe('bad input: CLI arguments', () => {
  it('bad arguments exit 2 with a message naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['bogus'], /unknown command "bogus"/],
      [['send'], /missing the event type/],
      [['send', 'a', 'b'], /unexpected argument "b"/],
      [['send', 'asset.created', '--data', '{'], /--data is not valid JSON/],
      [['send', 'asset.created', '--data', '{}', '--file', 'good.json'], /--data or --file/],
      [['send', 'asset.created', '--file', 'missing.json'], /--file: cannot read missing\.json/],
      [['send', 'asset.created', '--file', 'a-directory'], /--file: cannot read a-directory/],
      [['send', 'asset.created', '--file', 'bad.json'], /--file bad\.json is not valid JSON/],
      [['send', 'asset.created', '--resource', 'nocolon'], /--resource must be TYPE:ID/],
      [['send', 'asset.created', '--bogus'], /unknown option --bogus/],
      [['send', 'asset.created', '--url', 'ftp://x'], /--url must be an http\(s\) URL/],
      [['send', 'asset.created', '--data'], /--data/],
      [['serve', '--concurrency', '0'], /--concurrency must be a whole number/],
      [['worker', '--concurrency', 'lots'], /--concurrency must be a whole number/],
      [['api', '--concurrency', '5'], /--concurrency applies to worker and serve only/],
      [['listen'], /--forward-to/],
      [['listen', '--forward-to', 'not a url'], /--forward-to must be an http\(s\) URL/],
      [['serve'], /PORT: expected a whole number/], // bad configuration is exit 2 too
    ];
    const problems: string[] = [];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      if (r.code !== 2 || !message.test(r.stderr) || STACK_TRACE.test(r.stderr)) problems.push(`herald ${args.join(' ')}: exit ${r.code}, stderr: ${r.stderr.slice(0, 300)}`);
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it(`random arguments: exit 0, 1 or 2, never a hang or a stack trace (${Math.ceil(RUNS / 2)} runs, seed ${SEED})`, async () => {
    const token = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...FLAGS) },
      { weight: 2, arbitrary: fc.constantFrom(...COMMANDS, 'list', 'create', 'delete', 'asset.created', 'asset:a1', 'ep_1') },
      { weight: 2, arbitrary: fc.constantFrom('{}', '{', '[]', 'null', '"x"', '{"a":[1,2]}', '-1', '0', '99999999999', 'good.json', 'bad.json', 'missing.json', 'a-directory', '-') },
      { weight: 1, arbitrary: fc.constantFrom(closedUrl, `${closedUrl}/x`, 'not a url', 'ftp://127.0.0.1/', 'http://[::1]:1/', 'http://127.0.0.1:0/') },
      // No NUL (a spawn argument cannot hold one) and nothing under /dev (an endless --file).
      { weight: 3, arbitrary: anyString().filter((s) => !s.includes('\u0000') && !s.includes('/dev') && s.length < 2_000) },
    );
    const argsArb = fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...COMMANDS) }, { weight: 1, arbitrary: token }), fc.array(token, { maxLength: 6 })).map(([c, rest]) => [c, ...rest]);
    const details = await fc.check(
      fc.asyncProperty(argsArb, async (args) => {
        const problem = cliProblem(args, await runCli(args));
        if (problem) throw new Error(problem);
      }),
      { seed: SEED, numRuns: Math.ceil(RUNS / 2), endOnFailure: true },
    );
    expect(details.failed ? `seed ${SEED}, path "${details.counterexamplePath}": ${(details.errorInstance as Error)?.message}` : 'ok').toBe('ok');
  }, 120_000);
});

// ---- configuration --------------------------------------------------------------------------------

const VARIABLES = [
  'PORT',
  'HOST',
  'HERALD_DATA_DIR',
  'DATABASE_URL',
  'HERALD_ADMIN_KEY',
  'HERALD_ALLOWED_TARGETS',
  'HERALD_RETRY_SCHEDULE',
  'HERALD_SECRET_KEY',
  'LOG_LEVEL',
  'HERALD_CONCURRENCY',
  'HERALD_ENDPOINT_CONCURRENCY',
  'HERALD_LEASE_MS',
  'HERALD_SQLITE_SYNC',
  'HERALD_SQLITE_THREAD',
  'HERALD_SHUTDOWN_GRACE_MS',
  'HERALD_ROTATION_OVERLAP_SECONDS',
  'HERALD_DISABLE_AFTER_HOURS',
  'HERALD_RETENTION_DAYS',
  'HERALD_API_RATE_LIMIT',
  'HERALD_INGEST_QUEUE_LIMIT',
  'HERALD_INBOX_RETENTION_HOURS',
  'HERALD_INBOX_RATE_LIMIT',
  'HERALD_INBOX_MAX_REQUESTS',
  'HERALD_PUBLIC_URL',
  'HERALD_URL',
  'HERALD_API_KEY',
];

/** Values a human (or a broken deployment script) might put in an environment variable. */
const envValue = fc.oneof(
  { weight: 3, arbitrary: anyString().filter((s) => s.length < 5_000) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '0',
      '1',
      '-1',
      '08',
      '0x10',
      '1e3',
      '1.5',
      ' 42 ',
      '65536',
      '99999999999999999999999',
      'Infinity',
      'NaN',
      'true',
      'debug',
      'DEBUG',
      'full',
      'normal',
      '0,5,300',
      '0,,5',
      '5,-1',
      Array.from({ length: 60 }, () => '1').join(','),
      '127.0.0.0/8',
      '127.0.0.0/8, 10.0.0.0/8',
      '::1/128',
      '10.0.0.0/33',
      '300.1.1.1/8',
      'fe80::/10,,',
      'postgres://u:p@127.0.0.1:1/db',
      'postgresql://',
      'sqlite:/tmp/x.db',
      'mysql://x',
      'https://herald.example.com/',
      'https://herald.example.com/base?x=1',
      'http://user:pw@herald.example.com',
      'ftp://herald.example.com',
      'a'.repeat(64),
      '0'.repeat(64),
      'g'.repeat(64),
      Buffer.alloc(32, 1).toString('base64'),
      Buffer.alloc(31, 1).toString('base64'),
      'short-admin-key',
      'a-long-enough-admin-key-0123',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: -10, max: 2_000_000 }).map(String) },
);

const envArb = fc.dictionary(fc.constantFrom(...VARIABLES), envValue, { maxKeys: 6 });

function configProblem(env: Record<string, string>, config: Config): string | undefined {
  const ints: (keyof Config)[] = ['port', 'concurrency', 'endpointConcurrency', 'leaseMs', 'shutdownGraceMs', 'rotationOverlapMs', 'disableAfterMs', 'retentionMs', 'apiRateLimit', 'ingestQueueLimit', 'inboxRetentionMs', 'inboxRateLimit', 'inboxMaxRequests'];
  for (const k of ints) if (!Number.isSafeInteger(config[k]) || (config[k] as number) < 0) return `${k} = ${String(config[k])} from ${JSON.stringify(env)}`;
  if (config.port > 65535) return `port ${config.port}`;
  if (config.retrySchedule.length === 0 || config.retrySchedule.some((d) => !Number.isFinite(d) || d < 0)) return `retry schedule ${JSON.stringify(config.retrySchedule)}`;
  if (!path.isAbsolute(config.dataDir)) return `data dir ${config.dataDir} is not absolute`;
  return undefined;
}

describe('bad input: configuration', () => {
  it(`loadConfig answers a valid Config or a ConfigError naming a variable that was set (${RUNS * 20} runs, seed ${SEED})`, () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(envArb, (env) => {
        let config: Config;
        try {
          config = loadConfig(env);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw new Error(`${JSON.stringify(env).slice(0, 300)} threw ${String(err)}`);
          if (!(err.variable in env)) throw new Error(`ConfigError names ${err.variable}, which was not set: ${JSON.stringify(env).slice(0, 300)}`);
          if (!err.message.startsWith(`${err.variable}: `) || err.message.length <= err.variable.length + 3) throw new Error(`unclear message "${err.message}"`);
          refused++;
          return;
        }
        accepted++;
        const problem = configProblem(env, config);
        if (problem) throw new Error(problem);
        // The client configuration never throws.
        loadClientConfig(env);
      }),
      { seed: SEED, numRuns: RUNS * 20 },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });

  it(`HERALD_SECRET_KEY is a usable key or a ConfigError naming it (${RUNS * 5} runs)`, () => {
    const keyArb = fc.oneof(
      envValue,
      fc.uint8Array({ minLength: 30, maxLength: 34 }).map((b) => Buffer.from(b).toString('hex')),
      fc.uint8Array({ minLength: 30, maxLength: 34 }).map((b) => Buffer.from(b).toString('base64')),
    );
    fc.assert(
      fc.property(keyArb, (key) => {
        let config: Config;
        try {
          config = loadConfig({ HERALD_SECRET_KEY: key, HERALD_DATA_DIR: dir });
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          return;
        }
        if (config.secretKey === undefined) return; // blank: a key is generated into the data dir
        try {
          const box = loadSecretBox(config);
          expect(typeof box).toBe('object');
        } catch (err) {
          if (!(err instanceof ConfigError) || err.variable !== 'HERALD_SECRET_KEY') throw new Error(`${JSON.stringify(key)} threw ${String(err)}`);
        }
      }),
      { seed: SEED, numRuns: RUNS * 5 },
    );
  });
});
