-- Rate limit state shared by every worker: the GCRA theoretical arrival time per key.
CREATE TABLE rate_limits (
  key TEXT COLLATE "C" PRIMARY KEY,
  tat DOUBLE PRECISION NOT NULL
);
