-- Sessions of the admin UI (see migrations/sqlite/009): the SHA-256 of the browser's random
-- token, and the signed-in API key sealed; the row goes with its key.
CREATE TABLE ui_sessions (
  token_hash TEXT COLLATE "C" PRIMARY KEY,
  api_key_id TEXT COLLATE "C" NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
  sealed_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_key ON ui_sessions(api_key_id);
CREATE INDEX ui_sessions_expiry ON ui_sessions(expires_at);
