// Accounts, projects and API keys; tenant isolation across the native API and every profile:
// account B's admin key cannot list, read, update, delete or replay account A's resources.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_ID } from '../../src/app/bootstrap.js';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, uiSession, type Receiver, type TestHerald } from '../helpers.js';

let h: TestHerald;
let receiver: Receiver;

interface Res {
  status: number;
  body: any;
}

/** A request with any key and extra headers (TestHerald.api only takes a key). */
async function call(method: string, route: string, body?: unknown, key = ADMIN_KEY, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(h.url + route, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The operator creates an account and an admin key in it. */
async function newTenant(name: string): Promise<{ id: string; key: string }> {
  const account = await call('POST', '/api/v2/accounts', { name });
  expect(account.status).toBe(201);
  const key = await call('POST', '/api/v2/api-keys', { name: `${name} admin`, role: 'admin' }, ADMIN_KEY, { 'x-herald-account': account.body.id });
  expect(key.status).toBe(201);
  return { id: account.body.id, key: key.body.key };
}

beforeAll(async () => {
  h = await startTestHerald();
  receiver = await startReceiver();
});
afterAll(async () => {
  await h.close();
  await receiver.close();
});

describe('accounts (operator only)', () => {
  it('the operator creates, lists, reads and updates accounts', async () => {
    const created = await call('POST', '/api/v2/accounts', { name: 'Acme', rate_limit_per_second: 100, link_base_url: 'https://api.acme.example/' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^acc_/), name: 'Acme', rate_limit_per_second: 100, link_base_url: 'https://api.acme.example', created_at: expect.any(String) });
    const list = await call('GET', '/api/v2/accounts?limit=250');
    expect(list.body.data.map((a: { id: string }) => a.id)).toEqual(expect.arrayContaining([created.body.id, DEFAULT_ACCOUNT_ID]));
    expect((await call('GET', `/api/v2/accounts/${created.body.id}`)).body).toEqual(created.body);
    const patched = await call('PATCH', `/api/v2/accounts/${created.body.id}`, { rate_limit_per_second: null, link_base_url: 'https://cmp.acme.example' });
    expect(patched.body).toMatchObject({ name: 'Acme', rate_limit_per_second: null, link_base_url: 'https://cmp.acme.example' });
    expect((await call('PATCH', `/api/v2/accounts/${created.body.id}`, { link_base_url: 'ftp://x' })).status).toBe(422);
    expect((await call('PATCH', `/api/v2/accounts/${created.body.id}`, { rate_limit_per_second: 0 })).status).toBe(400);
    expect((await call('PATCH', '/api/v2/accounts/acc_nope', { name: 'x' })).status).toBe(404);
  });

  it('an account admin reads its own account only and manages none', async () => {
    const a = await newTenant('Tenant A');
    const other = await newTenant('Tenant other');
    expect((await call('GET', `/api/v2/accounts/${a.id}`, undefined, a.key)).status).toBe(200);
    expect((await call('GET', `/api/v2/accounts/${other.id}`, undefined, a.key)).status).toBe(404);
    expect((await call('GET', '/api/v2/accounts', undefined, a.key)).status).toBe(403);
    expect((await call('POST', '/api/v2/accounts', { name: 'x' }, a.key)).status).toBe(403);
    expect((await call('PATCH', `/api/v2/accounts/${a.id}`, { rate_limit_per_second: 100000 }, a.key)).status).toBe(403);
  });

  it('X-Herald-Account: the operator acts on any account; other keys only on their own', async () => {
    const a = await newTenant('Header A');
    const b = await newTenant('Header B');
    const asOperator = await call('POST', '/api/v2/projects', { id: 'p-hdr', name: 'P' }, ADMIN_KEY, { 'x-herald-account': a.id });
    expect(asOperator.status).toBe(201);
    expect((await call('GET', '/api/v2/projects/p-hdr', undefined, a.key)).status).toBe(200);
    expect((await call('GET', '/api/v2/projects/p-hdr', undefined, ADMIN_KEY)).status).toBe(404);
    expect((await call('GET', '/api/v2/projects', undefined, b.key, { 'x-herald-account': a.id })).status).toBe(403);
    expect((await call('GET', '/api/v2/projects', undefined, b.key, { 'x-herald-account': b.id })).status).toBe(200);
    expect((await call('GET', '/api/v2/projects', undefined, ADMIN_KEY, { 'x-herald-account': 'acc_missing' })).status).toBe(404);
  });
});

describe('projects', () => {
  it("take the DAM's ids, unique per account", async () => {
    const a = await newTenant('Projects A');
    const b = await newTenant('Projects B');
    expect((await call('POST', '/api/v2/projects', { id: 'GsrwPNm6nJ7CKRYnQZl6', name: 'Shared id' }, a.key)).status).toBe(201);
    expect((await call('POST', '/api/v2/projects', { id: 'GsrwPNm6nJ7CKRYnQZl6', name: 'Again' }, a.key)).status).toBe(409);
    expect((await call('POST', '/api/v2/projects', { id: 'GsrwPNm6nJ7CKRYnQZl6', name: 'Same id, other tenant' }, b.key)).status).toBe(201);
    expect((await call('GET', '/api/v2/projects/GsrwPNm6nJ7CKRYnQZl6', undefined, a.key)).body).toMatchObject({ name: 'Shared id' });
    expect((await call('GET', '/api/v2/projects/GsrwPNm6nJ7CKRYnQZl6', undefined, b.key)).body).toMatchObject({ name: 'Same id, other tenant' });
    const generated = await call('POST', '/api/v2/projects', { name: 'Generated' }, a.key);
    expect(generated.body.id).toMatch(/^prj_/);
    expect((await call('GET', '/api/v2/projects', undefined, a.key)).body.data).toHaveLength(2);
    expect((await call('POST', '/api/v2/projects', { id: 'bad id!', name: 'x' }, a.key)).status).toBe(400);
  });
});

describe('API keys', () => {
  it('are shown once, listed without key or hash, enforce roles, and stop working when deleted', async () => {
    const a = await newTenant('Keys A');
    const created = await call('POST', '/api/v2/api-keys', { name: 'CI publisher', role: 'publisher' }, a.key);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^key_/), name: 'CI publisher', role: 'publisher', operator: false, prefix: created.body.key.slice(0, 7), created_at: expect.any(String), key: expect.stringMatching(/^hk_/) });
    const list = await call('GET', '/api/v2/api-keys', undefined, a.key);
    expect(list.body.data).toHaveLength(2);
    for (const k of list.body.data) expect(Object.keys(k).sort()).toEqual(['created_at', 'id', 'name', 'operator', 'prefix', 'role']);
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);

    const pub = created.body.key as string;
    expect((await call('POST', '/api/v2/events', { type: 'asset.created' }, pub)).status).toBe(202);
    expect((await call('POST', '/api/v2/endpoints', { url: 'https://example.website.com', event_types: ['asset.created'] }, pub)).status).toBe(403);
    expect((await call('GET', '/api/v2/api-keys', undefined, pub)).status).toBe(403);
    expect((await call('POST', '/api/v2/api-keys', { name: 'x', role: 'owner' }, a.key)).status).toBe(400);

    expect((await call('DELETE', `/api/v2/api-keys/${created.body.id}`, undefined, a.key)).status).toBe(204);
    expect((await call('GET', '/api/v2/event-types', undefined, pub)).status).toBe(401);
    expect((await call('DELETE', `/api/v2/api-keys/${created.body.id}`, undefined, a.key)).status).toBe(404);
  });

  it('tell any key what it is: id, role, account, and whether it is the operator key', async () => {
    const a = await newTenant('Current A');
    const viewer = await call('POST', '/api/v2/api-keys', { name: 'dashboards', role: 'viewer' }, a.key);
    expect(await call('GET', '/api/v2/api-keys/current', undefined, viewer.body.key)).toEqual({
      status: 200,
      body: { id: viewer.body.id, account_id: a.id, role: 'viewer', operator: false },
    });
    expect((await call('GET', '/api/v2/api-keys/current', undefined, a.key)).body).toMatchObject({ account_id: a.id, role: 'admin', operator: false });
    const operator = await call('GET', '/api/v2/api-keys/current');
    expect(operator.body).toMatchObject({ account_id: DEFAULT_ACCOUNT_ID, role: 'admin', operator: true });
    // Acting on another account, the operator is told the account it acts on.
    expect((await call('GET', '/api/v2/api-keys/current', undefined, ADMIN_KEY, { 'x-herald-account': a.id })).body).toMatchObject({ account_id: a.id, operator: true });
    expect((await call('GET', '/api/v2/api-keys/current', undefined, 'hk_not_a_key_of_anyone')).status).toBe(401);
  });

  it('the operator key cannot be deleted through the API', async () => {
    const keys = await call('GET', '/api/v2/api-keys');
    const operator = keys.body.data.find((k: { operator: boolean }) => k.operator);
    expect((await call('DELETE', `/api/v2/api-keys/${operator.id}`)).status).toBe(409);
    expect((await call('GET', '/api/v2/api-keys')).status).toBe(200);
  });
});

