// Every main page of the admin UI at desktop and phone width, with data in it: a screenshot of
// each under test-results/, and checks a person would make: nothing wider than the screen, no
// console errors, every control labelled, the keyboard reaches the content first.
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';
import { launchBrowser, openPage, signIn } from './browser.js';

const SHOTS = 'test-results';
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

let herald: TestHerald;
let receiver: Receiver;
let browser: Browser;
const ids: Record<string, string> = {};

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [herald, receiver, browser] = await Promise.all([startTestHerald({ HERALD_RETRY_SCHEDULE: '0' }), startReceiver((r, _i, res) => void res.writeHead(r.url.includes('down') ? 503 : 200).end('ok')), launchBrowser()]);
  // Data on every page: a healthy and a failing endpoint with deliveries, an inbox with a capture.
  const healthy = await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/hooks/layout-with-a-rather-long-path/that-should/wrap/nicely`, event_types: ['asset.*'], description: 'Brand portal sync' });
  const down = await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/hooks/down`, event_types: ['asset.created'], description: 'Archive (down)' });
  ids.endpoint = healthy.body.id;
  ids.down = down.body.id;
  for (let i = 0; i < 5; i++) await herald.api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: `layout-${i}` } });
  // An account's own type, with a schema: on the catalog, its page, and in the picker.
  const schema = { type: 'object', properties: { size: { type: 'integer', description: 'Width of the widget in millimetres, measured at the widest point' } }, required: ['size'] };
  expect((await herald.api('POST', '/api/v2/event-types', { name: 'acme.widget.built', description: 'A widget left the assembly line', schema })).status).toBe(201);
  const inbox = await herald.api('POST', '/api/v2/inboxes', { name: 'Layout inbox' });
  ids.inbox = inbox.body.id;
  await fetch(inbox.body.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(300) }) });
  await eventually(async () => {
    const failed = (await herald.api('GET', `/api/v2/endpoints/${ids.down}/deliveries?status=failed`)).body.data.length;
    const ok = (await herald.api('GET', `/api/v2/endpoints/${ids.endpoint}/deliveries?status=succeeded`)).body.data.length;
    return failed === 5 && ok === 5 ? true : undefined;
  });
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await herald?.close();
});

const pages = (): [string, string][] => [
  ['endpoints', '/endpoints'],
  ['endpoint', `/endpoints/${ids.endpoint}`],
  ['endpoint-new', '/endpoints/new'],
  ['endpoint-edit', `/endpoints/${ids.endpoint}/edit`],
  ['logs', '/logs'],
  ['catalog', '/catalog'],
  ['event-type', '/catalog/types/asset.created'],
  ['custom-event-type', '/catalog/types/acme.widget.built'],
  ['activity', '/activity'],
  ['inboxes', '/inboxes'],
  ['inbox', `/inboxes/${ids.inbox}`],
];

/** Controls a person cannot name: no label, no aria-label. */
function unlabelled(): string[] {
  return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
    .filter((el) => {
      const id = el.getAttribute('id');
      return !el.getAttribute('aria-label') && !el.closest('label') && !(id && document.querySelector(`label[for="${CSS.escape(id)}"]`));
    })
    .map((el) => el.outerHTML.slice(0, 120));
}

describe.each(Object.entries(VIEWPORTS))('admin UI layout at %s width', (name, viewport) => {
  // The sum of its phases' bounds (sign-in 10 s, each of the 11 pages' network idle 10 s).
  const EVERY_PAGE_MS = 130_000;

  it('every main page fits the screen, names its controls and logs no error', async () => {
    const { context, page, problems } = await signIn(browser, herald.url, viewport);
    for (const [slug, path] of pages()) {
      await page.goto(`${herald.url}${path}`);
      await page.waitForLoadState('networkidle').catch(() => undefined);
      await page.screenshot({ path: `${SHOTS}/ui-${slug}-${name}.png`, fullPage: true });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${path} is ${overflow}px wider than the ${viewport.width}px screen`).toBeLessThanOrEqual(0);
      expect(await page.evaluate(unlabelled), path).toEqual([]);
      await expect(page.locator('h1').count(), path).resolves.toBe(1);
    }
    expect(problems).toEqual([]);
    await context.close();
  }, EVERY_PAGE_MS);
});

describe('admin UI keyboard and empty states', () => {
  it('the first Tab reaches the skip link, which moves focus to the content', async () => {
    const { context, page } = await signIn(browser, herald.url);
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(page.url()).toMatch(/#content$/);
    await context.close();
  });

  it('signs in and creates an endpoint with the keyboard alone', async () => {
    const { context, page } = await openPage(browser);
    await page.goto(`${herald.url}/`);
    await page.locator('#key').focus();
    await page.keyboard.type(ADMIN_KEY);
    await Promise.all([page.waitForURL(`${herald.url}/endpoints`), page.keyboard.press('Enter')]);
    await page.goto(`${herald.url}/endpoints/new`);
    await page.locator('#url').focus();
    await page.keyboard.type(`${receiver.url}/hooks/keyboard`);
    await page.locator('input[name=event_types][value="*"]').focus();
    await page.keyboard.press('Space');
    await page.locator('form.endpoint-form button[type=submit]').focus();
    await page.keyboard.press('Enter');
    await page.locator('h1', { hasText: 'Endpoint created' }).waitFor();
    await context.close();
  });

  it('a new account sees clear empty states', async () => {
    const account = await herald.api('POST', '/api/v2/accounts', { name: 'Empty account' });
    const res = await fetch(`${herald.url}/api/v2/api-keys`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY, 'x-herald-account': account.body.id, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ui', role: 'admin' }),
    });
    expect(res.status).toBe(201);
    const key = { body: (await res.json()) as { key: string } };
    const { context, page, problems } = await openPage(browser);
    await page.goto(`${herald.url}/`);
    await page.fill('#key', key.body.key);
    await Promise.all([page.waitForURL(`${herald.url}/endpoints`), page.click('button[type=submit].primary')]);
    await expect(page.locator('.empty h2').textContent()).resolves.toBe('No endpoints yet');
    await page.goto(`${herald.url}/logs`);
    await expect(page.locator('#deliveries .empty').textContent()).resolves.toContain('No deliveries match');
    await page.goto(`${herald.url}/inboxes`);
    await expect(page.locator('.empty').first().textContent()).resolves.toContain('No inboxes yet');
    await page.goto(`${herald.url}/activity`);
    await expect(page.locator('#charts').textContent()).resolves.toContain('No attempts in this period yet');
    await page.screenshot({ path: `${SHOTS}/ui-empty-activity-desktop.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });
});
