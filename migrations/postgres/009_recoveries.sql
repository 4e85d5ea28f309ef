-- A recover as an operation of its own (see migrations/sqlite/010).
CREATE TABLE recoveries (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL,
  endpoint_id TEXT COLLATE "C" NOT NULL,
  idempotency_key TEXT,
  request TEXT NOT NULL,
  since BIGINT NOT NULL,
  until BIGINT NOT NULL,
  event_types TEXT[],
  statuses TEXT[] NOT NULL,
  status TEXT NOT NULL,
  total BIGINT NOT NULL,
  requeued BIGINT NOT NULL DEFAULT 0,
  cursor TEXT COLLATE "C" NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE UNIQUE INDEX recoveries_key ON recoveries(account_id, endpoint_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX recoveries_endpoint ON recoveries(endpoint_id, request) WHERE status = 'running';
CREATE INDEX recoveries_lease ON recoveries(lease_until) WHERE status = 'running';
CREATE INDEX recoveries_finished ON recoveries(finished_at) WHERE status = 'done';
