// The answers /openapi.json once described only as "OK" (lists, reads, stats, the catalog) have a
// schema, and the schema both holds every field they carry and keeps them as they were: Fastify
// serialises an answer by its schema, dropping a field it does not declare and coercing a type.
// Each answer, with real rows in it (every auth kind, deliveries of every status, custom types,
// inbox captures), is checked against its documented schema closed to unlisted fields, and
// against what the view functions make of the same store rows, as the routes answered before.
import { randomBytes } from 'node:crypto';
import ajvDraft04 from 'ajv-draft-04';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_ID } from '../../src/app/bootstrap.js';
import { eventTypesByTopic, findEventType, nameInProfile } from '../../src/catalog/index.js';
import { deliveryView, endpointView, eventView, iso } from '../../src/api/views.js';
import { inboxRequestView, inboxView } from '../../src/inbox/views.js';
import { examplePayloads, profilesOf } from '../../src/profiles/examples.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { SecretBox } from '../../src/signing/secretbox.js';
import type { CustomEventType } from '../../src/domain/types.js';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const Ajv = ajvDraft04 as unknown as typeof ajvDraft04.default;
type Json = Record<string, unknown>;
type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Json }> }> }>> };

const ACCOUNT = DEFAULT_ACCOUNT_ID;
// One attempt, then a retry an hour later: a 500 leaves its delivery pending, tried once.
const ENV = { HERALD_RETRY_SCHEDULE: '0,3600' };
const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** The schema closed: every object listing its fields takes no other (an open map says so itself). */
function closed(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closed);
  if (node === null || typeof node !== 'object') return node;
  const out = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, closed(s)])) : closed(v)]));
  return 'properties' in out && !('additionalProperties' in out) ? { ...out, additionalProperties: false } : out;
}

