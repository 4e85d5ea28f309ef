-- A recover (replay many) as an operation of its own: its scope is fixed when it begins (until
-- resolved to that time), it re-queues in chunks from `cursor` (the last delivery id passed),
-- counting as it goes, and whoever runs it holds a lease it renews every chunk, so another
-- process takes it over where it stopped if its runner dies. A repeat of the request (same
-- Idempotency-Key, or the same request while this one runs) is answered with this row instead
-- of re-queueing again.
CREATE TABLE recoveries (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  idempotency_key TEXT,
  request TEXT NOT NULL,
  since INTEGER NOT NULL,
  until INTEGER NOT NULL,
  event_types TEXT,
  statuses TEXT NOT NULL,
  status TEXT NOT NULL,
  total INTEGER NOT NULL,
  requeued INTEGER NOT NULL DEFAULT 0,
  cursor TEXT NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE UNIQUE INDEX recoveries_key ON recoveries(account_id, endpoint_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX recoveries_endpoint ON recoveries(endpoint_id, request) WHERE status = 'running';
CREATE INDEX recoveries_lease ON recoveries(lease_until) WHERE status = 'running';
CREATE INDEX recoveries_finished ON recoveries(finished_at) WHERE status = 'done';

-- A recover of failed deliveries (the usual one) counts and walks the account's failed ones from
-- its cursor: with their creation time and type in the index it reads no table row to know
-- which are in scope. Counting 200,000 read each row and took 0.8 s.
DROP INDEX deliveries_account_failed;
CREATE INDEX deliveries_account_failed ON deliveries(account_id, id, endpoint_id, created_at, event_type) WHERE status = 'failed';
