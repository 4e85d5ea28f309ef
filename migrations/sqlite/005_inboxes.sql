-- Issue 8: Connect inboxes. An inbox is a public capture URL (/in/<token>) of one account; every
-- request to it is kept for HERALD_INBOX_RETENTION_HOURS.
-- The token is stored twice: as a SHA-256 hash (the capture route's lookup key) and sealed
-- (AES-GCM, like endpoint secrets) so the URL can be shown again; the plaintext never is stored.
CREATE TABLE inboxes (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  token TEXT NOT NULL,
  signing_secret TEXT,
  forward_url TEXT,
  -- The hidden relay endpoint (profile `inbox`) that forwards captures through the dispatcher.
  forward_endpoint_id TEXT REFERENCES endpoints(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX inboxes_account ON inboxes(account_id, id);

CREATE TABLE inbox_requests (
  id TEXT PRIMARY KEY,
  inbox_id TEXT NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  query TEXT NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  body_size INTEGER NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0,
  source_ip TEXT,
  received_at INTEGER NOT NULL,
  signature TEXT,
  relay_message_id TEXT
);
CREATE INDEX inbox_requests_inbox ON inbox_requests(inbox_id, id);
CREATE INDEX inbox_requests_received ON inbox_requests(received_at);
-- Deleting an endpoint looks here (ON DELETE SET NULL): keep that an index probe.
CREATE INDEX inboxes_forward_endpoint ON inboxes(forward_endpoint_id) WHERE forward_endpoint_id IS NOT NULL;
