// The LISTEN connection of a worker when PostgreSQL stops answering without closing it: a
// server that accepts connections and never answers, a network path that silently drops an idle
// connection. Through a TCP proxy in front of the real server (pg-proxy.ts).
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { channelName, PgNotifier } from '../postgres/notify.js';
import { TEST_DATABASE_URL } from './pg-harness.js';
import { startPgProxy, type PgProxy } from './pg-proxy.js';

/** A schema name of this file's own: only the channel is used, no table. */
const schema = `herald_notifier_${process.pid}`;

/** Calls of the listener, as they come. */
function recorder(): { calls: (string | undefined)[]; listener: (payload?: string) => void; waitFor: (n: number, ms: number) => Promise<void> } {
  const calls: (string | undefined)[] = [];
  return {
    calls,
    listener: (payload) => void calls.push(payload),
    async waitFor(n, ms) {
      const deadline = Date.now() + ms;
      while (calls.length < n) {
        if (Date.now() > deadline) throw new Error(`${calls.length} calls of the listener after ${ms} ms, expected ${n}: ${JSON.stringify(calls)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

describe('PgNotifier on a connection that stops answering', () => {
  let proxy: PgProxy | undefined;
  let notifier: PgNotifier | undefined;
  let admin: pg.Client | undefined;

  afterEach(async () => {
    await notifier?.close();
    await proxy?.close();
    await admin?.end();
    notifier = proxy = admin = undefined;
  });

  /** Sends on the channel straight to the server, not through the proxy. */
  async function notify(payload: string): Promise<void> {
    if (admin === undefined) {
      admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
    }
    await admin.query('SELECT pg_notify($1, $2)', [channelName(schema), payload]);
  }

  it('replaces a LISTEN connection that no longer carries anything, and tells the listener to catch up', async () => {
    proxy = await startPgProxy();
    const heard = recorder();
    notifier = new PgNotifier(proxy.urlTo(TEST_DATABASE_URL), schema, undefined, { connectTimeoutMs: 300, checkEveryMs: 200 });
    await notifier.listen(heard.listener);
    await notify('before');
    await heard.waitFor(1, 2_000);

    // Open but dead: nothing the server sends arrives, and nothing closes the connection.
    proxy.freeze();
    await notify('lost');
    // The check goes unanswered: the connection is replaced, and the listener is called without
    // a payload (what was sent meanwhile is lost: the caller looks for itself).
    await heard.waitFor(2, 3_000);
    expect(heard.calls).toEqual(['before', undefined]);
    await notify('after');
    await heard.waitFor(3, 2_000);
    expect(heard.calls).toEqual(['before', undefined, 'after']);
  });

  it('gives up on a reconnection the server never answers and tries again until it is back', async () => {
    proxy = await startPgProxy();
    const heard = recorder();
    notifier = new PgNotifier(proxy.urlTo(TEST_DATABASE_URL), schema, undefined, { connectTimeoutMs: 300, checkEveryMs: 200 });
    await notifier.listen(heard.listener);

    // The connection drops, and the reconnection reaches a server that accepts and never answers
    // (it stays so after the restore: only a time limit ends that wait).
    proxy.cut('silent');
    await new Promise((r) => setTimeout(r, 500));
    proxy.restore();
    await heard.waitFor(1, 3_000);
    expect(heard.calls).toEqual([undefined]);
    await notify('back');
    await heard.waitFor(2, 2_000);
    expect(heard.calls).toEqual([undefined, 'back']);
  });
});
