import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyError } from './errors.js';
import { HttpSender, MAX_RESPONSE_LOGGED } from './http-sender.js';

type Route = (req: IncomingMessage, res: ServerResponse) => void;

const routes: Record<string, Route> = {
  '/ok': (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.writeHead(201, { 'x-echo': req.headers['x-test'] ?? '' }).end(`got ${req.method} ${body}`));
  },
  '/big': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('a'.repeat(MAX_RESPONSE_LOGGED) + 'b'.repeat(300_000));
  },
  '/endless': (_req, res) => {
    res.writeHead(202);
    const chunk = 'x'.repeat(16 * 1024);
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  },
  '/hang': () => {},
  '/trickle': (_req, res) => {
    res.writeHead(200);
    res.write('first part');
  },
  '/retry': (_req, res) => res.writeHead(503, { 'retry-after': '7' }).end('busy'),
};

let server: Server;
let base: string;
let connections = 0;
const sender = new HttpSender();

beforeAll(async () => {
  server = createServer((req, res) => (routes[req.url ?? ''] ?? ((_q, r: ServerResponse) => r.writeHead(404).end()))(req, res));
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await sender.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const send = (path: string, timeoutMs = 5_000, body = '{"n":1}') =>
  sender.send({ url: `${base}${path}`, method: 'POST', headers: { 'content-type': 'application/json', 'x-test': 'yes' }, body, timeoutMs });

describe('HttpSender', () => {
  it('sends method, headers and body, and returns status, headers and body', async () => {
    const answer = await send('/ok', 5_000, '{"hello":"world"}');
    expect(answer.statusCode).toBe(201);
    expect(answer.headers['x-echo']).toBe('yes');
    expect(answer.bodyStart).toBe('got POST {"hello":"world"}');
  });

  it('reuses one keep-alive connection for consecutive attempts', async () => {
    await send('/ok');
    const before = connections;
    for (let i = 0; i < 5; i++) await send('/ok');
    expect(connections).toBe(before);
  });

  it('keeps the first 4 KiB of a huge answer and still returns its status', async () => {
    const answer = await send('/big');
    expect(answer.statusCode).toBe(200);
    expect(answer.bodyStart).toBe('a'.repeat(MAX_RESPONSE_LOGGED));
  });

  it('answers an endless body once the read limit is passed', async () => {
    const answer = await send('/endless', 10_000);
    expect(answer.statusCode).toBe(202);
    expect(answer.bodyStart.length).toBe(MAX_RESPONSE_LOGGED);
  });

  it('passes a non-2xx answer and its headers through for the retry policy', async () => {
    const answer = await send('/retry');
    expect(answer).toMatchObject({ statusCode: 503, bodyStart: 'busy' });
    expect(answer.headers['retry-after']).toBe('7');
  });

  it('rejects with a timeout when no status arrives in time', async () => {
    const started = Date.now();
    const err = await send('/hang', 300).catch((e: unknown) => e);
    expect(classifyError(err).kind).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('answers with the status when the body stops arriving after it', async () => {
    const answer = await send('/trickle', 300);
    expect(answer).toMatchObject({ statusCode: 200, bodyStart: 'first part' });
  });

  it('rejects with a connect error when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await sender
      .send({ url: `http://127.0.0.1:${port}/x`, method: 'POST', headers: {}, body: '', timeoutMs: 2_000 })
      .catch((e: unknown) => e);
    expect(classifyError(err).kind).toBe('connect');
  });

  it('rejects a malformed URL instead of throwing', async () => {
    await expect(sender.send({ url: 'not a url', method: 'POST', headers: {}, body: '', timeoutMs: 1_000 })).rejects.toThrow();
  });
});
