// accept → dedupe → match → enqueue, in one transaction per group-committed batch.
import { findEventType } from '../catalog/index.js';
import { newId } from '../domain/ids.js';
import type { EventInput } from '../domain/types.js';
import type { DeliveryHandoff } from '../delivery/dispatcher.js';
import type { IngestItem, IngestOutcome, Store } from '../store/contract.js';
import { GroupCommitter, type GroupCommitStatus } from './group-commit.js';
import { EndpointMatcher } from './matcher.js';
import { renderCanonical } from './render.js';

export class UnknownEventTypeError extends Error {
  constructor(
    readonly index: number,
    readonly eventType: string,
  ) {
    super(`unknown event type "${eventType}"`);
    this.name = 'UnknownEventTypeError';
  }
}

const NO_CUSTOM_TYPES: ReadonlySet<string> = new Set();

/** Too much is waiting for its commit: the caller should come back later (back-pressure). */
export class IngestOverloadedError extends Error {
  constructor(readonly queued: number) {
    super(`ingest is behind: ${queued} events are waiting for their commit`);
    this.name = 'IngestOverloadedError';
  }
}

export interface IngestorOptions {
  readonly store: Store;
  readonly clock?: () => number;
  /** Told after each commit that left deliveries pending, so an in-process dispatcher wakes at once. */
  readonly onCommitted?: () => void;
  /** The dispatcher of this process, if it takes new deliveries straight from the commit. */
  readonly handoff?: () => DeliveryHandoff | undefined;
  /** Events waiting for a commit beyond which publish refuses new work. */
  readonly queueLimit?: number;
  /** Batches committing at once (more than one only for a store that commits them in order). */
  readonly commitsInFlight?: number;
}

/**
 * An event waiting for its commit. Published events are matched to endpoints at the commit
 * (`endpoints: null`), once per account for the whole batch: the account's endpoints version is
 * read once per commit instead of once per request. A test send names its endpoints.
 */
type QueuedItem = Omit<IngestItem, 'endpoints'> & { readonly endpoints: IngestItem['endpoints'] | null };

export class Ingestor {
  private readonly matcher: EndpointMatcher;
  private readonly committer: GroupCommitter<QueuedItem, IngestOutcome>;
  private readonly clock: () => number;

  constructor(private readonly options: IngestorOptions) {
    this.matcher = new EndpointMatcher(options.store);
    this.clock = options.clock ?? Date.now;
    this.committer = new GroupCommitter((items) => this.commit(items), undefined, options.commitsInFlight);
  }

  /**
   * Canonical type of a published name (any profile's, or one of the account's `custom` types,
   * which are canonical as they are), or an error naming the index.
   */
  static canonicalTypes(events: readonly EventInput[], custom: ReadonlySet<string> = NO_CUSTOM_TYPES): string[] {
    return events.map((e, i) => {
      const name = findEventType(e.type)?.name ?? (custom.has(e.type) ? e.type : undefined);
      if (name === undefined) throw new UnknownEventTypeError(i, e.type);
      return name;
    });
  }

  /** Resolves once the events and their deliveries are committed. `custom`: the account's custom types they may name. */
  async publish(accountId: string, events: readonly EventInput[], custom?: ReadonlySet<string>): Promise<IngestOutcome[]> {
    const types = Ingestor.canonicalTypes(events, custom);
    this.admit(events.length);
    const now = this.clock();
    return this.committer.submit(events.map((event, i) => this.item(accountId, event, types[i], now, null)));
  }

  /**
   * One event delivered to exactly these endpoints of the account, whatever their filters (a
   * test send): no matching, otherwise the same durable path as publish.
   */
  async publishTo(accountId: string, event: EventInput, endpoints: IngestItem['endpoints'], custom?: ReadonlySet<string>): Promise<IngestOutcome> {
    const [type] = Ingestor.canonicalTypes([event], custom);
    this.admit(1);
    const [out] = await this.committer.submit([this.item(accountId, event, type, this.clock(), endpoints)]);
    return out;
  }

  /** Back-pressure: refuses `count` more events while too many wait for their commit. */
  private admit(count: number): void {
    const queued = this.committer.status().queuedItems;
    if (queued + count > (this.options.queueLimit ?? Number.POSITIVE_INFINITY)) throw new IngestOverloadedError(queued);
  }

  status(): GroupCommitStatus {
    return this.committer.status();
  }

  private item(accountId: string, event: EventInput, type: string, now: number, endpoints: QueuedItem['endpoints']): QueuedItem {
    const messageId = newId('msg', now);
    // An event published without a time happened when it was accepted: the stored event says
    // so too, not the later time of its commit.
    const occurredAt = event.occurredAt ?? now;
    return {
      accountId,
      messageId,
      event: { ...event, type, occurredAt },
      endpoints,
      body: renderCanonical(messageId, type, event, occurredAt),
    };
  }

  private async commit(queued: QueuedItem[]): Promise<IngestOutcome[]> {
    const items = await this.matched(queued);
    const handoff = this.options.handoff?.();
    const grant = handoff?.offer(handOverable(items));
    let out: IngestOutcome[];
    try {
      out = await this.options.store.ingest(grant ? withLeases(items, grant.counts) : items, this.clock(), grant?.lease);
    } catch (err) {
      if (grant) handoff!.adopt(grant, []);
      throw err;
    }
    if (grant) handoff!.adopt(grant, out.flatMap((o) => o.leased ?? []));
    if (out.some((o) => !o.duplicate && o.deliveries > (o.leased?.length ?? 0))) this.options.onCommitted?.();
    // The leased deliveries (with their bodies) are the dispatcher's now, not the caller's.
    return grant ? out.map(({ leased: _leased, ...o }) => o) : out;
  }

  /** The batch's published events matched to their account's endpoints as they are now. */
  private async matched(queued: readonly QueuedItem[]): Promise<IngestItem[]> {
    const matchers = new Map<string, Awaited<ReturnType<EndpointMatcher['forAccount']>>>();
    for (const item of queued) {
      if (item.endpoints === null && !matchers.has(item.accountId)) matchers.set(item.accountId, await this.matcher.forAccount(item.accountId));
    }
    return queued.map((item) => ({ ...item, endpoints: item.endpoints ?? matchers.get(item.accountId)!(item.event.type, item.event) }));
  }
}

/**
 * Whether a new delivery may go straight to a dispatcher: all but those of an ordered endpoint
 * for an event with a resource, which wait for their chain's head and only a claim may take.
 */
function leasable(item: IngestItem, endpoint: IngestItem['endpoints'][number]): boolean {
  return !endpoint.ordered || item.event.resource === undefined;
}

/** Deliveries per endpoint a dispatcher could take from the commit. */
function handOverable(items: readonly IngestItem[]): Map<string, number> {
  const wanted = new Map<string, number>();
  for (const item of items) {
    for (const e of item.endpoints) if (leasable(item, e)) wanted.set(e.id, (wanted.get(e.id) ?? 0) + 1);
  }
  return wanted;
}

/** The items with up to `counts` deliveries per endpoint marked leased, earliest first. */
function withLeases(items: readonly IngestItem[], counts: ReadonlyMap<string, number>): IngestItem[] {
  const left = new Map(counts);
  return items.map((item) => {
    let changed = false;
    const endpoints = item.endpoints.map((e) => {
      const n = left.get(e.id) ?? 0;
      if (n <= 0 || !leasable(item, e)) return e;
      left.set(e.id, n - 1);
      changed = true;
      return { ...e, leased: true };
    });
    return changed ? { ...item, endpoints } : item;
  });
}
