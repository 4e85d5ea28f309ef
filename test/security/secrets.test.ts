// Credentials at rest, in logs and in API answers. A Herald child process (LOG_LEVEL=debug, its
// stdout and stderr captured) gets endpoints of every profile carrying every kind of credential,
// delivers events with them (the receiver sees them in clear, so they were really used), and
// then the raw database files, the log output and every read API are searched for each secret
// and its encoded forms. API keys are stored as hashes only.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, tempDir, uiSession, type Receiver } from '../helpers.js';
import { spawnHerald, type HeraldProcess } from '../process.js';

const rand = (prefix: string) => `${prefix}${randomBytes(18).toString('base64url')}`;

// Every credential is a distinctive random string, so finding it anywhere is never a coincidence.
const BASIC_USER = 'herald-basic-user';
const BASIC_PASSWORD = rand('pw-');
const HIDDEN_HEADER = rand('hidden-');
const HMAC_HEADER_KEY = rand('hmackey-');
const OAUTH_SECRET_NATIVE = rand('oauth-native-');
const OAUTH_SECRET_TENOVOS = rand('oauth-tenovos-');
const OAUTH_EXTRA_NATIVE = rand('oauth-extra-native-');
const OAUTH_EXTRA_TENOVOS = rand('oauth-extra-tenovos-');
const ACCESS_TOKEN = rand('access-token-');
const MP_HIDDEN = rand('mp-hidden-');
const MP_HMAC = rand('mp-hmac-');
const CMP_SECRET = `cmp-${randomBytes(12).toString('hex')}`; // ≤ 32 visible ASCII characters
const INBOX_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const EVENTS = 3;

let receiver: Receiver;
let proc: HeraldProcess | undefined;
let dir: string;
/** Log output of the Herald processes that ran before the current one. */
const earlierLogs: string[] = [];

/** Secrets by name; filled as Herald hands out signing secrets and API keys. */
let uiCookie = '';
const secrets = new Map<string, string>([
  ['basic password', BASIC_PASSWORD],
  ['hidden header value', HIDDEN_HEADER],
  ['hmac header key', HMAC_HEADER_KEY],
  ['oauth client secret (native)', OAUTH_SECRET_NATIVE],
  ['oauth client secret (tenovos)', OAUTH_SECRET_TENOVOS],
  ['oauth extra param (native)', OAUTH_EXTRA_NATIVE],
  ['oauth extra param (tenovos)', OAUTH_EXTRA_TENOVOS],
  ['oauth access token', ACCESS_TOKEN],
  ['media pocket hidden header', MP_HIDDEN],
  ['media pocket hmac header', MP_HMAC],
  ['cmp callback secret', CMP_SECRET],
  ['inbox signing secret', INBOX_SECRET],
  ['operator key', ADMIN_KEY],
]);

/** The forms a secret could leak in: as is, base64 (Basic auth, whsec_ bodies), hex, and whsec_ key bytes. */
function forms(name: string, secret: string): [string, Buffer][] {
  const out: [string, Buffer][] = [
    [name, Buffer.from(secret)],
    [`${name} (base64)`, Buffer.from(Buffer.from(secret).toString('base64').replace(/=+$/, ''))],
    [`${name} (base64url)`, Buffer.from(Buffer.from(secret).toString('base64url'))],
    [`${name} (hex)`, Buffer.from(Buffer.from(secret).toString('hex'))],
  ];
  if (secret.startsWith('whsec_')) {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    out.push([`${name} (key base64)`, Buffer.from(secret.slice('whsec_'.length).replace(/=+$/, ''))], [`${name} (key bytes)`, key], [`${name} (key hex)`, Buffer.from(key.toString('hex'))]);
  }
  return out;
}

