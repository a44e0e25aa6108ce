-- Maker-checker on arrangements: a waiver may be requested too; a request is decided once, by
-- someone other than its maker, with the quote the decision was made on kept beside it.
ALTER TABLE arrangement_requests DROP CONSTRAINT arrangement_requests_kind_check;
ALTER TABLE arrangement_requests ADD CONSTRAINT arrangement_requests_kind_check
    CHECK (kind IN ('extension', 'instalment_plan', 'settlement', 'waiver'));
-- The loan the arrangement is for (the case's worst loan when it was requested).
ALTER TABLE arrangement_requests ADD COLUMN loan_id TEXT;
ALTER TABLE arrangement_requests ADD COLUMN decided_by TEXT;
ALTER TABLE arrangement_requests ADD COLUMN decided_at TEXT;
ALTER TABLE arrangement_requests ADD COLUMN decision_note TEXT NOT NULL DEFAULT '';
-- The quote approved or declined, as JSON (schedule, total to pay, waived, class after).
ALTER TABLE arrangement_requests ADD COLUMN quote TEXT NOT NULL DEFAULT '';
