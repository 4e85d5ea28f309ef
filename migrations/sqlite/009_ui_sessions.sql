-- Sessions of the admin UI. The browser holds a random token; the row holds its SHA-256 and the
-- signed-in API key sealed (as endpoint credentials are), so a cookie is worth nothing once it
-- expires, is signed out, or its key is deleted (the row goes with the key).
CREATE TABLE ui_sessions (
  token_hash TEXT PRIMARY KEY,
  api_key_id TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
  sealed_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX ui_sessions_key ON ui_sessions(api_key_id);
CREATE INDEX ui_sessions_expiry ON ui_sessions(expires_at);