describe("tenant isolation: B's admin key against A's ids", () => {
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    a = await newTenant('Isolation A');
    b = await newTenant('Isolation B');
    const asA = (method: string, route: string, body?: unknown) => call(method, route, body, a.key);
    ids.project = (await asA('POST', '/api/v2/projects', { id: 'proj-a', name: 'A project' })).body.id;
    ids.key = (await asA('POST', '/api/v2/api-keys', { name: 'A viewer', role: 'viewer' })).body.id;
    ids.endpoint = (await asA('POST', '/api/v2/endpoints', { url: `${receiver.url}/a`, event_types: ['asset.created'] })).body.id;
    ids.tenovos = (await asA('POST', '/webhooks/endpoint', [{ description: 'A tenovos', eventTypes: ['asset.created'], url: `${receiver.url}/a-tenovos` }])).body.id;
    const mp = await asA('POST', '/api/v2/admin/webhooks', { name: 'A mp', http_url: `${receiver.url}/a-mp`, http_method: 'POST', trigger_events: ['ASSET_ADDED'] });
    ids.mediapocket = String(mp.body.webhook.id);
    ids.cmp = (await asA('POST', '/cmp/v3/webhooks', { callback_url: `${receiver.url}/a-cmp`, events: ['asset_added'] })).body.id;
    const published = await asA('POST', '/api/v2/events', { id: 'a-idempotency-key', type: 'asset.created', resource: { type: 'asset', id: 'a-asset' } });
    expect(published.body.deliveries).toBe(4);
    ids.event = published.body.id;
    await receiver.waitFor(4);
    ids.delivery = await eventually(async () => {
      const d = (await asA('GET', `/api/v2/endpoints/${ids.endpoint}/deliveries`)).body.data[0];
      return d?.status === 'succeeded' ? (d.id as string) : undefined;
    });
    const inbox = await asA('POST', '/api/v2/inboxes', { name: 'A inbox' });
    ids.inbox = inbox.body.id;
    await fetch(new URL(inbox.body.url, h.url), { method: 'POST', body: 'a-captured' });
    ids.inboxRequest = await eventually(async () => (await asA('GET', `/api/v2/inboxes/${ids.inbox}/requests`)).body.data[0]?.id as string | undefined);
    ids.recovery = (await asA('POST', `/api/v2/endpoints/${ids.endpoint}/recover`, { since: '2000-01-01T00:00:00Z' })).body.id;
    // B has resources of its own, so numeric Media Pocket ids overlap between the tenants.
    await call('POST', '/api/v2/admin/webhooks', { name: 'B mp', http_url: 'https://example.website.com', http_method: 'POST', trigger_events: ['ASSET_ADDED'] }, b.key);
  });

  // route × foreign id: every one answers 404 to B (403 where the route is the operator's alone,
  // whatever the id) and leaves A's resource as it was.
  const table: readonly [string, string, (i: Record<string, string>) => string, unknown?, number?][] = [
    // native API
    ['GET', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}`],
    ['PATCH', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}`, { description: 'hijacked' }],
    ['DELETE', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}`],
    ['POST', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}/secret/rotate`],
    ['POST', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}/recover`, { since: '2000-01-01T00:00:00Z' }],
    ['GET', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}/deliveries`],
    ['GET', 'endpoint', (i) => `/api/v2/deliveries?endpoint_id=${i.endpoint}`],
    ['GET', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}/stats`],
    ['GET', 'endpoint', (i) => `/api/v2/stats/activity?endpoint_id=${i.endpoint}`],
    ['POST', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}/recover`, { since: '2000-01-01T00:00:00Z', dry_run: true }],
    ['GET', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}/recoveries/${i.recovery}`],
    ['POST', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}/test`, {}],
    ['GET', 'endpoint', (i) => `/api/v2/endpoints/${i.endpoint}/secret`],
    ['GET', 'event', (i) => `/api/v2/events/${i.event}`],
    ['GET', 'event', () => '/api/v2/events/a-idempotency-key'],
    ['GET', 'delivery', (i) => `/api/v2/deliveries/${i.delivery}`],
    ['POST', 'delivery', (i) => `/api/v2/deliveries/${i.delivery}/retry`],
    // inboxes
    ['GET', 'inbox', (i) => `/api/v2/inboxes/${i.inbox}`],
    ['PATCH', 'inbox', (i) => `/api/v2/inboxes/${i.inbox}`, { name: 'hijacked' }],
    ['DELETE', 'inbox', (i) => `/api/v2/inboxes/${i.inbox}`],
    ['GET', 'inbox', (i) => `/api/v2/inboxes/${i.inbox}/requests`],
    ['DELETE', 'inbox', (i) => `/api/v2/inboxes/${i.inbox}/requests`],
    ['GET', 'inbox', (i) => `/api/v2/inboxes/${i.inbox}/requests/${i.inboxRequest}`],
    ['GET', 'inbox', (i) => `/api/v2/inboxes/${i.inbox}/stream`],
    // accounts, projects, keys
    ['GET', 'account', () => `/api/v2/accounts/${a.id}`],
    ['PATCH', 'account', () => `/api/v2/accounts/${a.id}`, { name: 'hijacked' }, 403],
    ['GET', 'project', (i) => `/api/v2/projects/${i.project}`],
    ['DELETE', 'key', (i) => `/api/v2/api-keys/${i.key}`],
    // Tenovos
    ['GET', 'tenovos', (i) => `/webhooks/endpoint/${i.tenovos}`],
    ['PATCH', 'tenovos', (i) => `/webhooks/endpoint/${i.tenovos}`, { description: 'hijacked' }],
    ['DELETE', 'tenovos', (i) => `/webhooks/endpoint/${i.tenovos}`],
    ['PUT', 'tenovos', (i) => `/webhooks/endpoint/oauth/${i.tenovos}`, { clientId: 'c', tokenUrl: 'https://a.example/t', clientSecret: 's' }],
    ['DELETE', 'tenovos', (i) => `/webhooks/endpoint/oauth/${i.tenovos}`],
    ['GET', 'tenovos', (i) => `/webhooks/endpoint/${i.tenovos}/secret`],
    ['POST', 'tenovos', (i) => `/webhooks/endpoint/${i.tenovos}/secret/rotate`],
    ['POST', 'tenovos', (i) => `/webhooks/endpoint/${i.tenovos}/recover`, { since: '2000-01-01T00:00:00Z' }],
    // Media Pocket: numeric ids are per account; B's "1" is B's own webhook, A's endpoint ids are never reachable
    ['GET', 'mediapocket', (i) => `/api/v2/admin/webhooks/${Number(i.mediapocket) + 1}`],
    ['PUT', 'mediapocket', (i) => `/api/v2/admin/webhooks/${Number(i.mediapocket) + 1}`, { name: 'hijacked' }],
    ['PATCH', 'mediapocket', (i) => `/api/v2/admin/webhooks/${Number(i.mediapocket) + 1}`, { name: 'hijacked' }],
    ['DELETE', 'mediapocket', (i) => `/api/v2/admin/webhooks/${Number(i.mediapocket) + 1}`],
    ['GET', 'mediapocket', (i) => `/api/v2/admin/webhooks/${Number(i.mediapocket) + 1}/success`],
    ['GET', 'mediapocket', (i) => `/api/v2/admin/webhooks/${Number(i.mediapocket) + 1}/failed`],
    ['GET', 'endpoint', (i) => `/api/v2/endpoints/ep_mp_${a.id}_${i.mediapocket}`],
    // CMP
    ['GET', 'cmp', (i) => `/cmp/v3/webhooks/${i.cmp}`],
    ['PATCH', 'cmp', (i) => `/cmp/v3/webhooks/${i.cmp}`, { events: ['asset_removed'] }],
    ['DELETE', 'cmp', (i) => `/cmp/v3/webhooks/${i.cmp}`],
    // A's resources through another profile's routes are 404 for A too; for B doubly so
    ['GET', 'tenovos', (i) => `/webhooks/endpoint/${i.cmp}`],
    ['GET', 'cmp', (i) => `/cmp/v3/webhooks/${i.tenovos}`],
  ];

  it.each(table)('%s %s route refuses B (%#)', async (method, _what, path, body, expected = 404) => {
    const res = await call(method, path(ids), body, b.key);
    expect(res.status).toBe(expected);
    expect(JSON.stringify(res.body)).not.toMatch(/A tenovos|A mp|a-asset|A project|A viewer|A inbox|a-captured/);
  });

  /** Routes whose parameter names something every account shares, not a tenant's resource. */
  const shared = ['/api/v2/event-types/{name}'];

  it('shared routes answer B exactly as they answer A', async () => {
    const [forA, forB] = await Promise.all([call('GET', '/api/v2/event-types/asset.created', undefined, a.key), call('GET', '/api/v2/event-types/asset.created', undefined, b.key)]);
    expect(forA.status).toBe(200);
    expect(forB.body).toEqual(forA.body);
  });

  it('the table covers every route of /openapi.json that takes an id', async () => {
    const spec = (await call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const templates = Object.entries(spec.paths)
      .filter(([path]) => path.includes('{') && !shared.includes(path))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ key: `${m.toUpperCase()} ${path}`, method: m.toUpperCase(), re: new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`) })));
    expect(templates.length).toBeGreaterThan(30);
    const covered = new Set(
      table.flatMap(([method, , path]) => templates.filter((t) => t.method === method && t.re.test(path(ids).split('?')[0])).map((t) => t.key)),
    );
    expect(templates.map((t) => t.key).filter((k) => !covered.has(k))).toEqual([]);
  });

  it('A\'s Media Pocket numeric id, asked by B, names nothing of A', async () => {
    // B's own first webhook has id 1; A's ids are A's. Ask B for A's number when B has no such webhook.
    const res = await call('GET', `/api/v2/admin/webhooks/${Number(ids.mediapocket) + 1}`, undefined, b.key);
    expect(res.body).toEqual({ error: `Couldn't find Webhook with 'id'=${Number(ids.mediapocket) + 1}` });
  });

  it("B's lists hold nothing of A", async () => {
    const lists = await Promise.all(
      ['/api/v2/endpoints', '/webhooks/endpoint', '/api/v2/admin/webhooks', '/cmp/v3/webhooks', '/api/v2/api-keys', '/api/v2/projects'].map((r) => call('GET', r, undefined, b.key)),
    );
    const text = JSON.stringify(lists.map((l) => l.body));
    for (const id of [ids.endpoint, ids.tenovos, ids.cmp, ids.key, ids.project, `ep_mp_${a.id}`, receiver.url]) expect(text).not.toContain(id);
    expect(lists.map((l) => l.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const stats = await call('GET', '/api/v2/stats', undefined, b.key);
    expect(stats.body.deliveries).toEqual({ pending: 0, in_flight: 0, succeeded: 0, failed: 0, retrying: 0 });
    const log = await call('GET', '/api/v2/deliveries', undefined, b.key);
    expect(log.body.data.map((d: { endpoint_id: string }) => d.endpoint_id)).not.toContain(ids.endpoint);
    // Batch stats leave another account's ids out, as if unknown.
    expect((await call('GET', `/api/v2/stats/endpoints?ids=${ids.endpoint},ep_unknown`, undefined, b.key)).body).toEqual({ data: [] });
    const activity = await call('GET', '/api/v2/stats/activity?hours=1', undefined, b.key);
    expect(activity.body.data.every((m: { succeeded: number }) => m.succeeded === 0)).toBe(true);
  });

  it("B's events never reach A's endpoints", async () => {
    const before = receiver.received.length;
    const res = await call('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: 'b-asset' } }, b.key);
    expect(res.body.deliveries).toBe(1); // B's own Media Pocket webhook
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received.length).toBe(before);
  });

  it("A's resources are untouched", async () => {
    const asA = (route: string) => call('GET', route, undefined, a.key);
    expect((await asA(`/api/v2/endpoints/${ids.endpoint}`)).body).toMatchObject({ description: '' });
    expect((await asA(`/webhooks/endpoint/${ids.tenovos}`)).body).toMatchObject({ description: 'A tenovos', oauth: null });
    expect((await asA(`/api/v2/admin/webhooks/${ids.mediapocket}`)).body.webhook).toMatchObject({ name: 'A mp' });
    expect((await asA(`/cmp/v3/webhooks/${ids.cmp}`)).body).toMatchObject({ events: ['asset_added'] });
    expect((await asA(`/api/v2/projects/${ids.project}`)).status).toBe(200);
    expect((await asA('/api/v2/api-keys')).body.data.map((k: { id: string }) => k.id)).toContain(ids.key);
    expect((await asA(`/api/v2/deliveries/${ids.delivery}`)).body).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect((await asA(`/api/v2/events/${ids.event}`)).status).toBe(200);
    expect((await asA(`/api/v2/inboxes/${ids.inbox}`)).body).toMatchObject({ name: 'A inbox' });
    expect((await asA(`/api/v2/inboxes/${ids.inbox}/requests/${ids.inboxRequest}`)).status).toBe(200);
    expect((await asA(`/api/v2/accounts/${a.id}`)).body).toMatchObject({ name: 'Isolation A' });
  });
});

describe('admin UI create forms across accounts', () => {
  /** A create form posted from the UI's own origin with a signed-in session. */
  const post = (cookie: string, route: string, form: Record<string, string>) =>
    fetch(h.url + route, { method: 'POST', headers: { cookie, origin: h.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form), redirect: 'manual' });
  const formIdOf = async (cookie: string, route: string) => {
    const html = await (await fetch(h.url + route, { headers: { cookie } })).text();
    return /name="form_id" value="([^"]+)"/.exec(html)![1]!;
  };
  const listOf = async (key: string, route: string) => (await call('GET', route, undefined, key)).body.data.map((o: { id: string }) => o.id) as string[];

  it("the same form id sent with another account's key creates that account's own endpoint and inbox", async () => {
    const [a, b] = [await newTenant('UI forms A'), await newTenant('UI forms B')];
    const [cookieA, cookieB] = [await uiSession(h.url, a.key), await uiSession(h.url, b.key)];

    const endpointForm = await formIdOf(cookieA, '/endpoints/new');
    const endpoint = (cookie: string, path: string) => post(cookie, '/endpoints', { form_id: endpointForm, url: `${receiver.url}${path}`, event_types: 'asset.created' });
    expect((await endpoint(cookieA, '/ui-form-a')).status).toBe(201);
    expect((await endpoint(cookieB, '/ui-form-b')).status).toBe(201);
    const [endpointsA, endpointsB] = [await listOf(a.key, '/api/v2/endpoints'), await listOf(b.key, '/api/v2/endpoints')];
    expect([endpointsA.length, endpointsB.length]).toEqual([1, 1]);
    // Sent again with the same key, the form still leads to what it created, and creates nothing.
    const again = await endpoint(cookieB, '/ui-form-b');
    expect([again.status, again.headers.get('location')]).toEqual([303, `/endpoints/${endpointsB[0]}?created=1`]);
    expect(await listOf(b.key, '/api/v2/endpoints')).toEqual(endpointsB);

    const inboxForm = await formIdOf(cookieA, '/inboxes');
    const inbox = async (cookie: string, name: string) => (await post(cookie, '/inboxes', { form_id: inboxForm, name })).headers.get('location');
    const [inboxA, inboxB] = [await inbox(cookieA, 'UI form A'), await inbox(cookieB, 'UI form B')];
    expect([inboxA, inboxB]).toEqual([`/inboxes/${(await listOf(a.key, '/api/v2/inboxes'))[0]}`, `/inboxes/${(await listOf(b.key, '/api/v2/inboxes'))[0]}`]);
    expect(await inbox(cookieB, 'UI form B')).toBe(inboxB);
    expect((await listOf(b.key, '/api/v2/inboxes')).length).toBe(1);
  });
});
