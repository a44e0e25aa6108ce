-- Compliance gaps of issue 5, second round.
--
-- 1. Contact restrictions on a borrower's contacts (spouse, relative, guarantor, …), not only on
--    the borrower: contact_id names the contact (NULL: the borrower). A contact may have a
--    do-not-contact number, an opt-out of a medium or address, an inconvenient time, or a
--    recorded refusal to be contacted again (kind 'refusal', its date in cease_on); attorney
--    and cease stay the borrower's. SQLite cannot change a CHECK, so the table is rebuilt with
--    its rows and ids.
-- 2. The purpose of a logged contact (collect, locate, notice): a notice is what the us pack
--    still allows after a cease request or a dispute (FDCPA §805(c)).
-- 3. The content check of a rendered outgoing message: 'warn' waits for compliance review
--    with the rules that fired (a blocked message never reaches the outbox; its task is blocked).

CREATE TABLE contact_restrictions_new (
    restriction_id INTEGER PRIMARY KEY,
    borrower_id    TEXT NOT NULL REFERENCES borrowers (borrower_id),
    contact_id     TEXT REFERENCES contacts (contact_id),
    kind           TEXT NOT NULL CHECK (kind IN ('do_not_contact', 'opt_out', 'inconvenient_time',
                                                 'attorney', 'cease', 'refusal')),
    channel        TEXT CHECK (channel IN ('call', 'sms', 'email', 'voice_bot', 'letter', 'visit')),
    address        TEXT NOT NULL DEFAULT '',
    address_field  TEXT NOT NULL DEFAULT '' CHECK (address_field IN ('', 'phone', 'email')),
    address_bidx   TEXT NOT NULL DEFAULT '',
    window_from    TEXT,
    window_until   TEXT,
    weekdays       TEXT NOT NULL DEFAULT '',
    attorney_name  TEXT,
    -- The date of the written cease request (cease) or of the contact's refusal (refusal).
    cease_on       TEXT,
    recorded_on    TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    recorded_by    TEXT NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    ended_on       TEXT,
    ended_by       TEXT,
    end_note       TEXT,
    CHECK (kind <> 'opt_out' OR channel IS NOT NULL),
    CHECK (kind <> 'inconvenient_time' OR (window_from IS NOT NULL AND window_until IS NOT NULL)),
    CHECK (kind <> 'attorney' OR attorney_name IS NOT NULL),
    CHECK (kind NOT IN ('cease', 'refusal') OR cease_on IS NOT NULL),
    CHECK ((ended_on IS NULL) = (ended_by IS NULL)),
    CHECK (contact_id IS NULL OR kind NOT IN ('attorney', 'cease')),
    CHECK (contact_id IS NOT NULL OR kind <> 'refusal')
);
INSERT INTO contact_restrictions_new (restriction_id, borrower_id, kind, channel, address, address_field,
    address_bidx, window_from, window_until, weekdays, attorney_name, cease_on, recorded_on, recorded_at,
    recorded_by, note, ended_on, ended_by, end_note)
SELECT restriction_id, borrower_id, kind, channel, address, address_field, address_bidx, window_from,
    window_until, weekdays, attorney_name, cease_on, recorded_on, recorded_at, recorded_by, note, ended_on,
    ended_by, end_note
FROM contact_restrictions;
DROP TABLE contact_restrictions;
ALTER TABLE contact_restrictions_new RENAME TO contact_restrictions;
CREATE INDEX contact_restrictions_borrower ON contact_restrictions (borrower_id);

ALTER TABLE actions ADD COLUMN purpose TEXT NOT NULL DEFAULT 'collect'
    CHECK (purpose IN ('collect', 'locate', 'notice'));

ALTER TABLE outbox ADD COLUMN content TEXT NOT NULL DEFAULT 'ok' CHECK (content IN ('ok', 'warn'));
-- The content rules that warned, comma-separated ('' when none).
ALTER TABLE outbox ADD COLUMN content_rules TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_content ON outbox (content);
