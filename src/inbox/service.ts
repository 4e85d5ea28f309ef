// Connect inboxes: token look-up, capture, live fan-out and the relay hand-off.
//
// Capture is on the public internet, so it is kept cheap: a token that cannot be one is refused
// without touching the store, inboxes are cached by token hash for a few seconds (found and not
// found alike, bounded), and a capture is one insert (plus the relay event and delivery in the
// same transaction when the inbox forwards).
import type { Logger } from 'pino';
import { newId } from '../domain/ids.js';
import { verify, WebhookVerificationError } from '../signing/verify.js';
import type { Store } from '../store/contract.js';
import { InboxHub, type InboxSubscriber } from './hub.js';
import { HOPS_HEADER, incomingHops, MAX_RELAY_HOPS, relayEnvelope } from './relay.js';
import { hashInboxToken, inboxPathToken, TOKEN_PATTERN } from './token.js';
import type { CapturedHeaders, Inbox, InboxRequest, SignatureCheck } from './types.js';

/** Bodies up to this size are captured; larger ones are answered 413 and kept without body. */
export const MAX_CAPTURE_BYTES = 1024 * 1024;

const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;

/** Subscribes `onPayload` to the inbox channel of other processes (PostgreSQL LISTEN). */
export type InboxChannelListener = (onPayload: (payload?: string) => void) => Promise<{ close(): Promise<void> }>;

export interface InboxServiceOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly clock?: () => number;
  /** Called when a capture created a relay delivery (wakes an in-process dispatcher). */
  readonly onRelayed?: () => void;
  /** Cross-process announcements (PostgreSQL); omitted for the embedded store. */
  readonly listen?: InboxChannelListener;
  /** Captured requests kept per inbox, the oldest deleted beyond; omitted or 0: no cap. */
  readonly maxRequests?: number;
}

/**
 * An inbox is trimmed to its cap once per this many captures in a process (and at its first
 * capture there), so the cap costs one indexed lookup per hundred captures, not per capture.
 * Between trims an inbox may hold up to this many more than its cap.
 */
export const TRIM_EVERY = 100;

export interface CaptureInput {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: CapturedHeaders;
  readonly body: Buffer;
  readonly bodySize: number;
  readonly truncated: boolean;
  readonly sourceIp: string | null;
}

export class InboxService {
  readonly hub = new InboxHub();
  private readonly cache = new Map<string, { inbox: Inbox | undefined; at: number }>();
  private readonly clock: () => number;
  private channel: Promise<{ close(): Promise<void> }> | undefined;
  /** Account of each inbox streamed here (the store is scoped by account). */
  private readonly accounts = new Map<string, string>();
  /** Captures per inbox since its last trim in this process. */
  private readonly sinceTrim = new Map<string, number>();
  private closed = false;

  constructor(private readonly o: InboxServiceOptions) {
    this.clock = o.clock ?? Date.now;
  }

