// The README against the code it describes: the environment variables the config reads and their
// defaults, the metrics /metrics exposes, the native API's routes in /openapi.json, the routes the
// server serves against /openapi.json, and the CLI's commands, flags and defaults against their
// --help. Each side is read from the running code, not from a
// copied list, so a variable, metric, route or flag added or removed on one side fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadClientConfig, loadConfig } from '../../src/config/index.js';
import { run, USAGE } from '../../src/cli/main.js';
import { UsageError } from '../../src/cli/args.js';
import { startTestHerald, type TestHerald } from '../helpers.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const README = read('README.md');
const INBOX_README = read('src/inbox/README.md');

/** The text of a README section, from its heading to the next heading of the same or a higher level. */
function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  expect(start, `README has no "${heading}"`).toBeGreaterThanOrEqual(0);
  const level = heading.indexOf(' ');
  const rest = README.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The first-column names of a markdown table's rows: `| \`NAME\` | a | b |` → NAME and its cells. */
function tableRows(text: string, name: RegExp): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const cells = line.split(' | ');
    const first = /^\| `([^`]+)`$/.exec(cells[0] ?? '');
    if (first && name.test(first[1]!)) rows.set(first[1]!, cells.slice(1));
  }
  return rows;
}

describe('environment variables', () => {
  /** The variables a loader reads, found by handing it an environment that records every read. */
  function variablesRead(load: (env: Record<string, string | undefined>) => unknown): Set<string> {
    const names = new Set<string>();
    load(new Proxy({}, { get: (_t, name) => (typeof name === 'string' && names.add(name), undefined) }));
    return names;
  }
  const server = variablesRead(loadConfig);
  const client = variablesRead(loadClientConfig);
  const table = tableRows(section('### Configuration'), /^[A-Z][A-Z0-9_]*$/);

  it('the configuration table lists every variable the server reads, and only those', () => {
    expect(server.size).toBeGreaterThan(20);
    expect([...table.keys()].sort()).toEqual([...server].sort());
  });

  it("each default the table gives is the one Herald uses when the variable is unset", () => {
    const defaults = loadConfig({});
    let compared = 0;
    for (const [name, [cell]] of table) {
      // `unset`, `generated`, `empty`: no value to give.
      const value = /^`([^`]*)`$/.exec(cell!.trim())?.[1];
      if (value === undefined) continue;
      expect(loadConfig({ [name]: value }), `${name} = ${value}`).toEqual(defaults);
      compared++;
    }
    expect(compared).toBeGreaterThan(20);
  });

  it('a variable set empty is the same as unset, as the README says', () => {
    expect(section('### Configuration')).toContain('A variable set empty (`HERALD_RETRY_SCHEDULE=`) is the same as unset.');
    const defaults = loadConfig({});
    for (const name of table.keys()) expect(loadConfig({ [name]: '' }), name).toEqual(defaults);
  });

  it('each whole-number variable states its range, and Herald takes exactly that range', () => {
    /** The ConfigError naming the variable that the value stops Herald with, if any. */
    const failure = (name: string, value: string): ConfigError | undefined => {
      try {
        loadConfig({ [name]: value });
        return undefined;
      } catch (err) {
        if (err instanceof ConfigError && err.variable === name) return err;
        throw err;
      }
    };
    const refused = (name: string, value: string) => failure(name, value) !== undefined;
    let checked = 0;
    for (const [name, [, meaning]] of table) {
      // A whole-number variable is one that refuses a word for not being a number.
      if (!/whole number/.test(failure(name, 'many')?.message ?? '')) continue;
      const range = /\((\d[\d,]*)–(\d[\d,]*)[;,)]/.exec(meaning!);
      expect(range, `${name} states its range as (min–max)`).not.toBeNull();
      const [min, max] = [Number(range![1]!.replace(/,/g, '')), Number(range![2]!.replace(/,/g, ''))];
      for (const value of [min, max]) expect(refused(name, String(value)), `${name}=${value}`).toBe(false);
      for (const value of [min - 1, max + 1].filter((v) => v >= 0)) expect(refused(name, String(value)), `${name}=${value}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(15);
  });

  it('HERALD_ALLOWED_TARGETS takes the examples the table gives', () => {
    const meaning = table.get('HERALD_ALLOWED_TARGETS')![1]!;
    expect(meaning).toContain('comma-separated');
    const examples = [...meaning.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    expect(examples.length).toBeGreaterThan(1);
    for (const example of examples) expect(loadConfig({ HERALD_ALLOWED_TARGETS: example }).allowedTargets, example).toBe(example);
    expect(() => loadConfig({ HERALD_ALLOWED_TARGETS: '127.0.0.0/8 ::1' })).toThrow(ConfigError);
  });

  it('LOG_LEVEL takes the levels the table names', () => {
    const levels = [...table.get('LOG_LEVEL')![1]!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!);
    expect(levels).toEqual(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
    for (const level of levels) expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).toThrow(ConfigError);
  });

  it('the client commands read HERALD_URL and HERALD_API_KEY, both in the README and the CLI help', () => {
    expect([...client].sort()).toEqual(['HERALD_API_KEY', 'HERALD_URL']);
    for (const name of client) {
      expect(section('### Command line and receiver SDK')).toContain(`\`${name}\``);
      expect(USAGE).toContain(name);
    }
  });

  it('the variables the CLI help names are the server\'s', () => {
    const named = USAGE.slice(USAGE.indexOf('Server configuration')).match(/\b[A-Z][A-Z0-9_]{2,}\b/g) ?? [];
    expect(named.length).toBeGreaterThan(3);
    for (const name of named) expect(server, name).toContain(name);
  });
});

