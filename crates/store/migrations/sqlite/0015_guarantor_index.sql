-- The alerts phase looks up, for each page of borrowers, their guarantors whose phone is
-- another borrower's. Through contacts_borrower it read every contact of the page (about
-- five times as many) to test the relation; this index holds the guarantors only, with
-- what the look-up needs.
CREATE INDEX contacts_guarantor ON contacts (borrower_id, phone_bidx, contact_id)
    WHERE relation = 'guarantor' AND phone_bidx <> '';
