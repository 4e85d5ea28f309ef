// The admin UI in a real browser (Debian chromium driven by playwright-core) against a real
// Herald and a real receiver on 127.0.0.1. One browser for the whole file; one context per test.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let herald: TestHerald;
let receiver: Receiver;
let browser: Browser;

beforeAll(async () => {
  [herald, receiver, browser] = await Promise.all([
    startTestHerald(),
    startReceiver(),
    chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await herald?.close();
});

/** A signed-in page; `problems` collects console errors and warnings (CSP violations among them). */
async function signedIn(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => void ((m.type() === 'error' || m.type() === 'warning') && problems.push(m.text())));
  page.on('pageerror', (e) => void problems.push(String(e)));
  await page.goto(`${herald.url}/`);
  await page.fill('#key', ADMIN_KEY);
  await Promise.all([page.waitForURL(`${herald.url}/endpoints`), page.click('button[type=submit].primary')]);
  return { context, page, problems };
}

/** The session cookie of a signed-in context, as a Cookie header. */
async function cookieHeader(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === 'herald_key');
  expect(cookie).toBeDefined();
  return `herald_key=${cookie!.value}`;
}

async function createEndpointViaApi(body: Record<string, unknown>): Promise<{ id: string }> {
  const res = await herald.api('POST', '/api/v2/endpoints', body);
  expect(res.status).toBe(201);
  return res.body as { id: string };
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
    expect((await context.cookies()).find((c) => c.name === 'herald_key')).toBeUndefined();

    await page.fill('#key', ADMIN_KEY);
    await Promise.all([page.waitForURL(`${herald.url}/endpoints`), page.click('button[type=submit].primary')]);
    const cookie = (await context.cookies()).find((c) => c.name === 'herald_key');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    await expect(page.evaluate(() => document.cookie)).resolves.toBe('');

    // Signing out clears it: the pages send the browser back to the login form.
    await Promise.all([page.waitForURL(`${herald.url}/`), page.click('form.logout button')]);
    expect((await context.cookies()).find((c) => c.name === 'herald_key')).toBeUndefined();
    await page.goto(`${herald.url}/endpoints`);
    expect(page.url()).toBe(`${herald.url}/`);
    await context.close();
  });

  it('creates an endpoint through the form, delivers an event to it, shows the attempt and retries it', async () => {
    const { context, page, problems } = await signedIn();
    const hookUrl = `${receiver.url}/hooks/ui`;

    // Create through the form: URL, description and one event type from the catalog.
    await page.fill('#url', hookUrl);
    await page.fill('#description', 'UI test receiver');
    await page.click('details.topic:has(input[value="asset.created"]) > summary');
    await page.check('input[name=event_types][value="asset.created"]');
    await page.click('#create button[type=submit]');
    await expect(page.locator('#new-secret').textContent()).resolves.toMatch(/^whsec_/);
    await expect(page.locator('h1').textContent()).resolves.toBe('Endpoint created');

    // Listed, enabled.
    await page.goto(`${herald.url}/endpoints`);
    const row = page.locator('tr.endpoint-row', { hasText: hookUrl });
    await expect(row.count()).resolves.toBe(1);
    await expect(row.locator('.badge').textContent()).resolves.toBe('Enabled');
    const endpointId = (await row.getAttribute('data-id'))!;
    const listed = await herald.api('GET', `/api/v2/endpoints/${endpointId}`);
    expect(listed.body).toMatchObject({ url: hookUrl, event_types: ['asset.created'], description: 'UI test receiver' });

    // Publish through the API; the receiver gets it.
    const published = await herald.api('POST', '/api/v2/events', { id: 'ui-evt-1', type: 'asset.created', resource: { type: 'asset', id: 'a-ui-1' } });
    expect(published.status).toBe(202);
    await receiver.waitFor(1);
    const deliveredOnce = () => receiver.received.filter((r) => r.url === '/hooks/ui').length;
    await eventually(async () => {
      const res = await herald.api('GET', `/api/v2/endpoints/${endpointId}/deliveries?status=succeeded`);
      return res.body.data.length === 1 ? true : undefined;
    });

    // The logs page shows the delivery, and expanding it shows the attempt.
    await row.locator('a', { hasText: 'Logs' }).click();
    await page.waitForURL(`${herald.url}/endpoints/${endpointId}/logs`);
    const delivery = page.locator('article.delivery');
    await expect(delivery.count()).resolves.toBe(1);
    await expect(delivery.getAttribute('data-status')).resolves.toBe('succeeded');
    await delivery.locator('details.attempts > summary').click();
    const attempt = delivery.locator('section.attempt').first();
    await expect(attempt.isVisible()).resolves.toBe(true);
    await expect(attempt.locator('h3 .badge').textContent()).resolves.toBe('HTTP 200');
    await expect(attempt.locator('table.headers').textContent()).resolves.toContain('webhook-signature');
    await expect(attempt.locator('pre.body').textContent()).resolves.toBe('ok');

    // The status filter narrows the list (htmx swaps it in place).
    await page.selectOption('#status', 'failed');
    await page.locator('#deliveries', { hasText: 'No deliveries with status failed' }).waitFor();
    await page.waitForURL(/status=failed/);
    await page.selectOption('#status', '');
    await page.locator('article.delivery').waitFor();
    await expect(page.locator('article.delivery').count()).resolves.toBe(1);

    // Retry: htmx swaps the delivery in place, the receiver gets the message again.
    await page.locator('article.delivery form.retry button').click();
    await page.locator('article.delivery .notice.success').waitFor();
    expect(deliveredOnce()).toBeGreaterThanOrEqual(1);
    await eventually(() => (deliveredOnce() >= 2 ? true : undefined));
    const again = receiver.received.filter((r) => r.url === '/hooks/ui');
    expect(again[1]!.headers['webhook-id']).toBe(again[0]!.headers['webhook-id']);
    await eventually(async () => {
      const res = await herald.api('GET', `/api/v2/endpoints/${endpointId}/deliveries`);
      return res.body.data[0].status === 'succeeded' && res.body.data[0].attempts === 2 ? true : undefined;
    });
    await page.reload();
    await expect(page.locator('article.delivery details.attempts > summary').textContent()).resolves.toBe('Attempts (2)');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('rotates the secret once, disables and enables the endpoint, and recovers failed deliveries on its detail page', async () => {
    const { id } = await createEndpointViaApi({ url: `${receiver.url}/hooks/detail`, event_types: ['asset.*'], description: 'detail page' });
    const { context, page, problems } = await signedIn();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${herald.url}/endpoints/${id}`);
    await expect(page.locator('dl.settings').textContent()).resolves.toContain('asset.*');

    await page.click('#secret-panel + form button');
    const secret = await page.locator('#secret-panel #new-secret').textContent();
    expect(secret).toMatch(/^whsec_/);
    const settings = await page.locator('dl.settings').textContent();
    expect(settings).not.toContain(secret!);

    await page.click('#endpoint-status button');
    await page.locator('#endpoint-status .badge', { hasText: 'Disabled' }).waitFor();
    expect((await herald.api('GET', `/api/v2/endpoints/${id}`)).body.disabled).toBe(true);
    await page.click('#endpoint-status button');
    await page.locator('#endpoint-status .badge', { hasText: 'Enabled' }).waitFor();
    expect((await herald.api('GET', `/api/v2/endpoints/${id}`)).body.disabled).toBe(false);

    await page.fill('#since', '2020-01-01T00:00:00');
    await page.click('#recover-result + form button');
    await expect(page.locator('#recover-result .notice').textContent()).resolves.toContain('0 failed deliveries since 2020-01-01 00:00:00 UTC re-queued');
    expect(problems).toEqual([]);
    await context.close();
  });

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
    expect(page).toMatch(/<p class="notice error">[^<]*url[^<]*<\/p>/);
    expect(page).toContain('value="kept &lt;b&gt;"');

    // The same request from this origin goes through.
    const ok = await fetch(`${herald.url}/endpoints`, { method: 'POST', headers: { ...form, origin: herald.url }, body, redirect: 'manual' });
    expect(ok.status).toBe(201);
    expect((await herald.api('GET', '/api/v2/endpoints')).body.data.length).toBe(before + 1);
    await context.close();
  });

  it('lists the event catalog with each profile name, and charts the activity', async () => {
    const { context, page, problems } = await signedIn();
    await page.click('nav a:has-text("Event catalog")');
    await page.waitForURL(`${herald.url}/catalog`);
    const created = page.locator('#topic-asset tr', { hasText: 'asset.created' }).first();
    await expect(created.textContent()).resolves.toContain('ASSET_ADDED');
    await expect(created.textContent()).resolves.toContain('asset_added');

    await page.click('nav a:has-text("Activity")');
    await page.waitForURL(`${herald.url}/activity`);
    await expect(page.locator('svg.chart rect.bar').count()).resolves.toBe(3);
    const stats = (await herald.api('GET', '/api/v2/stats')).body.deliveries;
    await expect(page.locator('dd[data-stat=succeeded]').textContent()).resolves.toBe(String(stats.succeeded));
    // htmx polls the chart: a new delivery shows up without a reload.
    await herald.api('POST', '/api/v2/events', { id: 'ui-evt-activity', type: 'asset.created', resource: { type: 'asset', id: 'a-ui-2' } });
    await page.waitForFunction((before) => Number(document.querySelector('dd[data-stat=succeeded]')?.textContent) > before, stats.succeeded, { timeout: 15_000 });
    expect(problems).toEqual([]);
    await context.close();
  });
});
