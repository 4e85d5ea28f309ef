-- A deleted endpoint whose deliveries and attempts are still being removed. Deleting an endpoint
-- removes its row at once and records it here; the jobs of whichever process runs them delete
-- its history in chunks and then this row. Reads
-- that would otherwise see that history leave out the endpoints named here.
CREATE TABLE endpoint_purges (
  endpoint_id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  marked_at INTEGER NOT NULL
);
