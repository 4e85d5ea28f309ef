// The dispatcher loop. It never sees SQL or HTTP: it is handed claim, deliver and settle,
// and decides only what to take next, when to wait, and what an attempt's result means.
import { EndpointWindows } from './endpoint-windows.js';
import { SettlementQueue } from './settlement-queue.js';
import { type RateLimitKey, SlotLedger } from './slot-ledger.js';
import type { AttemptInput, ClaimedDelivery, HeldLease, IngestLease, Settlement } from '../store/contract.js';
import { nextAttempt } from './retry-policy.js';

/** What one HTTP attempt produced, already classified. */
export interface AttemptMade {
  readonly attempt: AttemptInput;
  /** retry: per the schedule; fail: never worth retrying (e.g. SSRF-blocked); gone: 410. */
  readonly verdict: 'success' | 'retry' | 'fail' | 'gone';
  readonly retryAfterMs?: number;
}

/**
 * An attempt, or none: `release` hands the delivery back untried (its endpoint was disabled or
 * deleted while it waited), so it costs no attempt and keeps its place.
 */
export type AttemptResult = AttemptMade | { readonly verdict: 'release' };

/** What an attempt's settlement records: every outcome except handing a delivery back untried. */
export type AttemptSettlement = Exclude<Settlement, { readonly outcome: 'release' }>;
export type AttemptOutcome = AttemptSettlement['outcome'];

/**
 * Told what the dispatcher does as it happens (metrics, debug logs). Called on the hot path
 * once per attempt: implementations must be cheap; a throw is reported, never propagated.
 */
export interface DispatchObserver {
  /** An attempt finished; `outcome` is what its settlement records (failed: final). */
  attempted(delivery: ClaimedDelivery, result: AttemptMade, outcome: AttemptOutcome): void;
  /** A delivery waits `delayMs` for a rate-limit slot of its endpoint or account. */
  throttled(endpointId: string, delayMs: number): void;
  /**
   * Settlements the store did not apply: this worker no longer held those deliveries' leases
   * (they ran out and were claimed again), so their outcomes were dropped.
   */
  refused?(deliveryIds: readonly string[]): void;
}

/** What the dispatcher needs to know of an endpoint to schedule work for it. */
export interface EndpointSchedule {
  readonly id: string;
  readonly accountId: string;
  readonly disabled: boolean;
  readonly rateLimitPerSecond: number | null;
  readonly accountRateLimitPerSecond: number | null;
  /** Per-resource ordering: the next delivery of a chain waits for this one's settlement. */
  readonly ordered: boolean;
}

export interface DispatcherDeps {
  /** `endpointLimits`: endpoints that may take more or less than one round (ClaimRequest.endpointLimits). */
  claim(limit: number, excludeEndpoints: readonly string[], endpointLimits?: Readonly<Record<string, number>>): Promise<ClaimedDelivery[]>;
  /** Endpoints by id; missing ids were deleted. */
  schedules(ids: readonly string[]): Promise<Map<string, EndpointSchedule>>;
  deliver(delivery: ClaimedDelivery): Promise<AttemptResult>;
  /** Writes the settlements; may answer the ids of those the store did not apply (lease lost). */
  settle(settlements: readonly Settlement[]): Promise<readonly string[] | void>;
  nextDueAt(): Promise<number | null>;
  /**
   * Delay (ms) before a message may go out under these rate limits; reserves the slot. In memory
   * for one process; a promise when the limit is shared by several workers through the store.
   */
  reserveRate(limits: readonly { key: string; rate: number }[]): number | Promise<number>;
  /** Keeps the leases of attempts still running until `until` (the store's extendLeases). */
  extendLeases?(leases: readonly HeldLease[], until: number): Promise<unknown>;
  /**
   * Runs fn once the store can take a write at once (the dispatch thread: its turn at the write
   * lock). A claim is sized inside it: one that waited behind an ingest commit asks for all the
   * room that came free meanwhile, instead of what was free when it started waiting.
   */
  writeTurn?<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Settlements with notices were written (a 410, an exhausted delivery): carry them out. They
   * are kept with the deliveries until carried out, so a crash in between loses none.
   */
  onNotices?(): void;
  /** Any attempt that did not succeed, once settled: endpoint health watches these. */
  onAttemptFailed?(delivery: ClaimedDelivery): void;
  onError?(stage: string, err: unknown): void;
  observer?: DispatchObserver;
}

