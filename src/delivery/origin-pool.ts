// One origin's keep-alive connections, made by the sender's Agent for each origin it meets.
//
// It begins with one undici Client and opens another only when every one it has is busy, one
// request per connection. Most origins of a fan-out see a single request, and undici's Pool cost
// 20–30 % more CPU per new origin than one Client (bench/NOTES.md): a 2,048-slot queue and cloned
// options per origin, and a spare Client opened ahead of need after each dispatch. Finding a free
// connection is a pop from a stack here, where the Pool scans all of its clients.
import { EventEmitter } from 'node:events';
import { Client, Dispatcher, errors } from 'undici';

export interface OriginPoolOptions extends Client.Options {
  /** Connections at most; unlimited when absent or null. Requests past it wait here in order. */
  readonly connections?: number | null;
}

interface Connection {
  readonly client: Client;
  /** On the idle stack: it may take a request now. */
  idle: boolean;
  /** Dropped after it failed to connect; its late events are ignored. */
  gone: boolean;
}

interface Waiting {
  readonly opts: Dispatcher.DispatchOptions;
  readonly handler: Dispatcher.DispatchHandler;
}

type Callback = () => void;

export class OriginPool extends Dispatcher {
  private readonly origin: string | URL;
  private readonly clientOptions: Client.Options;
  private readonly max: number;
  private readonly connections = new Set<Connection>();
  /** The most recently freed on top, so connections beyond the usual need go quiet and time out. */
  private readonly idle: Connection[] = [];
  private readonly waiting: Waiting[] = [];
  private waitingHead = 0;
  /** A dispatch answered false (its request waits): say 'drain' once one can be taken again. */
  private needDrain = false;
  private closing: Promise<void> | null = null;
  private settleClose: Callback | null = null;
  destroyed = false;

  constructor(origin: string | URL, { connections, ...clientOptions }: OriginPoolOptions = {}) {
    super();
    this.origin = origin;
    this.clientOptions = clientOptions;
    this.max = connections == null || connections <= 0 ? Infinity : connections;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Requests waiting for a connection (only ever with a `connections` limit). */
  get queued(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** Connections opened and not dropped (each may be connected or not at the moment). */
  get size(): number {
    return this.connections.size;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // Thrown errors reach the handler through the Agent, which dispatches inside a try.
    if (this.destroyed) throw new errors.ClientDestroyedError();
    if (this.closing) throw new errors.ClientClosedError();
    const conn = this.take();
    if (!conn) {
      this.waiting.push({ opts, handler });
      this.needDrain = true;
      return false;
    }
    this.send(conn, opts, handler);
    return true;
  }

  override close(): Promise<void>;
  override close(callback: Callback): void;
  override close(callback?: Callback): Promise<void> | void {
    this.closing ??= this.closeAll();
    if (!callback) return this.closing;
    this.closing.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: Callback): void;
  override destroy(err: Error | null, callback: Callback): void;
  override destroy(errOrCallback?: Error | null | Callback, callback?: Callback): Promise<void> | void {
    const err = typeof errOrCallback === 'function' ? null : (errOrCallback ?? null);
    const done = typeof errOrCallback === 'function' ? errOrCallback : callback;
    const destroying = this.destroyAll(err);
    if (!done) return destroying;
    destroying.then(done, done);
  }

  /** An idle connection, or a new one while under the limit. */
  private take(): Connection | null {
    const conn = this.idle.pop();
    if (conn) {
      conn.idle = false;
      return conn;
    }
    return this.connections.size < this.max ? this.open() : null;
  }

  /**
   * Hands a request to a connection. It stays busy until its 'drain', unless it can take more at
   * once, or never took the request: undici refused it (an invalid header, say) and failed its
   * handler, and no 'drain' will come.
   */
  private send(conn: Connection, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    if (conn.client.dispatch(opts, handler) || conn.client.stats.size === 0) this.release(conn);
  }

  private release(conn: Connection): void {
    if (conn.idle || conn.gone) return;
    conn.idle = true;
    this.idle.push(conn);
  }

  private open(): Connection {
    const client = new Client(this.origin, this.clientOptions);
    const conn: Connection = { client, idle: false, gone: false };
    this.connections.add(conn);
    client
      .on('drain', () => this.onDrain(conn))
      .on('connect', (origin, targets) => this.emit('connect', origin, [this, ...targets]))
      .on('disconnect', (origin, targets, err) => this.emit('disconnect', origin, [this, ...targets], err))
      .on('connectionError', (origin, targets, err) => {
        // As undici's Pool does: a client that failed to connect cannot be closed in that state;
        // it is dropped and its requests have failed with the error.
        this.drop(conn);
        this.emit('connectionError', origin, [this, ...targets], err);
      });
    return conn;
  }

  private drop(conn: Connection): void {
    conn.gone = true;
    this.connections.delete(conn);
    if (conn.idle) this.idle.splice(this.idle.indexOf(conn), 1);
    conn.idle = false;
    // Requests that waited for a connection may now open one in its place.
    while (this.queued > 0 && this.connections.size < this.max) this.pass(this.open());
  }

  /** A connection finished its request: it takes the next waiting one, or goes idle. */
  private onDrain(conn: Connection): void {
    if (conn.gone) return;
    this.pass(conn);
  }

  private pass(conn: Connection): void {
    if (this.queued === 0) {
      this.release(conn);
      return;
    }
    const next = this.shift();
    this.send(conn, next.opts, next.handler);
    if (this.queued === 0) {
      if (this.needDrain) {
        this.needDrain = false;
        // undici's Agent forwards 'drain' with the targets that drained (its types name only
        // the origin), as every undici dispatcher emits it.
        EventEmitter.prototype.emit.call(this, 'drain', new URL(String(this.origin)), [this]);
      }
      this.settleClose?.();
    }
  }

  private shift(): Waiting {
    const next = this.waiting[this.waitingHead];
    this.waiting[this.waitingHead++] = undefined as unknown as Waiting;
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    }
    return next;
  }

  /** Closing lets the waiting requests run first, then closes each connection once it is done. */
  private async closeAll(): Promise<void> {
    if (this.queued > 0) await new Promise<void>((resolve) => (this.settleClose = resolve));
    this.settleClose = null;
    await Promise.all([...this.connections].map((c) => (c.client.destroyed ? undefined : c.client.close())));
  }

  private async destroyAll(err: Error | null): Promise<void> {
    this.destroyed = true;
    const failure = err ?? new errors.ClientDestroyedError();
    while (this.queued > 0) {
      const { handler } = this.shift();
      // Handlers reach a dispatcher in undici's own shape, which has onError.
      (handler as { onError?(e: Error): void }).onError?.(failure);
    }
    this.settleClose?.();
    this.idle.length = 0;
    await Promise.all([...this.connections].map((c) => c.client.destroy(err)));
  }
}
