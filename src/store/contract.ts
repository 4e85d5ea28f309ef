// The storage contract every driver (SQLite, PostgreSQL) implements and the conformance
// suite checks. Drivers seal credentials on write and open them on read, so callers only
// ever see plaintext in memory and the database never holds it.
import type {
  Account,
  ApiKeyRecord,
  Attempt,
  AttemptErrorKind,
  CustomEventType,
  Delivery,
  DeliveryStatus,
  Endpoint,
  EventInput,
  Page,
  Project,
  Role,
  StoredEvent,
} from '../domain/types.js';
import type { CanonicalBody } from '../domain/canonical-body.js';
import type { Inbox, InboxRelay, InboxRequest } from '../inbox/types.js';

export interface PageRequest {
  readonly cursor?: string;
  readonly limit: number;
}

/** A page of an account's custom types by name: `cursor` is the last name of the page before. */
export interface EventTypePageRequest extends PageRequest {
  /** Whether each type comes with its schema (up to 64 KiB each); without, only what names it. */
  readonly schemas: boolean;
}

/** A custom type as a page lists it: `schema` only when the page was asked with schemas. */
export type ListedEventType = Omit<CustomEventType, 'schema'> & { readonly schema?: CustomEventType['schema'] };

export interface NewApiKey {
  readonly accountId: string;
  readonly name: string;
  readonly role: Role;
  readonly operator: boolean;
  readonly hash: string;
  readonly prefix: string;
  /** Keys from HERALD_ADMIN_KEY are replaced when the variable changes. */
  readonly source: 'env' | 'generated' | 'api';
}

