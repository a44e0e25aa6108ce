//! The close of business in chunks (table `batch_chunks`): several worker processes share a
//! business date by claiming chunks of each phase in turn. A claim is a lease: a worker
//! killed in a chunk leaves it to be claimed again once the lease has run out, and as every
//! phase's work is idempotent, doing a chunk twice gives the book of doing it once.
//!
//! On PostgreSQL a claim takes the row `FOR UPDATE SKIP LOCKED`, so workers claiming at the
//! same moment take different chunks without waiting for each other; SQLite's single writer
//! (`BEGIN IMMEDIATE`) orders the claims instead.

use chrono::NaiveDate;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A part of the book by id: ids after `lo`, up to and including `hi` (`None`: unbounded).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRange {
    /// Ids after this one.
    pub lo: Option<String>,
    /// Ids up to and including this one.
    pub hi: Option<String>,
}

impl KeyRange {
    /// Every id.
    pub const ALL: KeyRange = KeyRange { lo: None, hi: None };

    /// The range from a pair of bounds.
    pub fn new((lo, hi): (Option<String>, Option<String>)) -> KeyRange {
        KeyRange { lo, hi }
    }

    /// `AND col > 'lo' AND col <= 'hi'` (the bounds written in as literals, as id lists are),
    /// or nothing for the whole book.
    pub(crate) fn sql(&self, col: &str) -> String {
        let mut out = String::new();
        if let Some(lo) = &self.lo {
            out.push_str(&format!(" AND {col} > {}", crate::rows::literal::text_list(&[lo])));
        }
        if let Some(hi) = &self.hi {
            out.push_str(&format!(" AND {col} <= {}", crate::rows::literal::text_list(&[hi])));
        }
        out
    }

    /// Whether `id` is in the range.
    pub fn holds(&self, id: &str) -> bool {
        self.lo.as_deref().is_none_or(|lo| id > lo) && self.hi.as_deref().is_none_or(|hi| id <= hi)
    }

    /// True for the whole book.
    pub fn is_all(&self) -> bool {
        self.lo.is_none() && self.hi.is_none()
    }
}

/// A chunk of a date's plan, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChunk {
    /// The phase's place in the order of the daily cycle; a phase's chunks wait for every
    /// chunk of the steps before.
    pub step: i64,
    /// The phase's name.
    pub phase: &'static str,
    /// The chunk's number within its phase.
    pub chunk: i64,
    /// Its ids.
    pub range: KeyRange,
}

/// A chunk a worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The phase's place in the daily cycle.
    pub step: i64,
    /// The phase's name.
    pub phase: String,
    /// Its number within the phase.
    pub chunk: i64,
    /// Its ids.
    pub range: KeyRange,
    /// How many times it has been claimed, this claim included (more than one after a lease ran out).
    pub claims: i64,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Chunks now held by the worker (all of one phase).
    Got(Vec<Chunk>),
    /// Every chunk of the current phase is held by another worker whose lease runs: wait.
    Wait,
    /// Every chunk is done.
    Done,
    /// The date has no plan yet.
    Unplanned,
}

/// Whether a date's plan is stored.
pub async fn planned(db: &Db, date: NaiveDate) -> Result<bool, StoreError> {
    let n: i64 = on_pool!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM batch_chunks WHERE business_date = $1")
        .bind(date).fetch_one(p).await?);
    Ok(n > 0)
}

/// Stores a date's plan unless one is stored already; returns false if it was.
pub async fn plan(tx: &mut Tx, date: NaiveDate, chunks: &[PlannedChunk]) -> Result<bool, StoreError> {
    let have: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM batch_chunks WHERE business_date = $1")
        .bind(date).fetch_one(&mut *c).await?);
    if have > 0 {
        return Ok(false);
    }
    for p in chunks {
        on_tx!(tx, c => {
            sqlx::query(
                "INSERT INTO batch_chunks (business_date, step, phase, chunk, lo, hi) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(date)
            .bind(p.step)
            .bind(p.phase)
            .bind(p.chunk)
            .bind(p.range.lo.as_deref())
            .bind(p.range.hi.as_deref())
            .execute(&mut *c)
            .await?;
        });
    }
    Ok(true)
}

type ChunkRow = (i64, String, i64, Option<String>, Option<String>, i64);

