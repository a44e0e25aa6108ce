-- NPL transfers (不良资产批量转让, issue 24): a package of loans chosen by a filter, priced,
-- requested by one user and approved by another; on approval each loan is sold on the transfer
-- date (a ledger event), its case's work stops and its borrower is sent the transfer notice.
CREATE TABLE transfers (
    transfer_id   TEXT PRIMARY KEY,
    buyer         TEXT NOT NULL,
    -- Balances are as of the cut-off date; the loans are sold at the end of transfer_on.
    cut_off       TEXT NOT NULL,
    transfer_on   TEXT NOT NULL,
    currency      TEXT NOT NULL,
    -- Minor units: what the buyer pays for the package.
    price         INTEGER NOT NULL CHECK (price >= 0),
    filter        TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected')),
    decided_by    TEXT,
    decided_at    TEXT,
    decision_note TEXT NOT NULL DEFAULT ''
);

-- The package: each loan with its balances at the cut-off (minor units).
CREATE TABLE transfer_loans (
    transfer_id TEXT NOT NULL,
    loan_id     TEXT NOT NULL,
    borrower_id TEXT NOT NULL,
    case_id     TEXT,
    product     TEXT NOT NULL,
    dpd         INTEGER NOT NULL,
    five_class  TEXT NOT NULL,
    principal   INTEGER NOT NULL,
    interest    INTEGER NOT NULL,
    fee         INTEGER NOT NULL,
    penalty     INTEGER NOT NULL,
    PRIMARY KEY (transfer_id, loan_id)
);
CREATE INDEX transfer_loans_loan ON transfer_loans (loan_id);
