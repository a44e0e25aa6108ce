-- Behaviour scores (SQLite): the installed behaviour models and the scores the batch stores
-- per borrower and business date. Probabilities are integer parts per million.

-- Behaviour model files installed with `arrears score behaviour install`; the batch uses the
-- highest version. The file itself is kept, so a score can always be traced to its model.
CREATE TABLE score_models (
    version      INTEGER PRIMARY KEY,
    sha256       TEXT NOT NULL,
    source       TEXT NOT NULL,
    installed_at TEXT NOT NULL
);

-- One row per borrower, business date and model kind ('roll': M1 to M2 within 30 days;
-- 'ptp': a payment within 14 days). Points are the scorecard's (higher is safer for 'roll',
-- more likely to pay for 'ptp'); reasons are the variables that cost the most points,
-- comma-separated, worst first.
CREATE TABLE scores (
    borrower_id     TEXT NOT NULL,
    business_date   TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('roll', 'ptp')),
    model_version   INTEGER NOT NULL,
    probability_ppm INTEGER NOT NULL CHECK (probability_ppm BETWEEN 0 AND 1000000),
    points          INTEGER NOT NULL,
    reasons         TEXT NOT NULL,
    PRIMARY KEY (borrower_id, business_date, kind)
) WITHOUT ROWID;
CREATE INDEX scores_date ON scores (business_date);