export interface DispatcherOptions {
  readonly owner: string;
  readonly concurrency: number;
  /**
   * The most requests in flight to one endpoint; it starts lower and earns this (EndpointWindows),
   * and a slow one gets no more than its share of the process while others are busy (windowOf).
   */
  readonly endpointConcurrency: number;
  /** Requests in flight to an endpoint before it has answered any (default 8). */
  readonly initialEndpointConcurrency?: number;
  readonly retrySchedule: readonly number[];
  readonly claimBatch?: number;
  /** How long a claim's lease lasts: work claimed ahead must start well within it. */
  readonly leaseMs?: number;
  /**
   * Settlements are written together: at most this many ms after the first one waits (default
   * 20). Each write is a transaction whose cost hardly depends on its size, so fewer and larger
   * ones leave more of the store's time for deliveries.
   */
  readonly settleDelayMs?: number;
  /** The wait when a settlement frees the next delivery of an ordered chain (default 5 ms). */
  readonly chainSettleDelayMs?: number;
  /**
   * After a claim that came back short (it took all that was due), wait for new work or the
   * next due time instead of claiming again at once. For claims that queue for a write lock
   * shared with another thread, where the empty claim cost a turn at it. Default false.
   */
  readonly idleAfterShortClaim?: boolean;
  /** Told whenever room() may have changed (an attempt finished, deliveries were taken on). */
  readonly onRoomChanged?: () => void;
  /** Payload bytes of the deliveries waiting (claimed ahead) at most (default 64 MiB; tests set less). */
  readonly maxWaitingBytes?: number;
  /** Longest idle wait when nothing is known to be due (default 1 s). */
  readonly idlePollMs?: number;
  readonly clock?: () => number;
  readonly random?: () => number;
}

/** Room a dispatcher holds for new deliveries of one ingest commit (Dispatcher.offer). */
export interface HandoffGrant {
  /** The lease the deliveries are created under. */
  readonly lease: IngestLease;
  /** Deliveries per endpoint the dispatcher takes at most. */
  readonly counts: ReadonlyMap<string, number>;
}

/** A dispatcher that takes new deliveries straight from their ingest commit. */
export interface DeliveryHandoff {
  offer(wanted: ReadonlyMap<string, number>): HandoffGrant | undefined;
  adopt(grant: HandoffGrant, deliveries: readonly ClaimedDelivery[]): void;
}

export interface DispatcherStatus {
  readonly running: boolean;
  readonly inFlight: number;
  readonly endpointsBusy: number;
  readonly waiting: number;
  readonly claimed: number;
  /** Taken straight from ingest commits (offer/adopt), without a claim. */
  readonly adopted: number;
  readonly succeeded: number;
  readonly retried: number;
  readonly failed: number;
  readonly pendingSettlements: number;
  readonly lastError: string | null;
}

interface EndpointLoad {
  running: number;
  /** Claimed beyond the endpoint's concurrency; started as running attempts finish. */
  readonly waiting: { readonly d: ClaimedDelivery; readonly schedule: EndpointSchedule; readonly claimedAt: number }[];
}

/** Leases of running attempts are renewed this many times per lease: a late renewal still lands in time. */
const LEASE_RENEWALS = 3;
/** A throttled endpoint is not claimed for while its next free slot is further than this. */
const THROTTLE_HORIZON_MS = 500;
/** Slots are reserved at most this far ahead (and a quarter of the lease); a limit shared with other workers may answer later ones. */
const MAX_SLOT_HOLD_MS = 10_000;
/**
 * At most this many rounds of an endpoint's concurrency are held claimed (running + waiting).
 * A quick endpoint at 64 gets through a round in a few ms, and a claim can wait 50-100 ms behind
 * an ingest commit of a thousand events: at 4 rounds it ran dry while its claims waited, and at
 * 16 it still did between commits (about 1,000 held, drained at 10,000/s in 100 ms, against a
 * commit every 120 ms while batches were published).
 */
const MAX_ROUNDS = 32;
/** Deliveries waiting (claimed ahead) are bounded at this many times the process's concurrency. */
const WAITING_PER_SLOT = 8;
/**
 * ...and their payloads at this many bytes (what 256 waiting events of the largest size hold),
 * so an account that publishes large events does not hold thousands of them in memory.
 */
const MAX_WAITING_BYTES = 64 * 1024 * 1024;
/** How fast the payload size a claim expects follows smaller payloads (a larger one counts at once). */
const BODY_SIZE_WEIGHT = 0.05;
/**
 * How long a claim may take to come back (it can wait behind an ingest commit and its fsync),
 * or the next commit's hand-off to arrive: about 120 ms apart while batches are published.
 */
const CLAIM_HORIZON_MS = 200;
/** Requests in flight to an endpoint that has not answered yet: a dead one holds no more. */
const INITIAL_ENDPOINT_CONCURRENCY = 8;
/** The part of the process's concurrency slow busy endpoints share between them; the rest is for others. */
const SHARED_PART = 0.75;
/** An endpoint whose attempts take this long on average is slow: it gets at most its share. */
const SLOW_PACE_MS = 1_000;

/** The rate limits a delivery to this endpoint goes out under: its own and its account's. */
function rateLimitsOf(s: EndpointSchedule): RateLimitKey[] {
  const limits: RateLimitKey[] = [];
  if (s.rateLimitPerSecond) limits.push({ key: `endpoint:${s.id}`, rate: s.rateLimitPerSecond });
  if (s.accountRateLimitPerSecond) limits.push({ key: `account:${s.accountId}`, rate: s.accountRateLimitPerSecond });
  return limits;
}

