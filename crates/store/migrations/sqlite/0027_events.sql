-- Events for the rest of the bank (the transactional outbox): written in the transaction of
-- the change, from its audit entry, so that an event exists exactly when its change does.
-- `pos` is the audit entry's number times four plus the part (an entry may give two events):
-- audit entries are numbered in commit order, so publishing by `pos` never skips an event
-- that commits late. `body` is the CloudEvents JSON, byte for byte what every publication
-- and replay sends.
CREATE TABLE events (
    pos         BIGINT PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    case_id     TEXT,
    borrower_id TEXT,
    body        TEXT NOT NULL
);
-- How far each destination (the NATS stream, each webhook) has been sent.
CREATE TABLE event_cursors (
    destination TEXT PRIMARY KEY,
    pos         BIGINT NOT NULL,
    updated_at  TEXT NOT NULL
);
-- Events a destination would not take after every retry: listed for an operator, sent
-- again by `arrears events replay`.
CREATE TABLE event_dead_letters (
    destination TEXT NOT NULL,
    pos         BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (destination, pos)
);