describe('with a running Herald', () => {
  let h: TestHerald;
  beforeAll(async () => {
    // An overlap other than the default, which /openapi.json must state as configured.
    h = await startTestHerald({ HERALD_ROTATION_OVERLAP_SECONDS: '3600' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('the metrics table lists every metric /metrics exposes, with its type and labels', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    const observability = section('## Observability');
    const table = tableRows(observability, /^herald_/);
    const exposed = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const defaults = [...exposed.keys()].filter((n) => /^herald_(process|nodejs)_/.test(n));
    expect(defaults.some((n) => n.startsWith('herald_process_')) && defaults.some((n) => n.startsWith('herald_nodejs_'))).toBe(true);
    expect(observability).toContain('| `herald_process_*`, `herald_nodejs_*` |');
    const own = [...exposed].filter(([n]) => !defaults.includes(n));
    expect(own.length).toBeGreaterThan(10);
    expect(own.map(([n]) => n).sort()).toEqual([...table.keys()].sort());
    for (const [name, type] of own) {
      const [documentedType, labels] = table.get(name)!;
      expect(documentedType!.trim().split(' ')[0], name).toBe(type);
      // Every label of its samples, and every value but the profile's, is named in the row.
      for (const sample of text.matchAll(new RegExp(`^${name}(?:_bucket|_sum|_count)?\\{([^}]*)\\}`, 'gm'))) {
        for (const [, label, value] of sample[1]!.matchAll(/(\w+)="([^"]*)"/g)) {
          if (label === 'le') continue;
          expect(labels, `${name} label ${label}`).toContain(`\`${label}\``);
          if (label !== 'profile') expect(labels, `${name} ${label}="${value}"`).toContain(`\`${value}\``);
          else expect(observability, `profile ${value}`).toContain(`\`${value}\``);
        }
      }
    }
  });

  it("every route of the native API is in the README or the inboxes' README, and every route they name exists", async () => {
    const spec = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const shape = (path: string) =>
      path
        .split('/')
        .map((s) => (/^(\{.+\}|:.+|<.+>|\$\w+|[A-Z_]+)$/.test(s) ? ':' : s))
        .join('/');
    const native = (path: string) => path.startsWith('/api/v2/') && !path.startsWith('/api/v2/admin/');
    const routes = new Set<string>();
    for (const [path, operations] of Object.entries(spec.paths)) {
      if (!native(path)) continue;
      for (const method of Object.keys(operations)) routes.add(`${method.toUpperCase()} ${shape(path)}`);
    }
    expect(routes.size).toBeGreaterThan(30);

    // "GET/PATCH/DELETE /endpoints/:id": in the native API's table the prefix /api/v2 is left out.
    const mention = /\b((?:GET|POST|PUT|PATCH|DELETE)(?:\/(?:GET|POST|PUT|PATCH|DELETE))*) (\/[\w.:{}<>$-]+(?:\/[\w.:{}<>$-]+)*)/g;
    const nativeTable = section('### Native API (`/api/v2`, key in `X-API-Key`, `Authorization: Bearer`, or as the Basic password)')
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .join('\n');
    const documented = new Set<string>();
    for (const [text, prefix] of [[README, ''], [INBOX_README, ''], [nativeTable, '/api/v2']] as const) {
      for (const [, methods, path] of text.matchAll(mention)) {
        const full = path!.startsWith('/api/v2/') ? path! : prefix + path!;
        if (!native(full)) continue;
        for (const method of methods!.split('/')) documented.add(`${method} ${shape(full)}`);
      }
    }
    expect([...routes].filter((r) => !documented.has(r)), 'routes the docs do not name').toEqual([]);
    expect([...documented].filter((r) => !routes.has(r)), 'routes the docs name that do not exist').toEqual([]);
  });

  /** Every route the server serves, by path (`:param` style), with its methods, read from Fastify's route tree. */
  function servedRoutes(): Map<string, Set<string>> {
    const routes = new Map<string, Set<string>>();
    const parents: string[] = [];
    for (const line of h.herald.server!.printRoutes({ commonPrefix: false }).split('\n')) {
      const node = /^([│ ]*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
      if (!node) continue;
      const depth = node[1]!.length / 4;
      const path = (parents[depth - 1] ?? '') + node[2]!;
      parents.length = depth;
      parents.push(path);
      if (node[3]) routes.set(path, new Set([...(routes.get(path) ?? []), ...node[3].split(', ')]));
    }
    return routes;
  }

  it('/openapi.json documents every API route the server serves, with its methods, and only those', async () => {
    const spec = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = new Map(Object.entries(spec.paths).map(([path, ops]) => [path.replace(/\{([^}]+)\}/g, ':$1'), Object.keys(ops).map((m) => m.toUpperCase()).sort()]));
    const served = servedRoutes();
    // The API: Herald's own and the profiles', and the probes. Tenovos' routes are documented
    // once, at the root; under its base paths they are the same routes again.
    const probes = ['/healthz', '/readyz', '/metrics'];
    const apiPrefixes = ['/api/', '/webhooks/', '/cmp/'];
    const aliases = ['/v2/webhooks/', '/content-store-v1/webhooks/'];
    const api = new Map<string, string[]>();
    for (const [path, methods] of served) {
      const alias = aliases.find((prefix) => path.startsWith(prefix));
      const canonical = alias ? path.slice(alias.length - '/webhooks/'.length) : path;
      if (!alias && !probes.includes(path) && !apiPrefixes.some((prefix) => path.startsWith(prefix))) continue;
      const own = [...methods].filter((m) => m !== 'HEAD').sort();
      if (alias) expect(own, `${path} is ${canonical} again`).toEqual(documented.get(canonical));
      else api.set(path, own);
    }
    expect(api.size).toBeGreaterThan(40);
    expect(Object.fromEntries([...api].sort())).toEqual(Object.fromEntries([...documented].sort()));

    // What the README says needs no key, the inbox URLs, and the admin UI.
    for (const path of [...probes, '/openapi.json', '/docs']) {
      expect(served.get(path), path).toContain('GET');
      expect(README, path).toContain(`GET ${path}\``);
    }
    expect(served.has('/in/:token')).toBe(true);
    expect(README).toContain('/in/<token>');
  });

  it('/docs says how to send the key as /openapi.json and the README do, and what the document says of the whole API', async () => {
    type Scheme = { type: string; name?: string; scheme?: string };
    const spec = (await (await fetch(`${h.url}/openapi.json`)).json()) as { info: { description: string }; components: { securitySchemes: Record<string, Scheme> } };
    // The page's text, as a reader sees it.
    const page = (await (await fetch(`${h.url}/docs`)).text())
      .replace(/<[^>]+>/g, '')
      .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
    const schemes = Object.values(spec.components.securitySchemes).map((s) => (s.type === 'apiKey' ? `${s.name}` : `Authorization: ${s.scheme}`));
    // The README's heading of the native API: "key in `X-API-Key`, `Authorization: Bearer`, or as the Basic password".
    expect(schemes).toEqual(['X-API-Key', 'Authorization: bearer', 'Authorization: basic']);
    expect(README).toContain('key in `X-API-Key`, `Authorization: Bearer`, or as the Basic password');
    for (const text of ['X-API-Key: <key>', 'Authorization: Bearer <key>', 'Authorization: Basic: the API key as the password']) expect(page).toContain(text);
    // X-Herald-Account, which the operator key acts on another account with, is told there.
    expect(spec.info.description).toContain('X-Herald-Account');
    expect(page).toContain('X-Herald-Account');
  });

  it("the fields the README gives an event and an endpoint are those their POST takes, the required ones first", async () => {
    type Body = { properties: Record<string, unknown>; required: string[] };
    const spec = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, { post: { requestBody: { content: { 'application/json': { schema: Body } } } } }> };
    const bodyOf = (path: string) => spec.paths[path]!.post.requestBody.content['application/json'].schema;
    /** "An X is `{a, b}` (…) and, as needed: `c` (…); `d`; and `e` and `f` (…)": the required and the optional fields. */
    function listed(start: string, end: string): { required: string[]; optional: string[] } {
      const from = README.indexOf(start);
      expect(from, start).toBeGreaterThanOrEqual(0);
      const text = README.slice(from, README.indexOf(end, from)).replace(/\s+/g, ' ');
      const [head, rest] = text.split(' as needed: ');
      const required = /`\{([^}]+)\}`/.exec(head!)![1]!.split(', ');
      const optional = rest!.split('; ').flatMap((item) => [...item.split(' (')[0]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!));
      return { required, optional };
    }
    for (const [path, start, end] of [
      ['/api/v2/events', 'An event is `{type}`', '\n\n'],
      ['/api/v2/endpoints', 'An endpoint is `{url, event_types}`', '`PATCH` changes the fields given'],
    ] as const) {
      const { required, optional } = listed(start, end);
      const body = bodyOf(path);
      expect(required, path).toEqual(body.required);
      expect([...required, ...optional].sort(), path).toEqual(Object.keys(body.properties).sort());
    }
  });

  it('/openapi.json says what each answer of every route means, successes and errors', async () => {
    const spec = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>> };
    const bare: string[] = [];
    let answers = 0;
    for (const [path, operations] of Object.entries(spec.paths)) {
      for (const [method, { responses }] of Object.entries(operations)) {
        // "Default Response" is what the document says of an answer whose schema says nothing.
        for (const [status, { description }] of Object.entries(responses)) {
          answers++;
          if (description === 'Default Response' || description.trim() === '') bare.push(`${method.toUpperCase()} ${path} ${status}`);
        }
      }
    }
    expect(answers).toBeGreaterThan(300);
    expect(bare).toEqual([]);
  });

  it('the lists the README says go a page at a time are every native list, with the limit it gives', async () => {
    type Parameter = { name: string; in: string; schema: { minimum?: number; maximum?: number; default?: number } };
    const spec = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters?: Parameter[] } }> };
    const sentence = README.slice(README.indexOf('Lists go a page at a time:'), README.indexOf('\n\n', README.indexOf('Lists go a page at a time:'))).replace(/\s+/g, ' ');
    const [, min, max, fallback] = /`limit` (\d+)–(\d+) \((\d+)\)/.exec(sentence)!;
    const named = new Set([...sentence.matchAll(/`(?:GET )?(\/[a-z:/-]+)`/g)].map((m) => `/api/v2${m[1]}`));
    const paged = new Map<string, Parameter[]>();
    for (const [path, { get }] of Object.entries(spec.paths)) {
      const query = (get?.parameters ?? []).filter((p) => p.in === 'query');
      if (path.startsWith('/api/v2/') && !path.startsWith('/api/v2/admin/') && query.some((p) => p.name === 'cursor')) paged.set(path.replace(/\{([^}]+)\}/g, ':$1'), query);
    }
    expect([...paged.keys()].sort()).toEqual([...named].sort());
    for (const [path, query] of paged) {
      const limit = query.find((p) => p.name === 'limit')!.schema;
      expect([limit.minimum, limit.maximum, limit.default], path).toEqual([Number(min), Number(max), Number(fallback)]);
      const page = await h.api('GET', `${path.replace(/:[a-z_]+/, 'zz_missing')}?limit=1`);
      if (page.status === 200) expect(Object.keys(page.body).sort(), path).toEqual(['data', 'next_cursor']);
    }
  });

  it('/openapi.json states the rotation overlap as configured', async () => {
    const spec = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { description: string }>> };
    expect(spec.paths['/api/v2/endpoints/{id}/secret/rotate']!.post!.description).toContain('for 1 hour (HERALD_ROTATION_OVERLAP_SECONDS)');
  });
});

