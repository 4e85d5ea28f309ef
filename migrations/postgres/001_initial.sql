-- Herald schema, PostgreSQL dialect. Same tables and indexes as migrations/sqlite/001_initial.sql.
-- Times are BIGINT milliseconds since the epoch (pg returns them as strings; rows.ts converts).
-- Ids are TEXT COLLATE "C": they sort by creation time byte-wise, and cursor paging
-- (`id < cursor ORDER BY id DESC`) must not depend on the server's default locale.
-- Flags are BOOLEAN; rows.ts reads both 0/1 and true/false.
-- schema_migrations is created by the driver (like the SQLite one), not here.

CREATE TABLE accounts (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL,
  rate_limit_per_second INTEGER,
  link_base_url TEXT,
  endpoints_version BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

CREATE TABLE projects (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX projects_account ON projects(account_id, id);

CREATE TABLE api_keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  operator BOOLEAN NOT NULL DEFAULT FALSE,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX api_keys_account ON api_keys(account_id, id);

CREATE TABLE endpoints (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  profile TEXT NOT NULL,
  url TEXT NOT NULL,
  method TEXT NOT NULL,
  description TEXT NOT NULL,
  event_types TEXT NOT NULL,
  project_ids TEXT NOT NULL,
  user_ids TEXT NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_expires_at BIGINT,
  headers TEXT NOT NULL,
  auth TEXT NOT NULL,
  rate_limit_per_second INTEGER,
  timeout_ms INTEGER NOT NULL,
  ordering TEXT NOT NULL,
  disabled BOOLEAN NOT NULL,
  disabled_reason TEXT,
  failing_since BIGINT,
  profile_data TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX endpoints_account ON endpoints(account_id, id);

CREATE TABLE events (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL,
  idempotency_key TEXT,
  type TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  project_id TEXT,
  resource_key TEXT,
  sequence BIGINT,
  body TEXT NOT NULL
);
-- The arbiter of concurrent ingests: INSERT ... ON CONFLICT (account_id, idempotency_key)
-- WHERE idempotency_key IS NOT NULL DO NOTHING infers this partial index.
CREATE UNIQUE INDEX events_idempotency ON events(account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_account ON events(account_id, id);

CREATE TABLE resource_sequences (
  account_id TEXT COLLATE "C" NOT NULL,
  resource_key TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  PRIMARY KEY (account_id, resource_key)
);

CREATE TABLE deliveries (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL,
  event_id TEXT COLLATE "C" NOT NULL,
  endpoint_id TEXT COLLATE "C" NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  lease_owner TEXT,
  lease_until BIGINT,
  ordered BOOLEAN NOT NULL DEFAULT FALSE,
  resource_key TEXT,
  sequence BIGINT,
  last_status_code INTEGER,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
-- The claim scans this in next_attempt_at order; being partial it holds only the queue.
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries(lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_endpoint ON deliveries(endpoint_id, id);
CREATE INDEX deliveries_event ON deliveries(event_id);
-- Answers the claim's per-resource "is there an earlier unfinished delivery?" probe.
CREATE INDEX deliveries_ordered ON deliveries(endpoint_id, resource_key, sequence) WHERE ordered AND status IN ('pending', 'in_flight');
-- listDeliveries pages an account newest-first; without this it would walk the primary key.
CREATE INDEX deliveries_account ON deliveries(account_id, id);

CREATE TABLE attempts (
  id TEXT COLLATE "C" PRIMARY KEY,
  delivery_id TEXT COLLATE "C" NOT NULL,
  account_id TEXT COLLATE "C" NOT NULL,
  attempt_no INTEGER NOT NULL,
  started_at BIGINT NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER,
  error_kind TEXT,
  error_message TEXT,
  request_headers TEXT NOT NULL,
  response_body TEXT
);
CREATE INDEX attempts_delivery ON attempts(delivery_id, attempt_no);

-- Every claim and settle rewrites a delivery row, so the table accumulates dead tuples fast;
-- vacuum it well before the default 20% threshold so the due index stays small.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02);
