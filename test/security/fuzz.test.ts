// Bad input, property-based: every public route of a running Herald (enumerated from its
// /openapi.json, so new routes are fuzzed without touching this file), the admin UI's POST
// routes and the public inbox capture URLs get random and malformed JSON, wrong types, huge
// strings, deep nesting, unicode with lone surrogates, invalid UTF-8, invalid path ids, missing
// and duplicated headers, wrong content types and bodies over 1 MiB. No answer may be a 5xx,
// carry a stack trace, an internal path or a secret; every 4xx names the problem; the server
// keeps answering /healthz and logs no error.
//
// Runs are bounded (FUZZ_RUNS per route, default 100) and seeded: FUZZ_SEED=<n> replays a run
// (each route uses seed + its index, printed on failure); FUZZ_SHRINK=1 shrinks a failure.
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir, uiSession } from '../helpers.js';
import { closedPort as closedPortFor, spawnHerald, type HeraldProcess } from '../process.js';
import {
  anyString,
  closeAgent,
  encodeAny,
  idParamArb,
  jsonBodyArb,
  jsonContentTypeArb,
  problemOf,
  queryArb,
  send,
  type Body,
  type CheckContext,
  type GenContext,
  type RawRequest,
  type RawResponse,
  type Schema,
} from './fuzz-support.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_107);
const SHRINK = process.env.FUZZ_SHRINK === '1';
const MiB = 1024 * 1024;

let proc: HeraldProcess;
let base: URL;
let dir: string;
let closedPort: number;
let openapi: { paths: Record<string, Record<string, any>>; components?: { schemas?: Record<string, Schema> } };

// ---- fixtures: one resource of every kind, with credentials -------------------------------------

const FIXTURE_SECRETS = {
  password: 'fuzz-basic-password-Zx81Kq02Lm',
  hidden: 'fuzz-hidden-header-Qp73Nv55Rt',
  oauth: 'fuzz-oauth-client-secret-Wd61Hs',
  tenovosOauth: 'fuzz-tenovos-oauth-secret-Yb28Jc',
  cmp: 'fuzz-cmp-secret-Ug47Pe19',
  mpHidden: 'fuzz-mp-hidden-value-Ka90Xo',
};

interface Fixtures {
  endpoint: string;
  endpointSecret: string;
  tenovos: string;
  mp: string;
  cmp: string;
  event: string;
  eventKey: string;
  delivery: string;
  inbox: string;
  inboxToken: string;
  inboxUrl: string;
  inboxRequest: string;
  account: string;
  project: string;
  viewerKeyId: string;
  viewerKey: string;
  operatorKeyId: string;
}
let fx: Fixtures;
let generation = 0;
/** Every credential Herald was given or handed out, for the "no secret in an answer" check. */
const secrets = new Set<string>([ADMIN_KEY, ...Object.values(FIXTURE_SECRETS)]);

