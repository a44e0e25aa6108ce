-- API keys of service accounts (the lender's core banking system booking payments). The key
-- is shown once when it is made; only its SHA-256 is kept. A revoked key stays, so that what
-- it did can still be traced to it.
CREATE TABLE api_keys (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