/** A signed-in admin UI session: the browser holds the token, the store its hash and the key. */
export interface NewUiSession {
  /** SHA-256 (hex) of the token in the browser's cookie; the token itself is never stored. */
  readonly tokenHash: string;
  readonly apiKeyId: string;
  /** The signed-in API key, stored sealed. */
  readonly key: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface UiSession {
  readonly apiKeyId: string;
  readonly key: string;
  readonly expiresAt: number;
}

export interface IngestItem {
  readonly accountId: string;
  readonly messageId: string;
  readonly event: EventInput;
  /**
   * Endpoints matched by ingest; one delivery each. A `leased` one is created in flight under
   * the ingest's lease (see IngestLease) instead of pending. `ordered` is the endpoint's ordering
   * as matched (what ingest offers a dispatcher by); the store orders each delivery by the
   * endpoint's ordering as committed when the ingest commits, so an ordering switched meanwhile
   * holds for it too (and an ordered one is never created leased).
   */
  readonly endpoints: readonly { readonly id: string; readonly ordered: boolean; readonly leased?: boolean }[];
  /** The canonical body, completed with the per-resource sequence once that is known. */
  readonly body: CanonicalBody;
}

/** A rate limit held in the store: its key (`endpoint:<id>`, `account:<id>`) and messages per second. */
export interface SharedRateLimit {
  readonly key: string;
  readonly rate: number;
}

export interface IngestOutcome {
  readonly id: string;
  readonly deliveries: number;
  readonly duplicate: boolean;
  /** The deliveries created under the ingest's lease, as a claim would have returned them. */
  readonly leased?: readonly ClaimedDelivery[];
}

/**
 * The ingesting process's dispatcher takes some new deliveries straight from the commit: they
 * are created in flight under this lease, so no claim has to find them (and a crash before
 * their attempt only delays them until the lease runs out, like any claimed delivery).
 */
export interface IngestLease {
  readonly owner: string;
  readonly until: number;
}

export interface ClaimRequest {
  readonly owner: string;
  readonly limit: number;
  readonly leaseMs: number;
  readonly now: number;
  /** Endpoints this worker cannot take more work for right now (saturated or throttled). */
  readonly excludeEndpoints: readonly string[];
  /** At most this many deliveries of one endpoint per claim (default: limit). */
  readonly perEndpointLimit?: number;
  /**
   * Endpoints with a limit of their own in this claim instead of perEndpointLimit (what a
   * dispatcher that knows them may still hold of each: more for one that gets through its
   * work quickly, less for a slow one). May be above perEndpointLimit; never above limit.
   */
  readonly endpointLimits?: Readonly<Record<string, number>>;
}

export interface ClaimedDelivery {
  readonly id: string;
  readonly accountId: string;
  readonly eventId: string;
  readonly endpointId: string;
  /** Attempts already made before this one. */
  readonly attempts: number;
  /**
   * Which claim of the delivery this is (every claim takes a new one; created leased by an
   * ingest: 0). Its settlement and lease renewals carry it, and apply only while it is the latest.
   */
  readonly claimNo: number;
  readonly eventType: string;
  readonly body: string;
  readonly sequence: number | null;
  readonly resourceKey: string | null;
  readonly projectId: string | null;
  readonly createdAt: number;
}

export interface AttemptInput {
  readonly attemptNo: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly errorKind: AttemptErrorKind | null;
  readonly errorMessage: string | null;
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly responseBody: string | null;
}

/** The delivery an attempt was made for. */
interface AttemptOf {
  readonly deliveryId: string;
  readonly owner: string;
  /** The claim it answers: ClaimedDelivery.claimNo. */
  readonly claimNo: number;
  readonly endpointId: string;
  /** The delivery's account, so the attempt is recorded without reading the delivery back. */
  readonly accountId: string;
  readonly attempt: AttemptInput;
}

/**
 * What a final failure still owes, recorded with it: `exhausted`, Herald's
 * message.attempt.exhausted event; `gone` (a 410), disabling the endpoint and its
 * endpoint.disabled event.
 */
export type NoticeKind = 'exhausted' | 'gone';

/** A failed delivery whose notice is still to be carried out. */
export interface Notice {
  readonly kind: NoticeKind;
  readonly deliveryId: string;
  readonly accountId: string;
  readonly eventId: string;
  readonly endpointId: string;
  readonly eventType: string;
  /** Attempts made when it failed, and the failed attempt's status code. */
  readonly attempts: number;
  readonly lastStatusCode: number | null;
  /** The failed attempt's error kind (timeout, connect, http_status, …), null when it had none. */
  readonly lastErrorKind: string | null;
  /** The notice as the delivery holds it: clearNotices clears it only while it still does. */
  readonly recorded: string;
}

/** What became of one claimed delivery. Settled in batches, in one transaction. */
export type Settlement =
  | (AttemptOf & { readonly outcome: 'succeeded' })
  | (AttemptOf & { readonly outcome: 'retry'; readonly nextAttemptAt: number })
  /** `notice`: what the failure owes; a delivery replayed before its notice was carried out keeps the old one unless this replaces it. */
  | (AttemptOf & { readonly outcome: 'failed'; readonly notice?: NoticeKind })
  /**
   * Hand a claimed delivery back untried (e.g. its endpoint was disabled meanwhile). `claimNo`:
   * the claim's, so the release applies only to that claim (see settle).
   */
  | { readonly deliveryId: string; readonly owner: string; readonly endpointId: string; readonly outcome: 'release'; readonly nextAttemptAt: number; readonly claimNo: number };

/** A secret rotation made with an Idempotency-Key (rotateSecretOnce). */
export interface SecretRotation {
  /** SHA-256 (hex) of the secret it set: whether that is still the endpoint's. */
  readonly secretSha256: string;
  readonly previousSecretExpiresAt: number;
  readonly createdAt: number;
}

/** A lease held on a delivery: its id and the claim that took it (ClaimedDelivery.claimNo). */
export interface HeldLease {
  readonly id: string;
  readonly claimNo: number;
}

/**
 * settle's `failingGapMs` when none is given: what the health rule derives from the default
 * retry schedule and threshold (failingGapMs in app/health-hooks.ts): 25 hours.
 */
export const DEFAULT_FAILING_GAP_MS = 25 * 3_600_000;

/** A settlement that records an attempt (every outcome but `release`). */
export type AttemptSettlement = Exclude<Settlement, { outcome: 'release' }>;

/** Final statuses a recover may re-queue: failed ones, and succeeded ones to replay them. */
export type RecoverableStatus = 'failed' | 'succeeded';

/** Which deliveries of an endpoint a recover re-queues. */
export interface RecoverScope {
  /** Created at or after this time. */
  readonly since: number;
  /** Created before this time; null: up to now. */
  readonly until: number | null;
  /**
   * Event types as deliveries are stored under them (canonical names, custom types' names) and
   * `prefix.*` wildcards, every type stored under the prefix; null: every type.
   */
  readonly eventTypes: readonly string[] | null;
  /** At least one. */
  readonly statuses: readonly RecoverableStatus[];
  /**
   * Last changed (settled, re-queued) at or before this time; undefined: whenever. A recovery's
   * count and its chunks take the same one, the time it was asked for (its createdAt: begun
   * without one, when it was recorded), so a delivery failing after that (one pending or in
   * flight then) is neither counted nor re-queued.
   */
  readonly asOf?: number;
}

/**
 * A recover (replay many) as an operation: its scope fixed when it began, worked off in chunks
 * by whoever holds its lease, so a large one neither holds the request that asked for it nor
 * the store's write lock, and a repeat of the request finds it rather than re-queueing again.
 */
export interface Recovery {
  readonly id: string;
  readonly accountId: string;
  readonly endpointId: string;
  readonly idempotencyKey: string | null;
  /** The request as asked (until left out stays out): a repeat of it joins this one while it runs. */
  readonly request: string;
  /** `until` is resolved when it began: what was counted then is what it re-queues. */
  readonly scope: FixedRecoverScope;
  readonly status: 'running' | 'done';
  /** Deliveries in scope when it began (its scope's asOf). */
  readonly total: number;
  /**
   * Of those, re-queued so far: never more than total; fewer, once done, by those that left the
   * scope meanwhile (sent again one at a time, deleted with their endpoint or by retention).
   */
  readonly requeued: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
}

export type FixedRecoverScope = RecoverScope & { readonly until: number };

/** Who works off a recovery, and until when unless renewed. */
export interface RecoveryLease {
  readonly owner: string;
  readonly until: number;
}

export interface NewRecovery extends Pick<Recovery, 'id' | 'accountId' | 'endpointId' | 'idempotencyKey' | 'request' | 'scope' | 'total'> {
  readonly lease: RecoveryLease;
}

export interface DeliveryQuery extends PageRequest {
  readonly endpointId?: string;
  readonly eventId?: string;
  readonly status?: DeliveryStatus;
  /**
   * Event types as deliveries are stored under them and `prefix.*` wildcards (every type stored
   * under the prefix, registered now or not), any of them (an empty list matches nothing).
   */
  readonly eventTypes?: readonly string[];
  /** Created at or after this time (ms). */
  readonly since?: number;
  /** Created before this time (ms). */
  readonly until?: number;
}

/** Attempt outcomes over some minutes, from the per-minute rollup settle keeps. */
export interface AttemptTotals {
  readonly succeeded: number;
  /** Failed attempts that will be retried. */
  readonly retried: number;
  /** Final failures: the delivery is failed. */
  readonly failed: number;
  readonly latencySumMs: number;
  readonly latencyMaxMs: number;
}

export interface ActivityMinute extends AttemptTotals {
  /** Start of the minute (ms). */
  readonly minute: number;
}

export interface ActivityQuery {
  /** First minute included (ms, a minute start). */
  readonly from: number;
  /** End, exclusive (ms). */
  readonly to: number;
  readonly endpointId?: string;
}

export interface EndpointHealth {
  readonly endpointId: string;
  /** Pending never tried, pending tried at least once, leased now. */
  readonly queue: { readonly pending: number; readonly retrying: number; readonly inFlight: number };
  /** Attempts in the minutes since the window start. */
  readonly attempts: AttemptTotals;
  /** The latest attempt the rollup still holds, inside the window or not. */
  readonly lastAttemptAt: number | null;
}

/** Work not done yet: what queue-length figures need, counted without the delivered history. */
export interface QueueDepth {
  readonly pending: number;
  readonly inFlight: number;
  /** Pending deliveries that have been tried at least once. */
  readonly retrying: number;
}

export interface QueueStats extends QueueDepth {
  readonly succeeded: number;
  readonly failed: number;
}

/** An attempt with the delivery's event, for per-endpoint logs (Media Pocket success/failed logs). */
export interface EndpointAttempt extends Attempt {
  readonly eventId: string;
  readonly eventType: string;
}

export interface EndpointAttemptQuery extends PageRequest {
  /** `succeeded`: attempts without an error kind; `failed`: attempts with one. */
  readonly outcome?: 'succeeded' | 'failed';
}

export interface InboxRequestQuery extends PageRequest {
  /**
   * Catch-up instead of paging: the requests captured after this id, oldest first (what a
   * reconnecting stream missed). `cursor` is ignored then.
   */
  readonly after?: string;
}

export interface CaptureOutcome {
  /** False when the inbox no longer exists (deleted meanwhile): nothing was written. */
  readonly stored: boolean;
  /** A relay delivery was created (its endpoint still exists). */
  readonly relayed: boolean;
}

export interface SchemaState {
  readonly current: number;
  readonly latest: number;
}

/** A conditional endpoint write's condition: the endpoint as stored has not changed since it was read. */
export interface EndpointExpected {
  /** The endpoint's updatedAt as read. */
  readonly updatedAt: number;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;

