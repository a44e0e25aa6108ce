-- The web workbench (issue 7): server-side sessions and arrangement requests.
--
-- A session is known by the SHA-256 of its cookie token, so that a copy of the database
-- does not let anyone log in as the people in it. Times are Unix seconds (UTC).
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    -- The token every form and every changing API call must carry (CSRF).
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- zh or en: the language the person chose.
    lang         TEXT NOT NULL DEFAULT 'zh'
);
CREATE INDEX sessions_user ON sessions (user_id);

-- A request for an extension, an instalment plan or a settlement, as a collector records it;
-- approval and its effect on the schedule come with the arrangements issue.
CREATE TABLE arrangement_requests (
    request_id   TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('extension', 'instalment_plan', 'settlement')),
    -- Minor units of the case's currency: what the borrower offers to pay.
    amount       BIGINT NOT NULL CHECK (amount >= 0),
    currency     TEXT NOT NULL,
    months       INTEGER,
    note         TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected'))
);
CREATE INDEX arrangement_requests_case ON arrangement_requests (case_id);
