// The embedded store run on a thread of its own (store-thread.ts), with HERALD_SQLITE_THREAD=on.
// SQLite's calls block: on the main thread every commit, fsync and checkpoint stops HTTP and
// deliveries for its duration. Here the main thread only posts calls and awaits answers; the
// store's behaviour is unchanged, since the thread runs the same SqliteStore, one call at a
// time, in the order the calls were made (claims excepted: see store-thread.ts). Crossing
// threads costs CPU on both sides, which pays only where a core would otherwise idle.
import { Worker } from 'node:worker_threads';
import { RestartBackoff } from '../../domain/restart-backoff.js';
import { threadScript } from '../../domain/thread-script.js';
import type { Page } from '../../domain/types.js';
import type { InboxRequest } from '../../inbox/types.js';
import type { IngestItem, IngestLease, Store } from '../contract.js';
import type { SqliteOptions } from './sqlite-store.js';
import { deserializeError, type StoreMethod, type StoreReply, type StoreThreadOptions, type WritesNotice } from './thread-protocol.js';
import { OutcomeUnknownError, THREAD_DOWN } from '../unavailable.js';

const STORE_METHODS = [
  'close', 'migrate', 'schemaState', 'opensCredentials', 'createAccount', 'getAccount', 'updateAccount', 'listAccounts', 'createProject', 'getProject',
  'listProjects', 'createApiKey', 'findApiKeyByHash', 'listApiKeys', 'deleteApiKey', 'syncEnvKey', 'countOperatorKeys', 'createUiSession', 'findUiSession', 'deleteUiSession', 'recordAuthFailure', 'pruneAuthFailures', 'createEventType',
  'updateEventType', 'getEventTypes', 'listEventTypes', 'listEventTypePage', 'deleteEventType', 'createEndpoint',
  'updateEndpoint', 'rotateSecretOnce', 'disableEndpoint', 'getEndpoint', 'getEndpointsByIds', 'listEndpoints', 'activeEndpoints', 'deleteEndpoint', 'purgeDeletedEndpoints', 'endpointsVersion', 'ingest',
  'claim', 'settle', 'pendingNotices', 'clearNotices', 'extendLeases', 'releaseLeases', 'nextDueAt', 'getEvent', 'getDelivery', 'listDeliveries', 'listAttempts', 'retryDelivery',
  'countRecoverable', 'beginRecovery', 'findRecovery', 'getRecovery', 'advanceRecovery', 'claimRecovery', 'endpointHealth', 'activity', 'stats', 'queueDepth', 'nextCounter', 'listEndpointAttempts', 'reserveRate', 'prune',
  'createInbox', 'updateInbox', 'getInbox', 'findInboxByTokenHash', 'listInboxes', 'deleteInbox', 'captureInboxRequest', 'listInboxRequests',
  'getInboxRequest', 'purgeInboxRequests', 'trimInboxRequests', 'pruneInboxRequests',
] as const satisfies readonly StoreMethod[];

// A Store method added to the contract but not listed above fails to compile here.
type Unlisted = Exclude<StoreMethod, (typeof STORE_METHODS)[number]>;
const everyMethodListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyMethodListed;

export interface ThreadedStoreOptions extends StoreThreadOptions {
  /**
   * The thread stopped on its own (a bug, or out of memory): calls fail while a new one opens
   * the database, which starts at once, then after a growing pause if it keeps stopping.
   */
  readonly onFailure?: (err: Error, restartInMs: number) => void;
  readonly onWrites?: SqliteOptions['onWrites'];
  /** The script the thread runs (tests wrap the real one to make it fail). */
  readonly script?: URL;
}

/** Starts the store's thread and resolves once its database is open. */
export async function openThreadedSqliteStore(options: ThreadedStoreOptions): Promise<Store> {
  const thread = new StoreThread(options);
  await thread.ready;
  const store: Record<string, unknown> = { dialect: 'sqlite' };
  for (const method of STORE_METHODS) store[method] = (...args: unknown[]) => thread.call(method, args);
  store.ingest = (items: readonly IngestItem[], now: number, lease?: IngestLease) => thread.call('ingest', [items.map(slim), now, lease]);
  store.close = () => thread.close();
  // Buffers arrive as plain Uint8Arrays: captured bodies are given back their Buffer view.
  store.getInboxRequest = async (...args: unknown[]) => withBuffer((await thread.call('getInboxRequest', args)) as InboxRequest | undefined);
  store.listInboxRequests = async (...args: unknown[]) => {
    const page = (await thread.call('listInboxRequests', args)) as Page<InboxRequest>;
    return { ...page, items: page.items.map(withBuffer) };
  };
  return store as unknown as Store;
}

