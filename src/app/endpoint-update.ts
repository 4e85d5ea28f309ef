// Storing a changed endpoint, whichever API changed it (the native one or a profile's).
import type { Endpoint } from '../domain/types.js';
import type { EndpointExpected } from '../store/contract.js';
import type { AppContext } from './context.js';
import { raiseSystemEvent } from './system-events.js';

/**
 * Stores `updated` over `before`, tells this process's caches, and raises `endpoint.disabled` or
 * `endpoint.enabled` when the change turned deliveries off or on, so subscribers hear of a toggle
 * made through any route. With `expected`, only while the endpoint is unchanged since it was read
 * (the store checks it atomically): whether it was stored.
 */
export async function saveEndpointUpdate(
  ctx: Pick<AppContext, 'store' | 'ingestor' | 'logger' | 'endpointChanged'>,
  updated: Endpoint,
  before: Endpoint,
  expected?: EndpointExpected,
): Promise<boolean> {
  if (!(await ctx.store.updateEndpoint(updated, before, expected)) && expected !== undefined) return false;
  ctx.endpointChanged(updated.id);
  if (before.disabled !== updated.disabled) {
    await raiseSystemEvent(ctx, updated.accountId, updated.disabled ? 'endpoint.disabled' : 'endpoint.enabled', {
      endpoint_id: updated.id,
      url: updated.url,
      reason: updated.disabledReason,
    });
  }
  return true;
}
