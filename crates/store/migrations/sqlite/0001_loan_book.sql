-- The loan book. Amounts are integer minor units; rates are decimal text (sqlx has no
-- Decimal for SQLite). import_id/src_line record which import and line brought a row.

CREATE TABLE imports (
    import_id   INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    source      TEXT NOT NULL,
    summary     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE borrowers (
    borrower_id TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    national_id TEXT NOT NULL,
    phone       TEXT NOT NULL,
    email       TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    language    TEXT NOT NULL,
    import_id   INTEGER NOT NULL,
    src_line    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE contacts (
    contact_id  TEXT PRIMARY KEY,
    borrower_id TEXT NOT NULL,
    relation    TEXT NOT NULL,
    name        TEXT NOT NULL,
    phone       TEXT NOT NULL,
    email       TEXT NOT NULL,
    consent     INTEGER NOT NULL,
    import_id   INTEGER NOT NULL,
    src_line    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX contacts_borrower ON contacts (borrower_id);

CREATE TABLE products (
    product         TEXT PRIMARY KEY,
    tolerance_minor INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE loans (
    loan_id      TEXT PRIMARY KEY,
    borrower_id  TEXT NOT NULL,
    product      TEXT NOT NULL,
    currency     TEXT NOT NULL,
    principal    INTEGER NOT NULL,
    annual_rate  TEXT NOT NULL,
    term_months  INTEGER NOT NULL,
    disbursed_on TEXT NOT NULL,
    method       TEXT NOT NULL,
    penalty_rate TEXT NOT NULL,
    grace_days   INTEGER NOT NULL,
    -- 'generated-v1': the schedule is schedule::generate (version 1) of the terms above and is
    -- derived, not stored; 'imported': rows in installments came from installments.csv.
    schedule     TEXT NOT NULL DEFAULT 'generated-v1',
    import_id    INTEGER NOT NULL,
    src_line     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX loans_borrower ON loans (borrower_id);

CREATE TABLE installments (
    loan_id   TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    due_on    TEXT NOT NULL,
    principal INTEGER NOT NULL,
    interest  INTEGER NOT NULL,
    fee       INTEGER NOT NULL,
    import_id INTEGER NOT NULL,
    src_line  INTEGER NOT NULL,
    PRIMARY KEY (loan_id, seq)
) WITHOUT ROWID;

CREATE TABLE payments (
    payment_id TEXT PRIMARY KEY,
    loan_id    TEXT NOT NULL,
    paid_on    TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    import_id  INTEGER NOT NULL,
    src_line   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX payments_loan ON payments (loan_id, paid_on);

CREATE TABLE financials (
    borrower_id         TEXT NOT NULL,
    period_end          TEXT NOT NULL,
    current_assets      INTEGER NOT NULL,
    current_liabilities INTEGER NOT NULL,
    inventory           INTEGER NOT NULL,
    total_assets        INTEGER NOT NULL,
    total_liabilities   INTEGER NOT NULL,
    revenue             INTEGER NOT NULL,
    net_income          INTEGER NOT NULL,
    operating_cash_flow INTEGER NOT NULL,
    import_id           INTEGER NOT NULL,
    src_line            INTEGER NOT NULL,
    PRIMARY KEY (borrower_id, period_end)
) WITHOUT ROWID;
