// What the admin UI says when the API behind it fails (5xx) or does not answer in time, over
// plain HTTP against a real Herald on 127.0.0.1: the API's status (503 with its Retry-After,
// 500), never a 502 of the UI's own. A 503 the API explains is shown in the API's
// own words: after a test send whose commit was never confirmed, "try again" would send a
// second test event.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteFile } from '../../src/app/open-store.js';
import { SecretBox } from '../../src/signing/secretbox.js';
import type { Store } from '../../src/store/contract.js';
import { openThreadedSqliteStore } from '../../src/store/sqlite/threaded-store.js';
import { startTestHerald, uiSession, type TestHerald } from '../helpers.js';

const STOPPING_THREAD = new URL('../fixtures/stopping-store-thread.mjs', import.meta.url);

/** What a test opened, closed after it, the last opened first. */
const opened: Array<{ close(): Promise<unknown> }> = [];

afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function start(env: Record<string, string> = {}): Promise<TestHerald> {
  const h = await startTestHerald(env, { worker: false });
  opened.push(h);
  return h;
}

/** A UI request as htmx sends it from a page of this origin: what shows in the alert area. */
async function viaUi(h: TestHerald, cookie: string, method: string, path: string, form: Record<string, string> = {}) {
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: { cookie, origin: h.url, 'hx-request': 'true', ...(method === 'GET' ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
    body: method === 'GET' ? undefined : new URLSearchParams(form),
    redirect: 'manual',
  });
  return { status: res.status, body: await res.text(), retarget: res.headers.get('hx-retarget'), retryAfter: res.headers.get('retry-after') };
}

async function endpointOf(h: TestHerald): Promise<string> {
  const created = await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/ui-failure', event_types: ['asset.created'] });
  expect(created.status).toBe(201);
  return (created.body as { id: string }).id;
}

describe('admin UI: the API failing', () => {
  it("shows the API's message for a test send whose outcome is unknown, and does not say to try again", async () => {
    const key = SecretBox.generateKey();
    const h = await start({ HERALD_SECRET_KEY: key });
    const file = sqliteFile(h.herald.context.config);
    // Ingests (a test send is one) go to a store thread that stops after committing, before answering.
    const store: Store = await openThreadedSqliteStore({ file, synchronous: 'normal', key, script: STOPPING_THREAD });
    opened.push(store);
    h.herald.context.store.ingest = (...args) => store.ingest(...args);
    const id = await endpointOf(h);
    const cookie = await uiSession(h.url);

    writeFileSync(path.join(path.dirname(file), 'stop-store-thread-after-commit'), '');
    const down = path.join(path.dirname(file), 'store-thread-stays-down');
    writeFileSync(down, '');
    const unknown = await viaUi(h, cookie, 'POST', `/endpoints/${id}/test`);
    expect(unknown.retarget).toBe('#flash');
    expect(unknown.status).toBeGreaterThanOrEqual(500);
    expect(unknown.body).toContain('the commit was sent but never confirmed: the test event may have been stored and delivered; check the endpoint&#39;s deliveries before sending another');
    expect(unknown.body).not.toMatch(/try again/i);

    // With no thread to commit, nothing is stored: the API says so, and when to retry.
    const refused = await viaUi(h, cookie, 'POST', `/endpoints/${id}/test`);
    rmSync(down);
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect(refused.body).toContain('events could not be stored; nothing was accepted, retry shortly');
    expect(refused.body).not.toContain('The API failed to answer');
  });

  it("answers 503 with the API's Retry-After and message when the store cannot be reached, on a page as in the alert area, not 502", async () => {
    const h = await start();
    const id = await endpointOf(h);
    const cookie = await uiSession(h.url);
    h.herald.context.store.getEndpoint = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    };
    const api = await h.api('GET', `/api/v2/endpoints/${id}`);
    expect([api.status, (api.body as { error: string }).error]).toEqual([503, 'store_unavailable']);

    const page = await fetch(`${h.url}/endpoints/${id}`, { headers: { cookie } });
    const html = await page.text();
    expect([page.status, page.headers.get('retry-after')]).toEqual([503, '5']);
    expect(html).toContain('<h1>Unavailable</h1>');
    expect(html).toContain('Herald could not do this now: the store cannot be reached; retry shortly. Try again in 5 s.');
    expect(html).not.toContain('The API failed to answer');
    expect(html).not.toContain('ECONNREFUSED');

    const fragment = await viaUi(h, cookie, 'POST', `/endpoints/${id}/test`);
    expect([fragment.status, fragment.retryAfter, fragment.retarget]).toEqual([503, '5', '#flash']);
    expect(fragment.body).toContain('the store cannot be reached; retry shortly');
  });

  it('answers 500 when the API failed on its own, saying it was logged and nothing of what failed', async () => {
    const h = await start();
    const id = await endpointOf(h);
    const cookie = await uiSession(h.url);
    h.herald.context.store.getEndpoint = async () => {
      throw new Error('relation "endpoints_secret_column" violates invariant 42');
    };
    expect((await h.api('GET', `/api/v2/endpoints/${id}`)).status).toBe(500);
    const page = await fetch(`${h.url}/endpoints/${id}`, { headers: { cookie } });
    const html = await page.text();
    expect([page.status, page.headers.get('retry-after')]).toEqual([500, null]);
    expect(html).toContain('<h1>Server error</h1>');
    expect(html).toContain('Herald failed to do this; the error was logged.');
    expect(html).not.toContain('endpoints_secret_column');
    expect(html).not.toContain('internal error');
  });

  it('says Herald did not answer in time when the API call times out, not an error page of its own; and, for a change, that it may have been done', async () => {
    const h = await start();
    const id = await endpointOf(h);
    const cookie = await uiSession(h.url);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const getEndpoint = h.herald.context.store.getEndpoint.bind(h.herald.context.store);
    h.herald.context.store.getEndpoint = async (...args) => {
      await held;
      return getEndpoint(...args);
    };
    try {
      const [page, sent] = await Promise.all([
        fetch(`${h.url}/endpoints/${id}`, { headers: { cookie } }).then(async (r) => ({ status: r.status, body: await r.text() })),
        viaUi(h, cookie, 'POST', `/endpoints/${id}/test`),
      ]);
      expect(page.status).toBe(504);
      expect(page.body).toContain('Herald did not answer in time; try again shortly.');
      expect(page.body).not.toContain('Something went wrong');
      expect(sent.status).toBe(504);
      expect(sent.retarget).toBe('#flash');
      expect(sent.body).toContain('Herald did not answer in time, so whether this was done is not known; check before doing it again.');
    } finally {
      release();
    }
  }, 40_000);
});
