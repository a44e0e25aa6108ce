-- Behaviour scores (PostgreSQL twin of the SQLite migration): the installed behaviour models
-- and the scores the batch stores per borrower and business date. Probabilities are integer
-- parts per million.

CREATE TABLE score_models (
    version      BIGINT PRIMARY KEY,
    sha256       TEXT NOT NULL,
    source       TEXT NOT NULL,
    installed_at TEXT NOT NULL
);

CREATE TABLE scores (
    borrower_id     TEXT NOT NULL,
    business_date   DATE NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('roll', 'ptp')),
    model_version   BIGINT NOT NULL,
    probability_ppm BIGINT NOT NULL CHECK (probability_ppm BETWEEN 0 AND 1000000),
    points          BIGINT NOT NULL,
    reasons         TEXT NOT NULL,
    PRIMARY KEY (borrower_id, business_date, kind)
);
CREATE INDEX scores_date ON scores (business_date);
