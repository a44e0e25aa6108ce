-- Compliance gaps of issue 5, second round; PostgreSQL twin of the SQLite migration.
--
-- 1. Contact restrictions on a borrower's contacts, not only on the borrower: contact_id names
--    the contact (NULL: the borrower). A contact may have a do-not-contact number, an opt-out,
--    an inconvenient time, or a recorded refusal to be contacted again (kind 'refusal', its
--    date in cease_on); attorney and cease stay the borrower's.
-- 2. The purpose of a logged contact (collect, locate, notice): a notice is what the us pack
--    still allows after a cease request or a dispute (FDCPA §805(c)).
-- 3. The content check of a rendered outgoing message: 'warn' waits for compliance review
--    with the rules that fired (a blocked message never reaches the outbox; its task is blocked).

ALTER TABLE contact_restrictions ADD COLUMN contact_id TEXT REFERENCES contacts (contact_id);
ALTER TABLE contact_restrictions DROP CONSTRAINT contact_restrictions_kind_check;
ALTER TABLE contact_restrictions ADD CONSTRAINT contact_restrictions_kind_check
    CHECK (kind IN ('do_not_contact', 'opt_out', 'inconvenient_time', 'attorney', 'cease', 'refusal'));
ALTER TABLE contact_restrictions ADD CONSTRAINT contact_restrictions_refusal_date
    CHECK (kind <> 'refusal' OR cease_on IS NOT NULL);
ALTER TABLE contact_restrictions ADD CONSTRAINT contact_restrictions_contact_kinds
    CHECK (contact_id IS NULL OR kind NOT IN ('attorney', 'cease'));
ALTER TABLE contact_restrictions ADD CONSTRAINT contact_restrictions_refusal_contact
    CHECK (contact_id IS NOT NULL OR kind <> 'refusal');
COMMENT ON COLUMN contact_restrictions.cease_on IS
    'the date of the written cease request (cease) or of the contact''s refusal (refusal)';

ALTER TABLE actions ADD COLUMN purpose TEXT NOT NULL DEFAULT 'collect'
    CHECK (purpose IN ('collect', 'locate', 'notice'));

ALTER TABLE outbox ADD COLUMN content TEXT NOT NULL DEFAULT 'ok' CHECK (content IN ('ok', 'warn'));
-- The content rules that warned, comma-separated ('' when none).
ALTER TABLE outbox ADD COLUMN content_rules TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_content ON outbox (content);