describe('the command line', () => {
  const commands = [...USAGE.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
  /** Every option any command declares, read from the sources: candidates for each command. */
  const declared = [
    ...new Set(
      ['src/cli/args.ts', ...readdirSync(new URL('../../src/cli/commands/', import.meta.url)).map((f) => `src/cli/commands/${f}`)].flatMap((file) =>
        [...read(file).matchAll(/'?([a-z][a-z-]*)'?: \{ type: '(?:string|boolean)'/g)].map((m) => m[1]!),
      ),
    ),
  ];
  const quiet = { out: () => {}, err: () => {} };
  /** The help a command prints. */
  async function help(argv: string[]): Promise<string> {
    let text = '';
    expect(await run([...argv, '--help'], { out: (line) => (text += line), err: () => {} })).toBe(0);
    return text;
  }
  /** Whether the command takes `--flag` (asked alongside --help, so nothing runs). */
  async function takes(argv: string[], flag: string): Promise<boolean> {
    try {
      await run([...argv, '--help', `--${flag}`, 'x'], quiet);
      return true;
    } catch (err) {
      if (err instanceof UsageError) return false;
      throw err;
    }
  }

  it('every command is in the README', () => {
    expect(commands).toEqual(['serve', 'api', 'worker', 'migrate', 'listen', 'send', 'endpoints', 'deliveries', 'retry']);
    for (const name of commands) expect(README, name).toContain(`herald ${name}`);
  });

  it('every flag the README passes to a command is one that command takes', async () => {
    let checked = 0;
    for (const [, command, rest] of README.matchAll(/\bherald (serve|api|worker|migrate|listen|send|endpoints|deliveries|retry)\b([^`#\n]*)/g)) {
      const sub = /^ (list|create|delete)\b/.exec(rest!)?.[1];
      const argv = sub ? [command!, sub] : [command!];
      for (const [, flag] of rest!.matchAll(/(?:^|\s)--([a-z][a-z-]*)/g)) {
        expect(await takes(argv, flag!), `README: herald ${argv.join(' ')} --${flag}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('the defaults the help gives are the ones Herald uses', async () => {
    const serve = await help(['serve']);
    expect(serve).toContain(`(PORT, default ${loadConfig({}).port})`);
    expect(serve).toContain(`(default HERALD_CONCURRENCY or ${loadConfig({}).concurrency})`);
    expect(await help(['worker'])).toContain(`(default HERALD_CONCURRENCY or ${loadConfig({}).concurrency})`);
    const url = loadClientConfig({}).url;
    for (const name of ['listen', 'send', 'endpoints', 'deliveries', 'retry']) expect(await help([name]), name).toContain(`(default $HERALD_URL or ${url})`);
    expect(section('### Command line and receiver SDK')).toContain(`\`HERALD_URL\` (default ${url})`);
  });

  it("each command's --help names exactly the flags it takes", async () => {
    expect(declared).toEqual(expect.arrayContaining(['url', 'key', 'json', 'help', 'concurrency', 'forward-to', 'server', 'status']));
    const subcommands: Record<string, string[][]> = { endpoints: [['list'], ['create'], ['delete']] };
    for (const name of commands) {
      const usage = await help([name]);
      for (const sub of subcommands[name] ?? [[]]) {
        const argv = [name, ...sub];
        // endpoints: the usage line of the subcommand, and the connection flags every one takes.
        const own = sub.length === 0 ? usage : usage.split('\n').filter((l) => l.includes(`herald endpoints ${sub[0]}`) || (sub[0] === 'list' && l.includes('herald endpoints [list]'))).join('\n');
        const shown = sub.length === 0 ? usage : `${own}\n${usage.slice(usage.indexOf('Connection'))}`;
        for (const flag of declared) {
          // --help is every command's (herald --help says so).
          if (flag === 'help') continue;
          expect(await takes(argv, flag), `herald ${argv.join(' ')} --${flag}`).toBe(new RegExp(`--${flag}\\b`).test(shown));
        }
      }
    }
  });
});
