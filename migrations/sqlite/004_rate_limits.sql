-- Rate limit state shared by every worker: the GCRA theoretical arrival time per key.
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  tat REAL NOT NULL
) WITHOUT ROWID;
