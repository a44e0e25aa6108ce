-- Treatment (SQLite): strategies in force, collectors, agencies, tasks, the outbox,
-- actions and placements: steps 5 and 6 of the daily cycle and the case work around them.

-- Strategy versions installed with `arrears strategy install`; the batch of date D uses the
-- latest installed version whose effective_from <= D (the built-in default when none).
CREATE TABLE strategies (
    name           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    effective_from TEXT NOT NULL,
    source         TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    installed_at   TEXT NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

-- Collectors and their skills; an empty list means any.
CREATE TABLE collectors (
    collector_id TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    team         TEXT NOT NULL,
    -- Call, visit and guarantor tasks a day.
    capacity     INTEGER NOT NULL CHECK (capacity >= 0),
    queues       TEXT NOT NULL DEFAULT '',
    languages    TEXT NOT NULL DEFAULT '',
    buckets      TEXT NOT NULL DEFAULT '',
    products     TEXT NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;

CREATE TABLE collector_days_off (
    collector_id TEXT NOT NULL,
    day          TEXT NOT NULL,
    PRIMARY KEY (collector_id, day)
) WITHOUT ROWID;

-- Outside collection agencies (委外) and their commission on what is recovered.
CREATE TABLE agencies (
    agency_id       TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    -- Decimal fraction as text ('0.15'), applied half-up to the minor unit.
    commission_rate TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;

-- A case's treatment state beside the batch-owned case row.
CREATE TABLE case_treatment (
    case_id      TEXT PRIMARY KEY,
    segment      TEXT,
    experiment   TEXT,
    arm          TEXT,
    -- The collector who works the case's calls, kept while the segment stays the same.
    collector_id TEXT,
    assigned_on  TEXT,
    -- dispute | deceased | bankruptcy | cease: no normal treatment while set.
    hold         TEXT,
    hold_since   TEXT,
    dispute_on   TEXT,
    last_rpc_on  TEXT,
    placed_with  TEXT,
    -- The worst loan's bucket and product on the last run (allocation skills).
    bucket       TEXT,
    product      TEXT
) WITHOUT ROWID;

-- Work made from strategy steps. The id is case, step and business date, so that running a
-- date again makes nothing new.
CREATE TABLE tasks (
    task_id      TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    step         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    created_on   TEXT NOT NULL,
    -- When it may be done (UTC, RFC 3339): the first moment the contact policy allows.
    due_at       TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'due', 'done', 'cancelled', 'blocked')),
    queue        TEXT,
    template     TEXT,
    segment      TEXT NOT NULL,
    arm          TEXT,
    because      TEXT NOT NULL,
    -- Why it is blocked (rule ids and reason) or cancelled.
    reason       TEXT,
    collector_id TEXT,
    allocated_on TEXT,
    closed_on    TEXT
) WITHOUT ROWID;
CREATE INDEX tasks_case ON tasks (case_id);
CREATE INDEX tasks_status ON tasks (status, queue);

-- Automatic messages ready for the channel issue to send.
CREATE TABLE outbox (
    message_id  TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    borrower_id TEXT NOT NULL,
    channel     TEXT NOT NULL,
    template    TEXT NOT NULL,
    language    TEXT NOT NULL,
    send_at     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
    created_on  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX outbox_status ON outbox (status, send_at);

-- Contacts made or attempted, and contacts the policy refused (allowed = 0).
CREATE TABLE actions (
    action_id    TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    -- RFC 3339 with the offset it was given in; at_utc orders and counts.
    at           TEXT NOT NULL,
    at_utc       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    source       TEXT NOT NULL,
    channel      TEXT NOT NULL,
    party        TEXT NOT NULL,
    contact_id   TEXT,
    outcome      TEXT,
    note         TEXT NOT NULL DEFAULT '',
    ptp_id       TEXT,
    task_id      TEXT,
    allowed      INTEGER NOT NULL,
    -- Rule ids and reasons, one per line; empty when allowed.
    policy       TEXT NOT NULL DEFAULT '',
    -- ok | warn: a warned note waits for compliance review.
    content      TEXT NOT NULL DEFAULT 'ok',
    recorded_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX actions_case ON actions (case_id, at_utc);

-- Placements of cases with agencies; open while recalled_on is NULL.
CREATE TABLE placements (
    placement_id TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    agency_id    TEXT NOT NULL,
    placed_on    TEXT NOT NULL,
    until_on     TEXT NOT NULL,
    recalled_on  TEXT,
    recall_reason TEXT
) WITHOUT ROWID;
CREATE INDEX placements_case ON placements (case_id);
