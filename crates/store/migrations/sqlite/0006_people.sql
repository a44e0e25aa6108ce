-- People and personal data (issue 5, part 3).
--
-- national_id, phone and email of borrowers and contacts hold 'v1:<key id>:<base64 of
-- nonce || AES-256-GCM ciphertext>' (or '' when there is none); the *_bidx columns hold a
-- keyed HMAC-SHA256 of the normalised value, so that equality look-ups work without the
-- plaintext. Rows from before this migration keep their plaintext and empty indexes until
-- `arrears pii rekey` seals them.

ALTER TABLE borrowers ADD COLUMN national_id_bidx TEXT NOT NULL DEFAULT '';
ALTER TABLE borrowers ADD COLUMN phone_bidx TEXT NOT NULL DEFAULT '';
ALTER TABLE borrowers ADD COLUMN email_bidx TEXT NOT NULL DEFAULT '';
-- Set when the retention purge removed the personal data (the row, its loans and history stay).
ALTER TABLE borrowers ADD COLUMN purged_on TEXT;
CREATE INDEX borrowers_national_id_bidx ON borrowers (national_id_bidx);
CREATE INDEX borrowers_phone_bidx ON borrowers (phone_bidx);

ALTER TABLE contacts ADD COLUMN phone_bidx TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN email_bidx TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN purged_on TEXT;
CREATE INDEX contacts_phone_bidx ON contacts (phone_bidx);

-- People who use arrears. password_hash is an argon2id PHC string.
CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('collector', 'supervisor', 'legal', 'risk_analyst',
                                                'agency', 'auditor', 'admin')),
    -- The agency an agency user works for; NULL for everyone else.
    agency        TEXT,
    team          TEXT,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    CHECK ((role = 'agency') = (agency IS NOT NULL))
);

-- Every request to see personal data unmasked, granted or refused: who, when, whose, what.
CREATE TABLE pii_access (
    access_id   INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    role        TEXT NOT NULL,
    borrower_id TEXT NOT NULL,
    -- e.g. 'borrower:national_id,phone,email;contacts:phone,email'
    fields      TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('granted', 'refused'))
);
CREATE INDEX pii_access_borrower ON pii_access (borrower_id);
