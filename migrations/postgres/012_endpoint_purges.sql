-- A deleted endpoint whose deliveries and attempts are still being removed (see
-- migrations/sqlite/012). `horizon`: the next transaction id as the purge first found nothing
-- left; the row goes only once every transaction before it has ended, so an ingest that read the
-- endpoint before its deletion committed and wrote after the chunks passed is swept too.
CREATE TABLE endpoint_purges (
  endpoint_id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL,
  marked_at BIGINT NOT NULL,
  after_id TEXT COLLATE "C" NOT NULL DEFAULT '',
  horizon xid8
);
