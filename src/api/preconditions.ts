// Optimistic concurrency for the native API's endpoints: an ETag for the endpoint as answers show
// it, If-Match on the routes that change or delete it (RFC 9110 §8.8.3, §13.1.1), and a stale
// copy sent back whole answered as the conflict it is.
import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import { ApiError } from './middleware/errors.js';

export const IF_MATCH = 'if-match';

export const IfMatchHeaders = Type.Object({
  [IF_MATCH]: Type.Optional(
    Type.String({
      maxLength: 2000,
      description: 'the ETag of the endpoint as read (GET answers it), or several, or *: when none is its ETag now, nothing is changed and the answer is 412 precondition_failed',
    }),
  ),
});

/**
 * A strong ETag of an endpoint as answers show it (`view`), without `live` members: those move
 * with deliveries (failing_since), and a copy read a moment before would fail If-Match for a
 * change its reader could not have made. Credentials are in it only as answers mask them: the tag
 * tells nothing about a secret that a viewer key could not read.
 */
export function etagOf(view: Readonly<Record<string, unknown>>, live: readonly string[]): string {
  const shown = Object.fromEntries(Object.entries(view).filter(([name]) => !live.includes(name)));
  return `"${createHash('sha256').update(JSON.stringify(shown)).digest('base64url').slice(0, 27)}"`;
}

/**
 * Nothing when `ifMatch` is absent or names `etag` (or is `*`); a 412 with the ETag now
 * otherwise. A weak tag (W/"…") never matches: If-Match compares strongly. A value that is not
 * a list of quoted tags is a 400 naming If-Match.
 */
export function checkIfMatch(ifMatch: string | undefined, etag: string, what: string): void {
  if (ifMatch === undefined) return;
  const value = ifMatch.trim();
  if (value === '*') return;
  const tags = value.split(',').map((t) => t.trim());
  if (tags.some((t) => !/^(W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/.test(t))) {
    throw new ApiError(400, 'invalid_request', 'If-Match must be * or one or more ETags, each in double quotes as answers give them ("…"), separated by commas', 'If-Match');
  }
  if (tags.includes(etag)) return;
  throw preconditionFailed(etag, what);
}

/** Whether `ifMatch` names a state (not absent, not *): a write it allows must be conditional. */
export const namesState = (ifMatch: string | undefined): boolean => ifMatch !== undefined && ifMatch.trim() !== '*';

/** The 412 of an If-Match that names none of the ETags the resource has now (`etag`). */
export function preconditionFailed(etag: string, what: string): ApiError {
  return new ApiError(412, 'precondition_failed', `If-Match: the ${what} changed after it was read (its ETag is now ${etag}); nothing was changed: read it again`, 'If-Match', { etag });
}
