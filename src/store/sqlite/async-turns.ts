// The dispatch thread's writes on its hot path wait for their turn at the write lock without
// blocking its event loop. A blocking wait stopped the whole thread behind each ingest commit
// of the main thread (a batch of 1,000 events holds the lock about 50 ms): while batches were
// published, the thread spent 35-52 % of its time in that wait, taking no answers and sending
// nothing, and delivered about 1,700/s against 10,000/s once publishing stopped.
import type { Store } from '../contract.js';
import { withMethods } from '../method-proxy.js';
import type { WriteLock } from './write-lock.js';

/**
 * `store` (an SqliteStore using `lock`), with settlements and lease renewals waiting for their
 * turn asynchronously. Claims take theirs through the dispatcher's `writeTurn` (the same
 * `lock.runAsync`), which sizes them once the turn has come.
 */
export function withAsyncTurns(store: Store, lock: WriteLock): Store {
  const inTurn = <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => await lock.runAsync(() => call(...args));
  return withMethods(
    store,
    new Map<PropertyKey, unknown>([
      ['settle', inTurn((...args: Parameters<Store['settle']>) => store.settle(...args))],
      ['extendLeases', inTurn((...args: Parameters<Store['extendLeases']>) => store.extendLeases(...args))],
    ]),
  );
}
