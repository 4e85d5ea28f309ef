// Herald's own events (endpoint.disabled, message.attempt.exhausted, …), published into the
// account like any other so endpoints can subscribe to them.
import type { AppContext } from './context.js';

type SystemEventType = 'endpoint.disabled' | 'endpoint.enabled' | 'message.attempt.exhausted';
type SystemEventData = Record<string, unknown> & ({ endpoint_id: string } | { message_id: string });

/**
 * Publishes one of Herald's events. `idempotencyKey` names what it is about, so raising it again
 * (a notice carried out twice, by two workers or after a crash) publishes it once. Throws when
 * it cannot be stored.
 */
export async function publishSystemEvent(
  ctx: Pick<AppContext, 'ingestor'>,
  accountId: string,
  type: SystemEventType,
  data: SystemEventData,
  idempotencyKey?: string,
): Promise<void> {
  const resource = 'message_id' in data ? { type: 'message', id: String(data.message_id) } : { type: 'endpoint', id: String(data.endpoint_id) };
  await ctx.ingestor.publish(accountId, [{ type, resource, data, idempotencyKey }]);
}

/** As publishSystemEvent, for a change already answered for: a failure is logged, not thrown. */
export async function raiseSystemEvent(ctx: Pick<AppContext, 'ingestor' | 'logger'>, accountId: string, type: SystemEventType, data: SystemEventData): Promise<void> {
  try {
    await publishSystemEvent(ctx, accountId, type, data);
  } catch (err) {
    ctx.logger.error({ err, type }, 'could not raise system event');
  }
}