  migrate(): Promise<SchemaState>;
  schemaState(): Promise<SchemaState>;
  /** Whether the sealer opens the credentials already stored (one is tried); true while none are. */
  opensCredentials(): Promise<boolean>;

  createAccount(input: { name: string; rateLimitPerSecond?: number | null; linkBaseUrl?: string | null; id?: string }): Promise<Account>;
  getAccount(id: string): Promise<Account | undefined>;
  updateAccount(account: Account): Promise<void>;
  listAccounts(page: PageRequest): Promise<Page<Account>>;

  createProject(accountId: string, name: string, id?: string): Promise<Project>;
  getProject(accountId: string, id: string): Promise<Project | undefined>;
  listProjects(accountId: string, page: PageRequest): Promise<Page<Project>>;

  createApiKey(input: NewApiKey): Promise<ApiKeyRecord>;
  findApiKeyByHash(hash: string): Promise<(ApiKeyRecord & { hash: string }) | undefined>;
  listApiKeys(accountId: string, page: PageRequest): Promise<Page<ApiKeyRecord>>;
  deleteApiKey(accountId: string, id: string): Promise<boolean>;
  /** Drops env-sourced keys whose hash differs (the variable changed); returns whether one with `hash` exists. */
  syncEnvKey(hash: string): Promise<boolean>;
  countOperatorKeys(): Promise<number>;

