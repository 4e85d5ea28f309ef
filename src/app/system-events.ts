// Herald's own events (endpoint.disabled, message.attempt.exhausted, …), published into the
// account like any other so endpoints can subscribe to them.
import type { AppContext } from './context.js';

type SystemEventType = 'endpoint.disabled' | 'endpoint.enabled' | 'message.attempt.exhausted';
type SystemEventData = Record<string, unknown> & ({ endpoint_id: string } | { message_id: string });

export interface SystemEvent {
  readonly type: SystemEventType;
  readonly data: SystemEventData;
  /** Names what the event is about, so raising it again (a notice carried out twice) publishes it once. */
  readonly idempotencyKey?: string;
}

/** Publishes Herald's events into one account, in one commit. Throws when they cannot be stored. */
export async function publishSystemEvents(ctx: Pick<AppContext, 'ingestor'>, accountId: string, events: readonly SystemEvent[]): Promise<void> {
  if (events.length === 0) return;
  await ctx.ingestor.publish(
    accountId,
    events.map(({ type, data, idempotencyKey }) => ({
      type,
      resource: 'message_id' in data ? { type: 'message', id: String(data.message_id) } : { type: 'endpoint', id: String(data.endpoint_id) },
      data,
      idempotencyKey,
    })),
  );
}

/** One event, for a change already answered for: a failure is logged, not thrown. */
export async function raiseSystemEvent(ctx: Pick<AppContext, 'ingestor' | 'logger'>, accountId: string, type: SystemEventType, data: SystemEventData): Promise<void> {
  try {
    await publishSystemEvents(ctx, accountId, [{ type, data }]);
  } catch (err) {
    ctx.logger.error({ err, type }, 'could not raise system event');
  }
}