async function api(method: string, route: string, body?: unknown, key = ADMIN_KEY): Promise<any> {
  const res = await fetch(`${base.origin}${route}`, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`fixture ${method} ${route} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function createFixtures(): Promise<Fixtures> {
  const g = ++generation;
  const target = `http://127.0.0.1:${closedPort}/fixture-${g}`;
  const endpoint = await api('POST', '/api/v2/endpoints', {
    url: target,
    event_types: ['collection.created'],
    auth: { type: 'basic', username: 'fuzz', password: FIXTURE_SECRETS.password },
    headers: [{ name: 'X-Hidden', value: FIXTURE_SECRETS.hidden, type: 'hidden' }],
  });
  secrets.add(endpoint.secret);
  await api('POST', '/api/v2/endpoints', {
    url: target,
    event_types: ['collection.created'],
    auth: { type: 'oauth2_client_credentials', token_url: `http://127.0.0.1:${closedPort}/token`, client_id: 'fuzz', client_secret: FIXTURE_SECRETS.oauth },
  }).then((e) => secrets.add(e.secret));
  const tenovos = await api('POST', '/webhooks/endpoint', [{ description: `fuzz tenovos ${g}`, eventTypes: ['collection.created'], url: target }]);
  await api('PUT', `/webhooks/endpoint/oauth/${tenovos.id}`, { clientId: 'fuzz', tokenUrl: `http://127.0.0.1:${closedPort}/token`, clientSecret: FIXTURE_SECRETS.tenovosOauth });
  const mp = await api('POST', '/api/v2/admin/webhooks', {
    name: `fuzz mp ${g}`,
    http_url: target,
    http_method: 'POST',
    trigger_events: ['COLLECTION_CREATED'],
    webhook_headers: [{ key: 'X-MP-Hidden', value: FIXTURE_SECRETS.mpHidden, type: 'hidden' }],
  });
  const cmp = await api('POST', '/cmp/v3/webhooks', { callback_url: target, events: ['asset_removed'], secret: FIXTURE_SECRETS.cmp });
  const eventKey = `fuzz-event-${g}`;
  const event = await api('POST', '/api/v2/events', { id: eventKey, type: 'collection.created', resource: { type: 'collection', id: `c${g}` } });
  const detail = await api('GET', `/api/v2/events/${event.id}`);
  const inbox = await api('POST', '/api/v2/inboxes', { name: `fuzz inbox ${g}` });
  const token = String(inbox.url).split('/in/')[1];
  await fetch(`${base.origin}/in/${token}/hello?x=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' });
  const requests = await api('GET', `/api/v2/inboxes/${inbox.id}/requests`);
  const account = await api('POST', '/api/v2/accounts', { name: `fuzz account ${g}` });
  const project = await api('POST', '/api/v2/projects', { id: `fuzz-project-${g}`, name: 'fuzz' });
  const viewer = await api('POST', '/api/v2/api-keys', { name: `fuzz viewer ${g}`, role: 'viewer' });
  secrets.add(viewer.key);
  // The operator key never changes (and the fuzz may create more keys than a page holds).
  const operatorKeyId = fx?.operatorKeyId ?? (await api('GET', '/api/v2/api-keys?limit=250')).data.find((k: { operator: boolean }) => k.operator).id;
  return {
    endpoint: endpoint.id,
    endpointSecret: endpoint.secret,
    tenovos: tenovos.id,
    mp: String(mp.webhook.id),
    cmp: cmp.id,
    event: event.id,
    eventKey,
    delivery: detail.deliveries[0].id,
    inbox: inbox.id,
    inboxToken: token,
    inboxUrl: inbox.url,
    inboxRequest: requests.data[0].id,
    account: account.id,
    project: project.id,
    viewerKeyId: viewer.id,
    viewerKey: viewer.key,
    operatorKeyId,
  };
}

/** Existing ids that fit a route's path parameter (plus a few of other kinds). */
function idsFor(route: string, param: string): string[] {
  const all = [fx.endpoint, fx.tenovos, fx.cmp, fx.event, fx.delivery, fx.inbox, fx.account, fx.project, fx.viewerKeyId];
  if (param === 'requestId') return [fx.inboxRequest, fx.inboxRequest, fx.inbox];
  if (param === 'endpointId' || route.startsWith('/webhooks/')) return [fx.tenovos, fx.tenovos, fx.endpoint];
  if (route.startsWith('/api/v2/admin/webhooks')) return [fx.mp, fx.mp, '1', '0', fx.endpoint];
  if (route.startsWith('/cmp/')) return [fx.cmp, fx.cmp, fx.tenovos];
  if (route.startsWith('/api/v2/endpoints')) return [fx.endpoint, fx.endpoint, fx.tenovos, fx.cmp, `ep_mp_acc_default_${fx.mp}`];
  if (route.startsWith('/api/v2/events')) return [fx.event, fx.eventKey, fx.delivery];
  if (route.startsWith('/api/v2/deliveries')) return [fx.delivery, fx.delivery, fx.event];
  if (route.startsWith('/api/v2/inboxes')) return [fx.inbox, fx.inbox, fx.endpoint];
  if (route.startsWith('/api/v2/accounts')) return [fx.account, 'acc_default', 'acc_default'];
  if (route.startsWith('/api/v2/projects')) return [fx.project, fx.project];
  if (route.startsWith('/api/v2/api-keys')) return [fx.viewerKeyId, fx.operatorKeyId];
  return all;
}

function genContext(): GenContext {
  const own = new URL(fx.inboxUrl);
  return {
    urls: [
      `http://127.0.0.1:${closedPort}/hook`,
      `http://127.0.0.1:${closedPort}/${'p'.repeat(3_000)}`,
      fx.inboxUrl,
      `${own.origin}/in/not-a-token`,
      `${own.origin}/api/v2/endpoints`,
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:1/',
      'http://0x7f000001:1/',
      'http://93.184.215.14/public',
      'https://[::ffff:127.0.0.1]:1/',
      'http://user:pass@127.0.0.1:1/',
      'ftp://127.0.0.1/',
      'javascript:alert(1)',
      'http://',
      'http://127.0.0.1:99999/',
      'not a url',
      'HTTP://127.0.0.1:1/UPPER',
      'http://localhost:1/x',
      '//127.0.0.1/x',
    ],
    goodUrls: [`http://127.0.0.1:${closedPort}/hook`, `http://127.0.0.1:${closedPort}/other?x=1`, fx.inboxUrl, 'http://93.184.215.14/public'],
    eventTypes: ['asset.created', 'asset.*', 'ASSET_ADDED', 'asset_added', '*', 'collection.created', 'nope.nope', 'asset.', '.', 'a'.repeat(201)],
    goodEventTypes: ['asset.created', 'asset.*', 'ASSET_ADDED', 'asset_added', 'collection.created'],
    ids: () => [fx.endpoint, fx.tenovos, fx.event, fx.eventKey, fx.project, fx.account, 'acc_default', fx.inboxRequest],
    components: openapi.components?.schemas ?? {},
  };
}

