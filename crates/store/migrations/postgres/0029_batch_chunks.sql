-- The close of business cut into chunks that several worker processes claim (`arrears
-- worker`): a phase's chunks are claimed only once every chunk of the phase before is done.
-- `lo` and `hi` bound the chunk's ids (loan ids in the loan phase, borrower ids after it):
-- after `lo`, up to and including `hi`, NULL for no bound. A claim holds until
-- `lease_until` (Unix milliseconds of the claiming worker's clock); a killed worker's chunk
-- is claimed again after that. `report` is the JSON of what the chunk did, summed when the
-- date is finished.
CREATE TABLE batch_chunks (
    business_date DATE NOT NULL,
    step          BIGINT NOT NULL,
    phase         TEXT NOT NULL,
    chunk         BIGINT NOT NULL,
    lo            TEXT,
    hi            TEXT,
    worker        TEXT,
    lease_until   BIGINT,
    claims        BIGINT NOT NULL DEFAULT 0,
    done_at       TEXT,
    report        TEXT,
    PRIMARY KEY (business_date, step, chunk)
);
