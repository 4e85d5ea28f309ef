// Secret rotation with an Idempotency-Key: requests repeating one key, at once and spread over
// API processes, rotate the secret once; the first is answered with the new secret, the repeats
// with that rotation, the secret masked (it is shown once); a key whose rotation a later one
// replaced rotates nothing and shows nothing (409 rotated_since). Tenovos's rotate, which answers
// 204, takes the key alike. On the embedded store, and on PostgreSQL with two API processes.
import { expect, it } from 'vitest';
import { onEveryStore } from '../every-store.js';
import { ADMIN_KEY, type TestHerald } from '../helpers.js';

const REPEATS = 12;

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly replayed: boolean;
}

async function send(h: TestHerald, method: string, route: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  const res = await fetch(h.url + route, {
    method,
    headers: { 'x-api-key': ADMIN_KEY, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, replayed: res.headers.get('idempotent-replayed') === 'true' };
}

async function endpoint(h: TestHerald): Promise<string> {
  const made = await send(h, 'POST', '/api/v2/endpoints', {}, { url: 'https://example.website.com/hooks', event_types: ['asset.*'] });
  expect(made.status).toBe(201);
  return `/api/v2/endpoints/${String(made.body.id)}`;
}

const rotate = (h: TestHerald, route: string, key?: string) => send(h, 'POST', `${route}/secret/rotate`, key === undefined ? {} : { 'idempotency-key': key });

function rotationsOn(servers: () => readonly TestHerald[]): void {
  const at = (i: number) => servers()[i % servers().length];

  it('of many rotations with one Idempotency-Key at once, one rotates and shows the secret; the repeats answer that rotation, replayed, the secret masked', async () => {
    const route = await endpoint(at(0));
    const answers = await Promise.all(Array.from({ length: REPEATS }, (_, i) => rotate(at(i), route, 'reload-1')));
    expect(answers.map((a) => a.status)).toEqual(Array<number>(REPEATS).fill(200));
    const [made, ...others] = [...answers.filter((a) => !a.replayed), ...answers.filter((a) => a.replayed)];
    expect(others).toHaveLength(REPEATS - 1);
    const { secret, ...rest } = made.body;
    const shown = await send(at(1), 'GET', `${route}/secret`);
    expect(shown.body).toEqual({ secret, previous_secret_expires_at: rest.previous_secret_expires_at });
    const { secret_hint: hint } = (await send(at(0), 'GET', route)).body;
    for (const repeat of others) {
      expect(repeat.body).toEqual({ ...rest, secret_hint: hint });
      expect(JSON.stringify(repeat.body)).not.toContain(String(secret));
    }
  });

  it('a key whose rotation a later one replaced rotates nothing and shows no secret: 409 rotated_since naming Idempotency-Key', async () => {
    const route = await endpoint(at(0));
    const first = await rotate(at(0), route, 'form-a');
    const later = await rotate(at(1), route, 'form-b');
    expect([first.status, later.status]).toEqual([200, 200]);
    expect(later.body.secret).not.toBe(first.body.secret);
    const again = await rotate(at(1), route, 'form-a');
    expect([again.status, again.body.error, again.body.field]).toEqual([409, 'rotated_since', 'Idempotency-Key']);
    expect(JSON.stringify(again.body)).not.toContain(String(first.body.secret));
    expect((await send(at(0), 'GET', `${route}/secret`)).body.secret).toBe(later.body.secret);
  });

  it('a key is one endpoint\'s: the same key rotates another endpoint; without a key every request rotates', async () => {
    const [one, two] = [await endpoint(at(0)), await endpoint(at(0))];
    const a = await rotate(at(0), one, 'shared-key');
    const b = await rotate(at(1), two, 'shared-key');
    expect([a.replayed, b.replayed]).toEqual([false, false]);
    expect(b.body.secret).not.toBe(a.body.secret);
    const plain = await Promise.all([rotate(at(0), one), rotate(at(1), one)]);
    expect(plain.map((p) => [p.status, p.replayed])).toEqual([[200, false], [200, false]]);
    expect(plain[0].body.secret).not.toBe(plain[1].body.secret);
  });

  it('Tenovos rotate takes the key too: one of many repeats rotates, the others answer 204 replayed; a replaced key is a 409', async () => {
    const made = await send(at(0), 'POST', '/webhooks/endpoint', {}, [{ description: 'Rotate me', eventTypes: ['asset.created'], url: 'https://example.website.com/hooks', rateLimit: 10 }]);
    expect(made.status).toBe(200);
    const route = `/webhooks/endpoint/${String(made.body.id)}`;
    const secret = async () => (await send(at(1), 'GET', `${route}/secret`)).body.key;
    const before = await secret();
    const answers = await Promise.all(Array.from({ length: REPEATS }, (_, i) => rotate(at(i), route, 'tenovos-1')));
    expect(answers.map((a) => a.status)).toEqual(Array<number>(REPEATS).fill(204));
    expect(answers.filter((a) => a.replayed)).toHaveLength(REPEATS - 1);
    const rotated = await secret();
    expect(rotated).not.toBe(before);
    expect(await rotate(at(1), route, 'tenovos-2')).toMatchObject({ status: 204, replayed: false });
    const latest = await secret();
    expect(latest).not.toBe(rotated);
    const again = await rotate(at(0), route, 'tenovos-1');
    expect([again.status, again.body.error, again.body.field]).toEqual([409, 'rotated_since', 'Idempotency-Key']);
    expect(await secret()).toBe(latest);
  });

  it('refuses a key longer than 200 characters, naming the header', async () => {
    const route = await endpoint(at(0));
    const refused = await rotate(at(0), route, 'k'.repeat(201));
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('idempotency-key');
  });
}

onEveryStore('secret rotation with an Idempotency-Key', rotationsOn);
