-- Channels (PostgreSQL): the outbox becomes the dispatcher's work list. A message is claimed
-- with a lease, sent once through its provider and followed to delivery; the text as sent is
-- kept as evidence.
--
-- Times the dispatcher compares (lease, next attempt) are epoch milliseconds, so they compare
-- alike on both backends; times people read (sent_at, delivered_at) are RFC 3339 UTC.

ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN ('queued', 'sending', 'sent',
    'delivered', 'failed', 'bounced', 'expired', 'refused', 'cancelled'));
-- Claims so far; also the fencing token: every exit from 'sending' names the attempt it ends.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until BIGINT;
-- A transient failure puts the message back with the time of its next try.
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
-- The provider that took it ('smtp', 'aliyun', 'twilio', ...) and its reference.
ALTER TABLE outbox ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN provider_id TEXT;
-- Which contact point it went to: 'phone' or 'email', and its blind index (never the value).
ALTER TABLE outbox ADD COLUMN address_field TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN address_bidx TEXT NOT NULL DEFAULT '';
-- The template's values as the batch filled them (JSON object of strings): providers that
-- send a registered template with parameters (SMS) send these.
ALTER TABLE outbox ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
-- The text as rendered at send time, in the borrower's language.
ALTER TABLE outbox ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN body TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN sent_at TEXT;
ALTER TABLE outbox ADD COLUMN delivered_at TEXT;
ALTER TABLE outbox ADD COLUMN error TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_case ON outbox (case_id);
CREATE INDEX outbox_provider_id ON outbox (provider, provider_id);

-- Delivery receipts as the providers sent them; a receipt seen twice changes nothing. A
-- receipt can outrun the dispatcher's own record of the send: it is kept, and applied when
-- the send is recorded ('held' until then).
CREATE TABLE provider_receipts (
    provider     TEXT NOT NULL,
    provider_id  TEXT NOT NULL,
    event        TEXT NOT NULL,
    message_id   TEXT,
    received_at  TEXT NOT NULL,
    raw          TEXT NOT NULL,
    -- What it says: 'delivered' or 'failed', and the provider's error.
    outcome      TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    held         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, provider_id, event)
);

-- Contact points a provider refused for good (a number that does not exist, an address the
-- mail server rejected): the strategy sees them as invalid until a new value is imported.
CREATE TABLE invalid_contact_points (
    borrower_id   TEXT NOT NULL,
    field         TEXT NOT NULL CHECK (field IN ('phone', 'email')),
    address_bidx  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    since         TEXT NOT NULL,
    PRIMARY KEY (borrower_id, field, address_bidx)
);

-- Early-warning alerts pushed to the departments their rule names: one row per alert and
-- target (a group robot, or an e-mail address). A row is written before the push, so that
-- an alert is pushed to a target at most once; one left 'sending' by a crash is settled as
-- failed ("outcome unknown") once it is older than a lease.
CREATE TABLE alert_pushes (
    alert_id    BIGINT NOT NULL,
    department  TEXT NOT NULL,
    target      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    at          TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (alert_id, department, target)
);
