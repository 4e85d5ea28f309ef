// The admin UI's edit form over an OAuth endpoint with extra params, through its real HTTP (form
// posts with the session cookie) against a real Herald, a mock OAuth server and a receiver.
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTestHerald, uiSession, type Receiver, type TestHerald } from '../helpers.js';

let herald: TestHerald;
let receiver: Receiver;
let oauth: OAuth2Server;
let tokenUrl: string;
let cookie: string;
const tokenRequests: Record<string, string>[] = [];

beforeAll(async () => {
  oauth = new OAuth2Server();
  await oauth.issuer.keys.generate('RS256');
  await oauth.start(0, '127.0.0.1');
  oauth.service.on('beforeTokenSigning', (_token, req) => void tokenRequests.push({ ...(req.body as Record<string, string>) }));
  tokenUrl = `${oauth.issuer.url}/token`;
  [herald, receiver] = await Promise.all([startTestHerald({ HERALD_RETRY_SCHEDULE: '0' }), startReceiver()]);
  cookie = await uiSession(herald.url);
});

afterAll(async () => {
  await herald?.close();
  await receiver?.close();
  await oauth?.stop();
});

const ASSERTION = 'long-secret-value-of-a-client-assertion-0123456789';

async function oauthEndpoint(path: string): Promise<string> {
  const res = await herald.api('POST', '/api/v2/endpoints', {
    url: `${receiver.url}${path}`,
    event_types: ['asset.created'],
    auth: { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: 'first-secret', extra_params: { client_assertion: ASSERTION, audience: 'dam' } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** Posts the edit form of endpoint `id` with new OAuth settings, as the browser sends it. */
function saveOAuth(id: string, path: string, fields: Record<string, string>): Promise<Response> {
  const form = new URLSearchParams({
    url: `${receiver.url}${path}`,
    description: 'edited in the UI',
    method: 'POST',
    event_types: 'asset.created',
    auth_type: 'oauth2_client_credentials',
    oauth_token_url: tokenUrl,
    oauth_client_id: 'c',
    oauth_client_secret: 'second-secret',
    oauth_scope: '',
    rate_limit_per_second: '',
    timeout_ms: '30000',
    ordering: 'none',
    ...fields,
  });
  return fetch(`${herald.url}/endpoints/${id}/edit`, {
    method: 'POST',
    headers: { cookie, origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    redirect: 'manual',
  });
}

describe('admin UI edit form: OAuth extra params', () => {
  it('keeps the extra params when new OAuth settings are saved, and delivery sends them with the new client secret', async () => {
    const id = await oauthEndpoint('/ui-oauth');
    const page = await fetch(`${herald.url}/endpoints/${id}/edit`, { headers: { cookie } });
    const html = await page.text();
    expect(html).toMatch(/id="oauth-extra-params">Extra token request params \(client_assertion, audience\) are kept/);
    expect(html).not.toContain(ASSERTION.slice(0, 12));

    const saved = await saveOAuth(id, '/ui-oauth', {});
    expect([saved.status, saved.headers.get('location')]).toEqual([303, `/endpoints/${id}?saved=1`]);
    const stored = (await herald.api('GET', `/api/v2/endpoints/${id}`)).body;
    expect(stored).toMatchObject({ description: 'edited in the UI', auth: { type: 'oauth2_client_credentials', token_url: tokenUrl, extra_params: { client_assertion: 'long…', audience: '****' } } });

    tokenRequests.length = 0;
    expect((await herald.api('POST', '/api/v2/events', { type: 'asset.created' })).status).toBe(202);
    const [delivered] = await receiver.waitFor(1);
    expect(delivered.headers.authorization).toMatch(/^Bearer ey/);
    expect(tokenRequests).toEqual([{ grant_type: 'client_credentials', client_id: 'c', client_secret: 'second-secret', client_assertion: ASSERTION, audience: 'dam' }]);
  });

  it('saves HTTP Basic as the client authentication at the token URL, and offers it selected when the form is shown again', async () => {
    const id = await oauthEndpoint('/ui-oauth-basic');
    const saved = await saveOAuth(id, '/ui-oauth-basic', { oauth_token_auth: 'client_secret_basic' });
    expect(saved.status).toBe(303);
    expect((await herald.api('GET', `/api/v2/endpoints/${id}`)).body.auth).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic', extra_params: { client_assertion: 'long…' } });
    const html = await (await fetch(`${herald.url}/endpoints/${id}/edit`, { headers: { cookie } })).text();
    expect(html).toMatch(/<option value="client_secret_basic" selected>/);
    expect(html).not.toMatch(/<option value="client_secret_post" selected>/);
  });

  it('refuses another token URL, which the extra params are not kept for, naming the field and changing nothing', async () => {
    const id = await oauthEndpoint('/ui-oauth-other');
    const before = (await herald.api('GET', `/api/v2/endpoints/${id}`)).body;
    const refused = await saveOAuth(id, '/ui-oauth-other', { oauth_token_url: tokenUrl.replace('/token', '/other-token') });
    expect(refused.status).toBe(422);
    const html = await refused.text();
    expect(html).toContain('extra params (client_assertion, audience) are kept only for its token URL');
    expect(html).toContain('(field <code>oauth_token_url</code>)');
    expect((await herald.api('GET', `/api/v2/endpoints/${id}`)).body).toEqual(before);
  });
});