function needles(except: ReadonlySet<string> = new Set()): [string, Buffer][] {
  const out = [...secrets].filter(([name]) => !except.has(name)).flatMap(([name, s]) => forms(name, s));
  out.push([`${BASIC_USER}:password (base64, Basic header)`, Buffer.from(Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64').replace(/=+$/, ''))]);
  return out;
}

/** Names of the needles found in `haystack`. */
function leaks(haystack: Buffer | string, except?: ReadonlySet<string>): string[] {
  const buf = typeof haystack === 'string' ? Buffer.from(haystack) : haystack;
  return needles(except)
    .filter(([, needle]) => needle.length >= 8 && buf.includes(needle))
    .map(([name]) => name);
}

async function call(method: string, route: string, body?: unknown, key = ADMIN_KEY): Promise<{ status: number; text: string; body: any }> {
  const res = await fetch(proc!.url + route, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, text, body: parsed };
}

function databaseFiles(): { name: string; bytes: Buffer }[] {
  return readdirSync(dir)
    .filter((f) => f !== 'secret.key')
    .map((f) => ({ name: f, bytes: readFileSync(path.join(dir, f)) }));
}

const ids: Record<string, string> = {};
let mpId: string;

beforeAll(async () => {
  dir = tempDir('herald-secrets-');
  let mpCalls = 0;
  receiver = await startReceiver((req, _i, res) => {
    if (req.url === '/token') {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 3600 }));
    }
    // Media Pocket's receiver fails its first call, so its failed log has an entry too.
    if (req.url === '/mp' && mpCalls++ === 0) return void res.writeHead(500).end('try again');
    // A receiver that is gone: Herald disables the endpoint and logs it.
    if (req.url === '/gone') return void res.writeHead(410).end('gone');
    res.writeHead(200).end('ok');
  });
  proc = await spawnHerald('serve', { HERALD_DATA_DIR: dir, LOG_LEVEL: 'debug', HERALD_RETRY_SCHEDULE: '0,0.2,0.2' });
  secrets.set('encryption key (secret.key)', readFileSync(path.join(dir, 'secret.key'), 'utf8').trim());

  // Native: basic auth and hidden/hmac headers; another with OAuth2 client credentials.
  const basic = await call('POST', '/api/v2/endpoints', {
    url: `${receiver.url}/native-basic`,
    event_types: ['asset.*'],
    auth: { type: 'basic', username: BASIC_USER, password: BASIC_PASSWORD },
    headers: [
      { name: 'X-Hidden', value: HIDDEN_HEADER, type: 'hidden' },
      { name: 'X-Body-Hmac', value: HMAC_HEADER_KEY, type: 'hmac' },
      { name: 'X-Plain', value: 'plain-is-not-secret' },
    ],
  });
  expect(basic.status).toBe(201);
  ids.basic = basic.body.id;
  secrets.set('signing secret (native, first)', basic.body.secret);
  const rotated = await call('POST', `/api/v2/endpoints/${ids.basic}/secret/rotate`);
  expect(rotated.status).toBe(200);
  secrets.set('signing secret (native, rotated)', rotated.body.secret);
  // The one read that returns a signing secret, on purpose: its log lines are searched below too.
  const revealed = await call('GET', `/api/v2/endpoints/${ids.basic}/secret`);
  expect(revealed.body.secret).toBe(rotated.body.secret);

  const oauth = await call('POST', '/api/v2/endpoints', {
    url: `${receiver.url}/native-oauth`,
    event_types: ['asset.*'],
    auth: { type: 'oauth2_client_credentials', token_url: `${receiver.url}/token`, client_id: 'native-client', client_secret: OAUTH_SECRET_NATIVE, extra_params: { client_assertion: OAUTH_EXTRA_NATIVE } },
  });
  expect(oauth.status).toBe(201);
  ids.oauth = oauth.body.id;
  secrets.set('signing secret (native oauth)', oauth.body.secret);

  const gone = await call('POST', '/api/v2/endpoints', {
    url: `${receiver.url}/gone`,
    event_types: ['asset.*'],
    auth: { type: 'basic', username: BASIC_USER, password: BASIC_PASSWORD },
    headers: [{ name: 'X-Hidden', value: HIDDEN_HEADER, type: 'hidden' }],
  });
  expect(gone.status).toBe(201);
  ids.gone = gone.body.id;

  // Tenovos with OAuth set through its own route.
  const tenovos = await call('POST', '/webhooks/endpoint', [{ description: 'tenovos secrets', eventTypes: ['asset.*'], url: `${receiver.url}/tenovos` }]);
  expect(tenovos.status).toBe(200);
  ids.tenovos = tenovos.body.id;
  const put = await call('PUT', `/webhooks/endpoint/oauth/${ids.tenovos}`, { clientId: 'tenovos-client', tokenUrl: `${receiver.url}/token`, clientSecret: OAUTH_SECRET_TENOVOS, extraParams: { client_assertion: OAUTH_EXTRA_TENOVOS }, scope: ['read'] });
  expect(put.status).toBe(204);
  const tenovosSecret = await call('GET', `/webhooks/endpoint/${ids.tenovos}/secret`);
  secrets.set('signing secret (tenovos)', tenovosSecret.body.key);

  // Media Pocket with hidden and hmac headers.
  const mp = await call('POST', '/api/v2/admin/webhooks', {
    name: 'mp secrets',
    http_url: `${receiver.url}/mp`,
    http_method: 'POST',
    trigger_events: ['ASSET_ADDED'],
    webhook_headers: [
      { key: 'X-MP-Hidden', value: MP_HIDDEN, type: 'hidden' },
      { key: 'X-MP-Hmac', value: MP_HMAC, type: 'hmac' },
    ],
  });
  expect(mp.status).toBe(200);
  mpId = String(mp.body.webhook.id);

  // CMP with its callback secret.
  const cmp = await call('POST', '/cmp/v3/webhooks', { callback_url: `${receiver.url}/cmp`, events: ['asset_added'], secret: CMP_SECRET });
  expect(cmp.status).toBe(201);
  ids.cmp = cmp.body.id;

  // A Connect inbox with a signing secret.
  const inbox = await call('POST', '/api/v2/inboxes', { name: 'secret inbox', signing_secret: INBOX_SECRET });
  expect(inbox.status).toBe(201);
  ids.inbox = inbox.body.id;

  // API keys: a publisher key publishes the events.
  const key = await call('POST', '/api/v2/api-keys', { name: 'publisher', role: 'publisher' });
  expect(key.status).toBe(201);
  secrets.set('api key (publisher)', key.body.key);
  ids.key = key.body.id;

  // An admin UI sign-in: the store keeps the operator key sealed and only a hash of the token.
  uiCookie = await uiSession(proc!.url);
  secrets.set('admin UI session token', uiCookie.slice(uiCookie.indexOf('=') + 1));

  for (let i = 0; i < EVENTS; i++) {
    const res = await call('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: `secret-asset-${i}` }, data: { i } }, key.body.key);
    expect(res.status).toBe(202);
    ids[`event${i}`] = res.body.id;
  }
  // 5 endpoints × EVENTS, plus one failed first try at Media Pocket and the token requests.
  await eventually(() => {
    const hooks = receiver.received.filter((r) => r.url !== '/token' && r.headers['webhook-id']);
    return hooks.length >= 5 * EVENTS + 1 ? true : undefined;
  }, 15_000);
  // Settled, except what the 410 endpoint was sent after it was disabled: an event published
  // while the disable commits is still matched to it and waits, paused, for its re-enabling.
  await eventually(async () => {
    const { body } = await call('GET', '/api/v2/deliveries?status=pending&limit=100');
    const stats = (await call('GET', '/api/v2/stats')).body.deliveries;
    return stats.in_flight === 0 && body.data.every((d: { endpoint_id: string }) => d.endpoint_id === ids.gone) ? true : undefined;
  }, 10_000);
}, 60_000);

afterAll(async () => {
  proc?.child.kill('SIGKILL');
  await proc?.exited;
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('credentials are used but never stored, logged or shown in clear', () => {
  it('the receiver got every credential (so they were really stored and used)', () => {
    const at = (p: string) => receiver.received.filter((r) => r.url === p);
    const basic = at('/native-basic')[0];
    expect(basic.headers.authorization).toBe(`Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64')}`);
    expect(basic.headers['x-hidden']).toBe(HIDDEN_HEADER);
    expect(basic.headers['x-body-hmac']).toBe(createHmac('sha256', HMAC_HEADER_KEY).update(basic.body).digest('hex'));
    expect(at('/native-oauth')[0].headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(at('/tenovos')[0].headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(at('/mp')[0].headers['x-mp-hidden']).toBe(MP_HIDDEN);
    expect(at('/cmp')[0].headers['callback-secret']).toBe(CMP_SECRET);
    const tokenBodies = at('/token').map((r) => r.body).join('\n');
    expect(tokenBodies).toContain(encodeURIComponent(OAUTH_SECRET_NATIVE));
    expect(tokenBodies).toContain(encodeURIComponent(OAUTH_SECRET_TENOVOS));
    expect(tokenBodies).toContain(encodeURIComponent(OAUTH_EXTRA_NATIVE));
    expect(tokenBodies).toContain(encodeURIComponent(OAUTH_EXTRA_TENOVOS));
  });

  it("attempt logs show that credentials went out, with the scheme and nothing of their value", async () => {
    const headersOf = async (id: string) => (await call('GET', `/api/v2/endpoints/${id}/deliveries?limit=1`)).body.data[0].attempt_log[0].request_headers;
    expect((await headersOf(ids.basic)).authorization).toBe('Basic ****');
    expect((await headersOf(ids.oauth)).authorization).toBe('Bearer ****');
    expect((await headersOf(ids.tenovos)).authorization).toBe('Bearer ****');
  });

  it('no secret is in the database files, while running (WAL) or after a clean stop', async () => {
    const running = databaseFiles();
    expect(running.map((f) => f.name)).toEqual(expect.arrayContaining(['herald.db']));
    // The search works: what is not secret is there in clear.
    expect(Buffer.concat(running.map((f) => f.bytes)).includes(Buffer.from('tenovos secrets'))).toBe(true);
    const found = running.flatMap((f) => leaks(f.bytes).map((n) => `${f.name}: ${n}`));
    proc!.child.kill('SIGTERM');
    expect((await proc!.exited).code).toBe(0);
    const stopped = databaseFiles();
    found.push(...stopped.flatMap((f) => leaks(f.bytes).map((n) => `${f.name} (stopped): ${n}`)));
    expect(found).toEqual([]);
    // API keys are stored as SHA-256 hashes: the hash is there, the key is not.
    const db = Buffer.concat(stopped.map((f) => f.bytes));
    for (const name of ['api key (publisher)', 'operator key']) {
      const key = secrets.get(name)!;
      expect(db.includes(Buffer.from(createHash('sha256').update(key).digest('hex'))), `${name} hash`).toBe(true);
      expect(db.includes(Buffer.from(key)), `${name} in clear`).toBe(false);
    }
    // Restart for the remaining checks.
    earlierLogs.push(proc!.output());
    proc = await spawnHerald('serve', { HERALD_DATA_DIR: dir, LOG_LEVEL: 'debug', HERALD_RETRY_SCHEDULE: '0,0.2,0.2' });
  }, 30_000);

  it('the database, its WAL and the key are readable by their owner only', () => {
    const modes = Object.fromEntries(readdirSync(dir).map((f) => [f, (statSync(path.join(dir, f)).mode & 0o777).toString(8)]));
    expect(Object.keys(modes)).toEqual(expect.arrayContaining(['herald.db', 'herald.db-wal', 'secret.key']));
    expect(Object.entries(modes).filter(([, mode]) => mode !== '600')).toEqual([]);
  });

  it('no secret is in the log output at debug level', async () => {
    // Exercise the error paths too: a bad key, a refused create, a delivery failure were logged above.
    await call('GET', '/api/v2/stats', undefined, `${secrets.get('api key (publisher)')!.slice(0, -1)}x`);
    await call('POST', '/api/v2/endpoints', { url: 'http://10.0.0.1/', event_types: ['asset.*'], auth: { type: 'basic', username: 'u', password: BASIC_PASSWORD } });
    await new Promise((r) => setTimeout(r, 200));
    const output = [...earlierLogs, proc!.output()].join('\n');
    if (process.env.DUMP_LOGS) console.log(output);
    expect(output).toContain('Herald API listening'); // the capture works
    expect(output).toContain('endpoint disabled'); // and holds the 410 endpoint's story
    expect(leaks(output)).toEqual([]);
  });

  it('no read API answers with a secret; only create and rotate show the signing secret once', async () => {
    const a = ids;
    const deliveries = await call('GET', `/api/v2/endpoints/${a.basic}/deliveries?limit=250`);
    const deliveryId = deliveries.body.data[0].id as string;
    const reads: [string, string][] = [
      ['GET', '/api/v2/endpoints'],
      ['GET', `/api/v2/endpoints/${a.basic}`],
      ['GET', `/api/v2/endpoints/${a.oauth}`],
      ['GET', `/api/v2/endpoints/${a.tenovos}`],
      ['GET', `/api/v2/endpoints/${a.cmp}`],
      ['GET', `/api/v2/endpoints/${a.basic}/deliveries?limit=250`],
      ['GET', `/api/v2/endpoints/${a.oauth}/deliveries?limit=250`],
      ['GET', `/api/v2/endpoints/${a.tenovos}/deliveries?limit=250`],
      ['GET', `/api/v2/endpoints/${a.cmp}/deliveries?limit=250`],
      ['GET', `/api/v2/endpoints/${a.gone}`],
      ['GET', `/api/v2/endpoints/${a.gone}/deliveries?limit=250`],
      ['GET', `/api/v2/deliveries/${deliveryId}`],
      ['GET', '/api/v2/deliveries?limit=250'],
      ['GET', `/api/v2/endpoints/${a.basic}/stats`],
      ['GET', `/api/v2/stats/endpoints?ids=${a.basic},${a.oauth},${a.tenovos},${a.cmp}`],
      ['GET', '/api/v2/stats/activity'],
      ['GET', `/api/v2/events/${a.event0}`],
      ['GET', '/api/v2/stats'],
      ['GET', '/webhooks/endpoint'],
      ['GET', `/webhooks/endpoint/${a.tenovos}`],
      ['GET', '/api/v2/admin/webhooks'],
      ['GET', `/api/v2/admin/webhooks/${mpId}`],
      ['GET', `/api/v2/admin/webhooks/${mpId}/success`],
      ['GET', `/api/v2/admin/webhooks/${mpId}/failed`],
      ['GET', '/cmp/v3/webhooks'],
      ['GET', `/cmp/v3/webhooks/${a.cmp}`],
      ['GET', '/api/v2/inboxes'],
      ['GET', `/api/v2/inboxes/${a.inbox}`],
      ['GET', '/api/v2/api-keys'],
      ['GET', '/api/v2/accounts'],
      ['GET', '/api/v2/projects'],
      ['GET', '/api/v2/event-types'],
      ['GET', '/openapi.json'],
    ];
    const found: string[] = [];
    for (const [method, route] of reads) {
      const res = await call(method, route);
      expect(res.status, `${method} ${route}`).toBe(200);
      found.push(...leaks(res.text).map((n) => `${method} ${route}: ${n}`));
    }
    // The Media Pocket failed log really holds an attempt (with its masked headers).
    expect((await call('GET', `/api/v2/admin/webhooks/${mpId}/failed`)).body.failed_log.length).toBeGreaterThan(0);

    // Updates answer the saved resource: masked too.
    const writes: [string, string, unknown][] = [
      ['PATCH', `/api/v2/endpoints/${a.basic}`, { description: 'patched' }],
      ['PATCH', `/api/v2/endpoints/${a.oauth}`, { description: 'patched' }],
      ['PATCH', `/api/v2/admin/webhooks/${mpId}`, { name: 'patched' }],
      ['PATCH', `/cmp/v3/webhooks/${a.cmp}`, { disabled: false }],
      ['PATCH', `/api/v2/inboxes/${a.inbox}`, { name: 'patched' }],
    ];
    for (const [method, route, body] of writes) {
      const res = await call(method, route, body);
      expect(res.status, `${method} ${route}`).toBe(200);
      found.push(...leaks(res.text).map((n) => `${method} ${route}: ${n}`));
    }

    // The admin UI pages show what the API shows.
    const cookie = uiCookie;
    for (const page of ['/endpoints', `/endpoints/${a.basic}`, `/endpoints/${a.basic}/logs`, `/endpoints/${a.oauth}`, `/endpoints/${a.tenovos}`]) {
      const res = await fetch(proc!.url + page, { headers: { cookie } });
      expect(res.status, page).toBe(200);
      found.push(...leaks(await res.text()).map((n) => `UI ${page}: ${n}`));
    }
    expect(found).toEqual([]);

    // Documented exceptions: create and rotate answer the new signing secret once, and the Tenovos
    // profile's secret route returns its endpoint's signing secret (Svix-style) to an admin.
    const created = await call('POST', '/api/v2/endpoints', { url: `${receiver.url}/late`, event_types: ['asset.*'] });
    expect(created.body.secret).toMatch(/^whsec_/);
    const again = await call('GET', `/api/v2/endpoints/${created.body.id}`);
    expect(again.text).not.toContain(created.body.secret);
    expect(again.body.secret_hint).not.toBe(created.body.secret);
    const rotated = await call('POST', `/api/v2/endpoints/${created.body.id}/secret/rotate`);
    expect((await call('GET', `/api/v2/endpoints/${created.body.id}`)).text).not.toContain(rotated.body.secret);
    expect((await call('GET', `/webhooks/endpoint/${a.tenovos}/secret`)).body.key).toBe(secrets.get('signing secret (tenovos)'));
  });
});

describe('API keys', () => {
  it('are compared by hash: a key differing only in its last character is refused', async () => {
    const key = secrets.get('api key (publisher)')!;
    const last = key.at(-1)!;
    const near = `${key.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
    expect((await call('GET', '/api/v2/event-types', undefined, key)).status).toBe(200);
    const refused = await call('GET', '/api/v2/event-types', undefined, near);
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/invalid API key/);
    expect((await call('GET', '/api/v2/event-types', undefined, `${key}x`)).status).toBe(401);
    expect((await call('GET', '/api/v2/event-types', undefined, key.slice(0, -1))).status).toBe(401);
    // The operator key likewise.
    expect((await call('GET', '/api/v2/stats', undefined, `${ADMIN_KEY.slice(0, -1)}${ADMIN_KEY.endsWith('9') ? '8' : '9'}`)).status).toBe(401);
  });
});
