// An inbox's live view in a real browser across a restart of Herald: the page keeps listening
// and shows what arrives once Herald is back, without a reload.
import { rmSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, tempDir, type TestHerald } from '../helpers.js';
import { launchBrowser, signIn } from './browser.js';

let browser: Browser;
const dataDir = tempDir();
const running: TestHerald[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  for (const h of running) await h.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('inbox live view', () => {
  // The sum of its phases' bounds (sign-in 10 s, live 10 s, reconnecting 10 s, live again 20 s) with room for stopping and starting Herald.
  const ACROSS_RESTART_MS = 60_000;

  it('reconnects by itself when Herald restarts, and shows requests captured after it is back', async () => {
    const first = await startTestHerald({}, { dataDir });
    running.push(first);
    const port = new URL(first.url).port;
    const inbox = (await first.api('POST', '/api/v2/inboxes', { name: 'watched across a restart' })).body as { id: string; url: string };
    const { context, page, problems } = await signIn(browser, first.url);
    await page.goto(`${first.url}/inboxes/${inbox.id}`);
    await page.locator('#live-state', { hasText: 'live' }).waitFor();

    await first.close();
    running.pop();
    await page.locator('#live-state', { hasText: /restarting|reconnecting|trying again/ }).waitFor();
    // The same data (the sign-in is kept in the store) on the same address.
    running.push(await startTestHerald({ PORT: port }, { dataDir }));
    await page.locator('#live-state', { hasText: 'live' }).waitFor({ timeout: 20_000 });

    expect((await fetch(`${inbox.url}/after-the-restart`, { method: 'POST', body: 'hello again' })).status).toBeLessThan(300);
    await expect(page.locator('article.inbox-request code.path').first().textContent()).resolves.toMatch(/\/after-the-restart$/);
    // Reconnecting while Herald stops (503) or is down fails a request or two; nothing else goes wrong.
    expect(problems.filter((p) => !/ERR_CONNECTION_REFUSED|status of 503/.test(p))).toEqual([]);
    await context.close();
  }, ACROSS_RESTART_MS);
});
