// Recover (replay many) as the API asks for it: the native route and Tenovos's both begin a
// recovery here (app/recoveries.ts) and answer with its state, which GET
// /api/v2/endpoints/:id/recoveries/:recovery_id reports until it is done.
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../app/context.js';
import type { FixedRecoverScope, RecoverScope, Recovery } from '../store/contract.js';
import { ApiError, checkRange } from './middleware/errors.js';
import { iso } from './views.js';

/** The header a client sends to make its retries of one recover find the first (any string it chooses). */
export const IDEMPOTENCY_KEY = 'idempotency-key';
/** The 422 a recover answers for a key already used with another request, as /openapi.json describes it. */
export const KEY_REUSED = '`idempotency_key_reused`: Idempotency-Key already used for another recover of this endpoint';

export const RecoverHeaders = Type.Object({
  [IDEMPOTENCY_KEY]: Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'a repeat of a recover with the same key (a retry after a timeout) is answered with the recovery it began, re-queueing nothing again' }),
  ),
});

export const RecoveryView = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('running'), Type.Literal('done')]),
  total: Type.Integer({ description: 'deliveries in scope when it began (created_at): those failing later are left for another recover' }),
  requeued: Type.Integer({ description: 'of total, re-queued so far; never more than total, and fewer once done by those that left the scope meanwhile (retried one at a time, deleted)' }),
  since: Type.String({ format: 'date-time' }),
  until: Type.String({ format: 'date-time', description: 'the end of the range, fixed when it began (now, when the request left it out)' }),
  event_types: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'the types selected: canonical names and topic.* wildcards as given; null: every type' }),
  statuses: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/** A dry run's answer: what the recover would re-queue, and the end to send back for exactly those. */
export const DryRun = Type.Object({
  would_requeue: Type.Integer({ description: 'deliveries in scope now' }),
  until: Type.String({ format: 'date-time', description: 'the end of the range counted (now, when the request left it out): send it with the recover' }),
});

export function recoveryView(r: Recovery) {
  return {
    id: r.id,
    status: r.status,
    total: r.total,
    requeued: r.requeued,
    since: iso(r.scope.since),
    until: iso(r.scope.until),
    event_types: r.scope.eventTypes,
    statuses: r.scope.statuses,
    created_at: iso(r.createdAt),
    finished_at: r.finishedAt === null ? null : iso(r.finishedAt),
  };
}

/**
 * The scope with its end fixed at most now, and taken as of now (asOf): what is counted now is
 * what the recover goes through, and a delivery failing while it runs (created in range, but
 * pending or in flight now) is not sent along with those asked for, nor counted. A range
 * starting now or later selects nothing and says so (400 naming since).
 */
export function fixedScope(scope: RecoverScope, now: number): FixedRecoverScope {
  if (scope.since >= now) throw new ApiError(400, 'invalid_request', 'since must be in the past', 'since');
  const until = Math.min(scope.until ?? now, now);
  checkRange(scope.since, until);
  return { ...scope, until, asOf: now };
}

/** The request as asked (an until left out stays out): two alike are the same recover. */
function requestOf(scope: RecoverScope): string {
  return JSON.stringify([scope.since, scope.until, scope.eventTypes && [...scope.eventTypes].sort(), [...scope.statuses].sort()]);
}

/**
 * Begins the recover of `scope` (or finds the one this request repeats) and answers 202 with it
 * as it stands after a short wait: done, or running with a Location to follow it at.
 */
export async function answerRecover(ctx: AppContext, reply: FastifyReply, ids: { accountId: string; endpointId: string }, scope: RecoverScope, idempotencyKey: string | undefined) {
  const request = requestOf(scope);
  const { recovery, created } = await ctx.recoveries.begin({ ...ids, idempotencyKey: idempotencyKey ?? null, request, scope: fixedScope(scope, ctx.clock()) });
  if (!created && recovery.request !== request) {
    throw new ApiError(422, 'idempotency_key_reused', `Idempotency-Key ${JSON.stringify(idempotencyKey)} was used for another recover of this endpoint (${recovery.id})`, 'Idempotency-Key');
  }
  if (!created) reply.header('idempotent-replayed', 'true');
  reply.header('location', `/api/v2/endpoints/${encodeURIComponent(ids.endpointId)}/recoveries/${recovery.id}`);
  return reply.status(202).send(recoveryView(recovery));
}
