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

  constructor(
    private readonly store: Pick<Store, 'getEndpointsByIds' | 'getAccount'>,
    private readonly ttlMs: number = 1_000,
    private readonly clock: () => number = Date.now,
  ) {}

  invalidate(endpointId: string): void {
    this.endpoints.delete(endpointId);
  }

  invalidateAccount(accountId: string): void {
    this.accounts.delete(accountId);
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
    if (stale.length > 0) {
      const found = new Map((await this.store.getEndpointsByIds(stale)).map((e) => [e.id, e]));
      for (const id of stale) this.endpoints.set(id, { value: found.get(id), loadedAt: now });
    }
    const out = new Map<string, Endpoint>();
    for (const id of ids) {
      const e = this.endpoints.get(id)?.value;
      if (e) out.set(id, e);
    }
    await this.loadAccounts([...new Set([...out.values()].map((e) => e.accountId))], now);
    return out;
  }

  private async loadAccounts(ids: string[], now: number): Promise<void> {
    for (const id of ids) {
      if (this.fresh(this.accounts.get(id), now)) continue;
      this.accounts.set(id, { value: await this.store.getAccount(id), loadedAt: now });
    }
  }

  private fresh<T>(entry: Entry<T> | undefined, now: number): boolean {
    return entry !== undefined && now - entry.loadedAt < this.ttlMs;
  }
}
