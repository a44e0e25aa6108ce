-- The tamper-evident audit log (PostgreSQL): entries, the Merkle tree's complete subtrees,
-- signed checkpoints. Rows are only ever inserted; `arrears audit verify` re-hashes the
-- entries against the checkpoints, so a row changed by hand is found, not trusted.

-- One row whose update serialises appenders and hands out sequence numbers: the
-- UPDATE takes the row lock before anything is read, so concurrent appenders queue on it
-- until the holder commits or rolls back.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO audit_head (id, size) VALUES (1, 0);

-- An entry: its canonical bytes (arrears_audit::Entry::encode) are the Merkle leaf.
-- kind and at repeat what the bytes hold, for look-ups; the bytes are what counts.
-- The leaf hash is the level-0 row of audit_nodes.
CREATE TABLE audit_entries (
    seq   BIGINT PRIMARY KEY,
    at    TEXT NOT NULL,
    kind  TEXT NOT NULL,
    body  BYTEA NOT NULL
);

-- Entity ids an entry names (case:…, borrower:…, import:…), to find a case's entries.
CREATE TABLE audit_entities (
    entity_id TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (entity_id, seq)
);

-- Hashes of complete subtrees: level 0 are the leaf hashes, level k covers 2^k leaves
-- starting at leaf idx << k. About two rows per entry; a proof reads O(log n) of them.
CREATE TABLE audit_nodes (
    level SMALLINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed tree heads, in the order they were made; note is the signed-note text.
CREATE TABLE audit_checkpoints (
    id      BIGSERIAL PRIMARY KEY,
    size    BIGINT NOT NULL,
    root    BYTEA NOT NULL,
    at      TEXT NOT NULL,
    note    TEXT NOT NULL
);
