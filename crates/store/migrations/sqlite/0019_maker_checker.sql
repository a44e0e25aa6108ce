-- Maker-checker on arrangements (SQLite: the kind's CHECK changes, so the table is rebuilt): a
-- waiver may be requested too; a request is decided once, by someone other than its maker,
-- with the quote the decision was made on kept beside it.
CREATE TABLE arrangement_requests_new (
    request_id   TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('extension', 'instalment_plan', 'settlement', 'waiver')),
    -- Minor units of the case's currency: what the borrower offers to pay.
    amount       BIGINT NOT NULL CHECK (amount >= 0),
    currency     TEXT NOT NULL,
    months       INTEGER,
    note         TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected')),
    -- The loan the arrangement is for (the case's worst loan when it was requested).
    loan_id       TEXT,
    decided_by    TEXT,
    decided_at    TEXT,
    decision_note TEXT NOT NULL DEFAULT '',
    -- The quote approved or declined, as JSON (schedule, total to pay, waived, class after).
    quote         TEXT NOT NULL DEFAULT ''
);
INSERT INTO arrangement_requests_new (request_id, case_id, kind, amount, currency, months, note, requested_by,
    requested_at, status)
SELECT request_id, case_id, kind, amount, currency, months, note, requested_by, requested_at, status
FROM arrangement_requests;
DROP TABLE arrangement_requests;
ALTER TABLE arrangement_requests_new RENAME TO arrangement_requests;
CREATE INDEX arrangement_requests_case ON arrangement_requests (case_id);
