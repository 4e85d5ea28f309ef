// A link to an admin UI page followed from another site (a mail, a chat, the DAM), in a real
// browser: it opens that page for someone signed in, and leads there after signing in otherwise.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestHerald, type TestHerald } from '../helpers.js';
import { launchBrowser, openPage, signIn } from './browser.js';

let herald: TestHerald;
let browser: Browser;
/** Another site: `localhost` is not the same site as Herald's `127.0.0.1`. */
let elsewhere: Server;
let elsewhereUrl: string;

beforeAll(async () => {
  [herald, browser] = await Promise.all([startTestHerald(), launchBrowser()]);
  elsewhere = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end(`<a id="link" href="${herald.url}/logs?status=failed">failed deliveries</a>`));
  await new Promise<void>((resolve) => elsewhere.listen(0, 'localhost', resolve));
  elsewhereUrl = `http://localhost:${(elsewhere.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  elsewhere?.close();
  await browser?.close();
  await herald?.close();
});

describe('a link from another site', () => {
  it('opens the linked page when signed in, and leads to it after signing in when not', async () => {
    const signedIn = await signIn(browser, herald.url);
    await signedIn.page.goto(elsewhereUrl);
    await Promise.all([signedIn.page.waitForURL(`${herald.url}/logs?status=failed`), signedIn.page.click('#link')]);
    await expect(signedIn.page.locator('h1').textContent()).resolves.toBe('Delivery logs');
    await expect(signedIn.page.locator('#f-status').inputValue()).resolves.toBe('failed');
    expect(signedIn.problems).toEqual([]);
    await signedIn.context.close();

    const { context, page, problems } = await openPage(browser);
    await page.goto(elsewhereUrl);
    await page.click('#link');
    await page.locator('#key').fill(ADMIN_KEY);
    await Promise.all([page.waitForURL(`${herald.url}/logs?status=failed`), page.click('button[type=submit].primary')]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
