-- Issue 3 (profiles, tenancy).
-- 1. Per-account counters, e.g. the numeric ids of Media Pocket webhooks (never reused).
CREATE TABLE counters (
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- 2. Project ids are the DAM's own ids and unique per account only: two accounts may register
--    the same id without one learning of the other's (the primary key was the id alone).
CREATE TABLE projects_v2 (
  id TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, id)
);
INSERT INTO projects_v2 (id, account_id, name, created_at) SELECT id, account_id, name, created_at FROM projects;
DROP TABLE projects;
ALTER TABLE projects_v2 RENAME TO projects;

