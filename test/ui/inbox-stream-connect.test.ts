// The admin UI's relay of an inbox stream when the API accepts the connection but does not
// answer: only the wait for the response headers is bounded, the open stream is not. Over HTTP,
// against a stand-in API on 127.0.0.1 that stalls, and the UI's inbox pages on another.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiTimeoutError, HeraldApi } from '../../src/ui/api-client.js';
import type { Ui } from '../../src/ui/kit.js';
import { registerInboxPages } from '../../src/ui/pages/inboxes.js';

const CONNECT_MS = 300;
let api: Server;
let apiBase: string;
const held: ServerResponse[] = [];
let pages: FastifyInstance;
let uiBase: string;

beforeAll(async () => {
  api = createServer((req, res) => {
    held.push(res);
    // /stall: never answers. /slow: answers its headers at once, then an event after the wait.
    if (req.url?.includes('/slow/')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      setTimeout(() => res.end('event: request\ndata: {"id":"late"}\n\n'), CONNECT_MS * 3);
    }
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiBase = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  pages = Fastify();
  const ui = { api: () => new HeraldApi(apiBase, 'key', CONNECT_MS), sessionLive: async () => true } as unknown as Ui;
  registerInboxPages(pages, ui);
  uiBase = await pages.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await pages.close();
  await new Promise((resolve) => api.close(resolve));
});

describe('admin UI inbox stream, API slow to answer', () => {
  it('ends the live view with a timeout event the page retries on, when the API sends no headers in time', async () => {
    const started = Date.now();
    const stalled = await fetch(`${uiBase}/inboxes/stall/stream`, { headers: { accept: 'text/event-stream' }, signal: AbortSignal.timeout(CONNECT_MS * 10) });
    expect(stalled.status).toBe(200);
    expect(stalled.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await stalled.text()).toBe('event: timeout\ndata: {}\n\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(CONNECT_MS);
  });

  it('keeps a stream open past that wait once the API has answered', async () => {
    const res = await fetch(`${uiBase}/inboxes/slow/stream`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(': open\n\nevent: request\ndata: {"id":"late"}\n\n');
  });

  it('rejects with ApiTimeoutError from the client, not when the caller aborts', async () => {
    const client = new HeraldApi(apiBase, 'key', CONNECT_MS);
    const err = await client.stream('/api/v2/inboxes/stall/stream', new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiTimeoutError);
    const caller = new AbortController();
    const pending = client.stream('/api/v2/inboxes/stall/stream', caller.signal).catch((e: unknown) => e);
    caller.abort();
    expect(await pending).not.toBeInstanceOf(ApiTimeoutError);
  });
});
