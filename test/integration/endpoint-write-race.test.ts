// Conditional endpoint writes are atomic: many clients changing (or deleting) an endpoint from one
// copy at once, each naming the state it read (If-Match, or the copy's updated_at), and exactly
// one of them changes it; the others are told it changed after they read it. On the embedded
// store, and on PostgreSQL with the requests spread over two API processes.
import { expect, it } from 'vitest';
import { onEveryStore } from '../every-store.js';
import { ADMIN_KEY, type TestHerald } from '../helpers.js';

const URL_ = 'https://example.website.com/hooks';
const WRITERS = 24;

/** Writer i's change: a new URL, whose destination check (a DNS lookup) lets the requests interleave. */
const change = (i: number) => ({ description: `writer ${i}`, url: `http://localhost/hooks/${i}` });

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> | undefined;
  readonly etag: string | null;
}

async function send(h: TestHerald, method: string, route: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const res = await fetch(h.url + route, {
    method,
    headers: { 'x-api-key': ADMIN_KEY, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, etag: res.headers.get('etag') };
}

/** A new endpoint as GET answers it, with its ETag. */
async function created(h: TestHerald): Promise<{ route: string; read: Record<string, unknown>; etag: string }> {
  const made = await send(h, 'POST', '/api/v2/endpoints', {}, { url: URL_, event_types: ['asset.*'], description: 'before' });
  expect(made.status).toBe(201);
  const route = `/api/v2/endpoints/${String(made.body!.id)}`;
  const read = await send(h, 'GET', route, {});
  return { route, read: read.body!, etag: read.etag! };
}

const statuses = (answers: readonly Answer[]) => answers.map((a) => a.status).sort();

function racesOn(servers: () => readonly TestHerald[]): void {
  /** The i-th request goes to one of the servers in turn. */
  const at = (i: number) => servers()[i % servers().length];

  it('of many PATCHes with the same If-Match at once, exactly one is made; the others answer 412 with the ETag it left', async () => {
    const { route, etag } = await created(at(0));
    const answers = await Promise.all(Array.from({ length: WRITERS }, (_, i) => send(at(i), 'PATCH', route, { 'if-match': etag }, change(i))));
    expect(statuses(answers)).toEqual([200, ...Array<number>(WRITERS - 1).fill(412)]);
    const made = answers.find((a) => a.status === 200)!;
    for (const refused of answers.filter((a) => a.status === 412)) {
      expect([refused.body?.error, refused.body?.field, refused.etag]).toEqual(['precondition_failed', 'If-Match', made.etag]);
    }
    const now = await send(at(1), 'GET', route, {});
    expect([now.body?.description, now.etag]).toEqual([made.body?.description, made.etag]);
  });

  it('of many PATCHes sending back the same copy (its updated_at) at once, exactly one is made; the others answer 409 stale_copy', async () => {
    const { route, read } = await created(at(0));
    const answers = await Promise.all(Array.from({ length: WRITERS }, (_, i) => send(at(i), 'PATCH', route, {}, { ...read, ...change(i) })));
    expect(statuses(answers)).toEqual([200, ...Array<number>(WRITERS - 1).fill(409)]);
    for (const refused of answers.filter((a) => a.status === 409)) expect([refused.body?.error, refused.body?.field]).toEqual(['stale_copy', 'updated_at']);
  });

  it('Tenovos and CMP: of many PATCHes sending back the same copy at once, exactly one is made; the others answer 422 naming the change time', async () => {
    const tenovos = await send(at(0), 'POST', '/webhooks/endpoint', {}, [{ description: 'before', eventTypes: ['asset.created'], url: URL_ }]);
    const cmp = await send(at(0), 'POST', '/cmp/v3/webhooks', {}, { callback_url: URL_, events: ['asset_added'] });
    for (const [route, changed, time] of [
      [`/webhooks/endpoint/${String(tenovos.body!.id)}`, (i: number) => ({ description: `writer ${i}`, url: `http://localhost/hooks/${i}` }), 'updatedAt'],
      [`/cmp/v3/webhooks/${String(cmp.body!.id)}`, (i: number) => ({ callback_url: `http://localhost/hooks/${i}` }), 'updated_at'],
    ] as const) {
      const read = (await send(at(0), 'GET', route, {})).body!;
      const answers = await Promise.all(Array.from({ length: WRITERS }, (_, i) => send(at(i), 'PATCH', route, {}, { ...read, ...changed(i) })));
      const made = answers.filter((a) => a.status === 200 || a.status === 204);
      expect(made).toHaveLength(1);
      for (const refused of answers.filter((a) => !made.includes(a))) expect([refused.status, refused.body?.field]).toEqual([422, time]);
    }
  });

  it('of PATCHes and DELETEs with the same If-Match at once, exactly one is made', async () => {
    const { route, etag } = await created(at(0));
    const answers = await Promise.all(
      Array.from({ length: WRITERS }, (_, i) => (i % 2 === 0 ? send(at(i), 'DELETE', route, { 'if-match': etag }) : send(at(i), 'PATCH', route, { 'if-match': etag }, change(i)))),
    );
    const made = answers.filter((a) => a.status === 200 || a.status === 204);
    expect(made).toHaveLength(1);
    // The others: 412 while the endpoint is there (changed), 404 once it is deleted.
    expect(answers.filter((a) => !made.includes(a)).every((a) => a.status === 412 || (made[0].status === 204 && a.status === 404))).toBe(true);
    expect((await send(at(1), 'GET', route, {})).status).toBe(made[0].status === 204 ? 404 : 200);
  });
}

onEveryStore('racing conditional endpoint writes', racesOn);
