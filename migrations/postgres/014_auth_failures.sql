-- Failed authentications per client address, shared by every process on the database (see
-- migrations/sqlite/014): one row per scope and address, its window's start and count.
CREATE TABLE auth_failures (
  scope TEXT COLLATE "C" NOT NULL,
  address TEXT COLLATE "C" NOT NULL,
  since BIGINT NOT NULL,
  failures INTEGER NOT NULL,
  PRIMARY KEY (scope, address)
);
CREATE INDEX auth_failures_since ON auth_failures(since);
