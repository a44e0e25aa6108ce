-- Reminders before and on the due date (还款提醒): a message may be about a loan whose
-- borrower has no collection case, so the outbox names the loan and the case becomes optional.
-- The batch keeps each loan's next instalment not yet overdue, and what is left of it, so that
-- the reminders of a date are one indexed read instead of a schedule per loan.
ALTER TABLE outbox ALTER COLUMN case_id DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN loan_id TEXT;
CREATE INDEX outbox_loan ON outbox (loan_id);
ALTER TABLE loan_state ADD COLUMN next_due_on DATE;
ALTER TABLE loan_state ADD COLUMN next_due_amount BIGINT NOT NULL DEFAULT 0;
CREATE INDEX loan_state_next_due ON loan_state (next_due_on);
