-- What the batch keeps of each loan for the behaviour features (core::behaviour::LoanTrack),
-- written with the loan's state at every evaluation, so that the scoring phase reads one
-- row per loan instead of replaying the loan's ledger and reading its snapshots again.
-- Text in store::close's track format; NULL for a loan not evaluated since this column came,
-- which the scoring phase reads the long way until the loan's next evaluation keeps it.
ALTER TABLE loan_state ADD COLUMN track TEXT;