// ---- headers ------------------------------------------------------------------------------------

type AuthVariant = 'admin' | 'bearer' | 'missing' | 'wrong' | 'duplicated' | 'viewer' | 'long' | 'huge' | 'empty' | 'bearer-empty' | 'both' | 'lowercase-bearer';

const authArb: fc.Arbitrary<AuthVariant> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<AuthVariant>('admin') },
  { weight: 4, arbitrary: fc.constantFrom<AuthVariant>('bearer', 'missing', 'wrong', 'duplicated', 'viewer', 'long', 'huge', 'empty', 'bearer-empty', 'both', 'lowercase-bearer') },
);

function authHeaders(v: AuthVariant): Record<string, string | string[]> {
  switch (v) {
    case 'admin':
      return { 'x-api-key': ADMIN_KEY };
    case 'bearer':
      return { authorization: `Bearer ${ADMIN_KEY}` };
    case 'lowercase-bearer':
      return { authorization: `bearer   ${ADMIN_KEY}` };
    case 'missing':
      return {};
    case 'wrong':
      return { 'x-api-key': `${ADMIN_KEY.slice(0, -1)}X` };
    case 'duplicated':
      return { 'x-api-key': [ADMIN_KEY, ADMIN_KEY] };
    case 'viewer':
      return { 'x-api-key': fx.viewerKey };
    case 'long':
      return { 'x-api-key': 'k'.repeat(600) };
    case 'huge':
      return { 'x-api-key': 'k'.repeat(20_000) };
    case 'empty':
      return { 'x-api-key': '' };
    case 'bearer-empty':
      return { authorization: 'Bearer ' };
    case 'both':
      return { 'x-api-key': 'wrong-key-0000000000', authorization: `Bearer ${ADMIN_KEY}` };
  }
}

const accountHeaderArb: fc.Arbitrary<Record<string, string | string[]>> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<string | string[]>('acc_default', 'acc_missing', '', 'x'.repeat(101), ['acc_default', 'acc_default'], 'acc_default, acc_other', '%00')
      .map((v) => ({ 'x-herald-account': v })),
  },
);

/** Header values Node's client accepts (latin1, no CR/LF): anything else cannot be sent at all. */
const headerSafe = (s: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s);

const extraHeadersArb: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ accept: fc.constantFrom('application/xml', '*/*', 'text/html', '', 'application/json;q=0') }) },
  { weight: 1, arbitrary: anyString().filter((s) => headerSafe(s) && s.length < 4_000).map((v) => ({ 'x-forwarded-for': v, 'last-event-id': v })) },
  { weight: 1, arbitrary: fc.constant({ 'content-encoding': 'gzip' }) },
);

// ---- running properties ------------------------------------------------------------------------

