import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { HttpSender } from './http-sender.js';
import { OriginPool, type OriginPoolOptions } from './origin-pool.js';

/** A receiver that holds each answer until told, and counts its connections. */
class Receiver {
  server!: Server;
  url = '';
  connections = 0;
  readonly sockets = new Set<Socket>();
  peakOpen = 0;
  readonly arrived: string[] = [];
  private readonly held: ServerResponse[] = [];
  hold = false;

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        this.arrived.push(req.url ?? '');
        if (this.hold) this.held.push(res);
        else res.writeHead(200).end('ok');
      });
    });
    this.server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      this.peakOpen = Math.max(this.peakOpen, this.sockets.size);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async waitForArrivals(n: number): Promise<void> {
    for (let i = 0; i < 500 && this.arrived.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(this.arrived.length).toBe(n);
  }

  /** Closes every connection and waits until the server has seen them closed. */
  async reset(): Promise<void> {
    this.releaseAll();
    this.server.closeAllConnections();
    for (let i = 0; i < 500 && this.sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 5));
    this.connections = 0;
    this.peakOpen = 0;
    this.arrived.length = 0;
    this.hold = false;
  }

  releaseAll(): void {
    for (const res of this.held.splice(0)) res.writeHead(200).end('ok');
  }

  async stop(): Promise<void> {
    this.releaseAll();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** undici frees a connection a full event-loop turn after its answer (a server may still close it). */
const turn = () => new Promise((r) => setTimeout(r, 10));

const post = (sender: HttpSender, url: string, timeoutMs = 5_000) =>
  sender.send({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs });

describe('OriginPool (one per origin in HttpSender)', () => {
  const rx = new Receiver();
  let sender: HttpSender;

  beforeAll(() => rx.start());
  afterAll(() => rx.stop());
  afterEach(async () => {
    await sender?.close(true);
    await rx.reset();
  });

  it('sends one request per origin over a single connection, reused for the next', async () => {
    sender = new HttpSender();
    for (let i = 0; i < 5; i++) {
      expect((await post(sender, `${rx.url}/seq/${i}`)).statusCode).toBe(200);
      await turn();
    }
    expect(rx.connections).toBe(1);
  });

  it('opens another connection only while every one it has is busy', async () => {
    sender = new HttpSender();
    rx.hold = true;
    const pending = Array.from({ length: 6 }, (_, i) => post(sender, `${rx.url}/burst/${i}`));
    await rx.waitForArrivals(6);
    expect(rx.peakOpen).toBe(6);
    rx.releaseAll();
    expect((await Promise.all(pending)).map((a) => a.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    // The six stay open and serve what follows: no seventh connection.
    rx.hold = false;
    await turn();
    await Promise.all(Array.from({ length: 6 }, (_, i) => post(sender, `${rx.url}/again/${i}`)));
    expect(rx.connections).toBe(6);
  });

  it('with a limit, keeps the requests past it waiting in order and never opens more', async () => {
    sender = new HttpSender({ connectionsPerOrigin: 2 });
    rx.hold = true;
    const pending = Array.from({ length: 5 }, (_, i) => post(sender, `${rx.url}/capped/${i}`));
    await rx.waitForArrivals(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.arrived).toEqual(['/capped/0', '/capped/1']);
    rx.hold = false;
    rx.releaseAll();
    const answers = await Promise.all(pending);
    expect(answers.every((a) => a.statusCode === 200)).toBe(true);
    expect(rx.arrived).toEqual(['/capped/0', '/capped/1', '/capped/2', '/capped/3', '/capped/4']);
    expect(rx.peakOpen).toBe(2);
    expect(rx.connections).toBe(2);
  });

  it('fails a request whose connection cannot be made, and the next one to that origin still gets through', async () => {
    const probe = createServer((_q, res) => res.writeHead(204).end());
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    sender = new HttpSender();
    await expect(post(sender, `http://127.0.0.1:${port}/x`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const again = createServer((_q, res) => res.writeHead(204).end());
    await new Promise<void>((resolve) => again.listen(port, '127.0.0.1', resolve));
    try {
      expect((await post(sender, `http://127.0.0.1:${port}/x`)).statusCode).toBe(204);
    } finally {
      await sender.close(true);
      again.closeAllConnections();
      await new Promise<void>((resolve) => again.close(() => resolve()));
    }
  });

  it('a limited origin whose connection cannot be made fails its waiting requests too, none left hanging', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    sender = new HttpSender({ connectionsPerOrigin: 1 });
    const outcomes = await Promise.all(
      Array.from({ length: 3 }, (_, i) => post(sender, `http://127.0.0.1:${port}/r${i}`, 3_000).catch((err: { code?: string; name?: string }) => err.code ?? err.name)),
    );
    expect(outcomes).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
  });

  it('a limited origin whose request times out hands its connection on to the one waiting', async () => {
    sender = new HttpSender({ connectionsPerOrigin: 1 });
    rx.hold = true;
    const first = post(sender, `${rx.url}/first`, 300);
    const second = post(sender, `${rx.url}/second`);
    await rx.waitForArrivals(1);
    // The first times out: its connection is closed, and the waiting request goes out on a new one.
    await expect(first).rejects.toMatchObject({ name: 'TimeoutError' });
    await rx.waitForArrivals(2);
    rx.releaseAll();
    expect((await second).statusCode).toBe(200);
    expect(rx.arrived).toEqual(['/first', '/second']);
  });

  it('closing lets waiting requests finish first; destroying fails them', async () => {
    sender = new HttpSender({ connectionsPerOrigin: 1 });
    rx.hold = true;
    const running = post(sender, `${rx.url}/a`);
    const waiting = post(sender, `${rx.url}/b`);
    await rx.waitForArrivals(1);
    const closed = sender.close();
    rx.hold = false;
    rx.releaseAll();
    await closed;
    expect((await running).statusCode).toBe(200);
    expect((await waiting).statusCode).toBe(200);

    const other = new HttpSender({ connectionsPerOrigin: 1 });
    rx.hold = true;
    const held = post(other, `${rx.url}/c`).catch((err: unknown) => err);
    const queued = post(other, `${rx.url}/d`).catch((err: unknown) => err);
    await rx.waitForArrivals(3);
    await other.close(true);
    expect(await held).toMatchObject({ code: 'UND_ERR_DESTROYED' });
    expect(await queued).toMatchObject({ code: 'UND_ERR_DESTROYED' });
    expect(rx.arrived).not.toContain('/d');
  });

  it('keeps using one connection when undici refuses a request before sending it (an invalid header)', async () => {
    let pool: OriginPool | undefined;
    const agent = new Agent({ factory: (origin, opts) => (pool = new OriginPool(origin, opts as OriginPoolOptions)) });
    try {
      for (let i = 0; i < 5; i++) {
        await expect(agent.request({ origin: rx.url, path: '/bad', method: 'POST', headers: { 'x-bad': 'caf\u20ac' }, body: '{}' })).rejects.toMatchObject({ code: 'UND_ERR_INVALID_ARG' });
      }
      const ok = await agent.request({ origin: rx.url, path: '/good', method: 'POST', body: '{}' });
      await ok.body.text();
      expect(ok.statusCode).toBe(200);
      expect(pool?.size).toBe(1);
    } finally {
      await agent.close();
    }
  });
});
