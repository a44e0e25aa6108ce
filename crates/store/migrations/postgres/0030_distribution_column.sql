-- Every book table carries `borrower_id`, the column a distributed PostgreSQL (Citus) would
-- spread the book by, and every key of a book table includes it: Citus, like PostgreSQL's own
-- hash partitioning, refuses a unique constraint without the distribution column. The old
-- key columns stay first in each key, so look-ups by them still use the key's index.
-- Which tables are spread, copied to every node or kept on the coordinator is written down
-- in crates/store/src/distribution.rs.

-- 1. The column, filled from the row's case, loan, alert or legal case.
ALTER TABLE actions ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE actions t SET borrower_id = c.borrower_id FROM cases c WHERE c.case_id = t.case_id;
ALTER TABLE case_loans ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE case_loans t SET borrower_id = c.borrower_id FROM cases c WHERE c.case_id = t.case_id;
ALTER TABLE case_treatment ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE case_treatment t SET borrower_id = c.borrower_id FROM cases c WHERE c.case_id = t.case_id;
ALTER TABLE ptps ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE ptps t SET borrower_id = c.borrower_id FROM cases c WHERE c.case_id = t.case_id;
ALTER TABLE tasks ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE tasks t SET borrower_id = c.borrower_id FROM cases c WHERE c.case_id = t.case_id;
ALTER TABLE placements ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE placements t SET borrower_id = c.borrower_id FROM cases c WHERE c.case_id = t.case_id;
ALTER TABLE legal_cases ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE legal_cases t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
ALTER TABLE legal_events ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE legal_events t SET borrower_id = c.borrower_id FROM legal_cases c WHERE c.legal_id = t.legal_id;
ALTER TABLE alert_pushes ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE alert_pushes t SET borrower_id = a.borrower_id FROM alerts a WHERE a.alert_id = t.alert_id;
ALTER TABLE installments ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE installments t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
ALTER TABLE payments ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE payments t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
ALTER TABLE ledger_events ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE ledger_events t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
ALTER TABLE schedule_versions ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE schedule_versions t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
ALTER TABLE snapshots ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE snapshots t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
ALTER TABLE write_offs ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE write_offs t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
ALTER TABLE arrangement_imports ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE arrangement_imports t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
ALTER TABLE arrangement_requests ADD COLUMN borrower_id TEXT NOT NULL DEFAULT '';
UPDATE arrangement_requests t SET borrower_id = l.borrower_id FROM loans l WHERE l.loan_id = t.loan_id;
UPDATE arrangement_requests t SET borrower_id = c.borrower_id FROM cases c
 WHERE t.borrower_id = '' AND c.case_id = t.case_id;

-- Every writer names the borrower from now on: no default hides one that forgets.
ALTER TABLE actions ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE case_loans ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE case_treatment ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE ptps ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE tasks ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE placements ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE legal_cases ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE legal_events ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE alert_pushes ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE installments ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE payments ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE ledger_events ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE schedule_versions ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE snapshots ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE write_offs ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE arrangement_imports ALTER COLUMN borrower_id DROP DEFAULT;
ALTER TABLE arrangement_requests ALTER COLUMN borrower_id DROP DEFAULT;

-- 2. Keys with the distribution column. A restriction's contact is the borrower's own, so
-- its reference to the contact carries the borrower too.
ALTER TABLE contact_restrictions DROP CONSTRAINT contact_restrictions_contact_id_fkey;
ALTER TABLE contacts DROP CONSTRAINT contacts_pkey, ADD PRIMARY KEY (contact_id, borrower_id);
ALTER TABLE contact_restrictions DROP CONSTRAINT contact_restrictions_pkey,
    ADD PRIMARY KEY (restriction_id, borrower_id),
    ADD FOREIGN KEY (contact_id, borrower_id) REFERENCES contacts (contact_id, borrower_id);
ALTER TABLE pii_access DROP CONSTRAINT pii_access_pkey, ADD PRIMARY KEY (access_id, borrower_id);
ALTER TABLE loans DROP CONSTRAINT loans_pkey, ADD PRIMARY KEY (loan_id, borrower_id);
ALTER TABLE installments DROP CONSTRAINT installments_pkey, ADD PRIMARY KEY (loan_id, seq, borrower_id);
ALTER TABLE schedule_versions DROP CONSTRAINT schedule_versions_pkey,
    ADD PRIMARY KEY (loan_id, version, borrower_id);
ALTER TABLE payments DROP CONSTRAINT payments_pkey, ADD PRIMARY KEY (payment_id, borrower_id);
ALTER TABLE ledger_events DROP CONSTRAINT ledger_events_pkey, ADD PRIMARY KEY (loan_id, event_id, borrower_id);
ALTER TABLE loan_state DROP CONSTRAINT loan_state_pkey, ADD PRIMARY KEY (loan_id, borrower_id);
ALTER TABLE snapshots DROP CONSTRAINT snapshots_pkey, ADD PRIMARY KEY (loan_id, as_of, borrower_id);
ALTER TABLE cases DROP CONSTRAINT cases_pkey, ADD PRIMARY KEY (case_id, borrower_id);
ALTER TABLE case_loans DROP CONSTRAINT case_loans_pkey, ADD PRIMARY KEY (case_id, loan_id, borrower_id);
ALTER TABLE case_treatment DROP CONSTRAINT case_treatment_pkey, ADD PRIMARY KEY (case_id, borrower_id);
ALTER TABLE ptps DROP CONSTRAINT ptps_pkey, ADD PRIMARY KEY (ptp_id, borrower_id);
ALTER TABLE actions DROP CONSTRAINT actions_pkey, ADD PRIMARY KEY (action_id, borrower_id);
ALTER TABLE tasks DROP CONSTRAINT tasks_pkey, ADD PRIMARY KEY (task_id, borrower_id);
ALTER TABLE placements DROP CONSTRAINT placements_pkey, ADD PRIMARY KEY (placement_id, borrower_id);
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey, ADD PRIMARY KEY (message_id, borrower_id);
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey, ADD PRIMARY KEY (alert_id, borrower_id);
ALTER TABLE alert_pushes DROP CONSTRAINT alert_pushes_pkey,
    ADD PRIMARY KEY (alert_id, department, target, borrower_id);
ALTER TABLE arrangement_imports DROP CONSTRAINT arrangement_imports_pkey,
    ADD PRIMARY KEY (arrangement_id, borrower_id);
ALTER TABLE arrangement_requests DROP CONSTRAINT arrangement_requests_pkey,
    ADD PRIMARY KEY (request_id, borrower_id);
ALTER TABLE write_offs DROP CONSTRAINT write_offs_pkey, ADD PRIMARY KEY (request_id, borrower_id);
ALTER TABLE transfer_loans DROP CONSTRAINT transfer_loans_pkey, ADD PRIMARY KEY (transfer_id, loan_id, borrower_id);
ALTER TABLE legal_cases DROP CONSTRAINT legal_cases_pkey, ADD PRIMARY KEY (legal_id, borrower_id);
ALTER TABLE legal_events DROP CONSTRAINT legal_events_pkey, ADD PRIMARY KEY (legal_id, seq, borrower_id);