/// Claims open chunks of the first phase not yet done for `worker` until `lease_until` (Unix
/// ms), as many as `most` says for that phase; `now` (Unix ms) says whose leases have run out.
pub async fn claim(
    db: &Db,
    date: NaiveDate,
    worker: &str,
    now: i64,
    lease_until: i64,
    most: impl Fn(&str) -> i64,
) -> Result<Claim, StoreError> {
    let mut tx = db.begin().await?;
    // One statement, so one snapshot on PostgreSQL: asked in two, a plan committed between
    // them would read as every chunk done.
    let first: Option<(i64, String, i64)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT step, phase, CAST(CASE WHEN done_at IS NULL THEN 1 ELSE 0 END AS BIGINT) AS open \
         FROM batch_chunks WHERE business_date = $1 ORDER BY open DESC, step LIMIT 1",
    ).bind(date).fetch_optional(&mut *c).await?);
    let (step, phase) = match first {
        None => {
            tx.rollback().await?;
            return Ok(Claim::Unplanned);
        }
        Some((_, _, 0)) => {
            tx.rollback().await?;
            return Ok(Claim::Done);
        }
        Some((step, phase, _)) => (step, phase),
    };
    let lock = if matches!(db, Db::Postgres(_)) { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "SELECT step, phase, chunk, lo, hi, claims FROM batch_chunks \
         WHERE business_date = $1 AND step = $2 AND done_at IS NULL AND (lease_until IS NULL OR lease_until < $3) \
         ORDER BY chunk LIMIT $4{lock}"
    );
    let rows: Vec<ChunkRow> = on_tx!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(date).bind(step).bind(now).bind(most(&phase).max(1)).fetch_all(&mut *c).await?);
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(Claim::Wait);
    }
    let mut got = Vec::with_capacity(rows.len());
    for (step, phase, chunk, lo, hi, claims) in rows {
        on_tx!(&mut tx, c => {
            sqlx::query(
                "UPDATE batch_chunks SET worker = $1, lease_until = $2, claims = claims + 1 \
                 WHERE business_date = $3 AND step = $4 AND chunk = $5",
            )
            .bind(worker)
            .bind(lease_until)
            .bind(date)
            .bind(step)
            .bind(chunk)
            .execute(&mut *c)
            .await?;
        });
        got.push(Chunk { step, phase, chunk, range: KeyRange { lo, hi }, claims: claims + 1 });
    }
    tx.commit().await?;
    Ok(Claim::Got(got))
}

/// Extends `worker`'s leases on `chunks` to `lease_until`; a chunk another worker has claimed
/// since is left alone.
pub async fn renew(
    db: &Db,
    date: NaiveDate,
    worker: &str,
    chunks: &[(i64, i64)],
    lease_until: i64,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    for (step, chunk) in chunks {
        on_tx!(&mut tx, c => {
            sqlx::query(
                "UPDATE batch_chunks SET lease_until = $1 WHERE business_date = $2 AND step = $3 AND chunk = $4 \
                 AND worker = $5 AND done_at IS NULL",
            )
            .bind(lease_until)
            .bind(date)
            .bind(step)
            .bind(chunk)
            .bind(worker)
            .execute(&mut *c)
            .await?;
        });
    }
    tx.commit().await
}

/// Marks a chunk done with the JSON of what it did; a chunk done already (by a worker whose
/// lease ran out and who finished it after all) keeps its first report.
pub async fn finish(
    tx: &mut Tx,
    date: NaiveDate,
    step: i64,
    chunk: i64,
    worker: &str,
    report: &str,
    at: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE batch_chunks SET done_at = $1, report = $2, worker = $3 \
             WHERE business_date = $4 AND step = $5 AND chunk = $6 AND done_at IS NULL",
        )
        .bind(at)
        .bind(report)
        .bind(worker)
        .bind(date)
        .bind(step)
        .bind(chunk)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// The reports of a date's done chunks, in step and chunk order.
pub async fn reports(db: &Db, date: NaiveDate) -> Result<Vec<(String, String)>, StoreError> {
    Ok(on_pool!(db, p => sqlx::query_as(
        "SELECT phase, report FROM batch_chunks WHERE business_date = $1 AND done_at IS NOT NULL ORDER BY step, chunk",
    ).bind(date).fetch_all(p).await?))
}

/// A chunk as `arrears worker status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChunkStatus {
    /// The phase.
    pub phase: String,
    /// The chunk's number within it.
    pub chunk: i64,
    /// The worker that holds it or did it.
    pub worker: Option<String>,
    /// How many times it was claimed.
    pub claims: i64,
    /// Done.
    pub done: bool,
}

/// Every chunk of a date, in step and chunk order.
pub async fn status(db: &Db, date: NaiveDate) -> Result<Vec<ChunkStatus>, StoreError> {
    type Row = (String, i64, Option<String>, i64, Option<String>);
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(
        "SELECT phase, chunk, worker, CAST(claims AS BIGINT), done_at FROM batch_chunks WHERE business_date = $1 ORDER BY step, chunk",
    ).bind(date).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(phase, chunk, worker, claims, done)| ChunkStatus {
            phase,
            chunk,
            worker,
            claims,
            done: done.is_some(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold_ids_after_lo_up_to_hi() {
        let r = KeyRange { lo: Some("B".into()), hi: Some("D".into()) };
        let table = [("A", false), ("B", false), ("C", true), ("D", true), ("E", false)];
        for (id, want) in table {
            assert_eq!(r.holds(id), want, "{id}");
        }
        assert!(KeyRange::ALL.holds("anything"));
        assert_eq!(r.sql("x"), " AND x > 'B' AND x <= 'D'");
        assert_eq!(KeyRange::ALL.sql("x"), "");
        let quoted = KeyRange { lo: Some("O'Neil".into()), hi: None };
        assert_eq!(quoted.sql("x"), " AND x > 'O''Neil'");
        // An empty part (more parts than ids) holds nothing.
        assert!(!KeyRange { lo: None, hi: Some(String::new()) }.holds("A"));
    }
}