  /** Stores a UI session, and drops every session expired by `session.createdAt`. */
  createUiSession(session: NewUiSession): Promise<void>;
  /** The live session of a token hash: undefined when there is none or it expired by `now`. */
  findUiSession(tokenHash: string, now: number): Promise<UiSession | undefined>;
  deleteUiSession(tokenHash: string): Promise<void>;

  /**
   * Counts one failed authentication of `address` in `scope` ('api': API keys, 'ui': admin UI
   * sign-ins) at `now`, in one statement: the address's window of `windowMs` goes on, or a new one
   * begins at `now` once it is over. Answers the window's start and its failures, this one
   * included, as every process sharing the store counted them.
   */
  recordAuthFailure(scope: string, address: string, now: number, windowMs: number): Promise<{ since: number; failures: number }>;
  /** Drops the failure counts of windows that began before `before`: how many. */
  pruneAuthFailures(before: number): Promise<number>;

  /** Records a custom event type unless the account has one of that name: whether it did. */
  createEventType(type: CustomEventType): Promise<boolean>;
  /** Writes the description, schema and updatedAt of the account's type of that name: whether there is one. */
  updateEventType(type: CustomEventType): Promise<boolean>;
  /** The account's custom types of these names; names it has no type of are left out. */
  getEventTypes(accountId: string, names: readonly string[]): Promise<CustomEventType[]>;
  /** Every custom type of the account, by name. */
  listEventTypes(accountId: string): Promise<CustomEventType[]>;
  /** The account's custom types after `page.cursor` (a name), by name (byte-wise); the schemas are read only if asked for. */
  listEventTypePage(accountId: string, page: EventTypePageRequest): Promise<Page<ListedEventType>>;
  deleteEventType(accountId: string, name: string): Promise<boolean>;

