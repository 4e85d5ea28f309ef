-- Issue 8: Connect inboxes; mirrors migrations/sqlite/005_inboxes.sql.
-- The token is stored as a SHA-256 hash (lookup key of the capture route) and sealed (so the URL
-- can be shown again); the plaintext never is stored.
CREATE TABLE inboxes (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  token TEXT NOT NULL,
  signing_secret TEXT,
  forward_url TEXT,
  forward_endpoint_id TEXT COLLATE "C" REFERENCES endpoints(id) ON DELETE SET NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX inboxes_account ON inboxes(account_id, id);

CREATE TABLE inbox_requests (
  id TEXT COLLATE "C" PRIMARY KEY,
  inbox_id TEXT COLLATE "C" NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
  account_id TEXT COLLATE "C" NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  query TEXT NOT NULL,
  headers TEXT NOT NULL,
  body BYTEA NOT NULL,
  body_size INTEGER NOT NULL,
  truncated BOOLEAN NOT NULL DEFAULT FALSE,
  source_ip TEXT,
  received_at BIGINT NOT NULL,
  signature TEXT,
  relay_message_id TEXT
);
CREATE INDEX inbox_requests_inbox ON inbox_requests(inbox_id, id);
CREATE INDEX inbox_requests_received ON inbox_requests(received_at);
CREATE INDEX inboxes_forward_endpoint ON inboxes(forward_endpoint_id) WHERE forward_endpoint_id IS NOT NULL;