interface Failure {
  readonly target: string;
  readonly report: string;
}
const failures: Failure[] = [];
/** Status codes seen per target; FUZZ_STATS=1 prints them (how deep the runs got). */
const statuses = new Map<string, Map<number, number>>();
afterAll(() => {
  if (!process.env.FUZZ_STATS) return;
  for (const [target, counts] of statuses) console.log(`${target.padEnd(55)} ${[...counts].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
});

function checkContext(): CheckContext {
  return { secrets: [...secrets], paths: [path.resolve('.'), dir, 'node_modules'] };
}

async function expectAlive(what: string): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`Herald died while fuzzing ${what}:\n${proc.output().slice(-3000)}`);
  const res = await fetch(`${base.origin}/healthz`);
  if (res.status !== 200) throw new Error(`/healthz answered ${res.status} after fuzzing ${what}`);
}

/** One route's property: every generated request gets an acceptable answer. */
async function fuzz(target: string, seed: number, arb: fc.Arbitrary<RawRequest>, runs = RUNS): Promise<void> {
  const check = checkContext();
  const details = await fc.check(
    fc.asyncProperty(arb, async (r) => {
      let res: RawResponse | undefined;
      for (let attempt = 0; res === undefined; attempt++) {
        try {
          res = await send(base, r);
        } catch (err) {
          // Refusing a body over the limit by answering early and closing is fine: the client may
          // see the reset before the answer. Any large body answered early (a 4xx from a header
          // check) meets the same race, since these requests say `Connection: close`: the server
          // closes after its answer and the unread rest of the body draws a reset. On a loaded
          // machine the client can see that reset first, so the request is sent again; it must
          // then get an answer.
          const code = (err as NodeJS.ErrnoException).code;
          const reset = code === 'ECONNRESET' || code === 'EPIPE';
          if ((r.body?.length ?? 0) > MiB && reset) return;
          if (!reset || attempt >= 2) throw new Error(`no answer: ${(err as Error).message}`);
        }
      }
      const counts = statuses.get(target) ?? new Map<number, number>();
      statuses.set(target, counts.set(res.status, (counts.get(res.status) ?? 0) + 1));
      const problem = problemOf(res, check);
      if (problem) throw new Error(problem);
      // Still alive and answering after every run.
      await expectAlive(target);
    }),
    { seed, numRuns: runs, endOnFailure: !SHRINK },
  );
  if (details.failed) {
    const example = details.counterexample?.[0] as RawRequest | undefined;
    const shown = example
      ? `${example.method} ${example.path.slice(0, 300)}\n  headers: ${JSON.stringify(example.headers).slice(0, 300)}\n  body (${example.body?.length ?? 0} bytes): ${example.body?.toString('utf8').slice(0, 300) ?? ''}`
      : '';
    failures.push({ target, report: `seed ${seed} (replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}), path "${details.counterexamplePath}": ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}\n  ${shown}` });
  }
  await expectAlive(target);
}

/** Sends raw bytes on a socket and returns what came back before the server closed (or 3 s). */
function raw(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(Number(base.port), base.hostname);
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('error', () => resolve(out));
    socket.on('close', () => resolve(out));
    socket.setTimeout(3_000, () => socket.destroy());
    socket.write(bytes, 'latin1');
  });
}

// ---- the server ---------------------------------------------------------------------------------

beforeAll(async () => {
  dir = tempDir('herald-fuzz-');
  closedPort = await closedPortFor();
  // No sign-in or bad key limit: the fuzzed /login and wrong keys would otherwise shut the fixtures' own requests out.
  proc = await spawnHerald('api', { HERALD_DATA_DIR: dir, LOG_LEVEL: 'error', HERALD_INBOX_RATE_LIMIT: '0', HERALD_UI_SIGN_IN_FAILURES: '0', HERALD_API_KEY_FAILURES: '0', HERALD_SQLITE_SYNC: 'normal' });
  base = new URL(proc.url);
  secrets.add(readFileSync(path.join(dir, 'secret.key'), 'utf8').trim());
  openapi = (await (await fetch(`${base.origin}/openapi.json`)).json()) as typeof openapi;
  fx = await createFixtures();
}, 30_000);

afterAll(async () => {
  closeAgent();
  proc?.child.kill('SIGKILL');
  await proc?.exited;
  rmSync(dir, { recursive: true, force: true });
});

interface Route {
  readonly method: string;
  readonly template: string;
  readonly pathParams: string[];
  readonly query: { name: string; schema: Schema }[];
  readonly body: Schema | undefined;
}

function routesOf(doc: typeof openapi): Route[] {
  const out: Route[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const params: { in: string; name: string; schema: Schema }[] = op.parameters ?? [];
      out.push({
        method: method.toUpperCase(),
        template,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  // Destructive routes last, each on fresh fixtures.
  return out.sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
}

function routeArb(route: Route, ctx: GenContext): fc.Arbitrary<RawRequest> {
  const params = route.pathParams.map((p) => idParamArb(() => idsFor(route.template, p)));
  const pathArb = fc.tuple(...params).map((values) => {
    let p = route.template;
    route.pathParams.forEach((name, i) => (p = p.replace(`{${name}}`, values[i])));
    return p;
  });
  const noBody: fc.Arbitrary<{ body?: Body; contentType?: string | string[] }> = fc.oneof(
    { weight: 8, arbitrary: fc.constant({}) },
    { weight: 1, arbitrary: fc.tuple(jsonBodyArb(undefined, ctx), jsonContentTypeArb).map(([body, contentType]) => ({ body, contentType })) },
  );
  const bodyArb = route.body ? fc.tuple(jsonBodyArb(route.body, ctx), jsonContentTypeArb).map(([body, contentType]) => ({ body, contentType })) : noBody;
  return fc
    .tuple(pathArb, queryArb(route.query, ctx), bodyArb, authArb, accountHeaderArb, extraHeadersArb, fc.boolean())
    .map(([p, q, b, auth, account, extra, chunked]) => ({
      method: route.method,
      path: p + q,
      headers: { ...authHeaders(auth), ...account, ...extra, ...(b.contentType !== undefined ? { 'content-type': b.contentType } : {}) },
      body: b.body?.bytes,
      chunked: b.body !== undefined && chunked && b.body.bytes.length > 0,
    }));
}

describe('bad input: every route in /openapi.json', () => {
  it('lists the routes of every API and profile', () => {
    const routes = routesOf(openapi).map((r) => `${r.method} ${r.template}`);
    expect(routes.length).toBeGreaterThanOrEqual(50);
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /api/v2/events',
        'POST /api/v2/events/batch',
        'POST /api/v2/endpoints',
        'PATCH /api/v2/endpoints/{id}',
        'POST /webhooks/endpoint',
        'PUT /webhooks/endpoint/oauth/{endpointId}',
        'POST /api/v2/admin/webhooks',
        'POST /cmp/v3/webhooks',
        'POST /api/v2/inboxes',
        'POST /api/v2/accounts',
        'POST /api/v2/api-keys',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ]),
    );
  });

  it(`never answers 5xx, a stack trace or a secret, and names every problem (${RUNS} runs per route, seed ${SEED})`, async () => {
    const routes = routesOf(openapi);
    const started = Date.now();
    for (const [i, route] of routes.entries()) {
      if (route.method === 'DELETE') fx = await createFixtures();
      await fuzz(`${route.method} ${route.template}`, SEED + i, routeArb(route, genContext()));
    }
    console.log(`fuzzed ${routes.length} routes × ${RUNS} runs in ${Date.now() - started} ms`);
    expect(failures.map((f) => `${f.target}: ${f.report}`)).toEqual([]);
  }, 180_000);

  it('refuses bodies over 1 MiB on every route that takes one, with content-length or chunked, naming the problem', async () => {
    fx = await createFixtures();
    const big = Buffer.from(JSON.stringify({ data: 'x'.repeat(1.1 * MiB) }));
    const problems: string[] = [];
    for (const route of routesOf(openapi).filter((r) => r.body)) {
      const p = route.template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeAny(idsFor(route.template, name)[0]));
      for (const chunked of [false, true]) {
        // Herald may answer 413 and close before the client has written everything; on loopback
        // the client then sometimes sees the reset before the answer. Ask again in that case.
        let res: RawResponse | undefined;
        for (let attempt = 0; res === undefined; attempt++) {
          try {
            res = await send(base, { method: route.method, path: p, headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, body: big, chunked });
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (attempt >= 4 || (code !== 'EPIPE' && code !== 'ECONNRESET')) throw err;
          }
        }
        const problem = problemOf(res, checkContext());
        if (res.status !== 413 || problem) problems.push(`${route.method} ${p} (${chunked ? 'chunked' : 'content-length'}): ${res.status} ${problem ?? res.text.slice(0, 200)}`);
        else {
          const body = JSON.parse(res.text);
          expect(String(body.message ?? body.error), `${route.method} ${p}`).toMatch(/too large/i);
        }
      }
    }
    expect(problems).toEqual([]);
    await expectAlive('oversized bodies');
  }, 60_000);
});

describe('bad input: admin UI forms and inbox capture URLs', () => {
  const UI_POSTS = [
    '/login',
    '/logout',
    '/endpoints',
    '/endpoints/{id}/edit',
    '/endpoints/{id}/rotate',
    '/endpoints/{id}/reveal',
    '/endpoints/{id}/toggle',
    '/endpoints/{id}/test',
    '/endpoints/{id}/recover',
    '/deliveries/{id}/retry',
    '/inboxes',
    // Last, and only with ids that name nothing: the fixtures must outlive it.
    '/endpoints/{id}/delete',
  ];

  /** Fresh sign-ins of the admin and the viewer key: a fuzzed /logout ends the ones it is sent with. */
  const signedIn = async () => ({ admin: await uiSession(base.origin), viewer: await uiSession(base.origin, fx.viewerKey) });
  const cookieArb = (s: { admin: string; viewer: string }) =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(s.admin) },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          '',
          'herald_session=',
          'herald_session=wrong-token',
          `herald_session=${'k'.repeat(600)}`,
          'herald_session=%ZZ',
          `herald_session="${s.admin.slice(s.admin.indexOf('=') + 1)}"`,
          s.viewer,
          `${s.admin}; herald_session=other`,
          // The key cookie of earlier versions signs nobody in.
          `herald_key=${encodeURIComponent(ADMIN_KEY)}`,
          ';;;==;',
        ),
      },
    );

  it(`the UI's POST routes never fail on what a browser (or anyone) sends (${RUNS} runs per route)`, async () => {
    fx = await createFixtures();
    const ctx = genContext();
    const origin = base.origin;
    const originArb = fc.oneof(
      { weight: 6, arbitrary: fc.constant<Record<string, string>>({ origin }) },
      { weight: 1, arbitrary: fc.constantFrom<Record<string, string>>({}, { origin: 'null' }, { origin: 'http://evil.example' }, { origin: 'not a url' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-origin' }) },
    );
    const names = ['key', 'url', 'description', 'event_types', 'disabled', 'since', 'confirm', 'cursor', 'name', 'method', 'event_type', 'ordering', 'x'];
    const endpointFields = ['auth_type', 'basic_username', 'basic_password', 'oauth_token_url', 'oauth_client_id', 'oauth_client_secret', 'oauth_scope', 'replace_headers'];
    const moreFields = ['header_name', 'header_value', 'header_type', 'rate_limit_per_second', 'timeout_ms'];
    const values = ['true', 'false', 'yes', 'on', '2024-05-01T12:00', '2016-12-31T23:59:60Z', 'basic', 'oauth2_client_credentials', 'keep', 'none', 'hidden', 'per_resource', 'PUT', '0', '-1', '1e9', '50'];
    const fieldArb = fc.tuple(fc.constantFrom(...names, ...endpointFields, ...moreFields), fc.oneof(anyString(), fc.constantFrom(...ctx.urls), fc.constantFrom(...ctx.eventTypes), fc.constantFrom(...values)));
    const formArb = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.array(fieldArb, { maxLength: 6 }).map((pairs) => ({
          ct: 'application/x-www-form-urlencoded',
          // A login key that cannot be a header value hits the known bug below; it is tested there.
          body: Buffer.from(pairs.map(([k, v]) => `${k}=${encodeAny(k === 'key' && !headerSafe(v) ? 'not-a-key' : v)}`).join('&')),
        })),
      },
      { weight: 1, arbitrary: fc.constantFrom('%', 'a=%ZZ&b', '&&&==', 'key', `key=${'k'.repeat(70_000)}`).map((t) => ({ ct: 'application/x-www-form-urlencoded', body: Buffer.from(t) })) },
      { weight: 1, arbitrary: jsonBodyArb(undefined, ctx).map((b) => ({ ct: 'application/json', body: b.bytes })) },
      { weight: 1, arbitrary: fc.constantFrom('text/plain', 'multipart/form-data; boundary=x', 'application/xml').map((ct) => ({ ct, body: Buffer.from('key=value') })) },
    );
    for (const [i, template] of UI_POSTS.entries()) {
      const ids = template.endsWith('/delete') ? ['ep_none', fx.delivery] : template.startsWith('/deliveries') ? [fx.delivery, fx.endpoint] : [fx.endpoint, fx.tenovos, fx.delivery];
      const arb = fc.tuple(idParamArb(() => ids), cookieArb(await signedIn()), originArb, formArb, fc.boolean()).map(
        ([id, cookie, originHeaders, form, htmx]): RawRequest => ({
          method: 'POST',
          path: template.replace('{id}', id),
          headers: { ...(cookie ? { cookie } : {}), ...originHeaders, 'content-type': form.ct, ...(htmx ? { 'hx-request': 'true' } : {}) },
          body: form.body,
        }),
      );
      await fuzz(`UI POST ${template}`, SEED + 1000 + i, arb);
    }
    expect(failures.filter((f) => f.target.startsWith('UI')).map((f) => `${f.target}: ${f.report}`)).toEqual([]);
  }, 120_000);

  it(`public GET pages outside /openapi.json (docs, UI pages, assets) never fail (${Math.ceil(RUNS / 2)} runs per route)`, async () => {
    const ctx = genContext();
    const pages = [
      '/docs',
      '/docs/docs.css',
      '/openapi.json',
      '/',
      '/endpoints',
      '/endpoints/new',
      '/endpoints/{id}',
      '/endpoints/{id}/edit',
      '/endpoints/{id}/health',
      '/endpoints/{id}/logs',
      '/logs',
      '/catalog',
      '/catalog/types/{id}',
      '/activity',
      '/activity/charts',
      '/inboxes',
      '/inboxes/{id}',
      '/ui/htmx.min.js',
      '/ui/static/{id}',
    ];
    for (const [i, template] of pages.entries()) {
      const query = queryArb(
        [
          { name: 'cursor', schema: { type: 'string' } },
          { name: 'status', schema: { type: 'string', enum: ['failed', 'succeeded'] } },
          { name: 'expired', schema: { type: 'string' } },
          { name: 'endpoint_id', schema: { type: 'string' } },
          { name: 'event_type', schema: { type: 'string' } },
          { name: 'since', schema: { type: 'string', format: 'date-time' } },
          { name: 'until', schema: { type: 'string' } },
          { name: 'saved', schema: { type: 'string' } },
        ],
        ctx,
      );
      const arb = fc
        .tuple(idParamArb(() => [fx.endpoint, 'app.css', 'app.js', 'asset.created', '../../package.json', '%2e%2e%2fpackage.json']), query, cookieArb(await signedIn()), authArb, fc.boolean())
        .map(([id, q, cookie, auth, htmx]): RawRequest => ({
          method: 'GET',
          path: template.replace('{id}', id) + q,
          headers: { ...(cookie ? { cookie } : {}), ...authHeaders(auth), ...(htmx ? { 'hx-request': 'true' } : {}) },
        }));
      await fuzz(`GET ${template}`, SEED + 3000 + i, arb, Math.ceil(RUNS / 2));
    }
    expect(failures.filter((f) => f.target.startsWith('GET /') && pages.some((p) => f.target === `GET ${p}`)).map((f) => `${f.target}: ${f.report}`)).toEqual([]);
  }, 120_000);

  // Found by fuzzing: a key from the login form or the session cookie that cannot be an
  // X-API-Key header value ("\u0000", "é" as e + U+0301, "€") was passed on to the API and failed
  // with 500 ("Headers.append: invalid header value"). The login form now refuses it as not
  // accepted, and such a cookie counts as signed out.
  it('an API key that is not a valid header value gets a 4xx from the UI, not a 500', async () => {
    for (const key of ['\u0000', '\n', 'e\u0301', '€']) {
      const login = await send(base, { method: 'POST', path: '/login', headers: { origin: base.origin, 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(`key=${encodeURIComponent(key)}`) });
      expect(login.status, JSON.stringify(key)).toBeLessThan(500);
      const cookie = `herald_session=${encodeURIComponent(key)}`;
      const res = await send(base, { method: 'POST', path: `/endpoints/${fx.endpoint}/rotate`, headers: { cookie, origin: base.origin } });
      expect(res.status, cookie).toBeLessThan(500);
      const page = await send(base, { method: 'GET', path: '/endpoints', headers: { cookie } });
      expect(page.status, cookie).toBeLessThan(500);
    }
  });

  it(`/in/<token> captures anything and never fails (${RUNS * 2} runs)`, async () => {
    const ctx = genContext();
    const arb = fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        fc.oneof({ weight: 3, arbitrary: fc.constant(fx.inboxToken) }, { weight: 1, arbitrary: idParamArb(() => ['in_x', fx.inbox]) }),
        fc.array(fc.constantFrom('a', 'b%20c', '%', '..', '%ED%A0%80', 'x'.repeat(3000)), { maxLength: 3 }),
        fc.oneof({ weight: 3, arbitrary: jsonBodyArb(undefined, ctx) }, { weight: 1, arbitrary: fc.constant<Body>({ kind: 'over limit', bytes: Buffer.alloc(MiB + 10, 'q') }) }, { weight: 1, arbitrary: fc.constant(undefined) }),
        fc.constantFrom<string | string[] | undefined>(undefined, 'application/json', 'text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded', 'image/png', ['a/b', 'c/d'], 'multipart/form-data'),
        fc.boolean(),
      )
      .map(
        ([method, token, rest, body, ct, chunked]): RawRequest => ({
          method,
          path: `/in/${token}${rest.map((s) => `/${s}`).join('')}`,
          headers: ct === undefined ? {} : { 'content-type': ct },
          body: method === 'GET' || method === 'OPTIONS' ? undefined : body?.bytes,
          chunked: chunked && body !== undefined && body.bytes.length > 0,
        }),
      );
    await fuzz('/in/<token>', SEED + 2000, arb, RUNS * 2);
    expect(failures.filter((f) => f.target === '/in/<token>').map((f) => f.report)).toEqual([]);
  }, 120_000);
});

