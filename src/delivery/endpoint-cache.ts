// The dispatcher's view of endpoints and accounts: loaded in batches, kept briefly, and
// dropped at once when this process changes them. Other processes' changes show within ttlMs.
import type { Account, Endpoint } from '../domain/types.js';
import type { Store } from '../store/contract.js';

interface Entry<T> {
  readonly value: T | undefined;
  readonly loadedAt: number;
}

export class EndpointCache {
  private readonly endpoints = new Map<string, Entry<Endpoint>>();
  private readonly accounts = new Map<string, Entry<Account>>();
  /** Loads of one endpoint under way, shared by the attempts that wait for it. */
  private readonly loading = new Map<string, Promise<Endpoint | undefined>>();
  /** Counts invalidations: a load that began before one does not keep what it read. */
  private epoch = 0;

  constructor(
    private readonly store: Pick<Store, 'getEndpointsByIds' | 'getAccount'>,
    private readonly ttlMs: number = 1_000,
    private readonly clock: () => number = Date.now,
  ) {}

  invalidate(endpointId: string): void {
    this.epoch++;
    this.endpoints.delete(endpointId);
  }

  invalidateAccount(accountId: string): void {
    this.epoch++;
    this.accounts.delete(accountId);
  }

  /**
   * The endpoint as an attempt should send to it: from the cache while its entry and its
   * account's are fresh, otherwise read again (one read however many attempts ask at once).
   * Workers that share a database learn of another process's change this way, within ttlMs.
   */
  current(endpointId: string): Endpoint | undefined | Promise<Endpoint | undefined> {
    const now = this.clock();
    const entry = this.endpoints.get(endpointId);
    if (this.fresh(entry, now) && (!entry!.value || this.fresh(this.accounts.get(entry!.value.accountId), now))) return entry!.value;
    let pending = this.loading.get(endpointId);
    if (!pending) {
      pending = this.load([endpointId])
        .then((found) => found.get(endpointId))
        .finally(() => this.loading.delete(endpointId));
      this.loading.set(endpointId, pending);
    }
    return pending;
  }

  peek(endpointId: string): Endpoint | undefined {
    return this.endpoints.get(endpointId)?.value;
  }

  peekAccount(accountId: string): Account | undefined {
    return this.accounts.get(accountId)?.value;
  }

  async load(ids: readonly string[]): Promise<Map<string, Endpoint>> {
    const now = this.clock();
    const stale = ids.filter((id) => !this.fresh(this.endpoints.get(id), now));
    const read = new Map<string, Endpoint>();
    if (stale.length > 0) {
      const epoch = this.epoch;
      for (const e of await this.store.getEndpointsByIds(stale)) read.set(e.id, e);
      const loadedAt = this.readAt(epoch, now);
      for (const id of stale) this.endpoints.set(id, { value: read.get(id), loadedAt });
    }
    const out = new Map<string, Endpoint>();
    for (const id of ids) {
      const e = read.get(id) ?? this.endpoints.get(id)?.value;
      if (e) out.set(id, e);
    }
    await this.loadAccounts([...new Set([...out.values()].map((e) => e.accountId))], now);
    return out;
  }

  private async loadAccounts(ids: string[], now: number): Promise<void> {
    for (const id of ids) {
      if (this.fresh(this.accounts.get(id), now)) continue;
      const epoch = this.epoch;
      const account = await this.store.getAccount(id);
      this.accounts.set(id, { value: account, loadedAt: this.readAt(epoch, now) });
    }
  }

  /**
   * When a read begun at `epoch` counts as made. Changed meanwhile, what was read may predate the
   * change: it is kept (better than nothing for a peek) but stale, so the next attempt reads again.
   */
  private readAt(epoch: number, now: number): number {
    return epoch === this.epoch ? now : Number.NEGATIVE_INFINITY;
  }

  private fresh<T>(entry: Entry<T> | undefined, now: number): boolean {
    return entry !== undefined && now - entry.loadedAt < this.ttlMs;
  }
}
