// The admin UI's edit form over endpoints with credentials (OAuth with extra params, basic), through
// its real HTTP (form posts with the session cookie) and in a real browser (Debian chromium),
// against a real Herald, a mock OAuth server and a receiver.
import { OAuth2Server } from 'oauth2-mock-server';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startReceiver, startTestHerald, uiSession, type Receiver, type TestHerald } from '../helpers.js';
import { launchBrowser, signIn } from './browser.js';

let herald: TestHerald;
let receiver: Receiver;
let oauth: OAuth2Server;
let browser: Browser;
let tokenUrl: string;
let cookie: string;
const tokenRequests: Record<string, string>[] = [];

beforeAll(async () => {
  oauth = new OAuth2Server();
  await oauth.issuer.keys.generate('RS256');
  await oauth.start(0, '127.0.0.1');
  oauth.service.on('beforeTokenSigning', (_token, req) => void tokenRequests.push({ ...(req.body as Record<string, string>) }));
  tokenUrl = `${oauth.issuer.url}/token`;
  [herald, receiver, browser] = await Promise.all([startTestHerald({ HERALD_RETRY_SCHEDULE: '0' }), startReceiver(), launchBrowser()]);
  cookie = await uiSession(herald.url);
});

afterAll(async () => {
  await browser?.close();
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

describe('admin UI edit form: stored settings filled in, secrets kept when left empty', () => {
  it('shows an OAuth endpoint\'s token URL, client ID, scope and client authentication, never its secrets; saved with the secret left empty, the stored one is used', async () => {
    const path = '/ui-oauth-prefill';
    const created = await herald.api('POST', '/api/v2/endpoints', {
      url: `${receiver.url}${path}`,
      event_types: ['asset.deleted'],
      auth: { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c-prefill', client_secret: 'prefill-secret-0007', scope: 'webhooks', extra_params: { client_assertion: ASSERTION } },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const { context, page, problems } = await signIn(browser, herald.url);
    await page.goto(`${herald.url}/endpoints/${id}/edit`);
    const html = await page.content();
    expect(html).not.toContain('prefill-secret-0007');
    expect(html).not.toContain(ASSERTION.slice(0, 12));
    await page.check('input[name=auth_type][value=oauth2_client_credentials]');
    await expect(page.locator('#oauth_token_url').inputValue()).resolves.toBe(tokenUrl);
    await expect(page.locator('#oauth_client_id').inputValue()).resolves.toBe('c-prefill');
    await expect(page.locator('#oauth_scope').inputValue()).resolves.toBe('webhooks');
    await expect(page.locator('#oauth_token_auth').inputValue()).resolves.toBe('client_secret_post');
    await expect(page.locator('#oauth_client_secret').inputValue()).resolves.toBe('');
    await expect(page.locator('#oauth-extra-params').textContent()).resolves.toContain('client_assertion');

    // Change the scope only: token URL and secret are not typed again.
    await page.fill('#oauth_scope', 'webhooks assets');
    await Promise.all([page.waitForURL(`${herald.url}/endpoints/${id}?saved=1`), page.click('form.endpoint-form button[type=submit]')]);
    const stored = (await herald.api('GET', `/api/v2/endpoints/${id}`)).body;
    expect(stored.auth).toEqual({ type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c-prefill', client_secret: '****', scope: 'webhooks assets', extra_params: { client_assertion: 'long…' }, token_endpoint_auth_method: 'client_secret_post' });

    expect((await herald.api('POST', '/api/v2/events', { type: 'asset.deleted', resource: { type: 'asset', id: 'prefill-1' } })).status).toBe(202);
    const delivered = await eventually(() => receiver.received.find((r) => r.url === path));
    expect(delivered.headers.authorization).toMatch(/^Bearer ey/);
    expect(tokenRequests.filter((r) => r.client_id === 'c-prefill')).toEqual([
      { grant_type: 'client_credentials', client_id: 'c-prefill', client_secret: 'prefill-secret-0007', scope: 'webhooks assets', client_assertion: ASSERTION },
    ]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('asks for the client secret with another token URL, and again after a form shown with an error, without showing the one typed', async () => {
    const id = await oauthEndpoint('/ui-oauth-secret-again');
    const moved = await saveOAuth(id, '/ui-oauth-secret-again', { oauth_token_url: tokenUrl.replace('/token', '/other-token'), oauth_client_secret: '' });
    expect(moved.status).toBe(422);
    expect(await moved.text()).toContain('(field <code>oauth_client_secret</code>)');

    const refused = await saveOAuth(id, '/ui-oauth-secret-again', { oauth_client_secret: 'typed-secret-0008', timeout_ms: '1' });
    expect(refused.status).toBe(422);
    const html = await refused.text();
    expect(html).not.toContain('typed-secret-0008');
    expect(html).toContain('<input type="hidden" name="oauth_client_secret_cleared" value="1">');
    const owed = await saveOAuth(id, '/ui-oauth-secret-again', { oauth_client_secret: '', oauth_client_secret_cleared: '1' });
    expect(owed.status).toBe(422);
    expect(await owed.text()).toContain('Enter the OAuth 2.0 client secret again');
  });

  it('shows a basic endpoint\'s user name, never its password; saved with the password left empty, the stored one is sent', async () => {
    const path = '/ui-basic-prefill';
    const created = await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}${path}`, event_types: ['asset.restored'], auth: { type: 'basic', username: 'dam-user', password: 'basic-pw-0009' } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const { context, page, problems } = await signIn(browser, herald.url);
    await page.goto(`${herald.url}/endpoints/${id}/edit`);
    expect(await page.content()).not.toContain('basic-pw-0009');
    await page.check('input[name=auth_type][value=basic]');
    await expect(page.locator('#basic_username').inputValue()).resolves.toBe('dam-user');
    await expect(page.locator('#basic_password').inputValue()).resolves.toBe('');
    await page.fill('#description', 'basic kept');
    await Promise.all([page.waitForURL(`${herald.url}/endpoints/${id}?saved=1`), page.click('form.endpoint-form button[type=submit]')]);
    expect((await herald.api('GET', `/api/v2/endpoints/${id}`)).body).toMatchObject({ description: 'basic kept', auth: { type: 'basic', username: 'dam-user', password: '****' } });

    expect((await herald.api('POST', '/api/v2/events', { type: 'asset.restored', resource: { type: 'asset', id: 'prefill-2' } })).status).toBe(202);
    const delivered = await eventually(() => receiver.received.find((r) => r.url === path));
    expect(delivered.headers.authorization).toBe(`Basic ${Buffer.from('dam-user:basic-pw-0009').toString('base64')}`);
    expect(problems).toEqual([]);
    await context.close();
  });
});
