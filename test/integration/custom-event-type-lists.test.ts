// The account's custom event types listed a page at a time, without their schemas unless asked,
// and the catalog alone: what a list of names costs is the names, not up to 1,000 schemas of up
// to 64 KiB each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_ID } from '../../src/app/bootstrap.js';
import { ADMIN_KEY, startTestHerald, type TestHerald } from '../helpers.js';

let h: TestHerald;
const COUNT = 120;
const names = Array.from({ length: COUNT }, (_, i) => `big.type.t${String(i).padStart(3, '0')}`);
/** About 40 KiB of schema each: 4.8 MB for all of them. */
const schemaOf = (name: string) => ({ type: 'object', description: `${name} ${'x'.repeat(40_000)}` });

beforeAll(async () => {
  h = await startTestHerald();
  // Straight into the store: through the API each create would read every schema registered before.
  for (const [i, name] of [...names].reverse().entries()) {
    await h.herald.context.store.createEventType({ accountId: DEFAULT_ACCOUNT_ID, name, description: `type ${name}`, schema: schemaOf(name), createdAt: 1_700_000_000_000 + i, updatedAt: 1_700_000_000_000 + i });
  }
});
afterAll(() => h?.close());

/** The raw answer of a GET: its status, its size in bytes and its body. */
async function read(route: string): Promise<{ status: number; bytes: number; body: any }> {
  const res = await fetch(`${h.url}${route}`, { headers: { 'x-api-key': ADMIN_KEY } });
  const text = await res.text();
  return { status: res.status, bytes: Buffer.byteLength(text), body: JSON.parse(text) };
}

describe('GET /api/v2/event-types/custom', () => {
  it('answers 50 types a page by name, without their schemas, each page leading to the next by the last name', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const page: { status: number; bytes: number; body: any } = await read(`/api/v2/event-types/custom${cursor ? `?cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.bytes).toBeLessThan(20_000);
      for (const t of page.body.data) expect(Object.keys(t).sort()).toEqual(['created_at', 'custom', 'description', 'name', 'updated_at']);
      seen.push(...page.body.data.map((t: { name: string }) => t.name));
      sizes.push(page.body.data.length);
      cursor = page.body.next_cursor;
      if (cursor !== null) expect(cursor).toBe(seen.at(-1));
    } while (cursor !== null);
    expect(sizes).toEqual([50, 50, 20]);
    expect(seen).toEqual(names);
    const first = (await read('/api/v2/event-types/custom?limit=1')).body;
    expect(first).toEqual({ data: [{ name: names[0], custom: true, description: `type ${names[0]}`, created_at: expect.any(String), updated_at: expect.any(String) }], next_cursor: names[0] });
  });

  it('answers every name in one page of up to 250, and the schemas too when asked', async () => {
    const all = await read('/api/v2/event-types/custom?limit=250');
    expect([all.body.data.length, all.body.next_cursor]).toEqual([COUNT, null]);
    expect(all.bytes).toBeLessThan(40_000);

    const withSchemas = await read(`/api/v2/event-types/custom?cursor=${names[9]}&limit=2&schemas=true`);
    expect(withSchemas.body.data.map((t: { name: string; schema: unknown }) => [t.name, t.schema])).toEqual(names.slice(10, 12).map((n) => [n, schemaOf(n)]));
    expect(withSchemas.body.next_cursor).toBe(names[11]);
  });

  it('goes on after a type deleted since its name became the cursor', async () => {
    const gone = 'big.type.gone';
    expect((await h.api('POST', '/api/v2/event-types', { name: gone })).status).toBe(201);
    expect((await h.api('DELETE', `/api/v2/event-types/${gone}`)).status).toBe(204);
    const after = await read(`/api/v2/event-types/custom?cursor=${gone}&limit=1`);
    expect(after.body.data.map((t: { name: string }) => t.name)).toEqual([names[0]]);
  });

  it.each([
    ['cursor=', 'cursor'],
    ['cursor=Not%20a%20type', 'cursor'],
    ['cursor=ep_01hzzzzzzzzzzzzzzzzzzzzzzz', 'cursor'],
    [`cursor=a.${'b'.repeat(200)}`, 'cursor'],
    ['limit=0', 'limit'],
    ['limit=251', 'limit'],
    ['limit=ten', 'limit'],
    ['schemas=maybe', 'schemas'],
  ])('refuses %s with a 400 naming %s', async (query, field) => {
    const res = await h.api('GET', `/api/v2/event-types/custom?${query}`);
    expect([res.status, res.body.error, res.body.field]).toEqual([400, 'invalid_request', field]);
    expect(res.body.message).toContain(field);
  });

  it('says a cursor no page gave is not a cursor', async () => {
    const res = await h.api('GET', '/api/v2/event-types/custom?cursor=Acme');
    expect(res.body.message).toBe('querystring field "cursor" is not a cursor: pass the one the previous page returned');
  });
});

describe('GET /api/v2/event-types/catalog', () => {
  it('answers the catalog by topic as GET /api/v2/event-types does, without the account\'s types', async () => {
    const alone = await read('/api/v2/event-types/catalog');
    const both = await read('/api/v2/event-types');
    expect(alone.status).toBe(200);
    expect(alone.body).toEqual({ topics: both.body.topics });
    expect(alone.bytes).toBeLessThan(both.bytes / 100);
    // The whole list answers as before: every custom type with its schema.
    expect(both.body.custom).toHaveLength(COUNT);
    expect(both.body.custom[0].schema).toEqual(schemaOf(names[0]!));
  });
});

describe('the most custom types an account may have', () => {
  it('is still counted, by the names: the 1,001st is refused naming name', async () => {
    const have = (await read('/api/v2/event-types/custom?limit=250')).body.data.length as number;
    for (let i = have; i < 1_000; i++) {
      await h.herald.context.store.createEventType({ accountId: DEFAULT_ACCOUNT_ID, name: `more.type.t${String(i).padStart(4, '0')}`, description: '', schema: null, createdAt: 1, updatedAt: 1 });
    }
    const refused = await h.api('POST', '/api/v2/event-types', { name: 'one.too.many' });
    expect([refused.status, refused.body.error, refused.body.field]).toEqual([422, 'invalid_event_type', 'name']);
  });
});
