-- Reminders before and on the due date (还款提醒), SQLite: a message may be about a loan whose
-- borrower has no collection case, so the outbox names the loan and the case becomes optional
-- (SQLite cannot drop NOT NULL: the table is rebuilt). The batch keeps each loan's next
-- instalment not yet overdue, and what is left of it, so that the reminders of a date are one
-- indexed read instead of a schedule per loan.

CREATE TABLE outbox_new (
    message_id    TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL,
    -- NULL for a reminder before the due date to a borrower without a case.
    case_id       TEXT,
    loan_id       TEXT,
    borrower_id   TEXT NOT NULL,
    channel       TEXT NOT NULL,
    template      TEXT NOT NULL,
    language      TEXT NOT NULL,
    send_at       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed',
                                                  'bounced', 'expired', 'refused', 'cancelled')),
    created_on    TEXT NOT NULL,
    content       TEXT NOT NULL DEFAULT 'ok' CHECK (content IN ('ok', 'warn')),
    content_rules TEXT NOT NULL DEFAULT '',
    -- Claims so far; also the fencing token: every exit from 'sending' names the attempt it ends.
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     INTEGER,
    -- A transient failure puts the message back with the time of its next try.
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    -- The provider that took it ('smtp', 'aliyun', 'twilio', ...) and its reference.
    provider        TEXT NOT NULL DEFAULT '',
    provider_id     TEXT,
    -- Which contact point it went to: 'phone' or 'email', and its blind index (never the value).
    address_field   TEXT NOT NULL DEFAULT '',
    address_bidx    TEXT NOT NULL DEFAULT '',
    -- The template's values as the batch filled them (JSON object of strings): providers
    -- that send a registered template with parameters (SMS) send these.
    params          TEXT NOT NULL DEFAULT '{}',
    -- The text as rendered at send time, in the borrower's language.
    subject         TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL DEFAULT '',
    sent_at         TEXT,
    delivered_at    TEXT,
    error           TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
INSERT INTO outbox_new (message_id, task_id, case_id, borrower_id, channel, template, language, send_at, status, created_on, content, content_rules, attempts, lease_owner, lease_until, next_attempt_at, provider, provider_id, address_field, address_bidx, params, subject, body, sent_at, delivered_at, error)
SELECT message_id, task_id, case_id, borrower_id, channel, template, language, send_at, status, created_on, content, content_rules, attempts, lease_owner, lease_until, next_attempt_at, provider, provider_id, address_field, address_bidx, params, subject, body, sent_at, delivered_at, error
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_status ON outbox (status, send_at);
CREATE INDEX outbox_content ON outbox (content);
CREATE INDEX outbox_case ON outbox (case_id);
CREATE INDEX outbox_provider_id ON outbox (provider, provider_id);
CREATE INDEX outbox_loan ON outbox (loan_id);

ALTER TABLE loan_state ADD COLUMN next_due_on TEXT;
ALTER TABLE loan_state ADD COLUMN next_due_amount INTEGER NOT NULL DEFAULT 0;
CREATE INDEX loan_state_next_due ON loan_state (next_due_on);
