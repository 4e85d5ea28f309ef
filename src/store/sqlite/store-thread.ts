// The embedded store's own thread: it owns the SQLite connection and runs the store's methods
// one at a time, so commits, fsyncs and checkpoints never hold up the event loop that serves
// HTTP and sends deliveries. See threaded-store.ts for the other side.
import { parentPort, workerData } from 'node:worker_threads';
import { SecretBox } from '../../signing/secretbox.js';
import { SqliteStore, type WritesReport } from './sqlite-store.js';
import { WriteLock } from './write-lock.js';
import { type StoreCall, type StoreMethod, type StoreReply, type StoreThreadOptions, type WritesNotice, serializeError, serializeWrites } from './thread-protocol.js';

const options = workerData as StoreThreadOptions;
const port = parentPort!;

function open(): SqliteStore | undefined {
  try {
    const writeLock = options.writeLock && new WriteLock(options.writeLock);
    const onWrites = (report: WritesReport) => port.postMessage({ writes: serializeWrites(report) } satisfies WritesNotice);
    return new SqliteStore({ file: options.file, synchronous: options.synchronous, sealer: new SecretBox(SecretBox.parseKey(options.key)), writeLock, onWrites });
  } catch (err) {
    port.postMessage({ id: 0, error: serializeError(err) } satisfies StoreReply);
    return undefined;
  }
}

/**
 * Claims go ahead of calls that came before them: a claim waiting behind the next ingest
 * commit (and its fsync) added that commit to every delivery's latency. Reordering them is
 * safe: a claim only takes what is committed when it runs. Every other call keeps its order.
 */
const AHEAD = new Set<StoreMethod>(['claim', 'nextDueAt']);
const ahead: StoreCall[] = [];
const inOrder: StoreCall[] = [];
let scheduled = false;

function run(target: SqliteStore, call: StoreCall): void {
  let result: Promise<unknown>;
  try {
    result = (target[call.method] as (...args: unknown[]) => Promise<unknown>).apply(target, [...call.args]);
  } catch (err) {
    result = Promise.reject(err);
  }
  result.then(
    (value) => port.postMessage({ id: call.id, value } satisfies StoreReply),
    (err: unknown) => port.postMessage({ id: call.id, error: serializeError(err) } satisfies StoreReply),
  );
}

/** One call per turn of the event loop, so calls that arrive meanwhile are seen before the next. */
function next(target: SqliteStore): void {
  scheduled = false;
  const call = ahead.shift() ?? inOrder.shift();
  if (call) run(target, call);
  if (ahead.length > 0 || inOrder.length > 0) schedule(target);
}

function schedule(target: SqliteStore): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => next(target));
}

const store = open();
if (store) {
  port.postMessage({ id: 0, value: 'ready' } satisfies StoreReply);
  port.on('message', (call: StoreCall) => {
    (AHEAD.has(call.method) ? ahead : inOrder).push(call);
    schedule(store);
  });
}
