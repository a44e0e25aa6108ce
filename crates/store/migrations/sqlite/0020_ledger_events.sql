-- Resolutions (issue 24): what changes a loan's ledger besides payments. Each row is one
-- approved arrangement, write-off, write-off reversal or sale, taking effect at the end of
-- effective_on; the ledger replays them with the payments (core::ledger::events), so that a
-- backdated payment gives the position it would have given on time.
CREATE TABLE ledger_events (
    loan_id        TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    effective_on   TEXT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('arrange', 'write_off', 'reverse_write_off', 'sell')),
    -- An arrangement's kind, months and amount (minor units: settlement, down payment or waiver);
    -- a partial write-off's amount.
    kind           TEXT,
    months         INTEGER,
    amount         INTEGER,
    -- Days an arrangement instalment may stay unpaid beyond the product's tolerance (minor units).
    grace_days     INTEGER NOT NULL DEFAULT 0,
    tolerance      INTEGER NOT NULL DEFAULT 0,
    was_non_performing INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (loan_id, event_id)
) WITHOUT ROWID;

-- The schedule each approved arrangement put in force, as approved (JSON rows): its history.
CREATE TABLE schedule_versions (
    loan_id      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    effective_on TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    schedule     TEXT NOT NULL,
    PRIMARY KEY (loan_id, version)
) WITHOUT ROWID;

-- Per product: the observation period after a restructuring (months), how many days an
-- arrangement instalment may be late before the arrangement breaks, the longest arrangement.
ALTER TABLE products ADD COLUMN observation_months INTEGER;
ALTER TABLE products ADD COLUMN arrangement_grace_days INTEGER;
ALTER TABLE products ADD COLUMN max_arrangement_months INTEGER;

-- An arrangement in force on the loan on that date: its case stays open, collection paused.
ALTER TABLE snapshots ADD COLUMN arranged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE loan_state ADD COLUMN arranged INTEGER NOT NULL DEFAULT 0;

-- Where an approved arrangement stands in the ledger: active, kept, broken, superseded, void.
ALTER TABLE arrangement_requests ADD COLUMN ledger_status TEXT NOT NULL DEFAULT '';
ALTER TABLE arrangement_requests ADD COLUMN ledger_status_on TEXT;
