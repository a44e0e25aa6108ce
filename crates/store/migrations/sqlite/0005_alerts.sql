-- Early-warning alerts (SQLite). One row per alert raised by a rule for a borrower; at most
-- one not-closed alert per borrower and rule.
CREATE TABLE alerts (
    alert_id     INTEGER PRIMARY KEY,
    borrower_id  TEXT NOT NULL,
    -- The borrower's open case when the alert was raised, if any.
    case_id      TEXT,
    rule_id      TEXT NOT NULL,
    severity     TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    -- Comma-separated department codes (collections, risk, legal, relationship_manager).
    departments  TEXT NOT NULL,
    -- JSON object of the fields the rule read and their values when it fired.
    vals         TEXT NOT NULL,
    raised_on    TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'closed')),
    -- Notes, one line each: 'when|who|status|text', appended by ack and close.
    notes        TEXT NOT NULL DEFAULT '',
    updated_by   TEXT,
    updated_at   TEXT
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (borrower_id, rule_id) WHERE status <> 'closed';
CREATE INDEX alerts_status ON alerts (status);
CREATE INDEX alerts_borrower ON alerts (borrower_id);

-- Which rule conditions held at a borrower's last evaluation (only those that held): an
-- alert is raised when a condition starts to hold, not every day it goes on holding.
CREATE TABLE alert_state (
    borrower_id TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (borrower_id, rule_id)
) WITHOUT ROWID;

-- The first business date each borrower was past due, for "previously clean". Filled
-- from the snapshots already kept, then by the alerts phase.
CREATE TABLE alert_first_delinquency (
    borrower_id TEXT PRIMARY KEY,
    first_on    TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO alert_first_delinquency (borrower_id, first_on)
SELECT l.borrower_id, MIN(s.as_of) FROM snapshots s JOIN loans l ON l.loan_id = s.loan_id
WHERE s.dpd > 0 GROUP BY l.borrower_id;

-- Progress marks of the alerts phase: the last import whose financial statements it read.
CREATE TABLE alert_marks (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- The alerts phase reads the borrowers whose snapshots changed on the date.
CREATE INDEX snapshots_as_of ON snapshots (as_of);
