// Secret rotation as the native API asks for it: with an Idempotency-Key, a repeat (a client's
// retry, the admin UI's form sent again to another API process) finds the rotation the key made
// instead of replacing the secret once more, across processes: the store records the key with
// the rotation in one transaction. The new secret is shown once, as today: a repeat answers with
// its hint (GET .../secret shows it to an admin).
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AppContext } from '../app/context.js';
import { saveEndpointUpdate } from '../app/endpoint-update.js';
import { rotateSecret } from '../domain/endpoint.js';
import type { Endpoint } from '../domain/types.js';
import { mask } from '../signing/secretbox.js';
import { generateSecret } from '../signing/standard-webhooks.js';
import { ApiError, notFound } from './middleware/errors.js';
import { IDEMPOTENCY_KEY } from './recover.js';

/** The 409 a repeat answers once its rotation was replaced, as /openapi.json describes it. */
export const ROTATED_SINCE = '`rotated_since`: the rotation this Idempotency-Key made was replaced by a later one; nothing was rotated';

export const RotateHeaders = Type.Object({
  [IDEMPOTENCY_KEY]: Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'a repeat with the same key is answered with the rotation it made (its secret as a hint: it is shown once), rotating nothing again' }),
  ),
});

const expires = Type.String({ format: 'date-time', description: 'when the previous secret stops signing' });
/** A rotation's answer as /openapi.json documents it: the new secret once, a repeat's hint after. */
export const RotatedView = Type.Union([
  Type.Object({ id: Type.String(), secret: Type.String({ description: 'the new signing secret, shown this once' }), previous_secret_expires_at: expires }),
  Type.Object({ id: Type.String(), secret_hint: Type.String({ description: 'the secret a repeat of an Idempotency-Key set, masked' }), previous_secret_expires_at: expires }),
]);

/** The first answer holds the new secret; a repeat only its hint. */
export type Rotated = Static<typeof RotatedView>;

/** The rotation overlap as /openapi.json states it: `24 hours`, `90 seconds`. */
export function overlapText(ms: number): string {
  const [amount, unit] = ms > 0 && ms % 3_600_000 === 0 ? [ms / 3_600_000, 'hour'] : [ms / 1000, 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

const at = (ms: number) => new Date(ms).toISOString();
const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Rotates the endpoint's secret, once per `key` when one is sent; a repeat answers as the first did, the secret masked. */
export async function answerRotate(ctx: AppContext, reply: FastifyReply, existing: Endpoint, key: string | undefined): Promise<Rotated> {
  const secret = generateSecret();
  const rotated = rotateSecret(existing, secret, ctx.clock(), ctx.config.rotationOverlapMs);
  const answer = { id: existing.id, secret, previous_secret_expires_at: at(rotated.previousSecretExpiresAt!) };
  if (key === undefined) {
    await saveEndpointUpdate(ctx, rotated, existing);
    return answer;
  }
  const outcome = await ctx.store.rotateSecretOnce(rotated, existing, key, sha256(secret));
  if (outcome === undefined) throw notFound('endpoint', existing.id);
  if (outcome === 'rotated') {
    ctx.endpointChanged(existing.id);
    return answer;
  }
  // Answered as that rotation while its secret is still the endpoint's, never shown again.
  const now = await ctx.store.getEndpoint(existing.accountId, existing.id);
  if (!now) throw notFound('endpoint', existing.id);
  if (sha256(now.secret) !== outcome.secretSha256) {
    throw new ApiError(409, 'rotated_since', `the rotation Idempotency-Key ${JSON.stringify(key)} made (${at(outcome.createdAt)}) was replaced by a later one`, 'Idempotency-Key');
  }
  reply.header('idempotent-replayed', 'true');
  return { id: existing.id, secret_hint: mask(now.secret), previous_secret_expires_at: at(outcome.previousSecretExpiresAt) };
}
