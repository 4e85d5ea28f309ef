-- Issue 3 (profiles, tenancy); mirrors migrations/sqlite/002_profiles.sql.
-- 1. Per-account counters, e.g. the numeric ids of Media Pocket webhooks (never reused).
CREATE TABLE counters (
  account_id TEXT COLLATE "C" NOT NULL,
  name TEXT NOT NULL,
  value BIGINT NOT NULL,
  PRIMARY KEY (account_id, name)
);

-- 2. Project ids are the DAM's own ids and unique per account only: two accounts may register
--    the same id without one learning of the other's (the primary key was the id alone).
--    PostgreSQL can swap the key in place (SQLite has to rebuild the table); the new key covers
--    (account_id, id), so the old secondary index on those columns goes.
ALTER TABLE projects DROP CONSTRAINT projects_pkey, ADD PRIMARY KEY (account_id, id);
DROP INDEX projects_account;