  createEndpoint(endpoint: Endpoint): Promise<void>;
  /**
   * Writes what `endpoint` changes from `before` (the endpoint as read before the change), and
   * nothing else: a field changed meanwhile by another writer (a worker disabling the endpoint,
   * its health) keeps that change unless this one changes it too. A change of `ordering` also
   * applies to the endpoint's queued deliveries, in the same transaction: switched on, those with
   * a resource wait in their resource's order; switched off, none waits for another.
   *
   * The stored updated_at moves forward on every write: to `endpoint.updatedAt`, or one
   * millisecond past the stored one when that is not later (two changes in one millisecond, a
   * clock set back), so an updated_at read names one state of the endpoint.
   *
   * With `expected`, nothing is written unless the stored updated_at is still `expected.updatedAt`
   * (the endpoint was not changed since it was read), checked in the same transaction as the
   * write: of two writers racing from one copy, exactly one writes. Whether it wrote (false also
   * when there is no such endpoint).
   */
  updateEndpoint(endpoint: Endpoint, before: Endpoint, expected?: EndpointExpected): Promise<boolean>;
  /**
   * A rotation of the endpoint's secret sent with an Idempotency-Key: stores `rotated` over
   * `before` (as updateEndpoint, unconditionally; its previousSecretExpiresAt set, as a rotation
   * sets it) and records `key` with `secretSha256`, the SHA-256 (hex) of the new secret, in one
   * transaction, unless the key was used for this endpoint before. Of requests racing with one key, in any number of processes, exactly one
   * rotates. Answers 'rotated' when this call rotated, the earlier rotation when the key had
   * one (nothing changed), undefined when the endpoint is not there.
   */
  rotateSecretOnce(rotated: Endpoint, before: Endpoint, key: string, secretSha256: string): Promise<'rotated' | SecretRotation | undefined>;
  /**
   * Disables the endpoint unless it already is, in one statement, so two workers cannot both
   * do it. The endpoint as stored afterwards, and whether this call disabled it; undefined when
   * there is no such endpoint.
   */
  disableEndpoint(accountId: string, id: string, reason: string, now: number): Promise<{ endpoint: Endpoint; disabledNow: boolean } | undefined>;
  getEndpoint(accountId: string, id: string): Promise<Endpoint | undefined>;
  /** Unscoped: for the dispatcher, which acts for every account. */
  getEndpointsByIds(ids: readonly string[]): Promise<Endpoint[]>;
  listEndpoints(accountId: string, page: PageRequest & { profile?: string }): Promise<Page<Endpoint>>;
  /** Enabled endpoints of an account: what ingest matches against. */
  activeEndpoints(accountId: string): Promise<Endpoint[]>;
  /**
   * Whether it deleted the endpoint. With `expected`, only while its stored updated_at is still
   * `expected.updatedAt`, checked atomically with the deletion (false when it is not). The
   * endpoint is gone at once, in one short transaction: no read finds it, and none finds its
   * deliveries or attempts, no claim takes them and no ingest adds to them; purgeDeletedEndpoints
   * removes them afterwards.
   */
  deleteEndpoint(accountId: string, id: string, expected?: EndpointExpected): Promise<boolean>;
  /**
   * One step of removing deleted endpoints' history: up to `limit` deliveries of one of them
   * with their attempts, in one transaction; once none is left the endpoint is forgotten
   * (`finished`). A step cut short by a crash changes nothing, and the next one goes on. Several
   * processes may call it at once: each works on a different endpoint.
   */
  purgeDeletedEndpoints(limit: number): Promise<{ deliveries: number; finished: number }>;
  /** Changes whenever any endpoint of the account changes: lets callers cache matchers. */
  endpointsVersion(accountId: string): Promise<number>;

  ingest(items: readonly IngestItem[], now: number, lease?: IngestLease): Promise<IngestOutcome[]>;

