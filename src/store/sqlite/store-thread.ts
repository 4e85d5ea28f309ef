// The embedded store's own thread: it owns the SQLite connection and runs the store's methods
// in the order they arrive, so commits, fsyncs and checkpoints never hold up the event loop
// that serves HTTP and sends deliveries. See threaded-store.ts for the other side.
import { parentPort, workerData } from 'node:worker_threads';
import { SecretBox } from '../../signing/secretbox.js';
import { SqliteStore } from './sqlite-store.js';
import { type StoreCall, type StoreReply, type StoreThreadOptions, serializeError } from './thread-protocol.js';

const options = workerData as StoreThreadOptions;
const port = parentPort!;

function open(): SqliteStore | undefined {
  try {
    return new SqliteStore({ file: options.file, synchronous: options.synchronous, sealer: new SecretBox(SecretBox.parseKey(options.key)) });
  } catch (err) {
    port.postMessage({ id: 0, error: serializeError(err) } satisfies StoreReply);
    return undefined;
  }
}

const store = open();
if (store) {
  port.postMessage({ id: 0, value: 'ready' } satisfies StoreReply);
  port.on('message', (call: StoreCall) => {
    // The SQLite store's methods do their work synchronously before returning, so calls run
    // one at a time, in arrival order, just as they would on the main thread.
    let result: Promise<unknown>;
    try {
      result = (store[call.method] as (...args: unknown[]) => Promise<unknown>).apply(store, [...call.args]);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (value) => port.postMessage({ id: call.id, value } satisfies StoreReply),
      (err: unknown) => port.postMessage({ id: call.id, error: serializeError(err) } satisfies StoreReply),
    );
  });
}
