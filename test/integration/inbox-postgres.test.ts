// Connect inboxes on PostgreSQL with several API processes: a capture made by one process reaches
// the live streams held by another (LISTEN/NOTIFY), and relays are dispatched by whichever
// process runs the worker.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { SecretBox } from '../../src/signing/secretbox.js';
import { DEFAULT_ACCOUNT_ID } from '../../src/app/bootstrap.js';
import { idFloor } from '../../src/domain/ids.js';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { ADMIN_KEY, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { openStream } from './inbox-support.js';

let schema: TestSchema;
let a: TestHerald;
let b: TestHerald;
/** Another process's store on the same schema: what it captures is announced with NOTIFY. */
let other: PostgresStore;
let target: Receiver;

beforeAll(async () => {
  const key = randomBytes(32);
  schema = await createTestSchema(new SecretBox(key));
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema.name);
  const env = { DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex'), HERALD_RETRY_SCHEDULE: '0,0.2' };
  // A runs API and worker; B only the API.
  a = await startTestHerald(env);
  b = await startTestHerald(env, { worker: false });
  other = schema.open(new SecretBox(key));
  target = await startReceiver();
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await other?.close();
  await target?.close();
  await schema?.drop();
});

describe('inboxes across PostgreSQL processes', () => {
  it("streams a capture made by another process, once, and relays it through that one's dispatcher", async () => {
    const created = await a.api('POST', '/api/v2/inboxes', { name: 'shared', forward_url: `${target.url}/fwd` });
    expect(created.status).toBe(201);
    const token = created.body.url.split('/in/')[1];
    const stream = await openStream(`${a.url}/api/v2/inboxes/${created.body.id}/stream`, ADMIN_KEY);

    // Captured by B (no worker): streamed by A, relayed by A's dispatcher.
    expect((await capture(b, token, 'via B')).status).toBe(200);
    await stream.next(1);
    // Captured by A itself: published locally and announced; still one event.
    expect((await capture(a, token, 'via A')).status).toBe(200);

    const events = await stream.next(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stream.events.map((e) => JSON.parse(e.data).body)).toEqual(['via B', 'via A']);
    stream.close();

    const relayed = await target.waitFor(2);
    expect(relayed.map((r) => r.body).sort()).toEqual(['via A', 'via B']);
    expect(events.every((e) => JSON.parse(e.data).relay_message_id?.startsWith('msg_'))).toBe(true);

    // Either process shows the same inbox URL path and requests.
    const fromB = await b.api('GET', `/api/v2/inboxes/${created.body.id}/requests`);
    expect(fromB.body.data.map((r: { body: string }) => r.body)).toEqual(['via A', 'via B']);
  });

  it('streams a capture from another process even when its id sorts before one already streamed', async () => {
    const created = await a.api('POST', '/api/v2/inboxes', { name: 'skewed' });
    const token = created.body.url.split('/in/')[1];
    const stream = await openStream(`${a.url}/api/v2/inboxes/${created.body.id}/stream`, ADMIN_KEY);

    expect((await capture(a, token, 'now')).status).toBe(200);
    await stream.next(1);
    // NOTIFY can bring another process's capture after a newer local one (clocks differ, or its
    // commit was slower); an id from a minute ago makes that certain.
    const receivedAt = Date.now() - 60_000;
    const request = {
      id: `${idFloor('inr', receivedAt)}0000000000000000`,
      inboxId: created.body.id,
      accountId: DEFAULT_ACCOUNT_ID,
      method: 'POST',
      path: '/',
      query: '',
      headers: { 'content-type': 'text/plain' },
      body: Buffer.from('a minute ago'),
      bodySize: 12,
      truncated: false,
      sourceIp: '127.0.0.1',
      receivedAt,
      signature: null,
      relayMessageId: null,
    };
    expect((await other.captureInboxRequest(request, undefined, receivedAt)).stored).toBe(true);

    await stream.next(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const streamed = stream.events.map((e) => JSON.parse(e.data));
    expect(streamed.map((r) => r.body)).toEqual(['now', 'a minute ago']);
    expect(streamed[1].id < streamed[0].id).toBe(true);
    stream.close();
  });
});

function capture(h: TestHerald, token: string, body: string): Promise<Response> {
  return fetch(`${h.url}/in/${token}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
}
