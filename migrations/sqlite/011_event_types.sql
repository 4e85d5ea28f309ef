-- Custom event types an account registers: a name outside the catalog (publishing it and
-- subscribing to it are then accepted), and the JSON Schema its events' data must match, as
-- JSON text (NULL: any data).
CREATE TABLE event_types (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  schema TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, name)
);
