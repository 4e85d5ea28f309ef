// Herald's own events (endpoint.disabled, message.attempt.exhausted, …), published into the
// account like any other so endpoints can subscribe to them.
import type { AppContext } from './context.js';

export async function raiseSystemEvent(
  ctx: Pick<AppContext, 'ingestor' | 'logger'>,
  accountId: string,
  type: 'endpoint.disabled' | 'endpoint.enabled' | 'message.attempt.exhausted',
  data: Record<string, unknown> & ({ endpoint_id: string } | { message_id: string }),
): Promise<void> {
  const resource = 'message_id' in data ? { type: 'message', id: String(data.message_id) } : { type: 'endpoint', id: String(data.endpoint_id) };
  try {
    await ctx.ingestor.publish(accountId, [{ type, resource, data }]);
  } catch (err) {
    ctx.logger.error({ err, type }, 'could not raise system event');
  }
}
