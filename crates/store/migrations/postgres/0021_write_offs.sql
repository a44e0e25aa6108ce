-- Write-offs (核销) and their reversals, requested by one user and approved by another
-- (issue 24). An approved one becomes a ledger event of its loan on the decision's date.
CREATE TABLE write_offs (
    request_id    TEXT PRIMARY KEY,
    loan_id       TEXT NOT NULL,
    -- write_off, or write_off_reversal (puts back what is written off and not recovered).
    kind          TEXT NOT NULL CHECK (kind IN ('write_off', 'write_off_reversal')),
    -- Minor units of a partial write-off; NULL writes off everything owed.
    amount        BIGINT CHECK (amount IS NULL OR amount > 0),
    currency      TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected')),
    decided_by    TEXT,
    decided_at    TEXT,
    decision_note TEXT NOT NULL DEFAULT '',
    -- The date it took effect and the loan's totals then (JSON), once decided.
    effective_on  DATE,
    quote         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX write_offs_loan ON write_offs (loan_id);
