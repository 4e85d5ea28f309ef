-- Queue depth (metrics, Media Pocket queue lengths, endpoint health) and /api/v2/stats are
-- counted from indexes alone, without reading table rows: the pending and failed indexes carry
-- what those counts filter on. Reading the rows took ~600 ms per million deliveries, on the
-- event loop.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries(next_attempt_at, attempts, account_id) WHERE status = 'pending';
DROP INDEX deliveries_endpoint_due;
CREATE INDEX deliveries_endpoint_due ON deliveries(endpoint_id, next_attempt_at, attempts) WHERE status = 'pending';
DROP INDEX deliveries_account_failed;
CREATE INDEX deliveries_account_failed ON deliveries(account_id, id, endpoint_id) WHERE status = 'failed';
