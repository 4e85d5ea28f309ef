// What the dispatcher's verdicts do to endpoints and which events Herald raises about them.
import { isHeraldEvent } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { longestRetryWaitMs } from '../delivery/retry-policy.js';
import type { Endpoint } from '../domain/types.js';
import type { ClaimedDelivery, Notice } from '../store/contract.js';
import type { AppContext } from './context.js';
import { publishSystemEvents, raiseSystemEvent, type SystemEvent } from './system-events.js';

const GONE_REASON = 'endpoint answered 410 Gone';
/** Notices carried out per store read. */
const NOTICE_BATCH = 100;

const HOUR_MS = 3_600_000;
/** On top of the retry schedule's longest wait: a claim can run behind schedule (a backlog, a rate limit, a restart). */
const QUEUE_SLACK_MS = HOUR_MS;

/**
 * The health rule's quiet spell (settle's `failingGapMs`): a failure more than this long after
 * the endpoint's previous attempt begins a new failing period instead of continuing the old
 * one. Long enough that an endpoint retried on schedule keeps its period: the longest wait
 * between two attempts of one delivery (longest step plus jitter, or a Retry-After up to 24 h)
 * and an hour of slack; 25 h with the default schedule. Never longer than the threshold: a
 * spell that long says nothing of the endpoint meanwhile, and one failure after it would
 * complete the threshold alone.
 */
export function failingGapMs(config: Pick<Config, 'retrySchedule' | 'disableAfterMs'>): number {
  return Math.min(config.disableAfterMs, longestRetryWaitMs(config.retrySchedule) + QUEUE_SLACK_MS);
}

/** A threshold as configured (whole hours): "5 days" when it is whole days, else "36 hours". */
export function thresholdText(ms: number): string {
  const hours = Math.round(ms / HOUR_MS);
  const [n, unit] = hours % 24 === 0 ? [hours / 24, 'day'] : [hours, 'hour'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

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

  function failingTooLong(e: Endpoint | undefined): e is Endpoint & { failingSince: number } {
    return e?.failingSince != null && !e.disabled && ctx.clock() - e.failingSince >= ctx.config.disableAfterMs;
  }

  async function disableIfFailingTooLong(d: ClaimedDelivery): Promise<void> {
    // Read again, once for the attempts that ask together: meanwhile the entry is gone, and they do not look.
    ctx.endpointCache.invalidate(d.endpointId);
    const endpoint = await ctx.endpointCache.current(d.endpointId);
    if (!failingTooLong(endpoint)) return;
    const reason = `every attempt failed for ${thresholdText(ctx.config.disableAfterMs)} (since ${new Date(endpoint.failingSince).toISOString()})`;
    await disable(d.endpointId, d.accountId, reason);
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
    /**
     * Failing every attempt for HERALD_DISABLE_AFTER_HOURS (5 days by default) disables the
     * endpoint. Runs once the attempt is settled; the cached row predates that settle, which may
     * have begun a new failing period (after a quiet spell) or ended it, so the cache only says
     * whether to look: the stored row decides.
     */
    onAttemptFailed(d: ClaimedDelivery): void {
      if (!failingTooLong(ctx.endpointCache.peek(d.endpointId))) return;
      void disableIfFailingTooLong(d).catch((err: unknown) => ctx.logger.error({ err }, 'could not disable endpoint'));
    },
  };
}