  /**
   * Leases due deliveries, earliest first, taking at most `perEndpointLimit` from each endpoint
   * (or its own of `endpointLimits`; so one endpoint's backlog never crowds out the others) and, for per-resource ordered
   * endpoints, only the head of each resource's chain. A store may also share the limit out
   * among the endpoints with due work (the embedded one does) rather than strictly by due time.
   */
  claim(request: ClaimRequest): Promise<ClaimedDelivery[]>;
  /**
   * Records the outcomes and keeps each endpoint's `failingSince`, once per endpoint per call:
   * a success among the endpoint's attempts clears it; failures only set it to `now` when it is
   * unset, or restart it at `now` when the endpoint's previous attempt (any outcome, from the
   * attempt rollup) started more than `failingGapMs` before the first of these attempts, or is
   * not known: a failure after a quiet spell begins a new failing period instead of continuing
   * the old one. Releases say nothing about health.
   *
   * A settlement applies only to the claim it answers: the delivery is in flight, leased to its
   * owner, and that claim (its `claimNo`) is still the delivery's latest. A late or repeated one
   * (the lease ran out and another worker, or this one again, claimed it, with or without an
   * attempt recorded meanwhile; or it was settled already) changes nothing, records no attempt
   * and counts for nothing. Returns the ids of the settlements that did not apply.
   */
  settle(settlements: readonly Settlement[], now: number, failingGapMs?: number): Promise<string[]>;
  /**
   * Pushes to `until` the leases `owner` holds on those of `leases` still in flight under the
   * claim named: attempts running longer than a lease stay theirs instead of going out again
   * elsewhere, and an earlier claim's attempt renews nothing of a later one. How many.
   */
  extendLeases(owner: string, leases: readonly HeldLease[], until: number): Promise<number>;
  /** Failed deliveries whose notice is still to be carried out, oldest first, as each failure left it. */
  pendingNotices(limit: number): Promise<Notice[]>;
  /**
   * These notices were carried out. Each is cleared only while its delivery still holds it as
   * read: one written meanwhile, by a replay failing again, stays.
   */
  clearNotices(notices: readonly Notice[]): Promise<void>;
  /** Return leased deliveries to pending: expired ones, or all of one owner. */
  releaseLeases(filter: { expiredBefore: number } | { owner: string } | { all: true }): Promise<number>;
  /**
   * Earliest next_attempt_at among pending deliveries a claim could take (enabled endpoint; for
   * ordered ones, the head of their chain), for the dispatcher's sleep. Deliveries no claim can
   * take must not count, or an idle dispatcher would poll continuously while they are past due.
   */
  nextDueAt(): Promise<number | null>;

  getEvent(accountId: string, idOrKey: string): Promise<StoredEvent | undefined>;
  getDelivery(accountId: string, id: string): Promise<Delivery | undefined>;
  listDeliveries(accountId: string, query: DeliveryQuery): Promise<Page<Delivery>>;
  listAttempts(accountId: string, deliveryIds: readonly string[]): Promise<Attempt[]>;
  /** Re-queue one delivery now, unless it is in flight. */
  retryDelivery(accountId: string, id: string, now: number): Promise<Delivery | undefined>;
  /**
   * How many deliveries of an endpoint within `scope` a recovery would re-queue now (never
   * pending or in-flight ones), changing nothing. Counted in steps
   * that let other work run between them.
   */
  countRecoverable(accountId: string, endpointId: string, scope: RecoverScope): Promise<number>;
  /**
   * Records a new recovery, leased to `input.lease`, unless one answers for it already: the one
   * of the endpoint with the same idempotency key (any status), or, without a key, a running one
   * of the endpoint with the same request. `created` says which.
   */
  beginRecovery(input: NewRecovery, now: number): Promise<{ recovery: Recovery; created: boolean }>;
  /** The recovery beginRecovery would answer with instead of recording a new one, if any. */
  findRecovery(accountId: string, endpointId: string, idempotencyKey: string | null, request: string): Promise<Recovery | undefined>;
  getRecovery(accountId: string, endpointId: string, id: string): Promise<Recovery | undefined>;
  /**
   * Re-queues, due now, the next up to `limit` deliveries of the recovery's scope after its
   * cursor, and moves the cursor, the count and the lease on in the same transaction; marks it
   * done when fewer were left. On an endpoint ordered per resource, those with a resource are
   * re-queued ordered: they go out one at a time, in their sequence order. Undefined, changing nothing, unless `lease.owner` still holds it
   * (another runner took it over) and it is running.
   */
  advanceRecovery(id: string, lease: RecoveryLease, limit: number, now: number): Promise<Recovery | undefined>;
  /** Takes over one running recovery whose lease ran out (its runner stopped), if any. */
  claimRecovery(lease: RecoveryLease, now: number): Promise<Recovery | undefined>;
  /**
   * Queue figures and attempt outcomes since `since` (rounded down to its minute) of the given
   * endpoints of the account, in a fixed number of queries; ids of other accounts or unknown
   * ones are left out.
   */
  endpointHealth(accountId: string, endpointIds: readonly string[], since: number): Promise<EndpointHealth[]>;
  /** Attempt outcomes per minute, oldest first; minutes without attempts are absent. */
  activity(accountId: string, query: ActivityQuery): Promise<ActivityMinute[]>;
  /** Deliveries by status: of the whole store, one account, or one endpoint (of that account). */
  stats(accountId?: string, endpointId?: string): Promise<QueueStats>;
  /** stats() without succeeded and failed: its cost follows the backlog, not the history kept. */
  queueDepth(accountId?: string, endpointId?: string): Promise<QueueDepth>;

