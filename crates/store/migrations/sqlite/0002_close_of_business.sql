-- Close of business (SQLite): what the daily batch keeps.
-- Amounts are integer minor units; dates are business dates.

-- A product's own bucket scheme (BucketScheme::spec, e.g. 'M0=0,M1=1-30,M2=31-') and
-- five-class thresholds ('1,91,271,361'); NULL means the DESIGN.md defaults.
ALTER TABLE products ADD COLUMN buckets TEXT;
ALTER TABLE products ADD COLUMN five_class TEXT;

-- One row per business date the batch has started; 'done' once every phase committed.
CREATE TABLE business_days (
    business_date TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('running', 'done')),
    shards        INTEGER NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT
) WITHOUT ROWID;

-- Which shards of a business date have evaluated all of their loans.
CREATE TABLE batch_shards (
    business_date TEXT NOT NULL,
    shards        INTEGER NOT NULL,
    shard         INTEGER NOT NULL,
    loans         INTEGER NOT NULL,
    PRIMARY KEY (business_date, shards, shard)
) WITHOUT ROWID;

-- Each loan's latest snapshot, when it was taken and when it must be taken again.
CREATE TABLE loan_state (
    loan_id          TEXT PRIMARY KEY,
    borrower_id      TEXT NOT NULL,
    product          TEXT NOT NULL,
    currency         TEXT NOT NULL,
    -- The first business date the loan was evaluated: its history starts there.
    first_on         TEXT NOT NULL,
    evaluated_on     TEXT NOT NULL,
    -- NULL: nothing changes until a payment arrives (paid off).
    review_on        TEXT,
    -- A payment with a value date on or before the last business date arrived:
    -- the next run recomputes the loan from this date.
    dirty_from       TEXT,
    status                TEXT NOT NULL,
    dpd                   INTEGER NOT NULL,
    bucket                TEXT NOT NULL,
    bucket_rank           INTEGER NOT NULL,
    five_class            TEXT NOT NULL,
    overdue_principal     INTEGER NOT NULL,
    overdue_interest      INTEGER NOT NULL,
    overdue_fee           INTEGER NOT NULL,
    overdue_penalty       INTEGER NOT NULL,
    outstanding_principal INTEGER NOT NULL,
    credit                INTEGER NOT NULL,
    -- The snapshot in force on the business date before evaluated_on (roll rates); NULL for a new loan.
    prev_status      TEXT,
    prev_bucket      TEXT,
    prev_bucket_rank INTEGER,
    prev_outstanding INTEGER
) WITHOUT ROWID;
CREATE INDEX loan_state_borrower ON loan_state (borrower_id);

-- Change-only snapshots: a row when a loan's snapshot differs from the one before.
-- The snapshot of a loan on date D is its latest row with as_of <= D.
CREATE TABLE snapshots (
    loan_id               TEXT NOT NULL,
    as_of                 TEXT NOT NULL,
    status                TEXT NOT NULL,
    dpd                   INTEGER NOT NULL,
    bucket                TEXT NOT NULL,
    bucket_rank           INTEGER NOT NULL,
    five_class            TEXT NOT NULL,
    overdue_principal     INTEGER NOT NULL,
    overdue_interest      INTEGER NOT NULL,
    overdue_fee           INTEGER NOT NULL,
    overdue_penalty       INTEGER NOT NULL,
    outstanding_principal INTEGER NOT NULL,
    credit                INTEGER NOT NULL,
    PRIMARY KEY (loan_id, as_of)
) WITHOUT ROWID;

-- Entered and left dates of each bucket a loan has been in, read off the snapshots.
CREATE VIEW bucket_history AS
SELECT loan_id, bucket, bucket_rank, entered_on,
       LEAD(entered_on) OVER (PARTITION BY loan_id ORDER BY entered_on) AS left_on
FROM (
    SELECT loan_id, bucket, bucket_rank, as_of AS entered_on,
           LAG(bucket) OVER (PARTITION BY loan_id ORDER BY as_of) AS prev_bucket
    FROM snapshots
) s
WHERE prev_bucket IS NULL OR prev_bucket <> bucket;

-- Collection cases: one per borrower and delinquency episode. 'void' marks a case that a
-- backdated payment showed should never have opened but that already had work recorded.
CREATE TABLE cases (
    case_id     TEXT PRIMARY KEY,
    borrower_id TEXT NOT NULL,
    opened_on   TEXT NOT NULL,
    closed_on   TEXT,
    status      TEXT NOT NULL CHECK (status IN ('open', 'closed', 'void'))
) WITHOUT ROWID;
CREATE INDEX cases_borrower ON cases (borrower_id);
CREATE INDEX cases_status ON cases (status);

CREATE TABLE case_loans (
    case_id  TEXT NOT NULL,
    loan_id  TEXT NOT NULL,
    added_on TEXT NOT NULL,
    PRIMARY KEY (case_id, loan_id)
) WITHOUT ROWID;
CREATE INDEX case_loans_loan ON case_loans (loan_id);

-- Borrowers whose cases must be derived again (the batch's work list between its phases).
CREATE TABLE case_sync (
    borrower_id TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Promises to pay (the case-work issue records them; the batch judges them).
CREATE TABLE ptps (
    ptp_id       TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    promised_on  TEXT NOT NULL,
    due_on       TEXT NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount > 0),
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'kept', 'broken')),
    paid         INTEGER NOT NULL DEFAULT 0,
    evaluated_on TEXT
) WITHOUT ROWID;
CREATE INDEX ptps_case ON ptps (case_id);

-- Portfolio figures of a business date: active loans by bucket, five-class and product;
-- loans by status.
CREATE TABLE portfolio_figures (
    business_date         TEXT NOT NULL,
    currency              TEXT NOT NULL,
    dimension             TEXT NOT NULL CHECK (dimension IN ('bucket', 'five_class', 'product', 'status')),
    grp                   TEXT NOT NULL,
    rank                  INTEGER NOT NULL,
    loans                 INTEGER NOT NULL,
    overdue_loans         INTEGER NOT NULL,
    outstanding_principal INTEGER NOT NULL,
    overdue_total         INTEGER NOT NULL,
    PRIMARY KEY (business_date, currency, dimension, grp)
) WITHOUT ROWID;

-- Roll rates: loans active on the previous business date, by the bucket they were in then
-- and where they are on this one (a bucket, or 'paid_off'); balance is the principal
-- outstanding on the previous date.
CREATE TABLE roll_rates (
    business_date TEXT NOT NULL,
    currency      TEXT NOT NULL,
    from_bucket   TEXT NOT NULL,
    from_rank     INTEGER NOT NULL,
    to_bucket     TEXT NOT NULL,
    to_rank       INTEGER NOT NULL,
    loans         INTEGER NOT NULL,
    balance       INTEGER NOT NULL,
    PRIMARY KEY (business_date, currency, from_bucket, to_bucket)
) WITHOUT ROWID;