export class Dispatcher {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** Attempts running now. */
  private inFlight = 0;
  /** The deliveries whose attempts are running, by id: stop() hands back those it gives up on. */
  private readonly attempting = new Map<string, ClaimedDelivery>();
  /** Deliveries stop() handed back while their attempts ran: what those answer is not written. */
  private readonly givenUp = new Set<string>();
  /** Claimed deliveries waiting for a slot of their endpoint. */
  private waitingTotal = 0;
  /** The payload bytes of the deliveries waiting. */
  private waitingBytes = 0;
  /** The payload size a claim expects per delivery: the largest lately, decaying towards smaller ones. */
  private bodyBytes = 1024;
  /**
   * Endpoints with deliveries waiting that their windows would start, held back because the
   * process has HERALD_CONCURRENCY requests in flight: the next slot that frees goes to them.
   */
  private readonly parked = new Set<string>();
  private readonly perEndpoint = new Map<string, EndpointLoad>();
  private readonly throttledUntil = new Map<string, number>();
  /** Begun deliveries waiting for their rate-limit slot, with the time it comes. */
  private readonly awaitingSlot = new Map<ClaimedDelivery, { readonly timer: NodeJS.Timeout; readonly load: EndpointLoad; readonly at: number }>();
  /** The latest rate-limit slot reserved so far, per rate-limit key. */
  private readonly slots: SlotLedger;
  private readonly windows: EndpointWindows;
  private wakeUp: (() => void) | null = null;
  private readonly settlements: SettlementQueue;
  /** Renews the leases of running attempts, a few times per lease. */
  private leaseTimer: NodeJS.Timeout | null = null;
  /** Room promised to ingest commits not yet adopted, per endpoint and in all. */
  private readonly reserved = new Map<string, number>();
  private reservedTotal = 0;
  private counters = { claimed: 0, adopted: 0, succeeded: 0, retried: 0, failed: 0 };
  private lastError: string | null = null;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly claimBatch: number;
  private readonly claimThreshold: number;
  private readonly settleDelayMs: number;
  private readonly chainSettleDelayMs: number;
  private readonly idlePollMs: number;
  private readonly slotHoldMs: number;
  private readonly leaseMs: number;
  private readonly maxWaitingBytes: number;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly options: DispatcherOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.claimBatch = options.claimBatch ?? 500;
    this.claimThreshold = Math.max(1, Math.min(this.claimBatch, Math.floor(options.concurrency / 4)));
    this.settleDelayMs = options.settleDelayMs ?? 20;
    this.chainSettleDelayMs = Math.min(this.settleDelayMs, options.chainSettleDelayMs ?? 5);
    this.idlePollMs = options.idlePollMs ?? 1_000;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.maxWaitingBytes = options.maxWaitingBytes ?? MAX_WAITING_BYTES;
    this.slotHoldMs = Math.min(MAX_SLOT_HOLD_MS, this.leaseMs / 4);
    this.slots = new SlotLedger(this.clock);
    this.windows = new EndpointWindows(options.endpointConcurrency, options.initialEndpointConcurrency ?? INITIAL_ENDPOINT_CONCURRENCY);
    this.settlements = new SettlementQueue(
      {
        settle: (batch) => this.deps.settle(batch),
        refused: (ids) => this.observeRefused(ids),
        due: () => this.notify(),
        fail: (stage, err) => this.fail(stage, err),
        wait: (ms) => this.wait(ms),
        keepTrying: () => this.running || this.inFlight > 0,
        clock: this.clock,
      },
      this.claimBatch,
    );
  }

  /** Whose leases this dispatcher holds. */
  get owner(): string {
    return this.options.owner;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
    if (this.deps.extendLeases) {
      this.leaseTimer = setInterval(() => this.renewLeases(), Math.max(100, this.leaseMs / LEASE_RENEWALS));
      this.leaseTimer.unref();
    }
  }

  /**
   * An attempt may run longer than a lease (a 30 s timeout, a wait for a rate-limit slot, a
   * short HERALD_LEASE_MS): its lease is pushed on while it runs, or the lease reclaim would
   * hand the delivery to another worker, or back to this one, and it would go out twice. So is
   * the lease of an outcome waiting to be written (batched, or retried while the store is slow
   * or refuses it): the attempt was made, and a reclaim would send it again.
   */
  private renewLeases(): void {
    // Each claim once: an outcome may wait in the queue while its batch is being written.
    const held = new Map<string, HeldLease>();
    const hold = (id: string, claimNo: number) => held.set(`${id}#${claimNo}`, { id, claimNo });
    for (const d of this.attempting.values()) hold(d.id, d.claimNo);
    for (const s of this.settlements.unwritten()) hold(s.deliveryId, s.claimNo);
    if (held.size === 0) return;
    this.deps.extendLeases?.([...held.values()], this.clock() + this.leaseMs).catch((err: unknown) => this.fail('lease', err));
  }

  /** New work may be due: skip the rest of the idle wait. */
  notify(): void {
    const wake = this.wakeUp;
    this.wakeUp = null;
    wake?.();
  }

  /**
   * Room for new deliveries of an ingest commit in this process, by the rules a claim follows
   * (free requests, each endpoint's hold limit, no throttled endpoint), held until adopt().
   * Taking them from the commit saves the claim that would otherwise find them: a write
   * transaction and a round trip between commit and first attempt. It keeps to the free
   * requests: with other workers claiming from the same database, what one process takes
   * beyond them waits there while others could send it. (The dispatch thread's hand-off,
   * whose claims wait behind the commits, goes further: see ThreadedDispatch.offer.)
   * Undefined when there is no room (or no dispatcher running).
   */
  offer(wanted: ReadonlyMap<string, number>): HandoffGrant | undefined {
    if (!this.running) return undefined;
    const now = this.clock();
    let room = this.requestRoom();
    const counts = new Map<string, number>();
    for (const [id, n] of wanted) {
      if (room <= 0) break;
      if (this.throttledAt(id, now)) continue;
      const take = Math.min(n, room, this.holdLimit(id) - this.held(id));
      if (take <= 0) continue;
      counts.set(id, take);
      this.reserved.set(id, (this.reserved.get(id) ?? 0) + take);
      this.reservedTotal += take;
      room -= take;
    }
    if (counts.size === 0) return undefined;
    return { lease: { owner: this.options.owner, until: now + this.leaseMs }, counts };
  }

  /**
   * The commit of an offer is done: its leased deliveries start as claimed ones would, and the
   * room they did not use (duplicates, a failed commit: none) is free again.
   */
  adopt(grant: HandoffGrant, deliveries: readonly ClaimedDelivery[]): void {
    const unreserve = () => {
      for (const [id, n] of grant.counts) {
        const left = (this.reserved.get(id) ?? 0) - n;
        if (left > 0) this.reserved.set(id, left);
        else this.reserved.delete(id);
        this.reservedTotal -= n;
      }
    };
    // The room stays promised until the deliveries take it (launchAll first looks up endpoints).
    this.take(deliveries, unreserve);
  }

  /**
   * Deliveries leased to this dispatcher elsewhere (by an ingest commit on another thread):
   * they start as claimed ones would. Room is not checked: the caller keeps within room().
   */
  take(deliveries: readonly ClaimedDelivery[], beforeLaunch?: () => void): void {
    if (deliveries.length === 0 || !this.running) {
      beforeLaunch?.();
      for (const d of deliveries) this.release(d, this.clock());
      return;
    }
    this.counters.adopted += deliveries.length;
    void this.launchAll(deliveries, beforeLaunch);
  }

  /**
   * Deliveries it could take on now, promises to commits deducted: its free requests and its
   * room to hold more waiting (the dispatch thread's hand-off, see ThreadedDispatch.offer). A
   * claim asks for the free requests only (one that brought more held up the first requests of
   * a fan-out), and so does offer().
   */
  room(): number {
    return Math.max(0, this.options.concurrency - this.inFlight + this.waitingRoom() - this.reservedTotal);
  }

  /** Its free requests, promises to commits deducted: what a claim would ask for. */
  requestRoom(): number {
    return Math.max(0, this.freeSlots());
  }

  /**
   * How many deliveries each endpoint it holds work for may hold (running and waiting): what a
   * hand-off should give it at most, where offer() cannot ask (the dispatch thread's). An
   * endpoint held back by its rate limit now is left out: whatever it holds beyond the slots
   * it may reserve goes back to the store, a write each.
   */
  holdLimits(): Map<string, number> {
    const now = this.clock();
    const limits = new Map<string, number>();
    for (const id of this.perEndpoint.keys()) if (!this.throttledAt(id, now)) limits.set(id, this.holdLimit(id));
    return limits;
  }

  /**
   * Stop claiming, let in-flight attempts finish (bounded), write every settlement. Attempts still
   * running after the grace are handed back to the store (their leases released, so any worker
   * sends them again at once), and whatever they answer later is not written: the store may be
   * closed by then, and the deliveries are no longer this dispatcher's.
   */
  async stop(graceMs: number): Promise<{ unfinished: number }> {
    this.running = false;
    this.notify();
    await this.loopDone;
    this.releaseWaiting();
    this.releaseAwaitingSlot();
    const deadline = this.clock() + graceMs;
    while (this.inFlight > 0 && this.clock() < deadline) await this.wait(Math.min(50, deadline - this.clock()));
    const unfinished = this.inFlight;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    for (const d of this.attempting.values()) {
      this.release(d, this.clock());
      this.givenUp.add(d.id);
    }
    // Handed back: no longer this dispatcher's to renew, should it start again.
    this.attempting.clear();
    await this.settlements.flush();
    return { unfinished };
  }

  status(): DispatcherStatus {
    return {
      running: this.running,
      inFlight: this.inFlight,
      endpointsBusy: this.perEndpoint.size,
      waiting: this.waitingTotal,
      ...this.counters,
      pendingSettlements: this.settlements.size,
      lastError: this.lastError,
    };
  }

  private async loop(): Promise<void> {
    while (this.running) {
      // Waiting deliveries are bounded too, so saturated endpoints cannot pile up claims.
      const free = this.freeSlots();
      // Claim in batches: a claim per finished attempt would spend the store's time on tiny
      // transactions. An idle dispatcher claims at once, a busy one once a share is free.
      if (free <= 0 || (this.inFlight > 0 && free < this.claimThreshold)) {
        await this.wait(this.idlePollMs);
        continue;
      }
      let excluded: string[] = [];
      let want = 0;
      const claim = () => {
        const scope = this.claimScope();
        excluded = scope.exclude;
        want = Math.min(this.freeSlots(), this.claimBatch);
        return want > 0 ? this.deps.claim(want, excluded, scope.limits) : Promise.resolve([]);
      };
      let claimed: ClaimedDelivery[];
      try {
        claimed = await (this.deps.writeTurn ? this.deps.writeTurn(claim) : claim());
      } catch (err) {
        this.fail('claim', err);
        await this.wait(this.idlePollMs);
        continue;
      }
      // Taken up meanwhile (by deliveries handed over from ingest commits): nothing was asked.
      if (want <= 0) continue;
      if (claimed.length === 0) {
        await this.idle(excluded.length > 0);
        continue;
      }
      this.counters.claimed += claimed.length;
      await this.launchAll(claimed);
      if (this.options.idleAfterShortClaim && claimed.length < want) await this.idle(excluded.length > 0);
    }
  }

  private async idle(someExcluded: boolean): Promise<void> {
    let due: number | null = null;
    try {
      due = await this.deps.nextDueAt();
    } catch (err) {
      this.fail('next_due', err);
    }
    // A stop that came while the store answered found no wait to cut short.
    if (!this.running) return;
    const untilDue = due === null ? this.idlePollMs : due - this.clock();
    // Due work held back by exclusions frees up on completions (which wake us) or with time.
    const floor = someExcluded ? 20 : 1;
    await this.wait(Math.min(this.idlePollMs, Math.max(floor, untilDue)));
  }

  /**
   * What a claim leaves out (endpoints holding all they may, throttled ones) and how much each
   * endpoint this dispatcher holds work for may still take: a quick one up to its rounds claimed
   * ahead, a slow one no more than it may hold. Endpoints it holds nothing for take the stores'
   * per-endpoint limit (one round of HERALD_ENDPOINT_CONCURRENCY).
   */
  private claimScope(): { exclude: string[]; limits: Record<string, number> } {
    const now = this.clock();
    const exclude: string[] = [];
    const limits: Record<string, number> = {};
    const scope = (id: string) => {
      const room = this.holdLimit(id) - this.held(id);
      if (room > 0) limits[id] = room;
      else exclude.push(id);
    };
    for (const id of this.perEndpoint.keys()) scope(id);
    for (const id of this.reserved.keys()) if (!this.perEndpoint.has(id)) scope(id);
    for (const [id, until] of this.throttledUntil) {
      if (until - now > THROTTLE_HORIZON_MS) exclude.push(id);
      else if (until <= now) this.throttledUntil.delete(id);
    }
    return { exclude, limits };
  }

  private async launchAll(claimed: readonly ClaimedDelivery[], beforeLaunch?: () => void): Promise<void> {
    let schedules: Map<string, EndpointSchedule>;
    try {
      schedules = await this.deps.schedules([...new Set(claimed.map((d) => d.endpointId))]);
    } catch (err) {
      beforeLaunch?.();
      this.fail('endpoints', err);
      for (const d of claimed) this.release(d, this.clock() + 1_000);
      return;
    }
    beforeLaunch?.();
    for (const d of claimed) {
      if (!this.running) {
        // Stopping: whatever has not started goes back to the store.
        this.release(d, this.clock());
        continue;
      }
      const schedule = schedules.get(d.endpointId);
      if (!schedule || schedule.disabled) {
        // Deleted or disabled after the claim: hand it back untried.
        this.release(d, this.clock());
        continue;
      }
      this.launch(d, schedule);
    }
    this.options.onRoomChanged?.();
  }

  /**
   * An endpoint is claimed for while it holds (running and waiting) fewer deliveries than this;
   * a claim brings at most one more round of its concurrency. A claim is a round trip to the
   * store, which may be busy with an ingest commit: an endpoint whose attempts are quick keeps
   * as many rounds claimed ahead as it gets through while a claim comes back, so it never idles
   * meanwhile. A slow one (a timing-out endpoint above all) needs no more than one round
   * waiting, and holding more would take waiting room from every other endpoint. Everything
   * held must also start well within its lease.
   */
  private holdLimit(endpointId: string, window = this.windowOf(endpointId)): number {
    const pace = this.windows.paceOf(endpointId);
    if (pace === undefined) return window;
    const perAttempt = Math.max(1, pace);
    const withinLease = Math.floor(this.leaseMs / (4 * perAttempt));
    const rounds = Math.max(1, Math.min(MAX_ROUNDS, 1 + Math.floor(CLAIM_HORIZON_MS / perAttempt), withinLease));
    return rounds * window;
  }

  /**
   * Requests the endpoint may have in flight now: the window it earned, and for a slow one (a
   * second or more per attempt) no more than an even share of three quarters of the process
   * between the endpoints busy now (never below where windows start). Slow endpoints that answer
   * keep the windows they earned, and four of them at the ceiling would fill the process for as
   * long as their backlogs last; held to a share, one that is over it (more endpoints got busy
   * since) starts nothing new until it is back within it, and the quarter left over is where
   * others start. Quick endpoints are not held to it: they give their requests back within
   * moments, and sharing them out cost ten of them about a tenth of their throughput.
   */
  private windowOf(endpointId: string): number {
    const earned = this.windows.of(endpointId);
    if ((this.windows.paceOf(endpointId) ?? 0) < SLOW_PACE_MS) return earned;
    const share = Math.floor((this.options.concurrency * SHARED_PART) / Math.max(1, this.perEndpoint.size));
    return Math.min(earned, Math.max(this.windows.start, share));
  }

  /** Whether the endpoint's next rate-limit slot is still to come at `now`. */
  private throttledAt(endpointId: string, now: number): boolean {
    return (this.throttledUntil.get(endpointId) ?? 0) > now;
  }

  /** Deliveries of an endpoint running, waiting, or promised to an ingest commit. */
  private held(endpointId: string): number {
    const load = this.perEndpoint.get(endpointId);
    return (load ? load.running + load.waiting.length : 0) + (this.reserved.get(endpointId) ?? 0);
  }

  /**
   * A claim may hold more deliveries for one endpoint than it may run at once: they wait here
   * up to the endpoint's hold limit; anything beyond goes back to the store.
   */
  private launch(d: ClaimedDelivery, schedule: EndpointSchedule): void {
    const size = d.body.length;
    this.bodyBytes = size >= this.bodyBytes ? size : this.bodyBytes + BODY_SIZE_WEIGHT * (size - this.bodyBytes);
    let load = this.perEndpoint.get(d.endpointId);
    if (!load) {
      load = { running: 0, waiting: [] };
      this.perEndpoint.set(d.endpointId, load);
    }
    const window = this.windowOf(d.endpointId);
    if (load.running < window && this.inFlight < this.options.concurrency) {
      this.begin(d, schedule, load);
      this.forgetIfIdle(d.endpointId, load);
    } else if (load.running + load.waiting.length < this.holdLimit(d.endpointId, window) + window) {
      this.waitingTotal++;
      this.waitingBytes += d.body.length;
      load.waiting.push({ d, schedule, claimedAt: this.clock() });
      this.parkIfHeldBack(d.endpointId, load, window);
    } else {
      this.release(d, this.clock());
    }
  }

  private begin(d: ClaimedDelivery, schedule: EndpointSchedule, load: EndpointLoad): void {
    // Slots already reserved reach too far ahead to hold this one's lease until its own: it goes
    // back to the store, due when they are used up, with those waiting behind it.
    const limits = rateLimitsOf(schedule);
    const slotsUntil = this.slots.reservedUntil(limits);
    if (slotsUntil - this.clock() > this.slotHoldMs) {
      this.throttledUntil.set(d.endpointId, slotsUntil);
      this.release(d, slotsUntil);
      for (const { d: waiting } of load.waiting.splice(0)) {
        this.unwait(waiting);
        this.release(waiting, slotsUntil);
      }
      return;
    }
    this.inFlight++;
    this.attempting.set(d.id, d);
    load.running++;
    const reservedAt = this.clock();
    const run = (delay: number) => {
      if (delay <= 0) return void this.attempt(d, schedule, load);
      const timer = setTimeout(() => {
        this.awaitingSlot.delete(d);
        void this.attempt(d, schedule, load);
      }, delay);
      this.awaitingSlot.set(d, { timer, load, at: this.clock() + delay });
    };
    const delay = this.reserve(schedule, limits);
    if (typeof delay === 'number') return run(delay);
    // Until the store answers, count the slot as one interval after the last: deliveries begun
    // meanwhile must not all pass the check above and reserve far ahead together.
    this.slots.expect(limits, reservedAt);
    // The slot is at reservedAt + delay: time spent waiting for the answer counts against it,
    // or late answers would bunch sends together and exceed the limit over a window.
    delay.then((ms) => {
      // A limit shared with other workers may give a slot beyond what this one reserved ahead
      // (they took the ones before it). The delivery waits for it all the same, its lease renewed
      // meanwhile: handed back, the slot would be lost to everyone, and when the store answers
      // slowly every answer lies far ahead, so the limit's whole rate would be thrown away.
      run(reservedAt + ms - this.clock());
    }, (err: unknown) => {
      // No slot could be reserved (store unavailable): try again shortly rather than exceed the limit.
      this.fail('rate_limit', err);
      this.finish(d, load, this.clock() + 1_000);
    });
  }

  /** Stopping: deliveries not yet sent go back, due at the slot each was given. */
  private releaseAwaitingSlot(): void {
    for (const [d, { timer, load, at }] of this.awaitingSlot) {
      clearTimeout(timer);
      this.awaitingSlot.delete(d);
      this.finish(d, load, at);
    }
  }

  private releaseWaiting(): void {
    this.parked.clear();
    for (const load of this.perEndpoint.values()) {
      for (const { d } of load.waiting.splice(0)) {
        this.unwait(d);
        this.release(d, this.clock());
      }
    }
  }

  private reserve(s: EndpointSchedule, limits: readonly RateLimitKey[]): number | Promise<number> {
    if (limits.length === 0) return 0;
    const note = (delay: number) => {
      this.slots.note(limits.map((l) => l.key), this.clock() + delay);
      if (delay > 0) {
        this.throttledUntil.set(s.id, this.clock() + delay);
        this.observeThrottle(s.id, delay);
      }
      return delay;
    };
    const delay = this.deps.reserveRate(limits);
    return typeof delay === 'number' ? note(delay) : delay.then(note);
  }

  private async attempt(d: ClaimedDelivery, schedule: EndpointSchedule, load: EndpointLoad): Promise<void> {
    const startedAt = this.clock();
    let result: AttemptResult;
    try {
      result = await this.deps.deliver(d);
    } catch (err) {
      result = this.internalFailure(d, startedAt, err);
    }
    try {
      if (result.verdict === 'release') return this.finish(d, load, this.clock());
      if (result.attempt.errorKind === 'timeout') this.windows.timedOut(d.endpointId, result.attempt.durationMs);
      else this.windows.answered(d.endpointId, result.attempt.durationMs);
      const { settlement, after } = this.settlementFor(d, result);
      const chained = schedule.ordered && d.resourceKey !== null;
      if (chained) {
        // The chain's next delivery can be claimed only once this settlement is written.
        this.enqueueSettlement(settlement, () => {
          after?.();
          this.notify();
        }, this.chainSettleDelayMs);
      } else this.enqueueSettlement(settlement, after, this.settleDelayMs);
      this.observeAttempt(d, result, settlement.outcome);
      this.finish(d, load);
    } catch (err) {
      // A bug past the attempt: the delivery goes back untried rather than stay leased.
      this.fail('dispatch', err);
      this.finish(d, load, this.clock() + 5_000);
    }
  }

  /**
   * deliver() classifies every failure of the receiver; a throw is Herald's own (a secret that no
   * longer opens under the current key, say). It counts as an attempt with an internal error, so
   * the delivery follows its schedule to the end and fails with a notice, instead of going round
   * untried forever. The recorded message is generic; the error itself goes to the log.
   */
  private internalFailure(d: ClaimedDelivery, startedAt: number, err: unknown): AttemptMade {
    this.fail('deliver', new Error(`delivery ${d.id}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
    return {
      verdict: 'retry',
      attempt: {
        attemptNo: d.attempts + 1,
        startedAt,
        durationMs: Math.max(0, this.clock() - startedAt),
        statusCode: null,
        errorKind: 'internal',
        errorMessage: 'Herald could not prepare this attempt (an internal error; the log has it under this delivery id)',
        requestHeaders: {},
        responseBody: null,
      },
    };
  }

  /** Frees the attempt's slot (handing the delivery back untried when `releaseAt` is given). */
  private finish(d: ClaimedDelivery, load: EndpointLoad, releaseAt?: number): void {
    if (releaseAt !== undefined) this.release(d, releaseAt);
    const freeBefore = this.freeSlots();
    // Fixed while this runs: it moves with answers and with endpoints getting busy or idle.
    const window = this.windowOf(d.endpointId);
    const holdLimit = this.holdLimit(d.endpointId, window);
    const loadBefore = load.running + load.waiting.length;
    this.inFlight--;
    // Only this claim's: a later claim of the same delivery (this one's lease ran out) keeps its place.
    if (this.attempting.get(d.id) === d) this.attempting.delete(d.id);
    load.running--;
    // Endpoints held back by the process's concurrency go first; then a window that grew on this
    // answer starts two: an endpoint ramps up a round trip at a time.
    this.startParked();
    this.startWaiting(d.endpointId, load, window);
    this.forgetIfIdle(d.endpointId, load);
    // Wake the loop only when a claim could now take more: the endpoint dropped out of the
    // excluded set, or enough slots came free. Waking on every completion would run a claim
    // per delivery.
    const loadAfter = load.running + load.waiting.length;
    const endpointOpened = loadBefore >= holdLimit && loadAfter < holdLimit;
    const slotsOpened = freeBefore < this.claimThreshold && this.freeSlots() >= this.claimThreshold;
    if (endpointOpened || slotsOpened || this.inFlight === 0) this.notify();
    this.options.onRoomChanged?.();
  }

  /**
   * Starts what waits for the endpoint while its window and the process's concurrency allow;
   * parks it when the process's concurrency is what holds the rest back.
   */
  private startWaiting(endpointId: string, load: EndpointLoad, window: number): void {
    while (this.running && load.running < window && this.inFlight < this.options.concurrency) {
      const next = this.nextWaiting(load);
      if (!next) break;
      this.begin(next.d, next.schedule, load);
    }
    this.parkIfHeldBack(endpointId, load, window);
  }

  /** Parks an endpoint with deliveries waiting that its window would start: the process's concurrency holds them back. */
  private parkIfHeldBack(endpointId: string, load: EndpointLoad, window: number): void {
    if (this.running && load.waiting.length > 0 && load.running < window) this.parked.add(endpointId);
  }

  /** An endpoint with nothing running or waiting is no longer busy: it leaves the claim's scope and the shares. */
  private forgetIfIdle(endpointId: string, load: EndpointLoad): void {
    if (load.running === 0 && load.waiting.length === 0) this.perEndpoint.delete(endpointId);
  }

  /** Gives free slots of the process to parked endpoints, in the order they were parked. */
  private startParked(): void {
    for (const id of this.parked) {
      if (!this.running || this.inFlight >= this.options.concurrency) return;
      this.parked.delete(id);
      const load = this.perEndpoint.get(id);
      if (!load) continue;
      // Still held back by the process, not by its window, it is parked again, at the back.
      this.startWaiting(id, load, this.windowOf(id));
      this.forgetIfIdle(id, load);
    }
  }

  /**
   * The next waiting delivery that can still start well within its lease. An endpoint that
   * slowed down after work was claimed ahead for it would otherwise start deliveries whose lease
   * has run out, and which another worker (or the lease reclaim) may have handed out again:
   * those go back to the store untried.
   */
  private nextWaiting(load: EndpointLoad): EndpointLoad['waiting'][number] | undefined {
    const oldest = this.clock() - this.leaseMs / 2;
    for (let next = load.waiting.shift(); next; next = load.waiting.shift()) {
      this.unwait(next.d);
      if (next.claimedAt >= oldest) return next;
      this.release(next.d, this.clock());
    }
    return undefined;
  }

  /**
   * Deliveries a claim may bring: no more than the free requests (claiming beyond them for a
   * fan-out to 1,000 new endpoints held up its first requests: the last arrival came 150-400 ms
   * later), and no more than may wait (WAITING_PER_SLOT times HERALD_CONCURRENCY, and
   * maxWaitingBytes of payloads). A quick endpoint's window holds its requests; what a claim
   * brings beyond them waits, up to its rounds ahead.
   */
  private freeSlots(): number {
    return Math.min(this.options.concurrency - this.inFlight, this.waitingRoom()) - this.reservedTotal;
  }

  /** Deliveries that may still wait (by count, and by payload bytes at the expected size). */
  private waitingRoom(): number {
    const byCount = this.options.concurrency * WAITING_PER_SLOT - this.waitingTotal;
    return Math.min(byCount, Math.floor((this.maxWaitingBytes - this.waitingBytes) / this.bodyBytes));
  }

  private unwait(d: ClaimedDelivery): void {
    this.waitingTotal--;
    this.waitingBytes -= d.body.length;
  }

  /** The settlement for an attempt's result, and what to do once it is committed. */
  private settlementFor(d: ClaimedDelivery, result: AttemptMade): { settlement: AttemptSettlement; after?: () => void } {
    const base = { deliveryId: d.id, owner: this.options.owner, claimNo: d.claimNo, endpointId: d.endpointId, accountId: d.accountId, attempt: result.attempt };
    if (result.verdict === 'success') {
      this.counters.succeeded++;
      return { settlement: { ...base, outcome: 'succeeded' } };
    }
    if (result.verdict === 'gone') {
      this.counters.failed++;
      return { settlement: { ...base, outcome: 'failed', notice: 'gone' }, after: () => this.deps.onNotices?.() };
    }
    const next: { action: 'retry'; at: number } | { action: 'give_up' } =
      result.verdict === 'fail'
        ? { action: 'give_up' }
        : nextAttempt({
            attemptsMade: d.attempts + 1,
            schedule: this.options.retrySchedule,
            now: this.clock(),
            random: this.random,
            retryAfterMs: result.retryAfterMs,
          });
    const failedAttempt = () => this.deps.onAttemptFailed?.(d);
    if (next.action === 'retry') {
      this.counters.retried++;
      return { settlement: { ...base, outcome: 'retry', nextAttemptAt: next.at }, after: failedAttempt };
    }
    this.counters.failed++;
    return {
      settlement: { ...base, outcome: 'failed', notice: 'exhausted' },
      after: () => {
        failedAttempt();
        this.deps.onNotices?.();
      },
    };
  }

  private release(d: ClaimedDelivery, at: number): void {
    this.enqueueSettlement({ deliveryId: d.id, owner: this.options.owner, endpointId: d.endpointId, outcome: 'release', nextAttemptAt: at, claimNo: d.claimNo });
  }

  private enqueueSettlement(s: Settlement, after?: () => void, delayMs = this.settleDelayMs): void {
    // stop() handed it back: another claim owns what happens to it now.
    if (this.givenUp.has(s.deliveryId)) return;
    this.settlements.push(s, after, delayMs);
  }

  // Observers run inside attempt()'s try: a throw reaching its catch would release an
  // already-settled delivery, so it is reported here instead.
  private observeAttempt(d: ClaimedDelivery, result: AttemptMade, outcome: AttemptOutcome): void {
    try {
      this.deps.observer?.attempted(d, result, outcome);
    } catch (err) {
      this.fail('observer', err);
    }
  }

  private observeRefused(ids: readonly string[] | void): void {
    if (!ids || ids.length === 0) return;
    try {
      this.deps.observer?.refused?.(ids);
    } catch (err) {
      this.fail('observer', err);
    }
  }

  private observeThrottle(endpointId: string, delayMs: number): void {
    try {
      this.deps.observer?.throttled(endpointId, delayMs);
    } catch (err) {
      this.fail('observer', err);
    }
  }

  private fail(stage: string, err: unknown): void {
    this.lastError = `${stage}: ${err instanceof Error ? err.message : String(err)}`;
    this.deps.onError?.(stage, err);
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const previous = this.wakeUp;
      this.wakeUp = previous
        ? () => {
            previous();
            done();
          }
        : done;
    });
  }
}
