// Deliveries of a custom event type stay after the type is deleted: the delivery log's wildcards
// and a recover's event_types still select them, on SQLite and on PostgreSQL.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { SecretBox } from '../../src/signing/secretbox.js';
import { eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

type Api = TestHerald['api'];

/** Env of a Herald on a PostgreSQL schema of its own. */
async function postgresEnv(): Promise<{ env: Record<string, string>; schema: TestSchema }> {
  const key = randomBytes(32);
  const schema = await createTestSchema(new SecretBox(key));
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema.name);
  return { env: { DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex') }, schema };
}

/**
 * An endpoint that received one acme.crank.turned and failed it, then was moved to another type,
 * and the custom type deleted: what the log and recover are asked about below.
 */
async function deletedTypeDelivered(api: Api, receiver: Receiver): Promise<string> {
  expect((await api('POST', '/api/v2/event-types', { name: 'acme.crank.turned', schema: null })).status).toBe(201);
  const ep = await api('POST', '/api/v2/endpoints', { url: `${receiver.url}/down`, event_types: ['acme.crank.turned'] });
  expect(ep.status, JSON.stringify(ep.body)).toBe(201);
  const id = ep.body.id as string;
  expect((await api('POST', '/api/v2/events', { type: 'acme.crank.turned' })).status).toBe(202);
  await eventually(async () => ((await api('GET', `/api/v2/endpoints/${id}/deliveries?status=failed`)).body.data.length === 1 ? true : undefined));
  expect((await api('PATCH', `/api/v2/endpoints/${id}`, { event_types: ['asset.created'] })).status).toBe(200);
  expect((await api('DELETE', '/api/v2/event-types/acme.crank.turned')).status).toBe(204);
  return id;
}

describe.each(['sqlite', 'postgres'] as const)('a deleted custom type in filters (%s)', (driver) => {
  let h: TestHerald;
  let receiver: Receiver;
  let schema: TestSchema | undefined;
  let ep: string;

  beforeAll(async () => {
    const pg = driver === 'postgres' ? await postgresEnv() : undefined;
    schema = pg?.schema;
    receiver = await startReceiver((_req, _i, res) => void res.writeHead(500).end());
    h = await startTestHerald({ HERALD_RETRY_SCHEDULE: '0', ...pg?.env });
    ep = await deletedTypeDelivered(h.api, receiver);
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
    await schema?.drop();
  });

  it('the delivery log finds it by a wildcard over its prefix, on both log routes; a malformed wildcard is a 400 naming event_type', async () => {
    const types = (res: { body: { data: { event_type: string }[] } }) => res.body.data.map((d) => d.event_type);
    for (const route of [`/api/v2/endpoints/${ep}/deliveries?`, `/api/v2/deliveries?endpoint_id=${ep}&`]) {
      const byType = (pattern: string) => h.api('GET', `${route}event_type=${encodeURIComponent(pattern)}`);
      for (const pattern of ['acme.*', 'acme.crank.*']) {
        const found = await byType(pattern);
        expect([found.status, types(found)], `${route} ${pattern}`).toEqual([200, ['acme.crank.turned']]);
      }
      const none = await byType('acme.lever.*');
      expect([none.status, types(none)], route).toEqual([200, []]);
      for (const malformed of ['Acme.*', 'acme..*', 'acme.*.turned', 'acme*']) {
        const refused = await byType(malformed);
        expect([refused.status, refused.body.error, refused.body.field], malformed).toEqual([400, 'invalid_request', 'event_type']);
      }
    }
  });

  it('a recover and its dry run select it by name and by wildcard; a malformed name is a 400 naming event_types', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const recover = (body: Record<string, unknown>) => h.api('POST', `/api/v2/endpoints/${ep}/recover`, { since, ...body });
    for (const eventTypes of [['acme.crank.turned'], ['acme.*'], ['asset.created', 'acme.crank.*']]) {
      const dry = await recover({ event_types: eventTypes, dry_run: true });
      expect([dry.status, dry.body.would_requeue], eventTypes.join()).toEqual([200, 1]);
    }
    expect((await recover({ event_types: ['acme.lever.*', 'asset.created'], dry_run: true })).body.would_requeue).toBe(0);
    for (const malformed of ['Acme', 'acme', 'acme..*']) {
      const refused = await recover({ event_types: ['asset.created', malformed], dry_run: true });
      expect([refused.status, refused.body.field], malformed).toEqual([400, 'event_types']);
      expect(refused.body.message, malformed).toContain(JSON.stringify(malformed));
    }

    const done = await recover({ event_types: ['acme.*'] });
    expect(done.status).toBe(202);
    expect(done.body).toMatchObject({ status: 'done', total: 1, requeued: 1, event_types: ['acme.*'] });
  });
});
