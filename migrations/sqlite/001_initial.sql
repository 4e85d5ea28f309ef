-- Herald schema, SQLite dialect. Times are integer milliseconds since the epoch.
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  rate_limit_per_second INTEGER,
  link_base_url TEXT,
  endpoints_version INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX projects_account ON projects(account_id, id);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  operator INTEGER NOT NULL DEFAULT 0,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_account ON api_keys(account_id, id);

CREATE TABLE endpoints (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  profile TEXT NOT NULL,
  url TEXT NOT NULL,
  method TEXT NOT NULL,
  description TEXT NOT NULL,
  event_types TEXT NOT NULL,
  project_ids TEXT NOT NULL,
  user_ids TEXT NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_expires_at INTEGER,
  headers TEXT NOT NULL,
  auth TEXT NOT NULL,
  rate_limit_per_second INTEGER,
  timeout_ms INTEGER NOT NULL,
  ordering TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  disabled_reason TEXT,
  failing_since INTEGER,
  profile_data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX endpoints_account ON endpoints(account_id, id);

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  idempotency_key TEXT,
  type TEXT NOT NULL,
  occurred_at INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  project_id TEXT,
  resource_key TEXT,
  sequence INTEGER,
  body TEXT NOT NULL
);
CREATE UNIQUE INDEX events_idempotency ON events(account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_account ON events(account_id, id);

CREATE TABLE resource_sequences (
  account_id TEXT NOT NULL,
  resource_key TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  PRIMARY KEY (account_id, resource_key)
) WITHOUT ROWID;

CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  lease_owner TEXT,
  lease_until INTEGER,
  ordered INTEGER NOT NULL DEFAULT 0,
  resource_key TEXT,
  sequence INTEGER,
  last_status_code INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries(lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_endpoint ON deliveries(endpoint_id, id);
CREATE INDEX deliveries_event ON deliveries(event_id);
CREATE INDEX deliveries_ordered ON deliveries(endpoint_id, resource_key, sequence) WHERE ordered = 1 AND status IN ('pending', 'in_flight');

CREATE TABLE attempts (
  id TEXT PRIMARY KEY,
  delivery_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  attempt_no INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER,
  error_kind TEXT,
  error_message TEXT,
  request_headers TEXT NOT NULL,
  response_body TEXT
);
CREATE INDEX attempts_delivery ON attempts(delivery_id, attempt_no);
