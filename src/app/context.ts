import type { Logger } from 'pino';
import type { KeyAuthenticator } from '../api/middleware/auth.js';
import type { Config } from '../config/index.js';
import type { EndpointCache } from '../delivery/endpoint-cache.js';
import type { InboxService } from '../inbox/service.js';
import type { Ingestor } from '../ingest/ingestor.js';
import type { SsrfGuard } from '../net/ssrf-guard.js';
import type { HeraldMetrics } from '../observability/metrics.js';
import type { Store } from '../store/contract.js';
import type { Recoveries } from './recoveries.js';

export type DispatcherState = 'running' | 'starting' | 'restarting';

/** Everything a route or command needs, built once by the composition root. */
export interface AppContext {
  readonly config: Config;
  readonly store: Store;
  readonly ingestor: Ingestor;
  /** Recovers (replay many) as operations worked off in chunks. */
  readonly recoveries: Recoveries;
  readonly guard: SsrfGuard;
  readonly keys: KeyAuthenticator;
  readonly endpointCache: EndpointCache;
  /** Connect inboxes: token look-up, capture, live streams. */
  readonly inboxes: InboxService;
  readonly logger: Logger;
  readonly metrics: HeraldMetrics;
  readonly version: string;
  /** Present when this process runs a dispatcher (serve, worker), here or on its dispatch thread. */
  readonly dispatcher: { notify(): void } | undefined;
  /**
   * Whether this process's dispatcher sends deliveries now (readiness asks): undefined in a
   * process without one (herald api), `starting` before the dispatch thread has first started,
   * `restarting` while a thread that stopped is being replaced.
   */
  dispatcherState(): DispatcherState | undefined;
  readonly defaultAccountId: string;
  readonly clock: () => number;
  /** Call after changing an endpoint so caches in this process drop it at once. */
  endpointChanged(endpointId: string): void;
  /** Call after changing an account's limits so caches in this process drop them at once. */
  accountChanged(accountId: string): void;
}
