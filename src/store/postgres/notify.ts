// LISTEN/NOTIFY wake-ups for workers sharing one PostgreSQL database. A notification only says
// "new work may be due": the claim query stays the source of truth, so a lost notification
// costs at most one poll interval and a spurious one costs one empty claim.
import pg from 'pg';

const BASE_CHANNEL = 'herald_deliveries';
/** Captures of Connect inboxes (payload `<account> <inbox> <request>`), for live streams in every API process. */
export const INBOX_CHANNEL = 'herald_inbox';
/** PostgreSQL identifiers (and so channel names) are at most NAMEDATALEN - 1 bytes. */
const MAX_CHANNEL_BYTES = 63;
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
/** Connecting and LISTENing take a handshake and one statement: a server silent this long is not answering. */
const CONNECT_TIMEOUT_MS = 5_000;
/** How often an idle LISTEN connection is checked, with one statement, for still reaching the server. */
const CHECK_EVERY_MS = 30_000;

export interface NotifierTimings {
  /** Longest wait for a connection, its LISTEN, or the answer to a check (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Interval of the checks of the connection (default 30 s). */
  readonly checkEveryMs?: number;
}

/** search_path values are spliced into connection options, so only plain identifiers pass. */
export function checkSchemaName(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid schema name ${JSON.stringify(schema.slice(0, 80))}: use letters, digits and underscores`);
  }
  return schema;
}

/**
 * The channel the store notifies and the notifier listens on. The schema is part of it so
 * parallel test schemas (or several Heralds sharing a database) do not wake each other.
 */
export function channelName(schema?: string, base: string = BASE_CHANNEL): string {
  const name = schema === undefined ? base : `${base}_${checkSchemaName(schema)}`;
  // pg_notify() rejects over-long names while LISTEN truncates them: cut once, here, for both.
  return Buffer.byteLength(name) <= MAX_CHANNEL_BYTES ? name : name.slice(0, MAX_CHANNEL_BYTES);
}

/** Connection options that pin search_path, for pools and clients alike. */
export function searchPathOption(schema?: string): string | undefined {
  return schema === undefined ? undefined : `-c search_path=${checkSchemaName(schema)}`;
}

/**
 * Holds one dedicated connection LISTENing on the deliveries channel (or `base`'s) (a pooled connection
 * cannot LISTEN: it would be handed to other queries and the subscription would move with it).
 * If the connection drops it reconnects with exponential backoff, and calls `onNotify` once
 * after each reconnect because notifications sent while it was away are lost.
 *
 * A connection can also stop working without closing: a server that accepts connections but
 * does not answer, or a network path that silently drops an idle connection (a firewall or NAT
 * timing it out). Connecting and LISTENing therefore time out, and the connection is checked
 * every checkEveryMs with a statement that must be answered within connectTimeoutMs; one that is
 * not counts as dropped.
 */
export class PgNotifier {
  private readonly channel: string;
  private client: pg.Client | null = null;
  /** Called with the notification's payload; with none after a reconnect (some may have been missed). */
  private onNotify: ((payload?: string) => void) | null = null;
  private closed = false;
  private backoffMs = MIN_BACKOFF_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private readonly connectTimeoutMs: number;
  private readonly checkEveryMs: number;

  constructor(
    private readonly connectionString: string,
    private readonly schema?: string,
    base?: string,
    timings: NotifierTimings = {},
  ) {
    this.channel = channelName(schema, base);
    this.connectTimeoutMs = timings.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.checkEveryMs = timings.checkEveryMs ?? CHECK_EVERY_MS;
  }

  /** Resolves once listening; rejects if the first connection fails (bad configuration surfaces at start). */
  async listen(onNotify: (payload?: string) => void): Promise<void> {
    if (this.closed) throw new Error('PgNotifier is closed');
    if (this.onNotify) throw new Error('PgNotifier is already listening');
    this.onNotify = onNotify;
    try {
      await this.connect();
    } catch (err) {
      this.onNotify = null;
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = null;
    const client = this.client;
    this.client = null;
    if (client) await this.end(client);
  }

  /**
   * Ends a connection, waiting at most connectTimeoutMs: on a connection that carries nothing
   * any more, the goodbye is never answered.
   */
  private async end(client: pg.Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.end().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.connectTimeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      options: searchPathOption(this.schema),
      application_name: 'herald-notifier',
      keepAlive: true,
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.connectTimeoutMs,
    });
    // Attach before connecting: an 'error' event without a listener would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.onNotify?.(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      await this.end(client);
      throw err;
    }
    if (this.closed) {
      // close() ran while we were connecting.
      await this.end(client);
      return;
    }
    // Only now does the client count: a drop before this point is the caller's failure to handle.
    this.client = client;
    this.backoffMs = MIN_BACKOFF_MS;
    this.watch(client);
  }

  /** Checks the connection now and then: one that no longer answers is dropped (and replaced). */
  private watch(client: pg.Client): void {
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = setInterval(() => {
      if (this.client !== client) return;
      client.query('SELECT 1').catch(() => this.lost(client));
    }, this.checkEveryMs);
    this.checkTimer.unref();
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = null;
    void this.end(client);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    // Jittered, so many workers do not stampede a database that just came back.
    const delay = Math.round(this.backoffMs / 2 + (Math.random() * this.backoffMs) / 2);
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().then(
        () => {
          if (!this.closed) this.onNotify?.();
        },
        () => this.scheduleReconnect(),
      );
    }, delay);
    this.retryTimer.unref();
  }
}
