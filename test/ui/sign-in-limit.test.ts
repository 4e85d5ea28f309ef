// The admin UI's limit on failed sign-ins, over HTTP against a real Herald on 127.0.0.1: wrong
// keys from one address are refused with 429 and Retry-After once past the limit, a right key
// from another address still signs in, the refused burst is logged once without the key, and
// the address may try again when its window is over.
import { pino } from 'pino';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_WINDOW } from '../../src/net/failure-limit.js';
import { ADMIN_KEY, startTestHerald, type TestHerald } from '../helpers.js';

let herald: TestHerald;
/** The default of HERALD_UI_SIGN_IN_FAILURES. */
const FAILURES = 10;
const now = { t: Date.parse('2026-03-02T10:00:00Z') };
const lines: Array<Record<string, unknown>> = [];
const logged: string[] = [];
/** Clients on two loopback addresses: each is its own address to the limit. */
const from = (localAddress: string) => new Agent({ localAddress });
const guesser = from('127.0.0.2');
const colleague = from('127.0.0.3');

beforeAll(async () => {
  const logger = pino({ level: 'info' }, {
    write: (line: string) => {
      logged.push(line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  herald = await startTestHerald({ LOG_LEVEL: 'info' }, { worker: false, clock: () => now.t, logger });
});

afterAll(async () => {
  await herald?.close();
  await Promise.all([guesser.close(), colleague.close()]);
});

async function signIn(agent: Agent, key: string) {
  const res = await fetch(`${herald.url}/login`, {
    method: 'POST',
    headers: { origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key }).toString(),
    redirect: 'manual',
    dispatcher: agent,
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), cookie: res.headers.getSetCookie().find((c) => c.startsWith('herald_session=')), body: await res.text() };
}

describe('admin UI sign-in limit', () => {
  it('refuses wrong keys from one address past the limit with 429 and Retry-After, and lets a right key from another address in', async () => {
    for (let i = 0; i < FAILURES; i++) {
      const wrong = await signIn(guesser, `hk_wrong-guess-number-${i}`);
      expect(wrong.status).toBe(401);
    }
    now.t += 60_000;
    const refused = await signIn(guesser, 'hk_wrong-guess-past-the-limit');
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe(String(FAILURE_WINDOW.windowMs / 1000 - 60));
    expect(refused.body).toContain('Too many failed sign-ins from your address: try again after 2026-03-02 10:15:00 UTC (in 14 minutes).');
    expect(refused.cookie).toBeUndefined();
    // The right key from the refused address is not even checked: the limit is no oracle.
    expect((await signIn(guesser, ADMIN_KEY)).status).toBe(429);

    const other = await signIn(colleague, ADMIN_KEY);
    expect(other.status).toBe(303);
    expect(other.cookie).toBeDefined();

    const warned = lines.filter((l) => l.msg === 'admin UI refusing sign-ins from an address after repeated failures');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, address: '127.0.0.2', failures: FAILURES, until: '2026-03-02T10:15:00.000Z' });
    expect(logged.join('\n')).not.toContain('wrong-guess');
    expect(logged.join('\n')).not.toContain(ADMIN_KEY);

    now.t = Date.parse('2026-03-02T10:15:00Z');
    const again = await signIn(guesser, ADMIN_KEY);
    expect(again.status).toBe(303);
    expect(again.cookie).toBeDefined();
  });

  it('does not count successful sign-ins', async () => {
    for (let i = 0; i < FAILURES * 2; i++) expect((await signIn(colleague, ADMIN_KEY)).status).toBe(303);
    expect((await signIn(colleague, 'hk_one-wrong-guess')).status).toBe(401);
  });
});

describe('admin UI sign-in limit behind a trusted reverse proxy (HERALD_UI_TRUSTED_PROXIES)', () => {
  let behind: TestHerald;
  const proxy = from('127.0.0.4');
  const direct = from('127.0.0.5');

  beforeAll(async () => {
    behind = await startTestHerald({ HERALD_UI_TRUSTED_PROXIES: '127.0.0.4' }, { worker: false });
  });

  afterAll(async () => {
    await behind?.close();
    await Promise.all([proxy.close(), direct.close()]);
  });

  async function signInVia(agent: Agent, key: string, forwardedFor?: string) {
    const res = await fetch(`${behind.url}/login`, {
      method: 'POST',
      headers: { origin: behind.url, 'content-type': 'application/x-www-form-urlencoded', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      body: new URLSearchParams({ key }).toString(),
      redirect: 'manual',
      dispatcher: agent,
    });
    await res.body?.cancel();
    return res.status;
  }

  it("counts failures against the browser the proxy names, so one guesser behind it does not shut out the others", async () => {
    // What the client wrote (left) is not believed: the address the proxy appended is the client.
    for (let i = 0; i < FAILURES; i++) expect(await signInVia(proxy, `hk_guess-${i}`, `198.51.100.${i}, 203.0.113.5`)).toBe(401);
    expect(await signInVia(proxy, ADMIN_KEY, '203.0.113.5')).toBe(429);
    expect(await signInVia(proxy, ADMIN_KEY, '203.0.113.6')).toBe(303);
    // Through two trusted hops, the nearest untrusted address.
    expect(await signInVia(proxy, 'hk_one-more-guess', '203.0.113.5, 127.0.0.4')).toBe(429);
  });

  it('believes no X-Forwarded-For from a client that is not a trusted proxy', async () => {
    for (let i = 0; i < FAILURES; i++) expect(await signInVia(direct, `hk_guess-${i}`, `192.0.2.${i}`)).toBe(401);
    expect(await signInVia(direct, ADMIN_KEY, '192.0.2.200')).toBe(429);
  });
});
