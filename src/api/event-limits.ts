// The limits every event must keep, whichever route publishes it (events, batches, test sends).
import { ApiError } from './middleware/errors.js';

/** Events are limited to 256 KiB each, serialised as UTF-8 (as they go out). */
export const MAX_EVENT_BYTES = 256 * 1024;

/** Events nest objects and arrays at most this deep: every reader downstream may recurse. */
export const MAX_EVENT_DEPTH = 64;

/** How deep objects and arrays nest in `value` (a scalar is 0), counted without recursion; stops past `limit`. */
export function nestingDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, d + 1);
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** The name of member `name` of an event at `field` of the request body ('body': the body itself). */
export function eventField(field: string, name: string): string {
  return field === 'body' ? name : `${field}.${name}`;
}

/**
 * 400 naming the first member of `event` nested too deep, or 413 when it is too large.
 * `field` is where the event sits in the request body ('body' for the body itself).
 */
export function checkEventLimits(event: Readonly<Record<string, unknown>>, field: string): void {
  for (const [name, value] of Object.entries(event)) {
    if (nestingDepth(value, MAX_EVENT_DEPTH) > MAX_EVENT_DEPTH) {
      throw new ApiError(400, 'invalid_request', `${eventField(field, name)} is nested deeper than ${MAX_EVENT_DEPTH} levels`, eventField(field, name));
    }
  }
  if (Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES) throw new ApiError(413, 'event_too_large', `${field} is larger than 256 KiB`, field);
}
