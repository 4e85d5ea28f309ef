// Custom event types: an account registers a name outside the catalog with a JSON Schema; its
// events are then published, validated, filtered and delivered like catalog events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

let h: TestHerald;
let receiver: Receiver;

beforeAll(async () => {
  [h, receiver] = await Promise.all([startTestHerald(), startReceiver()]);
});
afterAll(() => Promise.all([h.close(), receiver.close()]));

const WIDGET_SCHEMA = {
  type: 'object',
  required: ['size'],
  properties: { size: { type: 'integer', minimum: 1 }, parts: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } } } } },
};

/** Registers `name` with the widget schema (or the one given) in the default account. */
async function register(name: string, schema: Record<string, unknown> | null = WIDGET_SCHEMA) {
  const res = await h.api('POST', '/api/v2/event-types', { name, description: 'A widget was built.', schema });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** An endpoint of the receiver at `path`, subscribed to `eventTypes`. */
async function endpoint(path: string, eventTypes: string[]): Promise<string> {
  const res = await h.api('POST', '/api/v2/endpoints', { url: `${receiver.url}${path}`, event_types: eventTypes });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const bodiesAt = (path: string) => receiver.received.filter((r) => r.url === path).map((r) => JSON.parse(r.body));

describe('registering a custom event type', () => {
  it('is listed beside the catalog and read by name', async () => {
    const created = await register('acme.widget.built');
    expect(created).toEqual({ name: 'acme.widget.built', custom: true, description: 'A widget was built.', schema: WIDGET_SCHEMA, created_at: expect.any(String), updated_at: created.created_at });
    const list = await h.api('GET', '/api/v2/event-types');
    expect(list.body.custom).toContainEqual(created);
    expect(list.body.topics.length).toBeGreaterThan(10);
    expect((await h.api('GET', '/api/v2/event-types/acme.widget.built')).body).toEqual(created);
    expect((await h.api('GET', '/api/v2/event-types/acme.nothing')).status).toBe(404);
  });

  it('refuses names of the catalog (in any profile), of Herald topics, of another shape, and a name taken', async () => {
    for (const [name, message] of [
      ['asset.created', /in the event catalog/],
      ['endpoint.acme', /raised by Herald itself/],
      ['ASSET_ADDED', /lower-case words/],
      ['acme', /lower-case words/],
      ['acme.*', /lower-case words/],
    ] as const) {
      const res = await h.api('POST', '/api/v2/event-types', { name });
      expect([res.status, res.body.error, res.body.field], name).toEqual([422, 'invalid_event_type', 'name']);
      expect(res.body.message, name).toMatch(message);
    }
    await register('acme.gadget.sold', null);
    expect((await h.api('POST', '/api/v2/event-types', { name: 'acme.gadget.sold' })).body).toMatchObject({ error: 'conflict', field: 'name' });
  });

  it('refuses a schema Herald cannot run, naming the part at fault', async () => {
    const refused = async (schema: unknown) => (await h.api('POST', '/api/v2/event-types', { name: 'acme.bad.schema', schema })).body;
    expect(await refused({ type: 'object', properties: { size: { type: 'int' } } })).toMatchObject({ error: 'invalid_schema', field: 'schema.properties.size.type' });
    expect(await refused({ type: 'string', pattern: '^(a+)+$' })).toMatchObject({ error: 'invalid_schema', field: 'schema', message: expect.stringMatching(/pattern is not supported/) });
    expect(await refused({ $ref: 'https://example.com/remote.json' })).toMatchObject({ error: 'invalid_schema', field: 'schema' });
    expect((await h.api('GET', '/api/v2/event-types/acme.bad.schema')).status).toBe(404);
  });

  it('needs an admin key', async () => {
    const viewer = (await h.api('POST', '/api/v2/api-keys', { name: 'viewer', role: 'viewer' })).body.key;
    expect((await h.api('POST', '/api/v2/event-types', { name: 'acme.viewer.tried' }, viewer)).status).toBe(403);
    expect((await h.api('GET', '/api/v2/event-types/acme.widget.built', undefined, viewer)).status).toBe(200);
  });
});

describe('publishing and delivering custom events', () => {
  it('delivers to endpoints subscribed by name, by wildcard and to *, in every profile shape', async () => {
    await register('acme.sprocket.made');
    const byName = await endpoint('/name', ['acme.sprocket.made']);
    await endpoint('/wild', ['acme.sprocket.*']);
    await endpoint('/all', ['*']);
    await endpoint('/assets', ['asset.*']);
    const tenovos = await h.api('POST', '/webhooks/endpoint', [{ description: 'Acme events', eventTypes: ['acme.*'], url: `${receiver.url}/tenovos` }]);
    expect(tenovos.status, JSON.stringify(tenovos.body)).toBe(200);
    const res = await h.api('POST', '/api/v2/events', { type: 'acme.sprocket.made', resource: { type: 'sprocket', id: 's1' }, data: { size: 3 } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.deliveries).toBe(4);
    await eventually(() => (['/name', '/wild', '/all', '/tenovos'].every((p) => bodiesAt(p).length === 1) ? true : undefined));
    expect(bodiesAt('/name')[0]).toMatchObject({ type: 'acme.sprocket.made', resource: { type: 'sprocket', id: 's1' }, data: { size: 3 }, sequence: 1 });
    expect(bodiesAt('/tenovos')[0]).toMatchObject({ eventType: 'acme.sprocket.made' });
    expect(bodiesAt('/assets')).toEqual([]);
    // The delivery log filters by the name and by a wildcard over it.
    for (const filter of ['acme.sprocket.made', 'acme.*']) {
      const log = await h.api('GET', `/api/v2/endpoints/${byName}/deliveries?event_type=${filter}`);
      expect(log.body.data.map((d: { event_type: string }) => d.event_type), filter).toEqual(['acme.sprocket.made']);
    }
  });

  it('refuses data that fails the schema with a 422 naming the path, and accepts nothing of such a batch', async () => {
    await register('acme.widget.checked');
    const one = await h.api('POST', '/api/v2/events', { type: 'acme.widget.checked', data: { size: 'large' } });
    expect(one.status).toBe(422);
    expect(one.body).toEqual({ error: 'invalid_event_data', message: 'data.size must be integer (the schema of acme.widget.checked)', field: 'data.size' });
    expect((await h.api('POST', '/api/v2/events', { type: 'acme.widget.checked' })).body).toMatchObject({ error: 'invalid_event_data', field: 'data.size', message: expect.stringMatching(/^data\.size is required/) });

    const batch = await h.api('POST', '/api/v2/events/batch', {
      events: [
        { id: 'widget-ok', type: 'acme.widget.checked', data: { size: 1 } },
        { id: 'widget-bad', type: 'acme.widget.checked', data: { size: 2, parts: [{ sku: 'a' }, { sku: 7 }] } },
      ],
    });
    expect(batch.status).toBe(422);
    expect(batch.body).toMatchObject({ error: 'invalid_event_data', field: 'events[1].data.parts[1].sku' });
    expect((await h.api('GET', '/api/v2/events/widget-ok')).status).toBe(404);
  });

  it('refuses an event repeating an item of a uniqueItems array, naming the repeat (objects alike whatever their members\' order)', async () => {
    await register('acme.kit.packed', { type: 'object', properties: { parts: { type: 'array', uniqueItems: true } } });
    const repeat = await h.api('POST', '/api/v2/events', { type: 'acme.kit.packed', data: { parts: [{ sku: 'a', n: 1 }, { sku: 'b' }, { n: 1, sku: 'a' }] } });
    expect([repeat.status, repeat.body]).toEqual([422, { error: 'invalid_event_data', message: 'data.parts[2] must not repeat item 0 (the schema of acme.kit.packed)', field: 'data.parts[2]' }]);
    expect((await h.api('POST', '/api/v2/events', { type: 'acme.kit.packed', data: { parts: [{ sku: 'a' }, { sku: 'b' }] } })).status).toBe(202);
  });

  it('validates events against the schema as it is now once it changes; a schema of null takes any data', async () => {
    await register('acme.widget.resized');
    const patched = await h.api('PATCH', '/api/v2/event-types/acme.widget.resized', { schema: { type: 'object', required: ['width'], properties: { width: { type: 'number' } } } });
    expect(patched.status).toBe(200);
    expect(patched.body.updated_at >= patched.body.created_at).toBe(true);
    expect((await h.api('POST', '/api/v2/events', { type: 'acme.widget.resized', data: { size: 1 } })).body).toMatchObject({ field: 'data.width' });
    expect((await h.api('POST', '/api/v2/events', { type: 'acme.widget.resized', data: { width: 2.5 } })).status).toBe(202);
    expect((await h.api('PATCH', '/api/v2/event-types/acme.widget.resized', { schema: { type: 'object', properties: { width: { type: 'int' } } } })).body).toMatchObject({ error: 'invalid_schema', field: 'schema.properties.width.type' });
    expect((await h.api('PATCH', '/api/v2/event-types/acme.widget.resized', { schema: null, description: 'Resized.' })).body).toMatchObject({ schema: null, description: 'Resized.' });
    expect((await h.api('POST', '/api/v2/events', { type: 'acme.widget.resized', data: { anything: true } })).status).toBe(202);
    expect((await h.api('PATCH', '/api/v2/event-types/asset.created', { description: 'mine' })).body).toMatchObject({ error: 'invalid_event_type' });
    expect((await h.api('PATCH', '/api/v2/event-types/acme.never.registered', { description: 'x' })).status).toBe(404);
  });

  it('test-sends a custom type with data checked against its schema', async () => {
    await register('acme.widget.tested');
    const ep = await endpoint('/test-send', ['asset.created']);
    expect((await h.api('POST', `/api/v2/endpoints/${ep}/test`, { event_type: 'acme.widget.tested' })).body).toMatchObject({ error: 'invalid_event_data', field: 'data.size' });
    expect((await h.api('POST', `/api/v2/endpoints/${ep}/test`, { event_type: 'acme.widget.tested', data: { size: 2 } })).status).toBe(202);
    await eventually(() => (bodiesAt('/test-send').length === 1 ? true : undefined));
    expect(bodiesAt('/test-send')[0]).toMatchObject({ type: 'acme.widget.tested', resource: { type: 'acme', id: 'herald-test' }, data: { size: 2 } });
  });
});

describe('deleting a custom event type', () => {
  it('is refused while an endpoint subscribes to it by name, naming the endpoint; then publishing it is unknown', async () => {
    await register('acme.lever.pulled', null);
    const ep = await endpoint('/lever', ['asset.created', 'acme.lever.pulled']);
    const refused = await h.api('DELETE', '/api/v2/event-types/acme.lever.pulled');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'event_type_in_use', message: expect.stringContaining(ep) });
    expect((await h.api('PATCH', `/api/v2/endpoints/${ep}`, { event_types: ['asset.created'] })).status).toBe(200);
    expect((await h.api('DELETE', '/api/v2/event-types/acme.lever.pulled')).status).toBe(204);
    expect((await h.api('DELETE', '/api/v2/event-types/acme.lever.pulled')).status).toBe(404);
    expect((await h.api('POST', '/api/v2/events', { type: 'acme.lever.pulled' })).body).toMatchObject({ error: 'unknown_event_type', field: 'type' });
    expect((await h.api('POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['acme.lever.pulled'] })).body).toMatchObject({ error: 'invalid_endpoint', field: 'event_types' });
    expect((await h.api('DELETE', '/api/v2/event-types/asset.created')).status).toBe(422);
  });

  it('is not held by a wildcard, and an endpoint read and sent back keeps the wildcard that now selects nothing', async () => {
    await register('gizmo.spun', null);
    const ep = await endpoint('/gizmo', ['gizmo.*']);
    expect((await h.api('DELETE', '/api/v2/event-types/gizmo.spun')).status).toBe(204);
    const read = (await h.api('GET', `/api/v2/endpoints/${ep}`)).body;
    expect((await h.api('PATCH', `/api/v2/endpoints/${ep}`, { ...read, description: 'kept' })).status).toBe(200);
    // A new filter of it is refused: no type is under gizmo. any more.
    expect((await h.api('PATCH', `/api/v2/endpoints/${ep}`, { event_types: ['gizmo.*', 'asset.created'] })).status).toBe(200);
    expect((await h.api('POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['gizmo.*'] })).body).toMatchObject({ error: 'invalid_endpoint', field: 'event_types' });
  });
});

describe('the delivery log by a custom type name', () => {
  it("finds what was logged under a deleted type by its name, an empty list for a name never registered, and a malformed name is a 400 naming event_type", async () => {
    await register('acme.crank.turned', null);
    const ep = await endpoint('/crank', ['acme.crank.turned']);
    expect((await h.api('POST', '/api/v2/events', { type: 'acme.crank.turned' })).status).toBe(202);
    await eventually(() => (bodiesAt('/crank').length === 1 ? true : undefined));
    expect((await h.api('PATCH', `/api/v2/endpoints/${ep}`, { event_types: ['asset.created'] })).status).toBe(200);
    expect((await h.api('DELETE', '/api/v2/event-types/acme.crank.turned')).status).toBe(204);

    const types = (res: { body: { data: { event_type: string }[] } }) => res.body.data.map((d) => d.event_type);
    for (const route of [`/api/v2/endpoints/${ep}/deliveries?`, `/api/v2/deliveries?endpoint_id=${ep}&`]) {
      const byType = (name: string) => h.api('GET', `${route}event_type=${encodeURIComponent(name)}`);
      const logged = await byType('acme.crank.turned');
      expect([logged.status, types(logged)], route).toEqual([200, ['acme.crank.turned']]);
      const never = await byType('acme.never.registered');
      expect([never.status, types(never)], route).toEqual([200, []]);
      for (const malformed of ['Not A Type', 'acme', 'acme..turned', 'acme.Crank']) {
        const refused = await byType(malformed);
        expect([refused.status, refused.body.error, refused.body.field], malformed).toEqual([400, 'invalid_request', 'event_type']);
      }
    }
  });
});

describe('log filters under the topics Herald raises events of', () => {
  it('a name or wildcard outside the catalog under message. or endpoint. is a 400 naming the field: no type could be logged under it', async () => {
    const ep = await endpoint('/herald-topics', ['asset.created']);
    const since = new Date(Date.now() - 60_000).toISOString();
    const routes = [`/api/v2/endpoints/${ep}/deliveries?event_type=`, '/api/v2/deliveries?event_type='];
    const recover = (pattern: string) => h.api('POST', `/api/v2/endpoints/${ep}/recover`, { since, event_types: ['asset.created', pattern], dry_run: true });
    for (const pattern of ['message.foo', 'endpoint.acme.done', 'message.foo.*', 'endpoint.acme.*', 'message.attempt.foo']) {
      for (const route of routes) {
        const refused = await h.api('GET', route + encodeURIComponent(pattern));
        expect([refused.status, refused.body.error, refused.body.field], `${route}${pattern}`).toEqual([400, 'invalid_request', 'event_type']);
        expect(refused.body.message).toContain(JSON.stringify(pattern));
      }
      const refused = await recover(pattern);
      expect([refused.status, refused.body.error, refused.body.field], pattern).toEqual([400, 'invalid_request', 'event_types']);
    }
    // The catalog's own names and wildcards there, and a custom type's elsewhere, are taken.
    for (const pattern of ['message.*', 'message.attempt.*', 'message.attempt.exhausted', 'endpoint.*', 'endpoint.disabled', 'inbox.request', 'acme.never.registered', 'acme.*']) {
      for (const route of routes) expect((await h.api('GET', route + encodeURIComponent(pattern))).status, `${route}${pattern}`).toBe(200);
      expect((await recover(pattern)).status, pattern).toBe(200);
    }
  });
});

describe('custom types are the account’s own', () => {
  it('another account neither sees, publishes nor subscribes to them', async () => {
    await register('acme.private.thing', null);
    const account = (await h.api('POST', '/api/v2/accounts', { name: 'Other' })).body;
    const keyRes = await fetch(`${h.url}/api/v2/api-keys`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY, 'x-herald-account': account.id, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'other admin', role: 'admin' }),
    });
    const other = ((await keyRes.json()) as { key: string }).key;
    expect((await h.api('GET', '/api/v2/event-types', undefined, other)).body.custom).toEqual([]);
    expect((await h.api('GET', '/api/v2/event-types/acme.private.thing', undefined, other)).status).toBe(404);
    expect((await h.api('POST', '/api/v2/events', { type: 'acme.private.thing' }, other)).body).toMatchObject({ error: 'unknown_event_type' });
    expect((await h.api('POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['acme.*'] }, other)).status).toBe(422);
    // Its own of the same name is its own.
    expect((await h.api('POST', '/api/v2/event-types', { name: 'acme.private.thing' }, other)).status).toBe(201);
  });
});