describe('bad input: what fuzzing found, pinned', () => {
  const post = (route: string, body: string) => send(base, { method: 'POST', path: route, headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, body: Buffer.from(body) });
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it.each([
    // A leap second is a valid RFC 3339 date-time that Date.parse cannot read: was 503 store_unavailable.
    ['/api/v2/events', '{"type":"asset.created","occurred_at":"2016-12-31T23:59:60Z"}', 'occurred_at'],
    ['/api/v2/events/batch', '{"events":[{"type":"asset.created"},{"type":"asset.created","occurred_at":"2016-12-31T23:59:60Z"}]}', 'events[1].occurred_at'],
    // Deep nesting overflowed the stack in JSON.stringify: was 500.
    ['/api/v2/events', `{"type":"asset.created","data":${deep(100_000)}}`, 'data'],
    ['/api/v2/events', `{"type":"asset.created","resource":{"type":"asset","id":"a","x":${deep(65)}}}`, 'resource'],
    ['/api/v2/events/batch', `{"events":[{"type":"asset.created","changes":[${deep(5_000)}]}]}`, 'events[0].changes'],
    // A property with an empty name: was named "undefined", with field null.
    ['/api/v2/endpoints', '{"url":"http://93.184.215.14/x","event_types":["asset.*"],"":1}', ''],
  ])('POST %s refuses %#: 400 naming the field', async (route, body, field) => {
    const res = await post(route, body);
    expect(res.status, res.text).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'invalid_request', field });
  });

  it('64 levels of nesting are accepted', async () => {
    const res = await post('/api/v2/events', `{"type":"asset.created","data":${deep(63)}}`);
    expect(res.status, res.text).toBe(202);
  });

  it('recover refuses a since it cannot represent (was 202, requeued 0)', async () => {
    fx = await createFixtures();
    for (const route of [`/api/v2/endpoints/${fx.endpoint}/recover`, `/webhooks/endpoint/${fx.tenovos}/recover`]) {
      const res = await post(route, '{"since":"2016-12-31T23:59:60Z"}');
      expect(res.status, route).toBe(400);
      expect(JSON.parse(res.text)).toMatchObject({ field: 'since' });
    }
  });

  it('bytes after a request that asked to close get no second answer (a 400/404 was followed by "400 Client Error")', async () => {
    // What Node's http client sends for a GET with a body: no framing, so the body is trailing junk.
    for (const route of ['/api/v2/endpoints/%FF', '/in/%C0%AF', '/api/v2/nope', '/api/v2/admin/webhooks/%FF/failed']) {
      const answer = await raw(`GET ${route} HTTP/1.1\r\nHost: x\r\nx-api-key: ${ADMIN_KEY}\r\nConnection: close\r\n\r\n{"a":1}`);
      expect(answer.match(/HTTP\/1\.1 \d{3}/g), `${route}: ${answer}`).toHaveLength(1);
      expect(Number(answer.slice(9, 12)), route).toBeLessThan(500);
    }
  });
});

