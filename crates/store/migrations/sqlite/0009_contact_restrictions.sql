-- Contact restrictions per borrower (compliance gaps, issue 5): the standing instructions the
-- contact policy honours. One row per instruction; lifting sets ended_on and keeps the row,
-- so that a past contact can still be judged against what was in force at its time.
--
-- kind                what the row holds
-- do_not_contact      address: a number or e-mail never to be used
-- opt_out             channel (and address when the opt-out is of one number or address only)
-- inconvenient_time   window_from/window_until (local HH:MM) and weekdays ('' = every day)
-- attorney            attorney_name and address (the attorney's phone): contact only via them
-- cease               cease_on: the date of the written request to stop collection
--
-- address holds a sealed value ('v1:<key id>:<base64>', see personal.rs) of the field named
-- by address_field, with its keyed blind index in address_bidx for equality look-ups.

CREATE TABLE contact_restrictions (
    restriction_id INTEGER PRIMARY KEY,
    borrower_id    TEXT NOT NULL REFERENCES borrowers (borrower_id),
    kind           TEXT NOT NULL CHECK (kind IN ('do_not_contact', 'opt_out', 'inconvenient_time',
                                                 'attorney', 'cease')),
    channel        TEXT CHECK (channel IN ('call', 'sms', 'email', 'voice_bot', 'letter', 'visit')),
    address        TEXT NOT NULL DEFAULT '',
    address_field  TEXT NOT NULL DEFAULT '' CHECK (address_field IN ('', 'phone', 'email')),
    address_bidx   TEXT NOT NULL DEFAULT '',
    window_from    TEXT,
    window_until   TEXT,
    weekdays       TEXT NOT NULL DEFAULT '',
    attorney_name  TEXT,
    cease_on       TEXT,
    recorded_on    TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    recorded_by    TEXT NOT NULL,
    -- Where the instruction came from (a call, a letter, …), as the user wrote it.
    note           TEXT NOT NULL DEFAULT '',
    ended_on       TEXT,
    ended_by       TEXT,
    end_note       TEXT,
    CHECK (kind <> 'opt_out' OR channel IS NOT NULL),
    CHECK (kind <> 'inconvenient_time' OR (window_from IS NOT NULL AND window_until IS NOT NULL)),
    CHECK (kind <> 'attorney' OR attorney_name IS NOT NULL),
    CHECK (kind <> 'cease' OR cease_on IS NOT NULL),
    CHECK ((ended_on IS NULL) = (ended_by IS NULL))
);
CREATE INDEX contact_restrictions_borrower ON contact_restrictions (borrower_id);
