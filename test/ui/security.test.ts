// The admin UI's cookie handling and cross-site request check, without a browser.
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { clearedSessionCookies, crossSiteReason, parseCookies, sessionCookie, sessionToken, withoutSessionCookie } from '../../src/ui/security.js';
import { loopbackBase } from '../../src/ui/api-client.js';
import { ADMIN_KEY, startTestHerald, uiSession } from '../helpers.js';

const req = (headers: Record<string, string>, protocol = 'http') => ({ headers, protocol }) as unknown as FastifyRequest;
const TOKEN = 'A'.repeat(42) + '_';

describe('admin UI session cookie', () => {
  it('reads the first herald_session cookie among others, and only a token of the right shape', () => {
    expect(parseCookies('a=1; herald_key=k%3Bx%20y; herald_key=second').get('herald_key')).toBe('k;x y');
    expect(sessionToken(req({ cookie: `theme=dark;herald_session="${TOKEN}"` }))).toBe(TOKEN);
    expect(sessionToken(req({ cookie: `herald_session=${TOKEN}; herald_session=second` }))).toBe(TOKEN);
    expect(sessionToken(req({ cookie: 'herald_session=%E0%A4%A' }))).toBeUndefined();
    expect(sessionToken(req({ cookie: `herald_session=${TOKEN}x` }))).toBeUndefined();
    expect(sessionToken(req({ cookie: `herald_key=${ADMIN_KEY}` }))).toBeUndefined();
    expect(sessionToken(req({}))).toBeUndefined();
  });

  it('is HttpOnly and SameSite=Strict on Path=/ for the session\'s lifetime, Secure over https, and cleared with Max-Age=0', () => {
    expect(sessionCookie(req({}), TOKEN, 3_600_000)).toBe(`herald_session=${TOKEN}; Max-Age=3600; Path=/; HttpOnly; SameSite=Strict`);
    expect(sessionCookie(req({}, 'https'), TOKEN, 1_000)).toContain('; Secure');
    // Behind a TLS-terminating proxy the request is plain HTTP; the public URL says https.
    expect(sessionCookie(req({}), TOKEN, 1_000, 'https://herald.example')).toContain('; Secure');
    expect(sessionCookie(req({}), TOKEN, 1_000, 'http://herald.example')).not.toContain('Secure');
    const cleared = clearedSessionCookies(req({}), 'https://herald.example');
    expect(cleared.map((c) => c.split('=')[0])).toEqual(['herald_session', 'herald_key']);
    for (const c of cleared) expect(c).toMatch(/=; Max-Age=0; .*Path=\/; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('is taken out of a Cookie header, with the key cookie of earlier versions', () => {
    expect(withoutSessionCookie(`a=1; herald_session=${TOKEN}; herald_key=k; b=2`)).toBe('a=1; b=2');
    expect(withoutSessionCookie(`herald_session=${TOKEN}`)).toBeUndefined();
  });
});

describe('admin UI sessions', () => {
  const page = (url: string, cookie: string) => fetch(`${url}/endpoints`, { headers: { cookie }, redirect: 'manual' });

  it('holds a random token, never the key, and lasts HERALD_UI_SESSION_HOURS', async () => {
    const h = await startTestHerald({ HERALD_UI_SESSION_HOURS: '2' });
    try {
      const res = await fetch(`${h.url}/login`, {
        method: 'POST',
        headers: { origin: h.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key: ADMIN_KEY }),
        redirect: 'manual',
      });
      const cookies = res.headers.getSetCookie();
      expect(cookies[0]).toMatch(/^herald_session=[A-Za-z0-9_-]{43}; Max-Age=7200; Path=\/; HttpOnly; SameSite=Strict$/);
      expect(cookies[1]).toMatch(/^herald_key=; Max-Age=0/);
      expect(cookies.join('\n')).not.toContain(encodeURIComponent(ADMIN_KEY));
      expect((await page(h.url, cookies[0]!.split(';')[0]!)).status).toBe(200);
      // Two sign-ins are two sessions.
      expect(await uiSession(h.url)).not.toBe(cookies[0]!.split(';')[0]);
    } finally {
      await h.close();
    }
  });

  it('ends at sign-out, and a cookie of the key itself (earlier versions) signs nobody in', async () => {
    const h = await startTestHerald();
    try {
      const cookie = await uiSession(h.url);
      const other = await uiSession(h.url);
      const out = await fetch(`${h.url}/logout`, { method: 'POST', headers: { cookie, origin: h.url }, redirect: 'manual' });
      expect(out.status).toBe(303);
      expect(out.headers.getSetCookie()[0]).toMatch(/^herald_session=; Max-Age=0/);
      const after = await page(h.url, cookie);
      expect(after.status).toBe(303);
      expect(after.headers.get('location')).toBe('/?expired=1');
      expect((await page(h.url, other)).status).toBe(200);

      const legacy = await page(h.url, `herald_key=${encodeURIComponent(ADMIN_KEY)}`);
      expect(legacy.status).toBe(303);
      expect(legacy.headers.get('location')).toBe('/');
    } finally {
      await h.close();
    }
  });

  it('ends when its API key is deleted', async () => {
    const h = await startTestHerald();
    try {
      const created = await h.api('POST', '/api/v2/api-keys', { name: 'ui', role: 'viewer' });
      expect(created.status).toBe(201);
      const cookie = await uiSession(h.url, created.body.key);
      expect((await page(h.url, cookie)).status).toBe(200);
      expect((await h.api('DELETE', `/api/v2/api-keys/${created.body.id}`)).status).toBe(204);
      const after = await page(h.url, cookie);
      expect(after.status).toBe(303);
      expect(after.headers.get('location')).toBe('/?expired=1');
    } finally {
      await h.close();
    }
  });

  it('ends when it expires', async () => {
    let now = Date.now();
    const h = await startTestHerald({ HERALD_UI_SESSION_HOURS: '1' }, { clock: () => now });
    try {
      const cookie = await uiSession(h.url);
      now += 3_600_000 - 1;
      expect((await page(h.url, cookie)).status).toBe(200);
      now += 1;
      expect((await page(h.url, cookie)).headers.get('location')).toBe('/?expired=1');
    } finally {
      await h.close();
    }
  });
});

describe('admin UI session cookie behind a TLS-terminating proxy', () => {
  it('is Secure when HERALD_PUBLIC_URL is https, though the request reaches Herald over http', async () => {
    const h = await startTestHerald({ HERALD_PUBLIC_URL: 'https://herald.example' });
    try {
      const login = await fetch(`${h.url}/login`, {
        method: 'POST',
        headers: { origin: h.url, 'x-forwarded-proto': 'https', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key: ADMIN_KEY }),
        redirect: 'manual',
      });
      expect(login.status).toBe(303);
      expect(login.headers.getSetCookie()[0]).toMatch(/^herald_session=[^;]+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await h.close();
    }
  });
});

describe('admin UI cross-site check', () => {
  it('accepts same-origin requests by Fetch Metadata, or by Origin matching Host', () => {
    expect(crossSiteReason(req({ 'sec-fetch-site': 'same-origin' }))).toBeUndefined();
    expect(crossSiteReason(req({ origin: 'http://herald.local:8080', host: 'herald.local:8080' }))).toBeUndefined();
  });

  it('refuses cross-site, same-site, missing or mismatching origins', () => {
    expect(crossSiteReason(req({ 'sec-fetch-site': 'cross-site', origin: 'http://h', host: 'h' }))).toMatch(/cross-site/);
    expect(crossSiteReason(req({ 'sec-fetch-site': 'same-site' }))).toMatch(/same-site/);
    expect(crossSiteReason(req({ 'sec-fetch-site': 'none' }))).toMatch(/none/);
    expect(crossSiteReason(req({ host: 'h' }))).toMatch(/no Origin/);
    expect(crossSiteReason(req({ origin: 'null', host: 'h' }))).toMatch(/no Origin/);
    expect(crossSiteReason(req({ origin: 'http://evil.example', host: 'herald.local' }))).toMatch(/not this site/);
    expect(crossSiteReason(req({ origin: 'http://herald.local.evil.example', host: 'herald.local' }))).toMatch(/not this site/);
  });
});

describe('admin UI loopback address', () => {
  it('calls the API on loopback when the server listens on every interface', () => {
    expect(loopbackBase({ address: '0.0.0.0', family: 'IPv4', port: 8080 })).toBe('http://127.0.0.1:8080');
    expect(loopbackBase({ address: '::', family: 'IPv6', port: 8080 })).toBe('http://[::1]:8080');
    expect(loopbackBase({ address: '127.0.0.1', family: 'IPv4', port: 1 })).toBe('http://127.0.0.1:1');
    expect(() => loopbackBase('/tmp/sock')).toThrow();
  });
});
