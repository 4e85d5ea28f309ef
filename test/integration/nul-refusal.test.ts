// A NUL character (U+0000) in any request value is refused with a 400 naming the field, on both
// stores alike: PostgreSQL cannot keep it in text, and one such event id used to fail the whole
// group commit, so the other publishes sharing it answered 503 too.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { SecretBox } from '../../src/signing/secretbox.js';
import { startTestHerald, type TestHerald } from '../helpers.js';

const NUL = '\u0000';

describe.each(['sqlite', 'postgres'] as const)('NUL characters (%s)', (dialect) => {
  let h: TestHerald;
  let schema: TestSchema | undefined;

  beforeAll(async () => {
    if (dialect === 'sqlite') {
      h = await startTestHerald({}, { worker: false });
      return;
    }
    const key = randomBytes(32);
    schema = await createTestSchema(new SecretBox(key));
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('schema', schema.name);
    h = await startTestHerald({ DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex') }, { worker: false });
  });
  afterAll(async () => {
    await h?.close();
    await schema?.drop();
  });

  it('refuses one in a body, a path or a query with 400 naming where it is', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/v2/events', { id: `x${NUL}`, type: 'asset.created' }, 'id'],
      ['POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: `a${NUL}` } }, 'resource.id'],
      ['POST', '/api/v2/events', { type: 'asset.created', data: { tags: ['ok', `b${NUL}d`] } }, 'data.tags[1]'],
      ['POST', '/api/v2/events', { type: 'asset.created', data: { [`k${NUL}`]: 1 } }, `data.k${NUL}`],
      ['POST', '/api/v2/events/batch', { events: [{ type: 'asset.created' }, { type: 'asset.created', project_id: `p${NUL}` }] }, 'events[1].project_id'],
      ['POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/x', description: `d${NUL}` }, 'description'],
      ['GET', '/api/v2/endpoints/a%00b', undefined, 'id'],
      ['GET', '/api/v2/events/a%00b', undefined, 'id'],
      ['GET', '/api/v2/deliveries?event_id=a%00', undefined, 'event_id'],
    ];
    for (const [method, route, body, field] of cases) {
      const res = await h.api(method, route, body);
      expect([res.status, res.body.error, res.body.field], `${method} ${route} ${JSON.stringify(body)}`).toEqual([400, 'invalid_request', field]);
    }
  });

  it('accepts the six characters \\u0000 written as text (an escaped backslash)', async () => {
    const res = await h.api('POST', '/api/v2/events', { type: 'asset.created', data: { path: 'C:\\u0000\\file' } });
    expect(res.status).toBe(202);
  });

  it('publishes sent beside refused ones are all accepted', async () => {
    const sent = await Promise.all(
      Array.from({ length: 60 }, (_, i) => h.api('POST', '/api/v2/events', i % 3 === 0 ? { id: `bad-${i}${NUL}`, type: 'asset.created' } : { id: `good-${i}`, type: 'asset.created' })),
    );
    expect(sent.filter((r, i) => i % 3 !== 0 && r.status === 202)).toHaveLength(40);
    expect(sent.filter((r, i) => i % 3 === 0 && r.status === 400)).toHaveLength(20);
  });
});
