-- Custom event types an account registers (see migrations/sqlite/011): a name outside the
-- catalog, and the JSON Schema its events' data must match (NULL: any data).
CREATE TABLE event_types (
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT COLLATE "C" NOT NULL,
  description TEXT NOT NULL,
  schema TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, name)
);
