// What the dispatcher's verdicts do to endpoints and which events Herald raises about them.
import { isHeraldEvent } from '../catalog/index.js';
import type { Endpoint } from '../domain/types.js';
import type { ClaimedDelivery, Notice } from '../store/contract.js';
import type { AppContext } from './context.js';
import { publishSystemEvents, raiseSystemEvent, type SystemEvent } from './system-events.js';

const GONE_REASON = 'endpoint answered 410 Gone';
/** Notices carried out per store read. */
const NOTICE_BATCH = 100;

type HookContext = Pick<AppContext, 'store' | 'ingestor' | 'endpointCache' | 'logger' | 'config' | 'clock' | 'endpointChanged'>;

export function createHealthHooks(ctx: HookContext) {
  /**
   * Disables the endpoint unless it already is: the endpoint as stored, and whether this call
   * disabled it (of two workers, one does); undefined when it was deleted.
   */
  async function disabled(endpointId: string, accountId: string, reason: string): Promise<{ endpoint: Endpoint; disabledNow: boolean } | undefined> {
    const out = await ctx.store.disableEndpoint(accountId, endpointId, reason, ctx.clock());
    if (out?.disabledNow) {
      ctx.endpointChanged(endpointId);
      ctx.logger.warn({ endpointId, reason }, 'endpoint disabled');
    }
    return out;
  }

  async function disable(endpointId: string, accountId: string, reason: string): Promise<void> {
    const out = await disabled(endpointId, accountId, reason);
    if (out?.disabledNow) await raiseSystemEvent(ctx, accountId, 'endpoint.disabled', { endpoint_id: endpointId, url: out.endpoint.url, reason });
  }

  /**
   * A 410's notice: the endpoint disabled, and endpoint.disabled raised, keyed by the disabling
   * as stored (every delivery that met the same 410, in any worker, reports that one: it is
   * raised once).
   */
  async function carryOutGone(n: Notice): Promise<void> {
    const out = await disabled(n.endpointId, n.accountId, GONE_REASON);
    if (!out || out.endpoint.disabledReason !== GONE_REASON) return;
    const { endpoint } = out;
    await publishSystemEvents(ctx, n.accountId, [
      { type: 'endpoint.disabled', data: { endpoint_id: endpoint.id, url: endpoint.url, reason: GONE_REASON }, idempotencyKey: `herald:disabled:${endpoint.id}:${endpoint.updatedAt}` },
    ]);
  }

  /** Exhausted deliveries' events, one commit per account, each keyed by its delivery and attempts. */
  async function raiseExhausted(notices: readonly Notice[]): Promise<void> {
    const byAccount = new Map<string, SystemEvent[]>();
    for (const n of notices) {
      // Herald's own events are never reported about themselves, so failures cannot feed a loop.
      if (n.kind !== 'exhausted' || isHeraldEvent(n.eventType)) continue;
      const data = {
        message_id: n.eventId,
        delivery_id: n.deliveryId,
        endpoint_id: n.endpointId,
        event_type: n.eventType,
        attempts: n.attempts,
        last_status_code: n.lastStatusCode,
        last_error_kind: n.lastErrorKind,
      };
      const events = byAccount.get(n.accountId) ?? [];
      events.push({ type: 'message.attempt.exhausted', data, idempotencyKey: `herald:exhausted:${n.deliveryId}:${n.attempts}` });
      byAccount.set(n.accountId, events);
    }
    for (const [accountId, events] of byAccount) await publishSystemEvents(ctx, accountId, events);
  }

  let running: Promise<number> | undefined;
  let again = false;

  /** Carries out every pending notice, then clears them; how many. One sweep at a time. */
  async function sweep(): Promise<number> {
    let done = 0;
    for (;;) {
      const notices = await ctx.store.pendingNotices(NOTICE_BATCH);
      for (const n of notices) if (n.kind === 'gone') await carryOutGone(n);
      await raiseExhausted(notices);
      await ctx.store.clearNotices(notices);
      done += notices.length;
      if (notices.length < NOTICE_BATCH) return done;
    }
  }

  /**
   * Carries out pending notices; a call while a sweep runs makes it sweep once more. A failure
   * leaves them pending for the next call (the jobs sweep every few seconds).
   */
  function processNotices(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    const run = async (): Promise<number> => {
      let done = 0;
      do {
        again = false;
        done += await sweep();
      } while (again);
      return done;
    };
    running = run().finally(() => (running = undefined));
    return running;
  }

  return {
    disable,
    processNotices,
    /** Failing every attempt for HERALD_DISABLE_AFTER_HOURS (5 days by default) disables the endpoint. */
    onAttemptFailed(d: ClaimedDelivery): void {
      const since = ctx.endpointCache.peek(d.endpointId)?.failingSince;
      if (since === null || since === undefined || ctx.clock() - since < ctx.config.disableAfterMs) return;
      const days = Math.round((ctx.config.disableAfterMs / 86_400_000) * 10) / 10;
      void disable(d.endpointId, d.accountId, `every attempt failed for ${days} days (since ${new Date(since).toISOString()})`).catch((err: unknown) =>
        ctx.logger.error({ err }, 'could not disable endpoint'),
      );
    },
  };
}
