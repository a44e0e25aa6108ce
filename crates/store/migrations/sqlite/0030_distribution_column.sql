-- Every book table carries `borrower_id`, the column a distributed PostgreSQL would spread
-- the book by (see crates/store/src/distribution.rs). SQLite is one node and keeps its keys;
-- the column is here so that both databases hold the same rows and every writer is the same.
-- The default only fills the rows already stored; every writer names the borrower.
ALTER TABLE actions ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE actions SET borrower_id = COALESCE((SELECT c.borrower_id FROM cases c WHERE c.case_id = actions.case_id), '');
ALTER TABLE case_loans ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE case_loans SET borrower_id = COALESCE((SELECT c.borrower_id FROM cases c WHERE c.case_id = case_loans.case_id), '');
ALTER TABLE case_treatment ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE case_treatment SET borrower_id = COALESCE((SELECT c.borrower_id FROM cases c WHERE c.case_id = case_treatment.case_id), '');
ALTER TABLE ptps ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE ptps SET borrower_id = COALESCE((SELECT c.borrower_id FROM cases c WHERE c.case_id = ptps.case_id), '');
ALTER TABLE tasks ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE tasks SET borrower_id = COALESCE((SELECT c.borrower_id FROM cases c WHERE c.case_id = tasks.case_id), '');
ALTER TABLE placements ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE placements SET borrower_id = COALESCE((SELECT c.borrower_id FROM cases c WHERE c.case_id = placements.case_id), '');
ALTER TABLE legal_cases ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE legal_cases SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = legal_cases.loan_id), '');
ALTER TABLE installments ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE installments SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = installments.loan_id), '');
ALTER TABLE payments ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE payments SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = payments.loan_id), '');
ALTER TABLE ledger_events ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE ledger_events SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = ledger_events.loan_id), '');
ALTER TABLE schedule_versions ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE schedule_versions SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = schedule_versions.loan_id), '');
ALTER TABLE snapshots ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE snapshots SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = snapshots.loan_id), '');
ALTER TABLE write_offs ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE write_offs SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = write_offs.loan_id), '');
ALTER TABLE arrangement_imports ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE arrangement_imports SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = arrangement_imports.loan_id), '');
ALTER TABLE legal_events ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE legal_events SET borrower_id = COALESCE((SELECT c.borrower_id FROM legal_cases c WHERE c.legal_id = legal_events.legal_id), '');
ALTER TABLE alert_pushes ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE alert_pushes SET borrower_id = COALESCE((SELECT a.borrower_id FROM alerts a WHERE a.alert_id = alert_pushes.alert_id), '');
ALTER TABLE arrangement_requests ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE arrangement_requests SET borrower_id = COALESCE((SELECT l.borrower_id FROM loans l WHERE l.loan_id = arrangement_requests.loan_id), (SELECT c.borrower_id FROM cases c WHERE c.case_id = arrangement_requests.case_id), '');
