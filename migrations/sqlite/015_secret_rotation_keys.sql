-- The Idempotency-Key of each secret rotation that sent one: a repeat with the key (a retry, a
-- reload reaching another API process) finds the rotation it made instead of rotating again.
-- Recorded with the rotation in one transaction. secret_sha256: the SHA-256 (hex) of the secret
-- it set, to tell whether that secret is still the endpoint's (never the secret itself).
CREATE TABLE secret_rotations (
  account_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  idempotency_key TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL,
  previous_secret_expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, endpoint_id, idempotency_key)
);
CREATE INDEX secret_rotations_endpoint ON secret_rotations(endpoint_id);
