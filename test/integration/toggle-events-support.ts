// Shared by the profile tests: turning an endpoint off and on through a profile's route raises
// endpoint.disabled and endpoint.enabled, as the native PATCH does.
import { expect } from 'vitest';
import { startReceiver, type TestHerald } from '../helpers.js';

/**
 * Subscribes a receiver to `endpoint.*`, calls `toggle(true)` twice (the second changes nothing)
 * and `toggle(false)` once, and checks that exactly one endpoint.disabled and one
 * endpoint.enabled about `endpointId` were raised and delivered. `toggle` answers the status.
 */
export async function expectToggleEvents(h: TestHerald, endpointId: string, url: string, toggle: (disabled: boolean) => Promise<number>, okStatus: number): Promise<void> {
  const watcher = await startReceiver();
  const subscriber = await h.api('POST', '/api/v2/endpoints', { url: watcher.url, event_types: ['endpoint.*'] });
  expect(subscriber.status).toBe(201);
  try {
    expect(await toggle(true)).toBe(okStatus);
    expect(await toggle(true)).toBe(okStatus);
    expect(await toggle(false)).toBe(okStatus);
    // Raised before the route answered: the subscriber's deliveries are all there already.
    expect((await h.api('GET', `/api/v2/endpoints/${subscriber.body.id}/deliveries`)).body.data).toHaveLength(2);
    const raised = (await watcher.waitFor(2)).map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
    expect(raised.map((e) => [e.type, e.data]).sort()).toEqual([
      ['endpoint.disabled', { endpoint_id: endpointId, url, reason: 'disabled by user' }],
      ['endpoint.enabled', { endpoint_id: endpointId, url, reason: null }],
    ]);
  } finally {
    await h.api('DELETE', `/api/v2/endpoints/${subscriber.body.id}`);
    await watcher.close();
  }
}
