-- Failed authentications per client address (API keys: scope 'api'; admin UI sign-ins: 'ui'),
-- counted in the store so that every process on one database counts against the same limit. A
-- row is one address's current window; rows of windows long over are pruned.
CREATE TABLE auth_failures (
  scope TEXT NOT NULL,
  address TEXT NOT NULL,
  since INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  PRIMARY KEY (scope, address)
);
CREATE INDEX auth_failures_since ON auth_failures(since);
