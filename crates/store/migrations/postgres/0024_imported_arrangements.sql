-- Arrangements decided in the lender's own system arrive in arrangements.csv: kept as
-- imported (idempotent by id, like every import table), then put in force by the import.
CREATE TABLE arrangement_imports (
    arrangement_id TEXT PRIMARY KEY,
    loan_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    -- 0: none given.
    months         BIGINT NOT NULL,
    -- Minor units of the loan's currency; 0: none given.
    amount         BIGINT NOT NULL,
    requested_on   DATE NOT NULL,
    requested_by   TEXT NOT NULL,
    status         TEXT NOT NULL,
    -- '' while undecided.
    decided_on     TEXT NOT NULL,
    decided_by     TEXT NOT NULL,
    import_id      BIGINT NOT NULL,
    src_line       BIGINT NOT NULL
);

-- A request imported from the lender's system was made on no case of ours: the case becomes
-- optional, and requests are found by loan as well.
ALTER TABLE arrangement_requests ALTER COLUMN case_id DROP NOT NULL;
CREATE INDEX arrangement_requests_loan ON arrangement_requests (loan_id);