  /** Atomically increments the account's counter `name` and returns the new value (1 first). Never reuses a value. */
  nextCounter(accountId: string, name: string): Promise<number>;
  /** Attempts of one endpoint's deliveries, newest first (cursor = last attempt id seen). */
  listEndpointAttempts(accountId: string, endpointId: string, query: EndpointAttemptQuery): Promise<Page<EndpointAttempt>>;

  /**
   * Reserves one message under rate limits shared by every worker (GCRA, burst of 100 ms worth),
   * all of them at once (its endpoint's and its account's): returns how long to wait before
   * sending it, in ms. The send time is the latest the limits allow, and every key is charged at
   * that time, atomically. Always succeeds; never drops.
   */
  reserveRate(limits: readonly SharedRateLimit[], now: number): Promise<number>;

  /**
   * Retention, one bounded batch: succeeded deliveries (and their attempts) last changed before
   * `before`, deliveries whose endpoint is gone, and events older than `before` with no delivery
   * left. Failed deliveries stay: they are replayable. Returns the rows removed. Per-minute
   * attempt rollups are kept ROLLUP_EXTRA_MS longer than `before` (health windows reach back
   * 7 days whatever the retention). Recoveries finished before `before` go too, and the
   * Idempotency-Keys of secret rotations made before it (a repeat with one rotates again).
   */
  prune(before: number, limit: number): Promise<{ deliveries: number; events: number }>;

  // ---- Connect inboxes ----------------------------------------------------------------
  createInbox(inbox: Inbox): Promise<void>;
  /** Name, signing secret and forwarding may change; id, account, token and creation time not. */
  updateInbox(inbox: Inbox): Promise<void>;
  getInbox(accountId: string, id: string): Promise<Inbox | undefined>;
  /** Unscoped: the public capture route knows only the token (by its SHA-256 hash). */
  findInboxByTokenHash(tokenHash: string): Promise<Inbox | undefined>;
  listInboxes(accountId: string, page: PageRequest): Promise<Page<Inbox>>;
  /** Removes the inbox and its captured requests (its relay endpoint is the caller's to delete). */
  deleteInbox(accountId: string, id: string): Promise<boolean>;
  /**
   * Stores one captured request and, with `relay`, the relay event and its pending delivery
   * (due `now`), in one transaction. Nothing is written when the inbox is gone; the relay is
   * skipped when its endpoint is gone. PostgreSQL announces the capture on the inbox channel.
   */
  captureInboxRequest(request: InboxRequest, relay: InboxRelay | undefined, now: number): Promise<CaptureOutcome>;
  /** Newest first with cursor paging, or (with `after`) oldest first after an id. */
  listInboxRequests(accountId: string, inboxId: string, query: InboxRequestQuery): Promise<Page<InboxRequest>>;
  getInboxRequest(accountId: string, inboxId: string, id: string): Promise<InboxRequest | undefined>;
  /** Deletes every captured request of the inbox; returns how many. */
  purgeInboxRequests(accountId: string, inboxId: string): Promise<number>;
  /** Deletes all but the newest `keep` captured requests of the inbox; returns how many. */
  trimInboxRequests(accountId: string, inboxId: string, keep: number): Promise<number>;
  /** Retention, one bounded batch: captured requests received before `before`. */
  pruneInboxRequests(before: number, limit: number): Promise<number>;
}

/** Encrypts credentials at rest (implemented by signing/secretbox). */
export interface Sealer {
  seal(plaintext: string): string;
  open(sealed: string): string;
}
