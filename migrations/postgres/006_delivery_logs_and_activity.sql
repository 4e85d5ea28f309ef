-- Delivery logs across endpoints and per-minute activity (see migrations/sqlite/006).
-- 1. The event type is copied onto each delivery, so logs filter by type through an index.
--    (deliveries_account (account_id, id) exists since 001.)
ALTER TABLE deliveries ADD COLUMN event_type TEXT NOT NULL DEFAULT '';
UPDATE deliveries d SET event_type = ev.type FROM events ev WHERE ev.id = d.event_id;
CREATE INDEX deliveries_account_type ON deliveries(account_id, event_type, id);
-- Failed deliveries are few: a partial index keeps "show me the failures" cheap.
CREATE INDEX deliveries_account_failed ON deliveries(account_id, id) WHERE status = 'failed';

-- 2. Attempt outcomes per endpoint and minute, written by settle.
CREATE TABLE attempt_minutes (
  account_id TEXT COLLATE "C" NOT NULL,
  endpoint_id TEXT COLLATE "C" NOT NULL,
  minute BIGINT NOT NULL,
  succeeded INTEGER NOT NULL,
  retried INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  latency_sum_ms BIGINT NOT NULL,
  latency_max_ms INTEGER NOT NULL,
  last_attempt_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, endpoint_id, minute)
);
CREATE INDEX attempt_minutes_account ON attempt_minutes(account_id, minute);
CREATE INDEX attempt_minutes_minute ON attempt_minutes(minute);
-- Attempts made before this version count in health and activity too, rolled up as settle
-- counts them: the last attempt of a finished delivery is its outcome, every other one a retry.
INSERT INTO attempt_minutes (account_id, endpoint_id, minute, succeeded, retried, failed, latency_sum_ms, latency_max_ms, last_attempt_at)
SELECT a.account_id, d.endpoint_id, a.started_at - a.started_at % 60000,
       COUNT(*) FILTER (WHERE a.attempt_no = d.attempts AND d.status = 'succeeded'),
       COUNT(*) FILTER (WHERE NOT (a.attempt_no = d.attempts AND d.status IN ('succeeded', 'failed'))),
       COUNT(*) FILTER (WHERE a.attempt_no = d.attempts AND d.status = 'failed'),
       SUM(a.duration_ms), MAX(a.duration_ms), MAX(a.started_at)
  FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
 GROUP BY a.account_id, d.endpoint_id, a.started_at - a.started_at % 60000;
