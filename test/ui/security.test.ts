// The admin UI's cookie handling and cross-site request check, without a browser.
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { clearedSessionCookie, crossSiteReason, parseCookies, sessionCookie, sessionKey } from '../../src/ui/security.js';
import { loopbackBase } from '../../src/ui/api-client.js';
import { ADMIN_KEY, startTestHerald } from '../helpers.js';

const req = (headers: Record<string, string>, protocol = 'http') => ({ headers, protocol }) as unknown as FastifyRequest;

describe('admin UI session cookie', () => {
  it('reads the first herald_key cookie, decoded, among others', () => {
    expect(parseCookies('a=1; herald_key=k%3Bx%20y; herald_key=second').get('herald_key')).toBe('k;x y');
    expect(sessionKey(req({ cookie: 'theme=dark;herald_key="hk_abc"' }))).toBe('hk_abc');
    expect(sessionKey(req({ cookie: 'herald_key=%E0%A4%A' }))).toBeUndefined();
    expect(sessionKey(req({ cookie: `herald_key=${'x'.repeat(513)}` }))).toBeUndefined();
    expect(sessionKey(req({}))).toBeUndefined();
  });

  it('is HttpOnly and SameSite=Strict on Path=/, Secure over https, and cleared with Max-Age=0', () => {
    expect(sessionCookie(req({}), 'k;1')).toBe('herald_key=k%3B1; Path=/; HttpOnly; SameSite=Strict');
    expect(sessionCookie(req({}, 'https'), 'k')).toContain('; Secure');
    // Behind a TLS-terminating proxy the request is plain HTTP; the public URL says https.
    expect(sessionCookie(req({}), 'k', 'https://herald.example')).toContain('; Secure');
    expect(clearedSessionCookie(req({}), 'https://herald.example')).toContain('; Secure');
    expect(sessionCookie(req({}), 'k', 'http://herald.example')).not.toContain('Secure');
    expect(clearedSessionCookie(req({}))).toMatch(/^herald_key=; Max-Age=0; .*Path=\/; HttpOnly; SameSite=Strict$/);
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
      expect(login.headers.get('set-cookie')).toMatch(/^herald_key=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
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
