// A TCP proxy in front of the test PostgreSQL server, for tests of what Herald does when its
// database goes away: refused (a server restarting), silent (a server or network that accepts
// connections and never answers) or frozen (connections that stay open and carry nothing, as
// after a firewall dropped them). The server itself is never stopped: other tests share it.
import net from 'node:net';
import { TEST_DATABASE_URL } from './pg-harness.js';

/**
 * - `up`: connections reach PostgreSQL.
 * - `refuse`: new connections are closed at once.
 * - `silent`: new connections are accepted and never answered; they stay so after restore().
 */
export type ProxyMode = 'up' | 'refuse' | 'silent';

export interface PgProxy {
  /** `url` (a TEST_DATABASE_URL-like URL) with its host and port replaced by the proxy's. */
  urlTo(url: string): string;
  /** Closes every connection through the proxy and treats new ones as `mode` says. */
  cut(mode: Exclude<ProxyMode, 'up'>): void;
  /** Stops carrying bytes on the open connections without closing them; new connections work. */
  freeze(): void;
  /** New connections reach PostgreSQL again. */
  restore(): void;
  close(): Promise<void>;
}

export async function startPgProxy(target: string = TEST_DATABASE_URL): Promise<PgProxy> {
  const upstream = new URL(target);
  const host = upstream.hostname || '127.0.0.1';
  const port = Number(upstream.port || 5432);
  let mode: ProxyMode = 'up';
  /** Every open socket, both sides, with what stops it carrying bytes. */
  const open = new Map<net.Socket, () => void>();

  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    if (mode === 'silent') {
      open.set(client, () => undefined);
      client.on('close', () => open.delete(client));
      client.resume();
      return;
    }
    const server = net.connect(port, host);
    server.on('error', () => undefined);
    const toServer = (chunk: Buffer) => server.write(chunk);
    const toClient = (chunk: Buffer) => client.write(chunk);
    client.on('data', toServer);
    server.on('data', toClient);
    const freeze = () => {
      client.off('data', toServer);
      server.off('data', toClient);
    };
    const end = () => {
      client.destroy();
      server.destroy();
      open.delete(client);
      open.delete(server);
    };
    open.set(client, freeze);
    open.set(server, freeze);
    client.on('close', end);
    server.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as net.AddressInfo;

  return {
    urlTo(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(proxyPort);
      return u.toString();
    },
    cut(next) {
      mode = next;
      for (const socket of [...open.keys()]) socket.destroy();
      open.clear();
    },
    freeze() {
      for (const freeze of open.values()) freeze();
    },
    restore() {
      mode = 'up';
    },
    close() {
      for (const socket of open.keys()) socket.destroy();
      open.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
