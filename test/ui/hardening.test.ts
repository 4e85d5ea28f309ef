// The admin UI against what a hostile page, link or signed-out browser tries, over plain HTTP
// against a real Herald on 127.0.0.1.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestHerald, uiSession, type TestHerald } from '../helpers.js';

let herald: TestHerald;

beforeAll(async () => {
  herald = await startTestHerald();
});

afterAll(async () => {
  await herald?.close();
});

/** A request with its path sent exactly as written (fetch would resolve `..` and `%2E%2E` itself). */
function rawRequest(url: string, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads a stream until it ends, or gives up after `ms` (the text so far, and whether it ended). */
async function readUntilEnd(res: Response, ms: number): Promise<{ text: string; ended: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + ms;
  let text = '';
  for (;;) {
    const left = deadline - Date.now();
    const read = left <= 0 ? 'timeout' : await Promise.race([reader.read(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), left))]);
    if (read === 'timeout') {
      await reader.cancel();
      return { text, ended: false };
    }
    if (read.done) return { text, ended: true };
    text += decoder.decode(read.value, { stream: true });
  }
}

describe('admin UI inbox stream', () => {
  it('ends an open live view at sign-out, and tells a browser signed out that it is, instead of redirecting it', async () => {
    const inbox = (await herald.api('POST', '/api/v2/inboxes', { name: 'watched until sign-out' })).body as { id: string; url: string };
    const cookie = await uiSession(herald.url);
    const stream = await fetch(`${herald.url}/inboxes/${inbox.id}/stream`, { headers: { cookie, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const out = await fetch(`${herald.url}/logout`, { method: 'POST', headers: { cookie, origin: herald.url }, redirect: 'manual' });
    expect(out.status).toBe(303);
    await fetch(`${inbox.url}/after-sign-out`, { method: 'POST', body: 'sent after signing out' });
    // Within the stream's recheck of the sign-in (5 s) it ends, saying why.
    const { text, ended } = await readUntilEnd(stream, 8_000);
    expect(ended).toBe(true);
    expect(text).toMatch(/event: unauthorized\ndata: \{\}\n\n$/);

    // Opened again with the ended session: the script's EventSource is told, not sent to the sign-in page.
    const again = await fetch(`${herald.url}/inboxes/${inbox.id}/stream`, { headers: { cookie, accept: 'text/event-stream' }, redirect: 'manual' });
    expect(again.status).toBe(200);
    expect(again.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await again.text()).toBe('event: unauthorized\ndata: {}\n\n');
  });

  it("tells a live view reconnecting to a deleted inbox that it is gone, so it stops trying, instead of answering an error page", async () => {
    const inbox = (await herald.api('POST', '/api/v2/inboxes', { name: 'deleted while away' })).body as { id: string };
    expect((await herald.api('DELETE', `/api/v2/inboxes/${inbox.id}`)).status).toBe(204);
    const res = await fetch(`${herald.url}/inboxes/${inbox.id}/stream`, { headers: { cookie: await uiSession(herald.url), accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toBe('event: deleted\ndata: {}\n\n');
  });
});

describe('admin UI addresses', () => {
  it('answers 404 to an id that is a dot segment, without asking the API for the path it would climb to', async () => {
    const cookie = await uiSession(herald.url);
    const form = { cookie, origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' };
    const tries: [string, string][] = [
      ['GET', '/endpoints/%2E%2E'],
      ['GET', '/endpoints/%2e%2e/edit'],
      ['GET', '/inboxes/%2E%2E'],
      ['GET', '/catalog/types/%2E%2E'],
      ['POST', '/endpoints/%2E%2E/rotate'],
      ['POST', '/inboxes/%2E%2E/delete'],
      ['POST', '/deliveries/%2E%2E/retry'],
    ];
    for (const [method, path] of tries) {
      const res = await rawRequest(herald.url, method, path, method === 'GET' ? { cookie } : form);
      expect(res.status, path).toBe(404);
      // The API was never asked for /api/v2/ or a sibling path: it would name it ("no route GET /api/v2/").
      expect(res.body, path).not.toMatch(/no route|\/api\/v2/);
    }
  });
});

describe('admin UI links from elsewhere', () => {
  const fromAnotherSite = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };

  it('loads a page linked from another site again from this one, where the browser sends the SameSite=Strict cookie', async () => {
    const res = await fetch(`${herald.url}/logs?status=failed&event_type=asset.created`, { headers: fromAnotherSite, redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<meta http-equiv="refresh" content="0; url=/logs?status=failed&amp;event_type=asset.created">');
    // Loaded again from this site without a cookie: the sign-in, which leads back to the page.
    const again = await fetch(`${herald.url}/logs?status=failed`, { headers: { ...fromAnotherSite, 'sec-fetch-site': 'same-origin' }, redirect: 'manual' });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(`/?${new URLSearchParams({ next: '/logs?status=failed' })}`);
  });

  it('signs in to the page asked for, and never to another site', async () => {
    const login = await (await fetch(`${herald.url}/?next=${encodeURIComponent('/inboxes?x="1"')}`)).text();
    expect(login).toContain('<input type="hidden" name="next" value="/inboxes?x=&quot;1&quot;">');
    const signIn = (next: string) =>
      fetch(`${herald.url}/login`, {
        method: 'POST',
        headers: { origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key: ADMIN_KEY, next }),
        redirect: 'manual',
      });
    expect((await signIn('/logs?status=failed')).headers.get('location')).toBe('/logs?status=failed');
    for (const elsewhere of ['//evil.example/logs', 'https://evil.example/', '/\\evil.example', '/logs\n/x', '/api/v2/api-keys']) {
      expect((await signIn(elsewhere)).headers.get('location'), elsewhere).toBe('/endpoints');
    }
    // Already signed in: straight there.
    const cookie = await uiSession(herald.url);
    expect((await fetch(`${herald.url}/?next=%2Factivity`, { headers: { cookie }, redirect: 'manual' })).headers.get('location')).toBe('/activity');
  });
});

describe('admin UI response headers', () => {
  const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-resource-policy': 'same-origin', 'x-frame-options': 'DENY' };

  it("keeps other sites' windows and pages away from every answer, and asks for https only once served over it", async () => {
    const cookie = await uiSession(herald.url);
    const answers = [
      await fetch(`${herald.url}/`),
      await fetch(`${herald.url}/endpoints`, { headers: { cookie } }),
      await fetch(`${herald.url}/ui/static/app.js`),
      await fetch(`${herald.url}/logout`, { method: 'POST', headers: { origin: 'https://evil.example' } }),
    ];
    for (const res of answers) {
      expect(Object.fromEntries(Object.keys(isolation).map((h) => [h, res.headers.get(h)])), res.url).toEqual(isolation);
      expect(res.headers.get('strict-transport-security'), res.url).toBeNull();
    }

    const behindTls = await startTestHerald({ HERALD_PUBLIC_URL: 'https://herald.example' });
    try {
      const res = await fetch(`${behindTls.url}/`);
      expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000');
    } finally {
      await behindTls.close();
    }
  });
});
