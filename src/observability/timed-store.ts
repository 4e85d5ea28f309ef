// Times the store calls on the hot path without touching the drivers: a proxy that replaces a
// few methods of any Store with timed versions and passes everything else through.
import type { IngestOutcome, Store } from '../store/contract.js';
import { withMethods } from '../store/method-proxy.js';

export type TimedOperation = 'ingest' | 'claim' | 'settle' | 'nextDueAt' | 'reserveRate' | 'queueDepth';

export interface StoreObserver {
  operation(name: TimedOperation, seconds: number): void;
  /** An ingest committed: the outcomes of its events (duplicates included). */
  ingested(outcomes: readonly IngestOutcome[]): void;
}

export function instrumentStore(store: Store, observer: StoreObserver): Store {
  const timed = <A extends unknown[], R>(name: TimedOperation, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        return await call(...args);
      } finally {
        observer.operation(name, (performance.now() - started) / 1000);
      }
    };
  const replaced = new Map<PropertyKey, unknown>([
    ['ingest', timed('ingest', async (...args: Parameters<Store['ingest']>) => {
      const outcomes = await store.ingest(...args);
      observer.ingested(outcomes);
      return outcomes;
    })],
    ['claim', timed('claim', (request: Parameters<Store['claim']>[0]) => store.claim(request))],
    ['settle', timed('settle', (...args: Parameters<Store['settle']>) => store.settle(...args))],
    ['nextDueAt', timed('nextDueAt', () => store.nextDueAt())],
    ['reserveRate', timed('reserveRate', (...args: Parameters<Store['reserveRate']>) => store.reserveRate(...args))],
    ['queueDepth', timed('queueDepth', (accountId?: string, endpointId?: string) => store.queueDepth(accountId, endpointId))],
  ]);
  return withMethods(store, replaced);
}