describe('bad input: malformed HTTP', () => {
  const key = `x-api-key: ${ADMIN_KEY}\r\n`;
  const cases: [string, string][] = [
    ['no Host header', `GET /api/v2/stats HTTP/1.1\r\n${key}\r\n`],
    ['two Content-Length headers', `POST /api/v2/events HTTP/1.1\r\nHost: x\r\n${key}content-type: application/json\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}`],
    ['Content-Length and chunked', `POST /api/v2/events HTTP/1.1\r\nHost: x\r\n${key}content-type: application/json\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`],
    ['a header line without a colon', `GET /api/v2/stats HTTP/1.1\r\nHost: x\r\n${key}this is not a header\r\n\r\n`],
    ['headers over 16 KiB', `GET /api/v2/stats HTTP/1.1\r\nHost: x\r\n${key}x-big: ${'b'.repeat(20_000)}\r\n\r\n`],
    ['an unknown method', `BREW /api/v2/stats HTTP/1.1\r\nHost: x\r\n${key}\r\n`],
    ['a bad chunk size', `POST /api/v2/events HTTP/1.1\r\nHost: x\r\n${key}content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`],
    ['a body shorter than Content-Length', `POST /api/v2/events HTTP/1.1\r\nHost: x\r\n${key}content-type: application/json\r\ncontent-length: 100\r\n\r\n{"type":"asset.created"}`],
    ['a NUL in the path', `GET /api/v2/endpoints/a\x00b HTTP/1.1\r\nHost: x\r\n${key}\r\n`],
    ['an absolute-form request target', `GET http://evil.example/api/v2/stats HTTP/1.1\r\nHost: x\r\n${key}\r\n`],
    ['HTTP/1.0 without Host', `GET /api/v2/stats HTTP/1.0\r\n${key}\r\n`],
    ['garbage instead of HTTP', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n'],
  ];

  it.each(cases)('%s: a 4xx with a body, or a closed connection, never a 5xx', async (_name, bytes) => {
    const answer = await raw(bytes);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
    if (answer !== '') {
      expect(status, answer.slice(0, 300)).toBeGreaterThanOrEqual(200);
      expect(status, answer.slice(0, 300)).toBeLessThan(500);
      expect(answer).not.toMatch(/\bat [^\n]*\((?:file:|node:|\/)/);
    }
    await expectAlive('malformed HTTP');
  });

  it.each(['/ui/static/../../package.json', '/ui/static/%2e%2e/%2e%2e/package.json', '/ui/static/..%2f..%2fpackage.json', '/ui/static/%2e%2e%2f%2e%2e%2fpackage.json', '/docs/..%2f..%2fpackage.json', '/ui/static/..%5c..%5cpackage.json'])(
    'no file outside the UI assets is served: %s',
    async (route) => {
      const answer = await raw(`GET ${route} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer).not.toContain('"devDependencies"');
      expect(Number(answer.slice(9, 12))).toBeLessThan(500);
    },
  );

  it('logged no error while fuzzing', () => {
    const errors = proc
      .output()
      .split('\n')
      .filter((l) => /"level":(50|60)/.test(l))
      // The known UI cookie bug above logs its 500s; anything else is new.
      .filter((l) => !(/admin UI request failed/.test(l) && /invalid header value|ByteString/.test(l)));
    expect(errors.map((l) => l.slice(0, 600))).toEqual([]);
  });
});