describe.each(['sqlite', 'postgres'] as const)('documented answers (%s)', (dialect) => {
  let h: TestHerald;
  let schema: TestSchema | undefined;
  let doc: Doc;
  let release: () => void = () => {};
  const receivers: Receiver[] = [];
  const ids: Record<string, string> = {};

  const store = () => h.herald.context.store;

  /** Checks an answer against the document's schema for it, closed. */
  function conforms(path: string, method: string, status: string, body: unknown): void {
    const content = doc.paths[path]![method]!.responses[status]!.content;
    const documented = content?.['application/json']?.schema ?? {};
    // A schema of only a description takes anything: the answer is then undocumented.
    expect(Object.keys(documented).filter((k) => k !== 'description'), `${method} ${path} ${status} has a schema`).not.toEqual([]);
    const validate = new Ajv({ strict: false, validateFormats: false, allErrors: true }).compile(closed(documented) as Json);
    validate(body);
    expect(validate.errors ?? [], `${method} ${path} ${status}`).toEqual([]);
  }

  async function get(route: string, path: string): Promise<any> {
    const res = await h.api('GET', route);
    expect(res.status, route).toBe(200);
    conforms(path, 'get', '200', res.body);
    return res.body;
  }

  async function endpoint(body: Json): Promise<string> {
    const res = await h.api('POST', '/api/v2/endpoints', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  }

  async function publish(type: string, extra: Json = {}): Promise<string> {
    const res = await h.api('POST', '/api/v2/events', { type, resource: { type: 'asset', id: 'a1' }, ...extra });
    expect(res.status).toBe(202);
    return res.body.id as string;
  }

  beforeAll(async () => {
    if (dialect === 'sqlite') h = await startTestHerald(ENV);
    else {
      const key = randomBytes(32);
      schema = await createTestSchema(new SecretBox(key));
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set('schema', schema.name);
      h = await startTestHerald({ ...ENV, DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex') });
    }
    doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as Doc;
    const held = new Promise<void>((resolve) => (release = resolve));
    const ok = await startReceiver();
    const failing = await startReceiver((_r, _i, res) => void res.writeHead(500).end('down'));
    const gone = await startReceiver((_r, _i, res) => void res.writeHead(410).end('gone'));
    const hanging = await startReceiver(async (_r, _i, res) => {
      await held;
      res.writeHead(200).end();
    });
    receivers.push(ok, failing, gone, hanging);

    expect((await h.api('POST', '/api/v2/event-types', { name: 'acme.widget.built', description: 'a widget', schema: { type: 'object', properties: { size: { type: 'integer' } } } })).status).toBe(201);
    expect((await h.api('POST', '/api/v2/event-types', { name: 'acme.widget.sold' })).status).toBe(201);

    ids.ok = await endpoint({ url: ok.url, event_types: ['asset.created', 'acme.widget.built'], headers: [{ name: 'X-Plain', value: 'shown', type: 'plain' }, { name: 'X-Hidden', value: 'hidden-value-123', type: 'hidden' }, { name: 'X-Sig', value: 'hmac-key-123456', type: 'hmac' }] });
    ids.failing = await endpoint({ url: failing.url, event_types: ['asset.created'], auth: { type: 'basic', username: 'user', password: 'secret-password' }, rate_limit_per_second: 5, project_ids: ['p1'] });
    ids.gone = await endpoint({ url: gone.url, event_types: ['asset.created'], headers: { 'X-Map': 'value-of-map' } });
    ids.hanging = await endpoint({ url: hanging.url, event_types: ['asset.deleted'], ordering: 'per_resource', description: 'held' });
    // The OAuth endpoints take a type never published: their token URL is not on this machine.
    ids.oauth = await endpoint({
      url: ok.url,
      event_types: ['acme.widget.sold'],
      auth: { type: 'oauth2_client_credentials', token_url: 'https://auth.example.com/token', client_id: 'cid', client_secret: 'csecret-0123', scope: 'hooks', extra_params: { audience: 'aud-0123456' }, token_endpoint_auth_method: 'client_secret_basic' },
      disabled: true,
      user_ids: ['u1'],
    });
    ids.oauthPlain = await endpoint({ url: ok.url, event_types: ['acme.widget.sold'], auth: { type: 'oauth2_client_credentials', token_url: 'https://auth.example.com/token', client_id: 'cid', client_secret: 'csecret-0123' }, timeout_ms: 5000 });

    ids.event = await publish('asset.created', { id: 'dam-1', project_id: 'p1', actor: { id: 'u1' }, data: { filename: 'a.jpg' } });
    await publish('acme.widget.built', { data: { size: 3 } });
    await publish('asset.deleted');
    await publish('asset.deleted');
    // Settled: ok's two succeeded, failing's retrying, gone's failed, hanging's first in flight and second pending.
    await eventually(async () => {
      const s = (await store().stats(ACCOUNT)) as { succeeded: number; failed: number; retrying: number; inFlight: number; pending: number };
      return s.succeeded === 2 && s.failed === 1 && s.retrying === 1 && s.inFlight === 1 && s.pending === 2 ? true : undefined;
    });

    const inbox = await h.api('POST', '/api/v2/inboxes', { name: 'captures', signing_secret: `whsec_${randomBytes(24).toString('base64')}` });
    expect(inbox.status).toBe(201);
    ids.inbox = inbox.body.id;
    await fetch(`${inbox.body.url}/hook?x=1`, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1', 'webhook-timestamp': '1', 'webhook-signature': 'v1,bad' }, body: '{"a":1}' });
    await fetch(`${inbox.body.url}`, { method: 'PUT', body: new Uint8Array([0xff, 0xfe, 0x00]) });
    await fetch(`${inbox.body.url}/big`, { method: 'POST', body: 'x'.repeat(70 * 1024) });
    expect((await h.api('POST', '/api/v2/inboxes', { name: 'plain' })).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    release();
    while (receivers.length) await receivers.pop()!.close();
    await h?.close();
    await schema?.drop();
  });

  it('lists endpoints of every auth kind as the endpoint view shows them', async () => {
    const body = await get('/api/v2/endpoints', '/api/v2/endpoints');
    const page = await store().listEndpoints(ACCOUNT, { limit: 50 });
    expect(body).toEqual(json({ data: page.items.map(endpointView), next_cursor: page.nextCursor }));
    expect(new Set(body.data.map((e: { auth: { type: string } }) => e.auth.type))).toEqual(new Set(['none', 'basic', 'oauth2_client_credentials']));
    expect(body.data.find((e: { id: string }) => e.id === ids.oauth).auth).toEqual({ type: 'oauth2_client_credentials', token_url: 'https://auth.example.com/token', client_id: 'cid', client_secret: '****', scope: 'hooks', extra_params: { audience: expect.stringMatching(/…$/) }, token_endpoint_auth_method: 'client_secret_basic' });
  });

  it('shows deliveries of every status with their attempts, in the account log, an endpoint log and one by one', async () => {
    const body = await get('/api/v2/deliveries', '/api/v2/deliveries');
    const page = await store().listDeliveries(ACCOUNT, { limit: 50 });
    const attempts = await store().listAttempts(ACCOUNT, page.items.map((d) => d.id));
    const expected = page.items.map((d) => deliveryView(d, attempts.filter((a) => a.deliveryId === d.id)));
    expect(body).toEqual(json({ data: expected, next_cursor: page.nextCursor }));
    expect(new Set(body.data.map((d: { status: string }) => d.status))).toEqual(new Set(['pending', 'in_flight', 'succeeded', 'failed']));
    for (const name of ['ok', 'failing', 'gone', 'hanging']) {
      const own = await get(`/api/v2/endpoints/${ids[name]}/deliveries`, '/api/v2/endpoints/{id}/deliveries');
      expect(own).toEqual({ data: body.data.filter((d: { endpoint_id: string }) => d.endpoint_id === ids[name]), next_cursor: null });
    }
    for (const d of body.data) expect(await get(`/api/v2/deliveries/${d.id}`, '/api/v2/deliveries/{id}')).toEqual(d);
  });

  it('answers an event with its deliveries, and the account\'s counts by status', async () => {
    const body = await get(`/api/v2/events/${ids.event}`, '/api/v2/events/{id}');
    const event = (await store().getEvent(ACCOUNT, ids.event))!;
    const deliveries = await store().listDeliveries(ACCOUNT, { eventId: event.id, limit: 250 });
    expect(body).toEqual(json({ ...eventView(event), deliveries: deliveries.items.map((d) => ({ id: d.id, endpoint_id: d.endpointId, status: d.status, attempts: d.attempts })), deliveries_next_cursor: null }));
    expect(body.deliveries).toHaveLength(3);
    const stats = await get('/api/v2/stats', '/api/v2/stats');
    expect(stats).toEqual({ deliveries: { pending: 2, in_flight: 1, succeeded: 2, failed: 1, retrying: 1 } });
  });

  it('answers a retry with the delivery queued', async () => {
    const failed = (await store().listDeliveries(ACCOUNT, { endpointId: ids.gone, limit: 1 })).items[0]!;
    const res = await h.api('POST', `/api/v2/deliveries/${failed.id}/retry`);
    expect(res.status).toBe(202);
    conforms('/api/v2/deliveries/{id}/retry', 'post', '202', res.body);
    expect(Object.keys(res.body).sort()).toEqual(Object.keys(deliveryView(failed)).sort());
    expect(res.body).toMatchObject({ id: failed.id, status: 'pending', event_id: failed.eventId, created_at: iso(failed.createdAt) });
  });

  it('answers the catalog, a catalog type and custom types as registered', async () => {
    const customs = (await store().listEventTypes(ACCOUNT)) as readonly CustomEventType[];
    const customView = (t: CustomEventType) => ({ name: t.name, custom: true, description: t.description, schema: t.schema, created_at: iso(t.createdAt), updated_at: iso(t.updatedAt) });
    const catalog = await get('/api/v2/event-types', '/api/v2/event-types');
    expect(catalog).toEqual(json({ topics: eventTypesByTopic(), custom: customs.map(customView) }));
    expect(catalog.custom.map((t: { name: string }) => t.name)).toEqual(['acme.widget.built', 'acme.widget.sold']);
    for (const name of ['asset.created', 'ASSET_ADDED', 'asset_modified']) {
      const def = findEventType(name)!;
      const one = await get(`/api/v2/event-types/${name}`, '/api/v2/event-types/{name}');
      const names = Object.fromEntries(profilesOf(def).map((p) => [p, nameInProfile(def, p)]));
      expect(one).toEqual(json({ name: def.name, topic: def.topic, description: def.description, names, examples: examplePayloads(def) }));
    }
    for (const custom of customs) expect(await get(`/api/v2/event-types/${custom.name}`, '/api/v2/event-types/{name}')).toEqual(json(customView(custom)));
  });

  it('lists inboxes and their captures, bodies as text, base64 or left out of a page', async () => {
    const inboxes = await get('/api/v2/inboxes', '/api/v2/inboxes');
    const page = await store().listInboxes(ACCOUNT, { limit: 50 });
    expect(inboxes).toEqual(json({ data: page.items.map((i) => inboxView(i, h.url)), next_cursor: null }));
    const captures = await get(`/api/v2/inboxes/${ids.inbox}/requests`, '/api/v2/inboxes/{id}/requests');
    const rows = await store().listInboxRequests(ACCOUNT, ids.inbox!, { limit: 50 });
    expect(captures).toEqual(json({ data: rows.items.map((r) => inboxRequestView(r, { listing: true })), next_cursor: null }));
    expect(captures.data.map((r: { body_encoding: string | null }) => r.body_encoding).sort()).toEqual(['base64', 'utf8', null].sort());
    expect(captures.data.find((r: { signature: unknown }) => r.signature !== null).signature).toMatchObject({ verified: false });
    for (const r of rows.items) expect(await get(`/api/v2/inboxes/${ids.inbox}/requests/${r.id}`, '/api/v2/inboxes/{id}/requests/{requestId}')).toEqual(json(inboxRequestView(r)));
  });

  it('answers a create, a change, a publish, a batch and a purge as their views make them', async () => {
    const created = await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/new', event_types: ['asset.downloaded'], auth: { type: 'basic', username: 'u', password: 'secret-password' } });
    expect(created.status).toBe(201);
    conforms('/api/v2/endpoints', 'post', '201', created.body);
    const row = (await store().getEndpoint(ACCOUNT, created.body.id))!;
    expect(created.body).toEqual(json({ ...endpointView(row), secret: row.secret }));
    const changed = await h.api('PATCH', `/api/v2/endpoints/${row.id}`, { description: 'changed', rate_limit_per_second: null });
    expect(changed.status).toBe(200);
    conforms('/api/v2/endpoints/{id}', 'patch', '200', changed.body);
    expect(changed.body).toEqual(json(endpointView((await store().getEndpoint(ACCOUNT, row.id))!)));
    const published = await h.api('POST', '/api/v2/events', { type: 'asset.downloaded', id: 'dam-downloaded-1' });
    expect(published.status).toBe(202);
    conforms('/api/v2/events', 'post', '202', published.body);
    expect(published.body).toEqual({ id: expect.any(String), deliveries: 1, duplicate: false });
    const batch = await h.api('POST', '/api/v2/events/batch', { events: [{ type: 'asset.downloaded', id: 'dam-downloaded-1' }, { type: 'asset.deleted' }] });
    expect(batch.status).toBe(202);
    conforms('/api/v2/events/batch', 'post', '202', batch.body);
    expect(batch.body).toEqual({ data: [{ id: published.body.id, deliveries: 1, duplicate: true }, { id: expect.any(String), deliveries: 1, duplicate: false }] });
    const purged = await h.api('DELETE', `/api/v2/inboxes/${ids.inbox}/requests`);
    expect(purged.status).toBe(200);
    conforms('/api/v2/inboxes/{id}/requests', 'delete', '200', purged.body);
    expect(purged.body).toEqual({ purged: 3 });
  });

  it('answers a secret rotation, its repeat, a dry run and a recover as documented', async () => {
    const rotate = async () => {
      const res = await fetch(`${h.url}/api/v2/endpoints/${ids.gone}/secret/rotate`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'idempotency-key': 'documented' } });
      return { status: res.status, body: (await res.json()) as Json };
    };
    const first = await rotate();
    const repeat = await rotate();
    expect([first.status, repeat.status]).toEqual([200, 200]);
    expect(Object.keys(first.body).sort()).toEqual(['id', 'previous_secret_expires_at', 'secret']);
    expect(Object.keys(repeat.body).sort()).toEqual(['id', 'previous_secret_expires_at', 'secret_hint']);
    for (const answer of [first, repeat]) conforms('/api/v2/endpoints/{id}/secret/rotate', 'post', '200', answer.body);
    const dry = await h.api('POST', `/api/v2/endpoints/${ids.gone}/recover`, { since: '2000-01-01T00:00:00Z', dry_run: true });
    // Another test retries gone's failed delivery: whether it has failed again by now varies.
    expect(dry.body).toEqual({ would_requeue: expect.any(Number), until: expect.any(String) });
    conforms('/api/v2/endpoints/{id}/recover', 'post', '200', dry.body);
    const recover = await h.api('POST', `/api/v2/endpoints/${ids.gone}/recover`, { since: '2000-01-01T00:00:00Z', until: dry.body.until });
    expect(recover.status).toBe(202);
    expect(recover.body).toMatchObject({ total: dry.body.would_requeue, statuses: ['failed'], event_types: null });
    conforms('/api/v2/endpoints/{id}/recover', 'post', '202', recover.body);
  });

  it('gives every answer with a JSON body a schema in the document', () => {
    const bare: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const [status, answer] of Object.entries(op.responses)) {
          const schemaOf = Object.values(answer.content ?? {})[0]?.schema;
          const onlyDescribed = schemaOf === undefined || Object.keys(schemaOf).every((k) => k === 'description');
          if (status.startsWith('2') && status !== '204' && onlyDescribed) bare.push(`${method.toUpperCase()} ${path} ${status}`);
        }
      }
    }
    expect(bare).toEqual([]);
  });
});
