// /openapi.json covers every profile, account, project and API key route, from the same
// schemas that validate the requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../helpers.js';

let h: TestHerald;
let doc: { info: { description: string }; paths: Record<string, Record<string, { tags?: string[]; description?: string; summary?: string; requestBody?: { content: Record<string, { schema: unknown }> }; responses?: Record<string, unknown> }>> };

beforeAll(async () => {
  h = await startTestHerald({}, { worker: false });
  const res = await fetch(`${h.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as typeof doc;
});
afterAll(() => h.close());

const ROUTES: readonly [method: string, path: string, tag: string, body: boolean][] = [
  ['post', '/api/v2/accounts', 'accounts', true],
  ['get', '/api/v2/accounts', 'accounts', false],
  ['get', '/api/v2/accounts/{id}', 'accounts', false],
  ['patch', '/api/v2/accounts/{id}', 'accounts', true],
  ['post', '/api/v2/projects', 'projects', true],
  ['get', '/api/v2/projects', 'projects', false],
  ['get', '/api/v2/projects/{id}', 'projects', false],
  ['post', '/api/v2/api-keys', 'api-keys', true],
  ['get', '/api/v2/api-keys', 'api-keys', false],
  ['get', '/api/v2/api-keys/current', 'api-keys', false],
  ['delete', '/api/v2/api-keys/{id}', 'api-keys', false],
  ['post', '/webhooks/endpoint', 'tenovos', true],
  ['get', '/webhooks/endpoint', 'tenovos', false],
  ['get', '/webhooks/endpoint/{id}', 'tenovos', false],
  ['patch', '/webhooks/endpoint/{id}', 'tenovos', true],
  ['delete', '/webhooks/endpoint/{id}', 'tenovos', false],
  ['put', '/webhooks/endpoint/oauth/{endpointId}', 'tenovos', true],
  ['delete', '/webhooks/endpoint/oauth/{endpointId}', 'tenovos', false],
  ['get', '/webhooks/endpoint/{id}/secret', 'tenovos', false],
  ['post', '/webhooks/endpoint/{id}/secret/rotate', 'tenovos', false],
  ['post', '/webhooks/endpoint/{id}/recover', 'tenovos', true],
  ['post', '/api/v2/admin/webhooks', 'mediapocket', true],
  ['get', '/api/v2/admin/webhooks', 'mediapocket', false],
  ['get', '/api/v2/admin/webhooks/{id}', 'mediapocket', false],
  ['put', '/api/v2/admin/webhooks/{id}', 'mediapocket', true],
  ['patch', '/api/v2/admin/webhooks/{id}', 'mediapocket', true],
  ['delete', '/api/v2/admin/webhooks/{id}', 'mediapocket', false],
  ['get', '/api/v2/admin/webhooks/{id}/success', 'mediapocket', false],
  ['get', '/api/v2/admin/webhooks/{id}/failed', 'mediapocket', false],
  ['post', '/cmp/v3/webhooks', 'cmp', true],
  ['get', '/cmp/v3/webhooks', 'cmp', false],
  ['get', '/cmp/v3/webhooks/{id}', 'cmp', false],
  ['patch', '/cmp/v3/webhooks/{id}', 'cmp', true],
  ['delete', '/cmp/v3/webhooks/{id}', 'cmp', false],
];

describe('/openapi.json', () => {
  it.each(ROUTES)('documents %s %s under its tag', (method, path, tag, body) => {
    const op = doc.paths[path]?.[method];
    expect(op, `${method} ${path}`).toBeDefined();
    expect(op.tags).toEqual([tag]);
    expect(Object.keys(op.responses ?? {}).length).toBeGreaterThan(0);
    if (body) expect(op.requestBody?.content['application/json'].schema).toBeDefined();
  });

  it('documents the Media Pocket params and the 123 trigger events of seed 003', () => {
    const schema = doc.paths['/api/v2/admin/webhooks'].post.requestBody!.content['application/json'].schema as {
      required: string[];
      properties: { trigger_events: { items: { enum: string[] } } };
    };
    expect(schema.required).toEqual(['name', 'http_url', 'http_method', 'trigger_events']);
    expect(schema.properties.trigger_events.items.enum).toHaveLength(123);
  });

  it('describes every operation of the native API', () => {
    const undescribed = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v2/') && !path.startsWith('/api/v2/admin/'))
      .flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => !(op.description ?? op.summary)?.trim()).map(([method]) => `${method} ${path}`));
    expect(undescribed).toEqual([]);
  });

  it('documents X-Herald-Account in the description', () => {
    expect(doc.info.description).toContain('X-Herald-Account');
  });
});
