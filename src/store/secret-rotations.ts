// Secret rotations sent with an Idempotency-Key: the key's row, written with the rotation in one
// transaction by both stores (rotateSecretOnce), so a repeat finds it instead of rotating again.
// Written with ? placeholders (PostgreSQL numbers them) and casts both dialects read alike.
import type { SecretRotation } from './contract.js';

/**
 * Records a key for an endpoint that is there (the foreign key would otherwise fail the write
 * of a deletion's race); nothing when the key was used before. Parameters, in order: secret
 * hash, previous_secret_expires_at, created_at, account, endpoint, key.
 */
export const RECORD_ROTATION_SQL = `
INSERT INTO secret_rotations (account_id, endpoint_id, idempotency_key, secret_sha256, previous_secret_expires_at, created_at)
SELECT e.account_id, e.id, k.idem, CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT)
  FROM endpoints e, (SELECT CAST(? AS TEXT) AS account_id, CAST(? AS TEXT) AS id, CAST(? AS TEXT) AS idem) k
 WHERE e.account_id = k.account_id AND e.id = k.id
ON CONFLICT (account_id, endpoint_id, idempotency_key) DO NOTHING`;

/** The rotation a key made; parameters account, endpoint, key (the last one appended by the caller). */
export const EARLIER_ROTATION_SQL =
  'SELECT secret_sha256, previous_secret_expires_at, created_at FROM secret_rotations WHERE account_id = ? AND endpoint_id = ? AND idempotency_key =';

export interface RotationRow {
  secret_sha256: string;
  previous_secret_expires_at: number | string;
  created_at: number | string;
}

export function toRotation(r: RotationRow): SecretRotation {
  return { secretSha256: r.secret_sha256, previousSecretExpiresAt: Number(r.previous_secret_expires_at), createdAt: Number(r.created_at) };
}
