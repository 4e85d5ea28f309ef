// Shared set-up of the browser tests: Debian's chromium driven by playwright-core, one browser
// per test file, a signed-in context per test, console problems collected.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { ADMIN_KEY } from '../helpers.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

export interface SignedIn {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and warnings (CSP violations among them) and uncaught page errors. */
  readonly problems: string[];
}

export async function openPage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<SignedIn> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  // Well inside the test timeout, so a missing element names itself instead of timing the test out.
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  page.on('console', (m) => void ((m.type() === 'error' || m.type() === 'warning') && problems.push(m.text())));
  page.on('pageerror', (e) => void problems.push(String(e)));
  return { context, page, problems };
}

export async function signIn(browser: Browser, baseUrl: string, viewport?: { width: number; height: number }): Promise<SignedIn> {
  const s = await openPage(browser, viewport);
  await s.page.goto(`${baseUrl}/`);
  await s.page.fill('#key', ADMIN_KEY);
  await Promise.all([s.page.waitForURL(`${baseUrl}/endpoints`), s.page.click('button[type=submit].primary')]);
  return s;
}

/** The session cookie of a signed-in context, as a Cookie header. */
export async function cookieHeader(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === 'herald_session');
  expect(cookie).toBeDefined();
  return `herald_session=${cookie!.value}`;
}
