// What an attempt log keeps of the exchange, on both stores alike:
// - text from the network (a response body, a token server's error) with a NUL character in it is
//   recorded with U+FFFD in its place: PostgreSQL cannot keep NUL in text, and its attempt row
//   used to be refused, leaving the delivery in flight, unrecorded, sent again at every lease
//   expiry;
// - the webhook-signature sent is masked: with the event's id, timestamp and payload, which a
//   viewer key can read, a signature seen in the log would be a validly signed copy to replay.
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { SecretBox } from '../../src/signing/secretbox.js';
import { eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const NUL = '\u0000';
const REPLACEMENT = '\uFFFD';
// One attempt, then failed; a lease of 1 s, so a delivery left in flight would go out again soon.
const ENV = { HERALD_RETRY_SCHEDULE: '0', HERALD_LEASE_MS: '1000' };

describe.each(['sqlite', 'postgres'] as const)('attempt log text (%s)', (dialect) => {
  let h: TestHerald;
  let schema: TestSchema | undefined;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    if (dialect === 'sqlite') {
      h = await startTestHerald(ENV);
      return;
    }
    const key = randomBytes(32);
    schema = await createTestSchema(new SecretBox(key));
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('schema', schema.name);
    h = await startTestHerald({ ...ENV, DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex') });
  });
  afterEach(async () => {
    while (receivers.length) await receivers.pop()!.close();
  });
  afterAll(async () => {
    await h?.close();
    await schema?.drop();
  });

  async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  }

  /** Each test publishes a type of its own, so no endpoint of another test gets its events. */
  async function endpoint(type: string, body: Record<string, unknown>): Promise<string> {
    const ep = await h.api('POST', '/api/v2/endpoints', { event_types: [type], ...body });
    expect(ep.status).toBe(201);
    return ep.body.id as string;
  }

  /** The endpoint's only delivery once it has left the queue (succeeded or failed). */
  async function settled(endpointId: string): Promise<any> {
    return eventually(async () => {
      const res = await h.api('GET', `/api/v2/endpoints/${endpointId}/deliveries`);
      const d = res.body.data[0];
      return d && (d.status === 'succeeded' || d.status === 'failed') ? d : undefined;
    }, 8_000);
  }

  /** Request headers of every attempt, as stored. */
  async function storedHeaders(): Promise<string[]> {
    if (schema) return (await schema.rawRows('attempts')).map((r) => r.request_headers as string);
    const db = new Database(path.join(h.dataDir, 'herald.db'), { readonly: true });
    try {
      return (db.prepare('SELECT request_headers FROM attempts').all() as { request_headers: string }[]).map((r) => r.request_headers);
    } finally {
      db.close();
    }
  }

  it('records an answer whose body holds a NUL once, with U+FFFD in its place, and settles the delivery (200 and 500)', async () => {
    const ok = await receiver((_req, _i, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok${NUL}fine`));
    const bad = await receiver((_req, _i, res) => void res.writeHead(500, { 'content-type': 'text/plain' }).end(`bad${NUL}gateway`));
    const okId = await endpoint('asset.created', { url: ok.url });
    const badId = await endpoint('asset.created', { url: bad.url });
    const pub = await h.api('POST', '/api/v2/events', { type: 'asset.created', data: {} });
    expect(pub.status).toBe(202);

    const succeeded = await settled(okId);
    expect(succeeded).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(succeeded.attempt_log).toHaveLength(1);
    expect(succeeded.attempt_log[0]).toMatchObject({ status_code: 200, error_kind: null, response_body: `ok${REPLACEMENT}fine` });

    const failed = await settled(badId);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, last_status_code: 500 });
    expect(failed.attempt_log).toHaveLength(1);
    expect(failed.attempt_log[0]).toMatchObject({ status_code: 500, error_kind: 'http_status', response_body: `bad${REPLACEMENT}gateway` });

    // Past the lease: neither went out again.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(ok.received).toHaveLength(1);
    expect(bad.received).toHaveLength(1);
  });

  it("records a token server's error holding a NUL with U+FFFD in its place", async () => {
    const token = await receiver((_req, _i, res) => void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `invalid${NUL}client` })));
    const target = await receiver();
    const id = await endpoint('asset.deleted', {
      url: target.url,
      auth: { type: 'oauth2_client_credentials', token_url: `${token.url}/token`, client_id: 'c', client_secret: 's3cret' },
    });
    await h.api('POST', '/api/v2/events', { type: 'asset.deleted', data: {} });
    const failed = await settled(id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
    expect(failed.attempt_log).toHaveLength(1);
    expect(failed.attempt_log[0].error_kind).toBe('oauth');
    expect(failed.attempt_log[0].error_message).toContain(`invalid${REPLACEMENT}client`);
    expect(target.received).toHaveLength(0);
  });

  // The sum of its phases' bounds (settled 8 s, first request 10 s, second 10 s, both logged 10 s).
  const MASKED_SIGNATURE_MS = 40_000;

  it('shows and stores the webhook-signature masked, both signatures during a rotation', async () => {
    const r = await receiver();
    // A Media Pocket hmac header signs the body alone: a copy of it would verify forever.
    const id = await endpoint('asset.restored', { url: r.url, headers: [{ name: 'X-Signature', value: 'hmac-key-abcdefghijklmnop', type: 'hmac' }] });
    await h.api('POST', '/api/v2/events', { type: 'asset.restored', data: {} });
    const first = await settled(id);
    const [sent] = await r.waitFor(1);
    const signature = String(sent.headers['webhook-signature']);
    expect(signature).toMatch(/^v1,\S{40,}$/);
    const shown = first.attempt_log[0].request_headers['webhook-signature'] as string;
    // Which scheme signed, and a hint to tell signatures apart: nothing to send again.
    expect(shown).toMatch(/^v1,[A-Za-z0-9+/=]{0,4}…$/);
    expect(shown).not.toContain(signature.slice(3, 11));
    const hmac = String(sent.headers['x-signature']);
    expect(hmac).toMatch(/^[0-9a-f]{64}$/);
    expect(first.attempt_log[0].request_headers['x-signature']).toMatch(/^[0-9a-f]{0,4}…$/);

    expect((await h.api('POST', `/api/v2/endpoints/${id}/secret/rotate`)).status).toBe(200);
    await h.api('POST', '/api/v2/events', { type: 'asset.restored', data: {} });
    await r.waitFor(2);
    const rotated = String(r.received[1]!.headers['webhook-signature']);
    const parts = rotated.split(' ');
    expect(parts).toHaveLength(2);
    const log = await eventually(async () => {
      const res = await h.api('GET', `/api/v2/endpoints/${id}/deliveries?status=succeeded`);
      return res.body.data.length === 2 ? res.body.data : undefined;
    });
    const shownRotated = log.map((d: any) => d.attempt_log[0].request_headers['webhook-signature'] as string).find((s: string) => s.includes(' '));
    expect(shownRotated).toMatch(/^v1,[A-Za-z0-9+/=]{0,4}… v1,[A-Za-z0-9+/=]{0,4}…$/);

    const stored = (await storedHeaders()).join('\n');
    for (const part of [signature, ...parts]) expect(stored).not.toContain(part.slice(3, 11));
    expect(stored).not.toContain(hmac.slice(0, 8));
  }, MASKED_SIGNATURE_MS);
});