  /** The inbox of a token from a capture URL, or undefined (cached briefly either way). */
  async lookup(token: string): Promise<Inbox | undefined> {
    if (!TOKEN_PATTERN.test(token)) return undefined;
    const hash = hashInboxToken(token);
    const hit = this.cache.get(hash);
    const now = Date.now();
    if (hit && now - hit.at < CACHE_TTL_MS) return hit.inbox;
    const inbox = await this.o.store.findInboxByTokenHash(hash);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { inbox, at: now });
    return inbox;
  }

  /** The inbox a URL path `/in/<token>…` belongs to, when it is `accountId`'s. */
  async ownInbox(pathname: string, accountId: string): Promise<Inbox | undefined> {
    const token = inboxPathToken(pathname);
    if (token === undefined) return undefined;
    const inbox = await this.lookup(token);
    return inbox?.accountId === accountId ? inbox : undefined;
  }

  /** Call after changing or deleting an inbox so this process stops using the cached copy. */
  forget(inbox: Pick<Inbox, 'tokenHash'>): void {
    this.cache.delete(inbox.tokenHash);
  }

  /**
   * Stores one captured request (and its relay), then streams it. Returns undefined when the
   * inbox turned out to be gone.
   */
  async capture(inbox: Inbox, input: CaptureInput): Promise<InboxRequest | undefined> {
    const receivedAt = this.clock();
    const hops = incomingHops(input.headers[HOPS_HEADER]);
    const relayed = inbox.forwardEndpointId !== null && !input.truncated && hops < MAX_RELAY_HOPS;
    const request: InboxRequest = {
      id: newId('inr', receivedAt),
      inboxId: inbox.id,
      accountId: inbox.accountId,
      method: input.method,
      path: input.path,
      query: input.query,
      headers: input.headers,
      body: input.body,
      bodySize: input.bodySize,
      truncated: input.truncated,
      sourceIp: input.sourceIp,
      receivedAt,
      signature: inbox.signingSecret === null ? null : checkSignature(inbox.signingSecret, input, receivedAt),
      relayMessageId: relayed ? newId('msg', receivedAt) : null,
    };
    const relay = relayed ? { messageId: request.relayMessageId!, endpointId: inbox.forwardEndpointId!, body: relayEnvelope(request, hops + 1) } : undefined;
    const outcome = await this.o.store.captureInboxRequest(request, relay, receivedAt);
    if (!outcome.stored) {
      this.forget(inbox);
      return undefined;
    }
    const stored = relay && !outcome.relayed ? { ...request, relayMessageId: null } : request;
    if (outcome.relayed) this.o.onRelayed?.();
    this.hub.publish(stored);
    await this.trimIfDue(inbox);
    return stored;
  }

  /** Keeps the inbox within maxRequests (see TRIM_EVERY); a failure only delays the next trim. */
  private async trimIfDue(inbox: Inbox): Promise<void> {
    const max = this.o.maxRequests ?? 0;
    if (max <= 0) return;
    const count = this.sinceTrim.get(inbox.id) ?? TRIM_EVERY;
    if (count < TRIM_EVERY) {
      this.sinceTrim.set(inbox.id, count + 1);
      return;
    }
    this.sinceTrim.set(inbox.id, 1);
    try {
      const removed = await this.o.store.trimInboxRequests(inbox.accountId, inbox.id, max);
      if (removed > 0) this.o.logger.debug({ inboxId: inbox.id, removed, kept: max }, 'trimmed an inbox to its newest captured requests');
    } catch (err) {
      this.o.logger.warn({ err, inboxId: inbox.id }, 'could not trim an inbox to its cap; retried at a later capture');
    }
  }

  /**
   * Streams the inbox's captures to `subscriber` until the returned function is called. With
   * PostgreSQL the first subscription starts listening for other processes' captures.
   */
  async subscribe(inbox: Pick<Inbox, 'id' | 'accountId'>, subscriber: InboxSubscriber): Promise<() => void> {
    if (this.o.listen && !this.channel && !this.closed) {
      const started = this.o.listen((payload) => void this.onAnnounced(payload));
      this.channel = started;
      started.catch((err: unknown) => {
        this.o.logger.error({ err }, 'could not listen for inbox captures of other processes; streams show this process only');
        if (this.channel === started) this.channel = undefined;
      });
      await started.catch(() => undefined);
    }
    this.accounts.set(inbox.id, inbox.accountId);
    const unsubscribe = this.hub.subscribe(inbox.id, subscriber);
    return () => {
      unsubscribe();
      if (!this.hub.has(inbox.id)) this.accounts.delete(inbox.id);
    };
  }

  /** `<account> <inbox> <request>` from another process, or nothing after a reconnect. */
  private async onAnnounced(payload: string | undefined): Promise<void> {
    try {
      if (payload === undefined || payload === '') {
        await this.catchUp();
        return;
      }
      const [accountId, inboxId, requestId] = payload.split(' ');
      if (!accountId || !inboxId || !requestId || !this.hub.has(inboxId) || this.hub.seen(requestId)) return;
      const r = await this.o.store.getInboxRequest(accountId, inboxId, requestId);
      if (r) this.hub.publish(r);
    } catch (err) {
      this.o.logger.warn({ err }, 'could not stream an inbox capture of another process');
    }
  }

  /** After a gap in announcements: whatever the watched inboxes captured since their last id. */
  private async catchUp(): Promise<void> {
    for (const [inboxId, lastId] of this.hub.watched()) {
      const accountId = this.accounts.get(inboxId);
      if (lastId === undefined || accountId === undefined) continue;
      await capturedAfter(this.o.store, accountId, inboxId, lastId, (r) => this.hub.publish(r));
    }
  }

  /** Ends every open stream (the server is stopping) and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    this.hub.close(undefined, 'shutdown');
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await (await channel.catch(() => undefined))?.close();
  }
}

const CATCH_UP_PAGE = 100;

/**
 * Every request an inbox captured after `after`, oldest first, a page at a time: what a stream
 * missed, however much it is (the inbox's cap bounds it).
 */
export async function capturedAfter(
  store: Pick<Store, 'listInboxRequests'>,
  accountId: string,
  inboxId: string,
  after: string,
  each: (r: InboxRequest) => void,
): Promise<void> {
  for (let last = after; ; ) {
    const page = await store.listInboxRequests(accountId, inboxId, { after: last, limit: CATCH_UP_PAGE });
    for (const r of page.items) each(r);
    if (page.nextCursor === null || page.items.length === 0) return;
    last = page.items.at(-1)!.id;
  }
}

/** The Standard Webhooks verdict on a capture, never throwing. */
function checkSignature(secret: string, input: CaptureInput, receivedAt: number): SignatureCheck {
  try {
    const { id } = verify({ headers: input.headers as Record<string, string | string[]>, body: input.body, secret, now: () => receivedAt });
    return { verified: true, webhookId: id };
  } catch (err) {
    if (err instanceof WebhookVerificationError) {
      // The signature matched; the body is merely not JSON, which an inbox does not require.
      if (err.code === 'invalid_payload') {
        const id = input.headers['webhook-id'] ?? input.headers['svix-id'];
        return { verified: true, webhookId: typeof id === 'string' ? id : '' };
      }
      return { verified: false, code: err.code, message: err.message };
    }
    return { verified: false, code: 'invalid_secret', message: 'the inbox signing secret could not be used' };
  }
}
