// An OAuth2 bearer token is issued for a resource server: after an endpoint's URL moves to another
// origin, the token fetched for the old one must not go to the new one. The API and the worker are
// separate Heralds on one PostgreSQL schema, as in scale-out: the worker hears of the change only
// through its endpoint cache, not from the API's process.
import { randomBytes } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../src/store/conformance/pg-harness.js';
import { SecretBox } from '../../src/signing/secretbox.js';
import { eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

let schema: TestSchema;
let api: TestHerald;
let worker: TestHerald;
let oauth: OAuth2Server;
const receivers: Receiver[] = [];

beforeAll(async () => {
  const key = randomBytes(32);
  schema = await createTestSchema(new SecretBox(key));
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema.name);
  const env = { DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex'), HERALD_RETRY_SCHEDULE: '0' };
  api = await startTestHerald(env, { worker: false });
  worker = await startTestHerald(env, { worker: true });
  oauth = new OAuth2Server();
  await oauth.issuer.keys.generate('RS256');
  await oauth.start(0, '127.0.0.1');
});
afterAll(async () => {
  while (receivers.length) await receivers.pop()!.close();
  await oauth?.stop();
  await api?.close();
  await worker?.close();
  await schema?.drop();
});

/** The number the token server gave the token a request carried (1 for its first token). */
function tokenNumber(authorization: string | undefined): number {
  const [scheme, jwt] = (authorization ?? '').split(' ');
  expect(scheme).toBe('Bearer');
  return JSON.parse(Buffer.from(jwt!.split('.')[1]!, 'base64url').toString()).n as number;
}

describe('OAuth2 token and a moved endpoint', () => {
  it('fetches a new token for the new origin instead of sending the old server\'s to it', async () => {
    let issued = 0;
    oauth.service.on('beforeTokenSigning', (token) => {
      token.payload.n = ++issued;
    });
    const first = await startReceiver();
    const second = await startReceiver();
    receivers.push(first, second);
    const auth = { type: 'oauth2_client_credentials', token_url: `${oauth.issuer.url}/token`, client_id: 'c', client_secret: 'oauth-secret-1' };
    const ep = await api.api('POST', '/api/v2/endpoints', { url: `${first.url}/in`, event_types: ['asset.created'], auth });
    expect(ep.status, JSON.stringify(ep.body)).toBe(201);

    await api.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [atFirst] = await first.waitFor(1);
    expect(tokenNumber(atFirst!.headers.authorization)).toBe(1);

    // Same origin, another path: the token is for the same server and is kept.
    expect((await api.api('PATCH', `/api/v2/endpoints/${ep.body.id}`, { url: `${first.url}/other` })).status).toBe(200);
    await eventually(async () => {
      await api.api('POST', '/api/v2/events', { type: 'asset.created' });
      return first.received.some((r) => r.url === '/other') ? true : undefined;
    }, 10_000, 300);
    expect(new Set(first.received.map((r) => tokenNumber(r.headers.authorization)))).toEqual(new Set([1]));
    expect(issued).toBe(1);

    // Another port of 127.0.0.1: another origin. Events are published until the worker's cache
    // has the new URL (within its TTL), so some may still reach the first receiver.
    expect((await api.api('PATCH', `/api/v2/endpoints/${ep.body.id}`, { url: `${second.url}/in` })).status).toBe(200);
    await eventually(async () => {
      await api.api('POST', '/api/v2/events', { type: 'asset.created' });
      return second.received.length > 0 ? true : undefined;
    }, 10_000, 300);
    expect(second.received.map((r) => tokenNumber(r.headers.authorization))).not.toContain(1);
    expect(issued).toBe(2);
  });
});
