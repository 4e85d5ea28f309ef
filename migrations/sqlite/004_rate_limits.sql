-- Rate limit state shared by every worker: the GCRA theoretical arrival time per key.
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  tat REAL NOT NULL
) WITHOUT ROWID;

-- Claims look at each endpoint's due deliveries separately (fairness, and a dead endpoint's
-- backlog is never scanned to reach another endpoint's work).
CREATE INDEX deliveries_endpoint_due ON deliveries(endpoint_id, next_attempt_at) WHERE status = 'pending';
