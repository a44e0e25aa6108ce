-- A borrower's open case, latest first, in one index seek. Without it SQLite answered "the
-- borrower's open case" (due reminders, alerts) through the index on status alone, scanning
-- every open case for each loan: 15 minutes a date at 1M loans, found by the arrangements
-- benchmark (scripts/bench-arrangements.sh); 0.9 s with it.
CREATE INDEX cases_borrower_status ON cases (borrower_id, status, opened_on);
