-- The loans marked for re-evaluation by new payments or ledger events, found without reading
-- the rest of the book: a re-evaluation follows every payment through the API and every
-- batch from the message stream.
CREATE INDEX loan_state_dirty ON loan_state (loan_id) WHERE dirty_from IS NOT NULL;