function withBuffer<T extends InboxRequest | undefined>(request: T): T {
  if (request === undefined || Buffer.isBuffer(request.body)) return request;
  const body: Uint8Array = request.body;
  return { ...request, body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
}

/** The store reads only these fields of an event: the payload travels once, in the body. */
function slim(item: IngestItem): IngestItem {
  const { type, idempotencyKey, occurredAt, projectId, resource } = item.event;
  return { accountId: item.accountId, messageId: item.messageId, endpoints: item.endpoints, body: item.body, event: { type, idempotencyKey, occurredAt, projectId, resource } };
}

/** A store whose thread is down is unavailable for now: the API answers 503, not 500 (store/unavailable.ts). */
function threadDown(message: string): Error {
  return Object.assign(new Error(message), { code: THREAD_DOWN });
}

interface Waiter {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

class StoreThread {
  readonly ready: Promise<void>;
  private worker: Worker;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  /** Why calls fail now: the store is closed, or its thread is restarting. */
  private failure: Error | null = null;
  private closing = false;
  private readonly backoff = new RestartBackoff();
  private restartTimer: NodeJS.Timeout | undefined;
  /** The last thread whose stop was handled ('error' and 'exit' both report one). */
  private gone: Worker | undefined;

  constructor(private readonly options: ThreadedStoreOptions) {
    this.worker = this.spawn();
    this.ready = this.started();
    this.ready.catch(() => {
      this.closing = true;
      void this.worker.terminate();
    });
  }

  call(method: StoreMethod, args: readonly unknown[]): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    // The thread keeps the process alive only while an answer is awaited, as a pending
    // database call on the main thread would.
    if (this.waiting.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    clearTimeout(this.restartTimer);
    // A thread between restarts has nothing to close: the database is shut already.
    if (!this.failure) await this.call('close', []);
    this.closing = true;
    this.failure = new Error('the store is closed');
    await this.worker.terminate();
  }

  private spawn(): Worker {
    const { file, synchronous, key, writeLock } = this.options;
    const worker = new Worker(this.options.script ?? threadScript(import.meta.url, 'store-thread'), { workerData: { file, synchronous, key, writeLock } satisfies StoreThreadOptions });
    worker.on('message', (reply: StoreReply | WritesNotice) => ('writes' in reply ? this.writes(reply.writes) : this.answer(reply)));
    worker.on('error', (err) => this.stopped(worker, err));
    worker.on('exit', (code) => this.stopped(worker, threadDown(`the SQLite store thread stopped (exit code ${code})`)));
    return worker;
  }

  /** Resolves once the current thread has opened the database (its answer to call id 0). */
  private started(): Promise<void> {
    this.backoff.started();
    return new Promise<void>((resolve, reject) => this.waiting.set(0, { resolve: () => resolve(), reject }));
  }

  private writes(notice: WritesNotice['writes']): void {
    this.options.onWrites?.(notice.state === 'refused' ? { state: 'refused', err: deserializeError(notice.err) } : notice);
  }

  private answer(reply: StoreReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if ('error' in reply) waiter.reject(deserializeError(reply.error));
    else waiter.resolve(reply.value);
  }

  /**
   * Every call the stopped thread held fails, its outcome unknown (it committed or rolled back,
   * as a crashed process would), and a new thread opens the database. The first start failing is
   * the caller's to handle (openThreadedSqliteStore rejects); later ones are retried with growing pauses.
   */
  private stopped(worker: Worker, err: Error): void {
    if (this.closing || worker !== this.worker || worker === this.gone) return;
    this.gone = worker;
    const firstStart = this.waiting.has(0) && this.failure === null;
    for (const [id, waiter] of this.waiting) waiter.reject(id === 0 ? err : new OutcomeUnknownError(err));
    this.waiting.clear();
    if (firstStart) return;
    const delay = this.backoff.nextDelay();
    this.failure = threadDown(`the SQLite store thread stopped and restarts in ${delay} ms: ${err.message}`);
    this.options.onFailure?.(err, delay);
    this.restartTimer = setTimeout(() => this.restart(), delay);
    this.restartTimer.unref();
  }

  private restart(): void {
    if (this.closing) return;
    this.worker = this.spawn();
    this.started().then(
      () => {
        if (!this.closing) this.failure = null;
      },
      // The thread answered that it could not open the database, and stops: its exit schedules the next try.
      () => undefined,
    );
  }
}
