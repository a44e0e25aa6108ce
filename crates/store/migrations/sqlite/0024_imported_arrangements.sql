-- Arrangements decided in the lender's own system arrive in arrangements.csv: kept as
-- imported (idempotent by id, like every import table), then put in force by the import.
CREATE TABLE arrangement_imports (
    arrangement_id TEXT PRIMARY KEY,
    loan_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    -- 0: none given.
    months         INTEGER NOT NULL,
    -- Minor units of the loan's currency; 0: none given.
    amount         BIGINT NOT NULL,
    requested_on   TEXT NOT NULL,
    requested_by   TEXT NOT NULL,
    status         TEXT NOT NULL,
    -- '' while undecided.
    decided_on     TEXT NOT NULL,
    decided_by     TEXT NOT NULL,
    import_id      INTEGER NOT NULL,
    src_line       INTEGER NOT NULL
) WITHOUT ROWID;

-- A request imported from the lender's system was made on no case of ours: the case becomes
-- optional (SQLite: the table is rebuilt), and requests are found by loan as well.
CREATE TABLE arrangement_requests_new (
    request_id   TEXT PRIMARY KEY,
    case_id      TEXT,
    kind         TEXT NOT NULL CHECK (kind IN ('extension', 'instalment_plan', 'settlement', 'waiver')),
    amount       BIGINT NOT NULL CHECK (amount >= 0),
    currency     TEXT NOT NULL,
    months       INTEGER,
    note         TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected')),
    loan_id       TEXT,
    decided_by    TEXT,
    decided_at    TEXT,
    decision_note TEXT NOT NULL DEFAULT '',
    quote         TEXT NOT NULL DEFAULT '',
    ledger_status TEXT NOT NULL DEFAULT '',
    ledger_status_on TEXT
);
INSERT INTO arrangement_requests_new SELECT request_id, case_id, kind, amount, currency, months, note,
    requested_by, requested_at, status, loan_id, decided_by, decided_at, decision_note, quote, ledger_status,
    ledger_status_on
FROM arrangement_requests;
DROP TABLE arrangement_requests;
ALTER TABLE arrangement_requests_new RENAME TO arrangement_requests;
CREATE INDEX arrangement_requests_case ON arrangement_requests (case_id);
CREATE INDEX arrangement_requests_loan ON arrangement_requests (loan_id);
