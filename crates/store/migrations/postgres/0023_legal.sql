-- The legal track (issue 24): a legal case attached to a collection case, its stage and
-- deadline, firm and lawyer, claim and judgment, the borrower's 失信被执行人 listing; and its
-- history (stages, costs, judgment, recoveries, listing), each step audited.
CREATE TABLE legal_cases (
    legal_id      TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL,
    loan_id       TEXT NOT NULL,
    currency      TEXT NOT NULL,
    firm          TEXT NOT NULL,
    lawyer        TEXT NOT NULL,
    stage         TEXT NOT NULL,
    stage_since   DATE NOT NULL,
    deadline      DATE,
    -- Minor units: what is claimed (owed when opened), what the court awarded.
    claim_amount  BIGINT NOT NULL,
    judgment_amount BIGINT,
    -- 失信被执行人: listed on, removed on.
    dishonest_on  DATE,
    dishonest_removed_on DATE,
    opened_by     TEXT NOT NULL,
    opened_on     DATE NOT NULL
);
CREATE INDEX legal_cases_case ON legal_cases (case_id);
CREATE INDEX legal_cases_stage ON legal_cases (stage, deadline);

CREATE TABLE legal_events (
    legal_id   TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    on_date    DATE NOT NULL,
    actor      TEXT NOT NULL,
    -- opened, stage, cost, judgment, recovery, dishonest, note
    kind       TEXT NOT NULL,
    stage      TEXT,
    -- cost: court_fee, lawyer_fee, other
    cost_kind  TEXT,
    amount     BIGINT,
    recoverable BIGINT NOT NULL DEFAULT 0,
    note       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (legal_id, seq)
);
