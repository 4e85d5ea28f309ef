// What the dispatcher's verdicts do to endpoints and which events Herald raises about them.
import { disableEndpoint } from '../domain/endpoint.js';
import type { AttemptInput, ClaimedDelivery } from '../store/contract.js';
import type { AppContext } from './context.js';
import { raiseSystemEvent } from './system-events.js';

/** Herald's own events are never reported about themselves, so failures cannot feed a loop. */
const isSystemEvent = (type: string) => type.startsWith('message.') || type.startsWith('endpoint.');

export function createHealthHooks(ctx: Pick<AppContext, 'store' | 'ingestor' | 'endpointCache' | 'logger' | 'config' | 'clock' | 'endpointChanged'>) {

  async function disable(endpointId: string, accountId: string, reason: string): Promise<void> {
    const endpoint = await ctx.store.getEndpoint(accountId, endpointId);
    if (!endpoint || endpoint.disabled) return;
    await ctx.store.updateEndpoint(disableEndpoint(endpoint, reason, ctx.clock()));
    ctx.endpointChanged(endpointId);
    ctx.logger.warn({ endpointId, reason }, 'endpoint disabled');
    await raiseSystemEvent(ctx, accountId, 'endpoint.disabled', { endpoint_id: endpointId, url: endpoint.url, reason });
  }

  return {
    disable,
    onGone(d: ClaimedDelivery): void {
      void disable(d.endpointId, d.accountId, 'endpoint answered 410 Gone').catch((err: unknown) => ctx.logger.error({ err }, 'could not disable endpoint'));
    },
    /** Failing every attempt for HERALD_DISABLE_AFTER_HOURS (5 days by default) disables the endpoint. */
    onAttemptFailed(d: ClaimedDelivery): void {
      const since = ctx.endpointCache.peek(d.endpointId)?.failingSince;
      if (since === null || since === undefined || ctx.clock() - since < ctx.config.disableAfterMs) return;
      const days = Math.round((ctx.config.disableAfterMs / 86_400_000) * 10) / 10;
      void disable(d.endpointId, d.accountId, `every attempt failed for ${days} days (since ${new Date(since).toISOString()})`).catch((err: unknown) =>
        ctx.logger.error({ err }, 'could not disable endpoint'),
      );
    },
    onExhausted(d: ClaimedDelivery, attempt: AttemptInput): void {
      if (isSystemEvent(d.eventType)) return;
      void raiseSystemEvent(ctx, d.accountId, 'message.attempt.exhausted', {
        message_id: d.eventId,
        delivery_id: d.id,
        endpoint_id: d.endpointId,
        event_type: d.eventType,
        attempts: attempt.attemptNo,
        last_status_code: attempt.statusCode,
        last_error_kind: attempt.errorKind,
      });
    },
  };
}
