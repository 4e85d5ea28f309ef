// The admin UI in a real browser (Debian chromium driven by playwright-core) against a real
// Herald and a real receiver on 127.0.0.1: every flow a DAM administrator goes through.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, uiSession, type Receiver, type TestHerald } from '../helpers.js';
import { cookieHeader, launchBrowser, openPage, signIn } from './browser.js';

let herald: TestHerald;
let receiver: Receiver;
let browser: Browser;
/** Paths the receiver answers 500 to, until removed. */
const failing = new Set<string>();

beforeAll(async () => {
  [herald, receiver, browser] = await Promise.all([
    startTestHerald({ HERALD_RETRY_SCHEDULE: '0,0.05' }),
    startReceiver((r, _i, res) => {
      if (r.url === '/hooks/retry-later') return void res.writeHead(503, { 'retry-after': '3600' }).end('come back in an hour');
      return void (failing.has(r.url) ? res.writeHead(500).end('receiver down') : res.writeHead(200).end('ok'));
    }),
    launchBrowser(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await herald?.close();
});

const signedIn = () => signIn(browser, herald.url);

async function createEndpointViaApi(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await herald.api('POST', '/api/v2/endpoints', body);
  expect(res.status).toBe(201);
  return res.body as { id: string; secret: string };
}

const arrivals = (path: string) => receiver.received.filter((r) => r.url === path);

async function publish(type: string, resourceId: string): Promise<string> {
  const res = await herald.api('POST', '/api/v2/events', { type, resource: { type: 'asset', id: resourceId } });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

async function deliveriesOf(endpointId: string): Promise<{ id: string; status: string; attempts: number }[]> {
  return (await herald.api('GET', `/api/v2/endpoints/${endpointId}/deliveries`)).body.data;
}

/** Waits for an htmx swap to settle after an action. */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelectorAll('.htmx-request').length === 0);
}

describe('admin UI', () => {
  it('sends a visitor without the session cookie from /endpoints to the login page', async () => {
    const res = await fetch(`${herald.url}/endpoints`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${herald.url}/endpoints`);
    expect(page.url()).toBe(`${herald.url}/`);
    await expect(page.locator('#key').isVisible()).resolves.toBe(true);
    await context.close();
  });

  it('refuses a wrong key and keeps the accepted one in an HttpOnly, SameSite=Strict cookie', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${herald.url}/`);
    await page.fill('#key', 'not-a-valid-key-at-all');
    await page.click('button[type=submit].primary');
    await expect(page.locator('.notice.error').textContent()).resolves.toContain('not accepted');
    expect((await context.cookies()).find((c) => c.name === 'herald_session')).toBeUndefined();

    await page.fill('#key', ADMIN_KEY);
    await Promise.all([page.waitForURL(`${herald.url}/endpoints`), page.click('button[type=submit].primary')]);
    const cookie = (await context.cookies()).find((c) => c.name === 'herald_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie!.value).not.toContain(ADMIN_KEY);
    await expect(page.evaluate(() => document.cookie)).resolves.toBe('');

    // Signing out clears it: the pages send the browser back to the login form.
    await Promise.all([page.waitForURL(`${herald.url}/`), page.click('form.logout button')]);
    expect((await context.cookies()).find((c) => c.name === 'herald_session')).toBeUndefined();
    await page.goto(`${herald.url}/endpoints`);
    expect(page.url()).toBe(`${herald.url}/`);
    await context.close();
  });

  it('creates an endpoint through the form: searched event types, basic auth, a secret header, rate limit and ordering', async () => {
    const { context, page, problems } = await signedIn();
    const path = '/hooks/form';
    await page.click('a.button:has-text("New endpoint")');
    await page.waitForURL(`${herald.url}/endpoints/new`);

    // Only the chosen authentication's fields show (the script hides the others).
    await expect(page.locator('[data-auth="basic"]').isVisible()).resolves.toBe(false);
    await page.fill('#url', `${receiver.url}${path}`);
    await page.fill('#description', 'UI form receiver');
    // The search narrows the picker to matching types and opens their topic.
    await page.fill('#event-search', 'asset.approv');
    await expect(page.locator('label.check[data-name^="asset.approved"]').isVisible()).resolves.toBe(true);
    await expect(page.locator('label.check[data-name^="asset.created"]').isVisible()).resolves.toBe(false);
    await page.check('input[name=event_types][value="asset.approved"]');
    await page.fill('#event-search', 'asset.created');
    await page.check('input[name=event_types][value="asset.created"]');
    await expect(page.locator('[data-picker-count]').textContent()).resolves.toBe('2 selected');
    await page.check('input[name=auth_type][value=basic]');
    await expect(page.locator('[data-auth="basic"]').isVisible()).resolves.toBe(true);
    await page.fill('#basic_username', 'dam');
    await page.fill('#basic_password', 'pw-in-the-form-0001');
    await page.fill('#header_name_0', 'X-Tenant-Token');
    await page.fill('#header_value_0', 'header-secret-0002');
    await page.selectOption('#header_type_0', 'hidden');
    await page.fill('#rate_limit_per_second', '50');
    await page.selectOption('#ordering', 'per_resource');
    await page.click('form.endpoint-form button[type=submit]');
    await expect(page.locator('h1').textContent()).resolves.toBe('Endpoint created');
    const secret = (await page.locator('#new-secret').textContent())!;
    expect(secret).toMatch(/^whsec_/);

    // Reloading the result sends the form again: it leads to the endpoint, and creates no other.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.reload();
    await expect(page.locator('.notice').first().textContent()).resolves.toContain('sending it again created nothing');
    const list = (await herald.api('GET', '/api/v2/endpoints?limit=250')).body.data as { id: string; url: string }[];
    expect(list.filter((e) => e.url.endsWith(path))).toHaveLength(1);
    const id = list.find((e) => e.url.endsWith(path))!.id;
    expect(page.url()).toBe(`${herald.url}/endpoints/${id}?created=1`);
    const stored = (await herald.api('GET', `/api/v2/endpoints/${id}`)).body;
    expect([...stored.event_types].sort()).toEqual(['asset.approved', 'asset.created']);
    expect(stored).toMatchObject({ rate_limit_per_second: 50, ordering: 'per_resource', auth: { type: 'basic', username: 'dam' } });
    expect(stored.headers).toEqual([{ name: 'X-Tenant-Token', value: expect.not.stringContaining('header-secret'), type: 'hidden' }]);

    // A delivery carries the credentials; the UI never shows them.
    await publish('asset.created', 'a-form-1');
    const [got] = await receiver.waitFor(arrivals(path).length + 1).then(() => arrivals(path));
    expect(got!.headers.authorization).toBe(`Basic ${Buffer.from('dam:pw-in-the-form-0001').toString('base64')}`);
    expect(got!.headers['x-tenant-token']).toBe('header-secret-0002');
    const cookie = await cookieHeader(context);
    for (const route of [`/endpoints/${id}`, `/endpoints/${id}/edit`, `/logs?endpoint_id=${id}`]) {
      const html = await (await fetch(`${herald.url}${route}`, { headers: { cookie } })).text();
      expect(html, route).not.toContain('pw-in-the-form-0001');
      expect(html, route).not.toContain('header-secret-0002');
    }
    expect(problems).toEqual([]);
    await context.close();
  });

  it('refuses a bad form with a message naming the field and keeps what was typed', async () => {
    const { context, page, problems } = await signedIn();
    await page.goto(`${herald.url}/endpoints/new`);
    await page.fill('#url', `${receiver.url}/hooks/bad`);
    await page.fill('#description', 'kept');
    await page.click('form.endpoint-form button[type=submit]');
    await expect(page.locator('#form-error').textContent()).resolves.toContain('event_types');
    await expect(page.locator('#description').inputValue()).resolves.toBe('kept');

    await page.check('input[name=event_types][value="*"]');
    await page.fill('#rate_limit_per_second', '0');
    await page.click('form.endpoint-form button[type=submit]');
    await expect(page.locator('#form-error').textContent()).resolves.toContain('rate_limit_per_second');
    await expect(page.locator('#rate_limit_per_second').getAttribute('aria-invalid')).resolves.toBe('true');

    await page.fill('#rate_limit_per_second', '');
    await page.fill('#url', 'ftp://example.com/x');
    await page.click('form.endpoint-form button[type=submit]');
    await expect(page.locator('#form-error').textContent()).resolves.toMatch(/url/);
    await expect(page.locator('input[name=event_types][value="*"]').isChecked()).resolves.toBe(true);
    expect(problems.filter((p) => !p.includes('status of 422'))).toEqual([]);
    await context.close();
  });

  it('edits an endpoint, keeping its credentials unless replaced', async () => {
    // Besides a catalog name: a Media Pocket name and a narrower wildcard, which the picker has no box for.
    const { id } = await createEndpointViaApi({
      url: `${receiver.url}/hooks/edit`,
      event_types: ['asset.created', 'ASSET_REMOVED', 'asset.comment.*'],
      auth: { type: 'basic', username: 'u', password: 'keep-me-0003' },
    });
    const { context, page, problems } = await signedIn();
    await page.goto(`${herald.url}/endpoints/${id}/edit`);
    await expect(page.locator('input[name=auth_type][value=keep]').isChecked()).resolves.toBe(true);
    await expect(page.locator('input[name=event_types][value="ASSET_REMOVED"]').isChecked()).resolves.toBe(true);
    await expect(page.locator('input[name=event_types][value="asset.comment.*"]').isChecked()).resolves.toBe(true);
    await page.fill('#description', 'edited in the UI');
    await page.fill('#timeout_ms', '5000');
    await page.check('input[name=event_types][value="asset.deleted"]');
    await Promise.all([page.waitForURL(`${herald.url}/endpoints/${id}?saved=1`), page.click('form.endpoint-form button[type=submit]')]);
    await expect(page.locator('.notice.success').textContent()).resolves.toBe('Changes saved.');
    const stored = (await herald.api('GET', `/api/v2/endpoints/${id}`)).body;
    expect(stored).toMatchObject({ description: 'edited in the UI', timeout_ms: 5000, auth: { type: 'basic', username: 'u' } });
    expect([...stored.event_types].sort()).toEqual(['ASSET_REMOVED', 'asset.comment.*', 'asset.created', 'asset.deleted']);

    await publish('asset.deleted', 'a-edit-1');
    await eventually(() => arrivals('/hooks/edit')[0]);
    expect(arrivals('/hooks/edit')[0]!.headers.authorization).toBe(`Basic ${Buffer.from('u:keep-me-0003').toString('base64')}`);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows a filter the API refused beside the filters, kept, with and without htmx', async () => {
    const cookie = await uiSession(herald.url);
    const get = (headers: Record<string, string> = {}) => fetch(`${herald.url}/logs?event_type=bogus`, { headers: { cookie, ...headers } });
    for (const res of [await get(), await get({ 'hx-request': 'true' })]) {
      expect(res.status).toBe(200);
      const html = await res.text();
      const list = html.slice(html.indexOf('<section id="deliveries"'));
      expect(list).toMatch(/<p class="notice error" role="alert">event_type has unknown event types: &quot;bogus&quot;<\/p>/);
      expect(html).toContain('value="bogus"');
    }
  });

  // The sum of its phases' bounds (sign-in 10 s, three deliveries settled 10 s each, two page loads 10 s each, three elements 10 s each).
  const LOGS_MS = 100_000;

  it('shows a delivery in Logs with its attempts, filters them, forces a failure and retries it', async () => {
    const path = '/hooks/logs';
    const { id } = await createEndpointViaApi({ url: `${receiver.url}${path}`, event_types: ['asset.*'], description: 'logs receiver' });
    const { context, page, problems } = await signedIn();
    await publish('asset.created', 'a-logs-1');
    await eventually(async () => ((await deliveriesOf(id))[0]?.status === 'succeeded' ? true : undefined));

    // Logs of this endpoint: the delivery and its attempt with masked headers and the response.
    await page.goto(`${herald.url}/endpoints`);
    await page.locator(`tr.endpoint-row[data-id="${id}"] td.actions a`).click();
    await page.waitForURL(`${herald.url}/logs?endpoint_id=${id}`);
    const delivery = page.locator('article.delivery');
    await expect(delivery.count()).resolves.toBe(1);
    await expect(delivery.getAttribute('data-status')).resolves.toBe('succeeded');
    await expect(delivery.locator('code.event-type').textContent()).resolves.toBe('asset.created');
    await delivery.locator('details.attempts > summary').click();
    const attempt = delivery.locator('section.attempt').first();
    await expect(attempt.locator('h3 .badge').textContent()).resolves.toBe('HTTP 200');
    await expect(attempt.locator('table.headers').textContent()).resolves.toContain('webhook-signature');
    await expect(attempt.locator('pre.body').textContent()).resolves.toBe('ok');

    // Force a failure: the receiver answers 500 until the retries run out.
    failing.add(path);
    await publish('asset.deleted', 'a-logs-2');
    await eventually(async () => ((await deliveriesOf(id)).some((d) => d.status === 'failed') ? true : undefined));
    await page.selectOption('#f-status', 'failed');
    await page.waitForURL(/status=failed/);
    await page.locator('article.delivery[data-status=failed]').waitFor();
    await expect(page.locator('article.delivery').count()).resolves.toBe(1);
    await expect(page.locator('article.delivery code.event-type').textContent()).resolves.toBe('asset.deleted');
    // Filtering by event type and time narrows further; an empty result says so.
    await page.fill('#f-type', 'asset.created');
    await page.locator('#f-type').press('Enter');
    await page.locator('#deliveries .empty', { hasText: 'No deliveries match' }).waitFor();
    await page.goto(`${herald.url}/logs?endpoint_id=${id}&status=failed&since=2000-01-01T00:00:00`);
    await expect(page.locator('article.delivery').count()).resolves.toBe(1);

    // Retry, with the receiver back: the delivery succeeds on the next attempt.
    failing.delete(path);
    await page.locator('article.delivery form.retry button').click();
    await page.locator('article.delivery .notice.success').waitFor();
    // The card that replaced the old one still links to its endpoint.
    await expect(page.locator(`article.delivery a.url[href="/endpoints/${id}"]`).count()).resolves.toBe(1);
    await eventually(async () => ((await deliveriesOf(id)).every((d) => d.status === 'succeeded') ? true : undefined));
    await page.goto(`${herald.url}/logs?endpoint_id=${id}&event_type=asset.deleted`);
    await expect(page.locator('article.delivery').getAttribute('data-status')).resolves.toBe('succeeded');
    await expect(page.locator('article.delivery details.attempts > summary').textContent()).resolves.toBe('Attempts (3)');
    expect(problems).toEqual([]);
    await context.close();
  }, LOGS_MS);

  // The sum of its phases' bounds (sign-in 10 s, failed 10 s, test event 10 s, rotation 10 s, two badges 10 s each, recovered 10 s, replayed 10 s, settled 10 s).
  const ENDPOINT_PAGE_MS = 100_000;

  it('endpoint page: health, test send, secret reveal and rotation, disable and enable, recover with a count first', async () => {
    const path = '/hooks/detail';
    const { id, secret } = await createEndpointViaApi({ url: `${receiver.url}${path}`, event_types: ['asset.created'], description: 'detail page' });
    const { context, page, problems } = await signedIn();
    page.on('dialog', (d) => void d.accept());
    // Two deliveries fail for good.
    failing.add(path);
    await publish('asset.created', 'a-detail-1');
    await publish('asset.created', 'a-detail-2');
    await eventually(async () => ((await deliveriesOf(id)).filter((d) => d.status === 'failed').length === 2 ? true : undefined));
    failing.delete(path);

    await page.goto(`${herald.url}/endpoints/${id}`);
    await expect(page.locator('#health [data-health=success]').textContent()).resolves.toBe('0.0 %');
    await expect(page.locator('#health [data-health=last]').textContent()).resolves.toMatch(/UTC$/);

    // Test send: one event to this endpoint only.
    const before = arrivals(path).length;
    await page.selectOption('#test-type', 'asset.metadata.updated');
    await page.click('button:has-text("Send test")');
    await expect(page.locator('#test-result .notice.success').textContent()).resolves.toMatch(/^Test event msg_\S+ queued/);
    const test = await eventually(() => arrivals(path)[before]);
    expect(JSON.parse(test.body).type).toBe('asset.metadata.updated');

    // Reveal shows the current secret; rotation shows a new one once.
    await page.click('button:has-text("Reveal secret")');
    await expect(page.locator('#revealed-secret').textContent()).resolves.toBe(secret);
    const hint = await page.locator('#secret-hint').textContent();
    await page.click('button:has-text("Rotate secret")');
    const rotated = await page.locator('#secret-panel #new-secret').textContent();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    // The page's hint and settings follow the rotation without a reload.
    const newHint = (await herald.api('GET', `/api/v2/endpoints/${id}`)).body.secret_hint as string;
    expect(newHint).not.toBe(hint);
    await expect(page.locator('#secret-hint').textContent()).resolves.toBe(newHint);
    await expect(page.locator('#settings dd', { hasText: newHint }).count()).resolves.toBe(1);
    // Rotating again from the same page is a new rotation: the form got a new id with the first.
    await page.click('button:has-text("Rotate secret")');
    await page.waitForFunction((first) => document.querySelector('#secret-panel #new-secret')?.textContent !== first, rotated);
    const again = await page.locator('#secret-panel #new-secret').textContent();
    expect((await herald.api('GET', `/api/v2/endpoints/${id}/secret`)).body.secret).toBe(again);

    await page.click('#endpoint-status button');
    await page.locator('#endpoint-status .badge', { hasText: 'Disabled' }).waitFor();
    expect((await herald.api('GET', `/api/v2/endpoints/${id}`)).body.disabled).toBe(true);
    await page.click('#endpoint-status button');
    await page.locator('#endpoint-status .badge', { hasText: 'Enabled' }).waitFor();

    // Recover: the count comes first; confirming re-queues exactly those.
    await page.fill('#since', '2020-01-01T00:00:00');
    await page.click('button:has-text("Count deliveries")');
    await expect(page.locator('#recover-result [data-recover-count]').getAttribute('data-recover-count')).resolves.toBe('2');
    expect((await deliveriesOf(id)).filter((d) => d.status === 'failed')).toHaveLength(2);
    await page.click('#recover-result button:has-text("Recover 2")');
    await expect(page.locator('#recover-result [data-recovered]').getAttribute('data-recovered')).resolves.toBe('2');
    await eventually(async () => ((await deliveriesOf(id)).every((d) => d.status === 'succeeded') ? true : undefined));

    // Replay: delivered ones too, of one type only (the test event), counted first again.
    const beforeReplay = arrivals(path).length;
    await page.fill('#recover-types', 'asset.metadata.updated');
    await page.check('#recover-replay');
    await page.click('button:has-text("Count deliveries")');
    await expect(page.locator('#recover-result [data-recover-count]').getAttribute('data-recover-count')).resolves.toBe('1');
    await expect(page.locator('#recover-result .notice p').textContent()).resolves.toContain('failed or delivered delivery from 2020-01-01 00:00:00 UTC until ');
    await page.click('#recover-result button:has-text("Recover 1")');
    await expect(page.locator('#recover-result [data-recovered]').getAttribute('data-recovered')).resolves.toBe('1');
    const replayed = await eventually(() => arrivals(path)[beforeReplay]);
    expect(JSON.parse(replayed.body).type).toBe('asset.metadata.updated');
    expect(replayed.headers['webhook-id']).toBe(test.headers['webhook-id']);
    await settled(page);
    expect(problems).toEqual([]);
    await context.close();
  }, ENDPOINT_PAGE_MS);

  it('rotates the secret once without JavaScript: a reload of the page showing it rotates nothing', async () => {
    const { id } = await createEndpointViaApi({ url: `${receiver.url}/hooks/no-script-rotate`, event_types: ['asset.created'] });
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${herald.url}/`);
    await page.fill('#key', ADMIN_KEY);
    await Promise.all([page.waitForURL(`${herald.url}/endpoints`), page.click('button[type=submit].primary')]);
    await page.goto(`${herald.url}/endpoints/${id}`);
    await Promise.all([page.waitForURL(`${herald.url}/endpoints/${id}/rotate`), page.click('button:has-text("Rotate secret")')]);
    const shown = await page.locator('#new-secret').textContent();
    expect((await herald.api('GET', `/api/v2/endpoints/${id}/secret`)).body.secret).toBe(shown);

    // The browser sends the form again on reload; Herald leads it to the endpoint page instead.
    await page.reload();
    expect(page.url()).toBe(`${herald.url}/endpoints/${id}?rotated=again`);
    await expect(page.locator('.notice', { hasText: 'sending it again rotated nothing' }).count()).resolves.toBe(1);
    expect((await herald.api('GET', `/api/v2/endpoints/${id}/secret`)).body.secret).toBe(shown);
    await context.close();
  });

  it("says in the alert area what the last action came to: a refusal until the next action, Herald unreachable until a request gets through", async () => {
    const { id } = await createEndpointViaApi({ url: `${receiver.url}/hooks/alerts`, event_types: ['asset.created'] });
    expect((await herald.api('PATCH', `/api/v2/endpoints/${id}`, { disabled: true })).status).toBe(200);
    const { context, page, problems } = await signedIn();
    await page.goto(`${herald.url}/endpoints/${id}`);
    await page.click('button:has-text("Send test")');
    await expect(page.locator('#flash .notice.error').textContent()).resolves.toContain('is disabled');
    // Enabling is the next action: the refusal of the one before goes.
    await page.click('#endpoint-status button');
    await page.locator('#endpoint-status .badge', { hasText: 'Enabled' }).waitFor();
    await expect(page.locator('#flash').innerHTML()).resolves.toBe('');

    // The connection drops: the action says so instead of nothing happening.
    await page.route('**/endpoints/*/test', (route) => route.abort('connectionrefused'));
    await page.click('button:has-text("Send test")');
    await expect(page.locator('#flash .notice.error').textContent()).resolves.toBe('Herald did not answer; check the connection and try again.');
    await page.unroute('**/endpoints/*/test');
    await page.click('button:has-text("Send test")');
    await page.locator('#test-result .notice.success').waitFor();
    await expect(page.locator('#flash').innerHTML()).resolves.toBe('');
    // The browser and htmx log the refusal and the failed send; nothing else goes wrong.
    expect(problems.filter((p) => !/status of 409|Error Code 409|ERR_CONNECTION_REFUSED|^htmx:(sendError|afterRequest),/.test(p))).toEqual([]);
    await context.close();
  });

  it('shows the catalog with each profile\'s name and example bodies', async () => {
    const { context, page, problems } = await signedIn();
    await page.click('nav a:has-text("Event catalog")');
    await page.waitForURL(`${herald.url}/catalog`);
    const created = page.locator('#topic-asset tr', { hasText: 'asset.created' }).first();
    await expect(created.textContent()).resolves.toContain('ASSET_ADDED');
    await expect(created.textContent()).resolves.toContain('asset_added');
    await created.locator('a.type-link').click();
    await page.waitForURL(`${herald.url}/catalog/types/asset.created`);
    const example = (profile: string) => page.locator(`pre[data-profile=${profile}]`).textContent();
    expect(JSON.parse((await example('standard'))!)).toMatchObject({ type: 'asset.created' });
    expect(JSON.parse((await example('mediapocket'))!)).toMatchObject({ event: 'ASSET_ADDED' });
    expect(JSON.parse((await example('cmp'))!)).toMatchObject({ event_name: 'asset_added' });
    expect(JSON.parse((await example('tenovos'))!)).toMatchObject({ eventType: 'asset.created' });
    expect(problems).toEqual([]);
    await context.close();
  });

  it("lists the account's own event types in the catalog and the picker, where ticking one subscribes to it", async () => {
    const schema = { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] };
    expect((await herald.api('POST', '/api/v2/event-types', { name: 'acme.part.shipped', description: 'A part left the warehouse', schema })).status).toBe(201);
    const { context, page, problems } = await signedIn();
    await page.click('nav a:has-text("Event catalog")');
    const row = page.locator('#custom-types tr[data-custom-type="acme.part.shipped"]');
    await expect(row.textContent()).resolves.toContain('A part left the warehouse');
    await row.locator('summary').click();
    expect(JSON.parse((await row.locator('pre').textContent())!)).toEqual(schema);

    await page.goto(`${herald.url}/endpoints/new`);
    await page.fill('#url', `${receiver.url}/hooks/custom-type`);
    await page.fill('#event-search', 'warehouse');
    await expect(page.locator('details[data-topic="custom"]').getAttribute('open')).resolves.toBe('');
    await page.check('input[name=event_types][value="acme.part.shipped"]');
    await page.click('form.endpoint-form button[type=submit]');
    await expect(page.locator('h1').textContent()).resolves.toBe('Endpoint created');
    const endpoints = (await herald.api('GET', '/api/v2/endpoints')).body.data as { url: string; event_types: string[] }[];
    expect(endpoints.find((e) => e.url.endsWith('/hooks/custom-type'))?.event_types).toEqual(['acme.part.shipped']);
    expect(problems).toEqual([]);
    await context.close();
  });

  // The sum of its phases' bounds (delivered 10 s, sign-in 10 s, page 10 s, live update 20 s, retrying 10 s, page and API agreeing 10 s).
  const ACTIVITY_MS = 80_000;

  it('charts deliveries per minute by outcome and latency, and updates without a reload', async () => {
    const { id } = await createEndpointViaApi({ url: `${receiver.url}/hooks/activity`, event_types: ['asset.created'] });
    await publish('asset.created', 'a-activity-1');
    await eventually(async () => ((await deliveriesOf(id))[0]?.status === 'succeeded' ? true : undefined));
    const { context, page, problems } = await signedIn();
    await page.click('nav a:has-text("Activity")');
    await page.waitForURL(`${herald.url}/activity`);
    const succeeded = async () => Number(await page.locator('[data-total=succeeded]').textContent());
    const activity = (await herald.api('GET', '/api/v2/stats/activity?hours=6')).body;
    const total = activity.data.reduce((n: number, p: { succeeded: number }) => n + p.succeeded, 0);
    expect(await succeeded()).toBe(total);
    await expect(page.locator('#deliveries-chart rect.bar-succeeded').count()).resolves.toBeGreaterThan(0);
    await expect(page.locator('#latency-chart path.line-avg').count()).resolves.toBe(1);
    await publish('asset.created', 'a-activity-2');
    await page.waitForFunction((n) => Number(document.querySelector('[data-total=succeeded]')?.textContent) > n, total, { timeout: 20_000 });

    // A delivery told to come back in an hour waits in the retry queue, not in the queue.
    const later = await createEndpointViaApi({ url: `${receiver.url}/hooks/retry-later`, event_types: ['storyboard.purged'] });
    expect((await herald.api('POST', '/api/v2/events', { type: 'storyboard.purged', resource: { type: 'storyboard', id: 'sb-activity' } })).status).toBe(202);
    await eventually(async () => ((await deliveriesOf(later.id))[0]?.attempts === 1 ? true : undefined));
    // Other deliveries may still be settling: compare once the page and the API agree.
    await eventually(async () => {
      await page.reload();
      const stats = (await herald.api('GET', '/api/v2/stats')).body.deliveries;
      const shown = [await page.locator('[data-stat=queue]').textContent(), await page.locator('[data-stat=retrying]').textContent()];
      return stats.retrying > 0 && shown[0] === String(stats.pending - stats.retrying) && shown[1] === String(stats.retrying) ? true : undefined;
    });
    expect(problems).toEqual([]);
    await context.close();
  }, ACTIVITY_MS);

  // The sum of its phases' bounds (sign-in 10 s, two page loads 10 s each, live 10 s, the request shown 10 s).
  const LIVE_INBOX_MS = 60_000;

  it('creates an inbox and shows a request the moment it arrives', async () => {
    const { context, page, problems } = await signedIn();
    await page.click('nav a:has-text("Inboxes")');
    await page.waitForURL(`${herald.url}/inboxes`);
    await page.fill('#inbox-name', 'UI inbox');
    await Promise.all([page.waitForURL(/\/inboxes\/[^/]+$/), page.click('#create button[type=submit]')]);
    await expect(page.locator('#no-requests').isVisible()).resolves.toBe(true);
    await page.locator('#live-state', { hasText: 'live' }).waitFor();
    const url = (await page.locator('#inbox-url').textContent())!;

    const sent = await fetch(url + '/from-the-dam?x=1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"hello":"inbox <b>"}' });
    expect(sent.status).toBeLessThan(300);
    const card = page.locator('article.inbox-request').first();
    await card.waitFor({ timeout: 10_000 });
    await expect(card.locator('code.path').textContent()).resolves.toMatch(/\/from-the-dam\?x=1$/);
    await card.locator('summary').click();
    await expect(card.locator('pre.body').textContent()).resolves.toBe('{"hello":"inbox <b>"}');
    await expect(page.locator('#no-requests').count()).resolves.toBe(0);
    // Still there after a reload, rendered by the server.
    await page.reload();
    await expect(page.locator('article.inbox-request code.path').first().textContent()).resolves.toMatch(/from-the-dam/);
    expect(problems).toEqual([]);
    await context.close();
  }, LIVE_INBOX_MS);

  it("keeps the signed-in user's key out of the captures when the browser opens an inbox URL", async () => {
    const { context, page } = await signedIn();
    const inbox = (await herald.api('POST', '/api/v2/inboxes', { name: 'opened in the browser' })).body as { id: string; url: string };
    await page.goto(`${inbox.url}/opened`);
    const captures = (await herald.api('GET', `/api/v2/inboxes/${inbox.id}/requests`)).body.data as { path: string; headers: Record<string, string> }[];
    expect(captures.map((c) => c.path)).toEqual(['/opened']);
    expect(captures[0].headers['user-agent']).toBeTruthy();
    expect(JSON.stringify(captures)).not.toContain('herald_session');
    expect(JSON.stringify(captures)).not.toContain(ADMIN_KEY);
    await context.close();
  });

  // The sum of its phases' bounds (sign-in page 10 s, live 10 s, signed out 20 s).
  const SIGNED_OUT_LIVE_MS = 50_000;

  it("ends an inbox's live view as signed out once its key is deleted, instead of reconnecting", async () => {
    const key = (await herald.api('POST', '/api/v2/api-keys', { name: 'deleted while watching', role: 'admin' })).body as { id: string; key: string };
    const inbox = (await herald.api('POST', '/api/v2/inboxes', { name: 'watched' })).body as { id: string };
    const { context, page } = await openPage(browser);
    await page.goto(`${herald.url}/`);
    await page.fill('#key', key.key);
    await Promise.all([page.waitForURL(`${herald.url}/endpoints`), page.click('button[type=submit].primary')]);
    await page.goto(`${herald.url}/inboxes/${inbox.id}`);
    await page.locator('#live-state', { hasText: 'live' }).waitFor();
    expect((await herald.api('DELETE', `/api/v2/api-keys/${key.id}`)).status).toBe(204);
    await page.locator('#live-state', { hasText: 'signed out' }).waitFor({ timeout: 20_000 });
    await context.close();
  }, SIGNED_OUT_LIVE_MS);

  // The sum of its phases' bounds (sign-in 10 s, forwarded 10 s, saved 10 s, deleted 10 s).
  const FORWARDING_INBOX_MS = 50_000;

  it('creates an inbox that forwards and verifies, shows the forward secret once, changes its settings and deletes it', async () => {
    const { context, page, problems } = await signedIn();
    await page.goto(`${herald.url}/inboxes`);
    const inboxCount = async () => (await herald.api('GET', '/api/v2/inboxes?limit=250')).body.data.length as number;
    const before = await inboxCount();
    const secret = `whsec_${Buffer.from('inbox signing secret 0123456789').toString('base64')}`;

    // A refused forward URL is named, and what was typed is kept.
    await page.fill('#inbox-name', 'Forwarding inbox');
    await page.fill('#inbox-forward', 'ftp://files.example');
    await page.click('#create button[type=submit]');
    await expect(page.locator('#inbox-error').textContent()).resolves.toContain('forward_url');
    await expect(page.inputValue('#inbox-name')).resolves.toBe('Forwarding inbox');
    expect(problems.splice(0)).toEqual([expect.stringContaining('status of 422')]);

    await page.fill('#inbox-forward', `${receiver.url}/hooks/forwarded`);
    await page.fill('#inbox-secret', secret);
    await page.click('#create button[type=submit]');
    const shown = (await page.locator('#forward-secret code.secret').textContent())!;
    expect(shown).toMatch(/^whsec_/);
    const id = (await page.locator('section#inbox-requests').getAttribute('data-stream'))!.split('/')[2]!;
    const inbox = (await herald.api('GET', `/api/v2/inboxes/${id}`)).body;
    expect(inbox).toMatchObject({ name: 'Forwarding inbox', forward_url: `${receiver.url}/hooks/forwarded`, signing_secret_hint: expect.any(String) });
    expect(await page.locator('a', { hasText: 'forwarding log' }).getAttribute('href')).toBe(`/logs?endpoint_id=${inbox.forward_endpoint_id}`);
    // Sending the form again (a reload of this page) creates nothing more, and the secret is not shown again.
    await page.reload();
    await expect(page.locator('#forward-secret').count()).resolves.toBe(0);
    expect(await inboxCount()).toBe(before + 1);

    // A capture is forwarded, signed with the secret shown.
    await fetch(`${inbox.url}/asset`, { method: 'POST', body: '{"forward":"me"}' });
    const forwarded = await eventually(() => arrivals('/hooks/forwarded')[0]);
    expect(forwarded.headers['webhook-signature']).toMatch(/^v1,/);
    expect(shown).toBe((await herald.api('GET', `/api/v2/endpoints/${inbox.forward_endpoint_id}/secret`)).body.secret);

    // Rename, stop forwarding and stop verifying.
    await page.fill('#inbox-name', 'Renamed inbox');
    await page.fill('#inbox-forward', '');
    await page.check('input[name=clear_signing_secret]');
    await Promise.all([page.waitForURL(/saved=1$/), page.click('#settings button[type=submit]')]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Renamed inbox');
    expect((await herald.api('GET', `/api/v2/inboxes/${id}`)).body).toMatchObject({ name: 'Renamed inbox', forward_url: null, forward_endpoint_id: null, signing_secret_hint: null });

    page.once('dialog', (d) => void d.accept());
    await Promise.all([page.waitForURL(`${herald.url}/inboxes`), page.click('button.danger:has-text("Delete inbox")')]);
    expect((await herald.api('GET', `/api/v2/inboxes/${id}`)).status).toBe(404);
    expect(problems).toEqual([]);
    await context.close();
  }, FORWARDING_INBOX_MS);

  it('shows values from the API escaped, never as markup', async () => {
    const { id } = await createEndpointViaApi({
      url: `${receiver.url}/hooks/escape`,
      event_types: ['asset.created'],
      description: '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">',
    });
    const { context, page } = await signedIn();
    const row = page.locator(`tr.endpoint-row[data-id="${id}"]`);
    await expect(row.locator('.description').textContent()).resolves.toBe('<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">');
    await expect(page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).resolves.toBeUndefined();
    await expect(page.locator('main script, main img').count()).resolves.toBe(0);

    const cookie = await cookieHeader(context);
    for (const path of ['/endpoints', `/endpoints/${id}`]) {
      const res = await fetch(`${herald.url}${path}`, { headers: { cookie } });
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('&lt;script&gt;window.__xss = 1&lt;/script&gt;');
      expect(html).not.toContain('<script>window.__xss');
      expect(html).not.toContain('<img src=x');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'; style-src 'self'; script-src 'self'");
    }
    await context.close();
  });

  it('offers a viewer or publisher key only what it may do: reading, with no form that would be refused', async () => {
    const { id } = await createEndpointViaApi({ url: `${receiver.url}/hooks/read-only`, event_types: ['asset.created'] });
    await publish('asset.created', 'read-only-1');
    await eventually(async () => ((await deliveriesOf(id))[0]?.status === 'succeeded' ? true : undefined));
    const html = async (key: string, path: string) => {
      const res = await fetch(`${herald.url}${path}`, { headers: { cookie: await uiSession(herald.url, key) }, redirect: 'manual' });
      return { status: res.status, body: await res.text() };
    };
    const actions = [/href="\/endpoints\/new"/, /\/edit"/, /\/toggle"/, /\/test"/, /\/rotate"/, /\/reveal"/, /\/recover"/, /\/delete"/, /\/retry"/, /action="\/inboxes"/];

    for (const role of ['viewer', 'publisher']) {
      const key = (await herald.api('POST', '/api/v2/api-keys', { name: `ui ${role}`, role })).body.key as string;
      for (const path of ['/endpoints', `/endpoints/${id}`, `/logs?endpoint_id=${id}`, '/inboxes']) {
        const page = await html(key, path);
        expect(page.status, path).toBe(200);
        expect(page.body).toContain(`Signed in with a ${role} key`);
        for (const action of actions) expect(page.body, `${role} ${path}`).not.toMatch(action);
      }
      expect((await html(key, `/logs?endpoint_id=${id}`)).body).toContain('class="card delivery"');
      const form = await html(key, '/endpoints/new');
      expect(form.status).toBe(403);
      expect(form.body).toContain(`needs a key with the admin role; yours is a ${role} key`);
    }

    // The admin key sees every action and no notice.
    const admin = await html(ADMIN_KEY, `/endpoints/${id}`);
    expect(admin.body).not.toContain('Signed in with a');
    for (const action of actions.slice(1, 8)) expect(admin.body).toMatch(action);
    expect((await html(ADMIN_KEY, `/logs?endpoint_id=${id}`)).body).toMatch(/\/retry"/);
  });

  it('refuses cross-site form posts even with the session cookie', async () => {
    const { context } = await signedIn();
    const cookie = await cookieHeader(context);
    const form = { 'content-type': 'application/x-www-form-urlencoded', cookie };
    const body = new URLSearchParams({ url: `${receiver.url}/hooks/csrf`, event_types: 'asset.created' }).toString();
    const before = (await herald.api('GET', '/api/v2/endpoints')).body.data.length;

    const crossSite: Record<string, string>[] = [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site', origin: herald.url }, { 'sec-fetch-site': 'same-site' }, {}];
    for (const headers of crossSite) {
      const res = await fetch(`${herald.url}/endpoints`, { method: 'POST', headers: { ...form, ...headers }, body, redirect: 'manual' });
      expect(res.status).toBe(403);
    }
    const logout = await fetch(`${herald.url}/logout`, { method: 'POST', headers: { cookie, origin: 'https://evil.example' }, redirect: 'manual' });
    expect(logout.status).toBe(403);
    expect((await herald.api('GET', '/api/v2/endpoints')).body.data.length).toBe(before);

    // From this origin the form is validated by the API, its message shown next to the form.
    const invalid = new URLSearchParams({ url: 'not a url', description: 'kept <b>', event_types: 'asset.created' }).toString();
    const refused = await fetch(`${herald.url}/endpoints`, { method: 'POST', headers: { ...form, origin: herald.url }, body: invalid, redirect: 'manual' });
    expect(refused.status).toBe(422);
    const page = await refused.text();
    expect(page).toMatch(/<p class="notice error" id="form-error" role="alert">[^<]*url[^<]*</);
    expect(page).toContain('value="kept &lt;b&gt;"');

    // The same request from this origin goes through.
    const ok = await fetch(`${herald.url}/endpoints`, { method: 'POST', headers: { ...form, origin: herald.url }, body, redirect: 'manual' });
    expect(ok.status).toBe(201);
    expect((await herald.api('GET', '/api/v2/endpoints')).body.data.length).toBe(before + 1);
    await context.close();
  });
});
