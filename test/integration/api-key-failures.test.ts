// The API's limit on failed keys per client address (HERALD_API_KEY_FAILURES), over HTTP against
// a real Herald on 127.0.0.1 with a clock the test moves: bad keys from one address are refused
// with 429 and Retry-After once past the limit, whatever the route and in its profile's shape; a
// good key from another address still works; good keys and keyless requests are not counted; the
// admin UI's own calls to the API are not refused; and 0 turns the limit off.
import { pino } from 'pino';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_WINDOW } from '../../src/net/failure-limit.js';
import { ADMIN_KEY, signInStatus, startTestHerald, type TestHerald } from '../helpers.js';

const FAILURES = 3;
const now = { t: Date.parse('2026-03-02T10:00:00Z') };
const logged: string[] = [];
const agents: Agent[] = [];
/** A client on a loopback address of its own: each is its own address to the limit. */
function from(localAddress: string): Agent {
  const agent = new Agent({ localAddress });
  agents.push(agent);
  return agent;
}

let herald: TestHerald;

beforeAll(async () => {
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
  herald = await startTestHerald({ LOG_LEVEL: 'info', HERALD_API_KEY_FAILURES: String(FAILURES) }, { worker: false, clock: () => now.t, logger });
});

afterAll(async () => {
  await herald?.close();
  await Promise.all(agents.map((a) => a.close()));
});

async function call(agent: Agent, path: string, key?: string, base = herald.url) {
  const res = await fetch(`${base}${path}`, { headers: key === undefined ? {} : { 'x-api-key': key }, dispatcher: agent });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe('failed API keys per address (HERALD_API_KEY_FAILURES)', () => {
  it('refuses an address past its bad keys with 429 and Retry-After, its good key too, until the window is over; another address is served', async () => {
    const guesser = from('127.0.0.11');
    for (let i = 0; i < FAILURES; i++) expect((await call(guesser, '/api/v2/endpoints', `hk_wrong-guess-number-${i}`)).status).toBe(401);
    now.t += 60_000;
    const refused = await call(guesser, '/api/v2/endpoints', 'hk_wrong-guess-past-the-limit');
    expect(refused).toMatchObject({ status: 429, retryAfter: String(FAILURE_WINDOW.windowMs / 1000 - 60) });
    expect(refused.body).toMatchObject({ error: 'rate_limited', field: null });
    // The right key from the refused address is not looked at: the limit is no oracle.
    expect((await call(guesser, '/api/v2/endpoints', ADMIN_KEY)).status).toBe(429);
    expect((await call(from('127.0.0.12'), '/api/v2/endpoints', ADMIN_KEY)).status).toBe(200);

    now.t += FAILURE_WINDOW.windowMs - 60_000;
    expect((await call(guesser, '/api/v2/endpoints', ADMIN_KEY)).status).toBe(200);
    expect((await call(guesser, '/api/v2/endpoints', 'hk_wrong-guess-in-a-new-window')).status).toBe(401);
  });

  it("counts bad keys on every profile's routes against one address, and refuses in the profile's shape", async () => {
    const guesser = from('127.0.0.13');
    expect((await call(guesser, '/api/v2/admin/webhooks', 'hk_mediapocket-guess')).status).toBe(401);
    expect((await call(guesser, '/webhooks/endpoint', 'hk_tenovos-guess')).status).toBe(401);
    expect((await call(guesser, '/cmp/v3/webhooks', 'hk_cmp-guess')).status).toBe(401);
    const mediaPocket = await call(guesser, '/api/v2/admin/webhooks', ADMIN_KEY);
    expect(mediaPocket.status).toBe(429);
    expect(Object.keys(mediaPocket.body!)).toEqual(['error']);
    expect(mediaPocket.body!.error).toMatch(/too many failed API keys from this address; retry after \d+ s/);
    expect(mediaPocket.retryAfter).toMatch(/^\d+$/);
    expect(await call(guesser, '/v2/webhooks/endpoint', ADMIN_KEY)).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
    expect(await call(guesser, '/cmp/v3/webhooks', ADMIN_KEY)).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
  });

  it('counts neither good keys, however many at once, nor requests without a key', async () => {
    const client = from('127.0.0.14');
    const many = await Promise.all(Array.from({ length: 40 }, () => call(client, '/api/v2/endpoints', ADMIN_KEY)));
    expect(many.map((r) => r.status)).toEqual(many.map(() => 200));
    for (let i = 0; i < FAILURES * 3; i++) expect((await call(client, '/api/v2/endpoints')).status).toBe(401);
    for (let i = 0; i < FAILURES; i++) expect((await call(client, '/api/v2/endpoints', `hk_guess-${i}`)).status).toBe(401);
    expect((await call(client, '/api/v2/endpoints', 'hk_one-too-many')).status).toBe(429);
  });

  it("does not refuse the admin UI's own calls to the API when the loopback address is refused", async () => {
    // The UI checks a sign-in's key through this API, from the loopback address.
    const loopback = from('127.0.0.1');
    for (let i = 0; i < FAILURES; i++) expect((await call(loopback, '/api/v2/endpoints', `hk_local-guess-${i}`)).status).toBe(401);
    expect((await call(loopback, '/api/v2/endpoints', ADMIN_KEY)).status).toBe(429);
    expect(await signInStatus(herald.url, ADMIN_KEY, from('127.0.0.15'))).toBe(303);
    // Nor does a header that merely names the mark pass.
    const forged = await fetch(`${herald.url}/api/v2/endpoints`, { headers: { 'x-api-key': ADMIN_KEY, 'x-herald-ui-call': 'guessed' }, dispatcher: loopback });
    await forged.body?.cancel();
    expect(forged.status).toBe(429);
  });

  it('logs the first refusal of a burst with the address, and never a key', () => {
    const warned = logged.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'API refusing keys from an address after repeated failures');
    expect(warned.map((l) => l.address)).toEqual(['127.0.0.11', '127.0.0.13', '127.0.0.14', '127.0.0.1']);
    expect(warned[0]).toMatchObject({ level: 40, failures: FAILURES });
    const all = logged.join('\n');
    expect(all).not.toMatch(/guess|hk_one-too-many/);
    expect(all).not.toContain(ADMIN_KEY);
  });
});

describe('no limit on failed API keys (HERALD_API_KEY_FAILURES=0)', () => {
  let unlimited: TestHerald;
  beforeAll(async () => {
    unlimited = await startTestHerald({ HERALD_API_KEY_FAILURES: '0' }, { worker: false });
  });
  afterAll(async () => {
    await unlimited?.close();
  });

  it('answers 401 to every bad key, and the good key after them', async () => {
    const guesser = from('127.0.0.16');
    for (let i = 0; i < 30; i++) expect((await call(guesser, '/api/v2/endpoints', `hk_guess-${i}`, unlimited.url)).status).toBe(401);
    expect((await call(guesser, '/api/v2/endpoints', ADMIN_KEY, unlimited.url)).status).toBe(200);
  });
});
