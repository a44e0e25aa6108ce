//! What the close of business reads and writes: business dates and shards, each
//! loan's state and change-only snapshots, cases, promises to pay, portfolio
//! figures and roll rates.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use arrears_core::behaviour::LoanTrack;
use arrears_core::case::Spell;
use arrears_core::close::{Advance, Carried, Snapshot};
use arrears_core::delinquency::{FiveClass, LoanStatus, Overdue};
use arrears_core::ptp::{Promise, PtpStatus};
use arrears_core::{Amount, Payment};
use chrono::NaiveDate;
use sqlx::Row as _;

use crate::literal::{ValueRow, Values, text_list};
use crate::loans::{LOAN_FIELDS, LoanBundle, attach, loan_from_row};
use crate::packed::{self, Fields, RECORD, Record};
use crate::{Db, StoreError, Tx, on_pool, on_tx};

fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}

// ---------------------------------------------------------------- business dates

/// A business date the batch has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessDay {
    /// The date.
    pub date: NaiveDate,
    /// Every phase committed.
    pub done: bool,
    /// How many shards share it.
    pub shards: u32,
}

fn day_from_row<R>(r: &R) -> Result<BusinessDay, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> NaiveDate: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(BusinessDay {
        date: r.try_get(0)?,
        done: r.try_get::<String, _>(1)? == "done",
        shards: u32::try_from(r.try_get::<i64, _>(2)?).map_err(|e| corrupt("business_days", e))?,
    })
}

/// The latest business date every phase of which committed.
pub async fn last_closed_day(db: &Db) -> Result<Option<NaiveDate>, StoreError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_scalar("SELECT MAX(business_date) FROM business_days WHERE status = 'done'")
            .fetch_one(pool)
            .await?)
    })
}

/// Business dates started but not finished, oldest first.
pub async fn unfinished_days(db: &Db) -> Result<Vec<BusinessDay>, StoreError> {
    on_pool!(db, pool => {
        let rows = sqlx::query(
            "SELECT business_date, status, shards FROM business_days WHERE status = 'running' \
             ORDER BY business_date",
        )
        .fetch_all(pool)
        .await?;
        rows.iter().map(day_from_row).collect()
    })
}

/// Records that the batch for `date` has started (nothing if it already had) and returns its row.
pub async fn start_day(db: &Db, date: NaiveDate, shards: u32, at: &str) -> Result<BusinessDay, StoreError> {
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO business_days (business_date, status, shards, started_at) VALUES ($1, 'running', $2, $3) \
             ON CONFLICT (business_date) DO NOTHING",
        )
        .bind(date)
        .bind(i64::from(shards))
        .bind(at)
        .execute(pool)
        .await?;
        let row = sqlx::query("SELECT business_date, status, shards FROM business_days WHERE business_date = $1")
            .bind(date)
            .fetch_one(pool)
            .await?;
        day_from_row(&row)
    })
}

/// Business dates started in `from..=to`, ascending.
pub async fn business_dates(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>, StoreError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_scalar(
            "SELECT business_date FROM business_days WHERE business_date >= $1 AND business_date <= $2 \
             ORDER BY business_date",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?)
    })
}

/// The earliest disbursement in the book; `None` when the book is empty.
pub async fn first_disbursement(db: &Db) -> Result<Option<NaiveDate>, StoreError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_scalar("SELECT MIN(disbursed_on) FROM loans").fetch_one(pool).await?)
    })
}

/// The loan-id range of shard `shard` of `shards`: ids after the first bound, up to and
/// including the second (`None`: unbounded). Every worker computes the same ranges.
pub async fn shard_bounds(
    db: &Db,
    shard: u32,
    shards: u32,
) -> Result<(Option<String>, Option<String>), StoreError> {
    if shards <= 1 {
        return Ok((None, None));
    }
    let total = db.count("loans").await?;
    let at = |k: u32| (total * i64::from(k)) / i64::from(shards);
    let bound = |offset: i64| async move {
        if offset <= 0 || offset > total {
            return Ok::<_, StoreError>(None);
        }
        on_pool!(db, pool => {
            Ok(sqlx::query_scalar::<_, String>("SELECT loan_id FROM loans ORDER BY loan_id LIMIT 1 OFFSET $1")
                .bind(offset - 1)
                .fetch_optional(pool)
                .await?)
        })
    };
    let lo = if shard == 0 { None } else { bound(at(shard)).await? };
    let hi = if shard + 1 >= shards {
        None
    } else if at(shard + 1) == 0 {
        // More shards than loans: this one is empty. No id is at most the empty text,
        // whereas `None` would mean the whole book.
        Some(String::new())
    } else {
        bound(at(shard + 1)).await?
    };
    Ok((lo, hi))
}

/// Records that a shard evaluated all of its loans for `date`.
pub async fn shard_done(
    db: &Db,
    date: NaiveDate,
    shards: u32,
    shard: u32,
    loans: u64,
) -> Result<(), StoreError> {
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO batch_shards (business_date, shards, shard, loans) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (business_date, shards, shard) DO NOTHING",
        )
        .bind(date)
        .bind(i64::from(shards))
        .bind(i64::from(shard))
        .bind(loans as i64)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// How many shards of `shards` have finished `date`.
pub async fn shards_finished(db: &Db, date: NaiveDate, shards: u32) -> Result<u32, StoreError> {
    let n: i64 = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM batch_shards WHERE business_date = $1 AND shards = $2")
            .bind(date)
            .bind(i64::from(shards))
            .fetch_one(pool)
            .await?
    });
    Ok(n as u32)
}

/// Marks `date` done (the last write of its batch).
pub async fn finish_day(tx: &mut Tx, date: NaiveDate, at: &str) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE business_days SET status = 'done', finished_at = $2 WHERE business_date = $1")
            .bind(date)
            .bind(at)
            .execute(conn)
            .await?;
    });
    Ok(())
}

// ---------------------------------------------------------------- loan state

/// What the batch knows of a loan from earlier runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    /// The first business date it was evaluated.
    pub first_on: NaiveDate,
    /// The latest evaluation.
    pub carried: Carried,
    /// Recompute from this date (a backdated payment).
    pub dirty_from: Option<NaiveDate>,
    /// The behaviour track kept at the latest evaluation; `None` when none was kept yet.
    pub track: Option<LoanTrack>,
}

/// A loan the batch must evaluate, with what it knew of it.
#[derive(Debug, Clone)]
pub struct DueLoan {
    /// Terms, schedule, payments and product rules.
    pub bundle: LoanBundle,
    /// `None` for a loan never evaluated.
    pub state: Option<StoredState>,
}

const SNAPSHOT_COLS: &str = "status, dpd, bucket, bucket_rank, five_class, overdue_principal, overdue_interest, \
     overdue_fee, overdue_penalty, outstanding_principal, credit";

fn snapshot_from_row(r: &impl Record, at: usize) -> Result<Snapshot, StoreError> {
    let status = r.text(at)?;
    let class = r.text(at + 4)?;
    Ok(Snapshot {
        status: LoanStatus::parse(&status)
            .ok_or_else(|| corrupt("loan_state", format!("status {status:?}")))?,
        dpd: u32::try_from(r.int(at + 1)?).map_err(|e| corrupt("loan_state", e))?,
        bucket: r.text(at + 2)?,
        bucket_rank: u32::try_from(r.int(at + 3)?).map_err(|e| corrupt("loan_state", e))?,
        five_class: FiveClass::parse(&class)
            .ok_or_else(|| corrupt("loan_state", format!("class {class:?}")))?,
        overdue: Overdue {
            principal: Amount(r.int(at + 5)?),
            interest: Amount(r.int(at + 6)?),
            fee: Amount(r.int(at + 7)?),
            penalty: Amount(r.int(at + 8)?),
        },
        outstanding_principal: Amount(r.int(at + 9)?),
        credit: Amount(r.int(at + 10)?),
    })
}

/// Up to `limit` loans with ids in (`after`, `upto`] that need evaluating on `date`: never
/// evaluated, due for review, or touched by a backdated payment (only those when `only_dirty`).
pub async fn due_loans(
    db: &Db,
    date: NaiveDate,
    after: Option<&str>,
    upto: Option<&str>,
    limit: i64,
    only_dirty: bool,
) -> Result<Vec<DueLoan>, StoreError> {
    let filter = if only_dirty {
        "s.dirty_from IS NOT NULL"
    } else {
        "(s.loan_id IS NULL OR s.review_on <= $2 OR s.dirty_from IS NOT NULL)"
    };
    let state_cols = "s.first_on, s.evaluated_on, s.review_on, s.dirty_from, s.status, s.dpd, s.bucket, \
         s.bucket_rank, s.five_class, s.overdue_principal, s.overdue_interest, s.overdue_fee, s.overdue_penalty, \
         s.outstanding_principal, s.credit, s.track";
    let cols: Vec<&str> = LOAN_FIELDS.into_iter().chain(state_cols.split(", ").map(str::trim)).collect();
    let from = "FROM loans l LEFT JOIN products p ON p.product = l.product LEFT JOIN loan_state s ON s.loan_id = l.loan_id";
    let (heads, states) = match db {
        // SQLite hands each row over where it finds it (see `rows`); the values are written
        // into the SQL, as ids and dates are elsewhere in the batch's bulk statements.
        Db::Sqlite(pool) => {
            let upto_clause =
                upto.map(|u| format!("AND l.loan_id <= {}", text_list(&[u]))).unwrap_or_default();
            let mut on = String::new();
            crate::bulk::push_iso_date(&mut on, date);
            let sql = format!(
                "SELECT {} {from} WHERE l.loan_id > {} {upto_clause} AND {} ORDER BY l.loan_id LIMIT {limit}",
                cols.join(", "),
                text_list(&[after.unwrap_or("")]),
                filter.replace("$2", &text_list(&[on])),
            );
            let acc = (Vec::with_capacity(limit as usize), Vec::with_capacity(limit as usize));
            crate::rows::fold_rows(pool, sql, "loan_state", acc, |(heads, states), r| {
                heads.push(loan_from_row(r)?);
                states.push(stored_state(r)?);
                Ok(())
            })
            .await?
        }
        // The whole chunk comes back as one packed text (see `packed`), in the database's
        // order of ids. The join repeats the cursor for loan_state: PostgreSQL does not carry
        // it across an outer join, and its merge join would otherwise read every state row
        // before the cursor, for every chunk.
        Db::Postgres(pool) => {
            let upto_clause = if upto.is_some() { "AND l.loan_id <= $4" } else { "" };
            let sql = format!(
                "SELECT string_agg(rec, '{RECORD}' ORDER BY id) FROM (SELECT l.loan_id AS id, {} AS rec \
                 {from} AND s.loan_id > $1 \
                 WHERE l.loan_id > $1 {upto_clause} AND {filter} AND $2 = $2 ORDER BY l.loan_id LIMIT $3) t",
                packed::pack(&cols)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(after.unwrap_or(""))
                .bind(date)
                .bind(limit);
            if let Some(u) = upto {
                q = q.bind(u);
            }
            let packed: Option<String> = q.fetch_one(pool).await?.try_get(0)?;
            let mut heads = Vec::with_capacity(limit as usize);
            let mut states = Vec::with_capacity(limit as usize);
            for rec in packed::records(packed.as_deref()) {
                let r = Fields::split("loan_state", rec);
                heads.push(loan_from_row(&r)?);
                states.push(stored_state(&r)?);
            }
            (heads, states)
        }
    };
    let bundles = attach(db, heads).await?;
    Ok(bundles.into_iter().zip(states).map(|(bundle, state)| DueLoan { bundle, state }).collect())
}

/// The loan state after the [`LOAN_FIELDS`] of a [`due_loans`] row (`None`: never evaluated).
fn stored_state(r: &impl Record) -> Result<Option<StoredState>, StoreError> {
    let Some(first_on) = r.opt_date(15)? else { return Ok(None) };
    Ok(Some(StoredState {
        first_on,
        carried: Carried { on: r.date(16)?, review_on: r.opt_date(17)?, snapshot: snapshot_from_row(r, 19)? },
        dirty_from: r.opt_date(18)?,
        track: r.opt_text(30)?.as_deref().map(crate::track::from_text).transpose()?,
    }))
}

/// The snapshot in force just before `date` (its latest row dated earlier), if any.
pub async fn snapshot_before(
    db: &Db,
    loan_id: &str,
    date: NaiveDate,
) -> Result<Option<(NaiveDate, Snapshot)>, StoreError> {
    let sql = format!(
        "SELECT as_of, {SNAPSHOT_COLS} FROM snapshots WHERE loan_id = $1 AND as_of < $2 ORDER BY as_of DESC LIMIT 1"
    );
    on_pool!(db, pool => {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(loan_id).bind(date).fetch_optional(pool).await?;
        match row {
            Some(r) => Ok(Some((r.try_get(0)?, snapshot_from_row(&r, 1)?))),
            None => Ok(None),
        }
    })
}

/// The snapshot rows `(as_of, dpd)` of a loan dated before `before` that a lookback window
/// opening at `start` can still see: the row in force at `start` and the later ones.
pub async fn track_rows(
    db: &Db,
    loan_id: &str,
    before: NaiveDate,
    start: NaiveDate,
) -> Result<Vec<(NaiveDate, u32)>, StoreError> {
    let rows: Vec<(NaiveDate, i64)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT as_of, dpd FROM snapshots WHERE loan_id = $1 AND as_of < $2 AND as_of >= \
             COALESCE((SELECT MAX(x.as_of) FROM snapshots x WHERE x.loan_id = $1 AND x.as_of <= $3), $3) \
             ORDER BY as_of",
        )
        .bind(loan_id)
        .bind(before)
        .bind(start)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(|(on, dpd)| Ok((on, u32::try_from(dpd).map_err(|e| corrupt("snapshots", e))?)))
        .collect()
}

/// One loan's evaluation, ready to be written.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The loan.
    pub loan_id: String,
    /// Its borrower.
    pub borrower_id: String,
    /// Its product.
    pub product: String,
    /// Its currency code.
    pub currency: String,
    /// The first business date it was evaluated.
    pub first_on: NaiveDate,
    /// Snapshots from this date on are replaced (a recompute).
    pub recompute_from: Option<NaiveDate>,
    /// What the evaluation found.
    pub advance: Advance,
}

/// Writes a snapshot's values in [`SNAPSHOT_COLS`] order.
fn snapshot_values(r: &mut ValueRow<'_>, s: &Snapshot) {
    r.text(s.status.as_str())
        .int(i64::from(s.dpd))
        .text(s.bucket.as_str())
        .int(i64::from(s.bucket_rank))
        .text(s.five_class.as_str())
        .int(s.overdue.principal.0)
        .int(s.overdue.interest.0)
        .int(s.overdue.fee.0)
        .int(s.overdue.penalty.0)
        .int(s.outstanding_principal.0)
        .int(s.credit.0);
}

/// Rows per multi-row statement: a few hundred KiB of SQL, parsed once per thousand rows.
const ROWS_PER_STATEMENT: usize = 1000;

/// Writes a chunk's evaluations: snapshots that changed, each loan's new state, and the
/// borrowers whose cases must be derived again. One transaction per chunk keeps a killed
/// batch resumable: a loan is either wholly evaluated for the date or not at all.
pub async fn write_chunk(tx: &mut Tx, items: &[Evaluated]) -> Result<(), StoreError> {
    let snaps: Vec<(&str, NaiveDate, &Snapshot)> = items
        .iter()
        .flat_map(|e| e.advance.changed.iter().map(move |(on, s)| (e.loan_id.as_str(), *on, s)))
        .collect();
    let mut resync: Vec<&str> = items
        .iter()
        .filter(|e| e.advance.delinquency_changed || e.recompute_from.is_some())
        .map(|e| e.borrower_id.as_str())
        .collect();
    resync.sort_unstable();
    resync.dedup();
    if let Tx::Postgres(t) = tx {
        // A chunk lost to a crash is evaluated again by the rerun, so the batch need not
        // wait for each chunk's WAL flush; PostgreSQL still never applies a later commit
        // without the earlier ones. Only this transaction is affected.
        sqlx::raw_sql("SET LOCAL synchronous_commit = off").execute(&mut **t).await?;
    }
    on_tx!(tx, conn => {
        for e in items {
            if let Some(from) = e.recompute_from {
                sqlx::query("DELETE FROM snapshots WHERE loan_id = $1 AND as_of >= $2")
                    .bind(e.loan_id.as_str())
                    .bind(from)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    });
    crate::rows::insert_all(
        tx,
        &format!("INSERT INTO snapshots (loan_id, as_of, {SNAPSHOT_COLS})"),
        "",
        &snaps,
        |r, (loan_id, on, s)| {
            r.text(loan_id).date(*on);
            snapshot_values(r, s);
        },
    )
    .await?;
    crate::rows::insert_all(
        tx,
        &format!(
            "INSERT INTO loan_state (loan_id, borrower_id, product, currency, first_on, evaluated_on, review_on, \
             dirty_from, {SNAPSHOT_COLS}, prev_status, prev_bucket, prev_bucket_rank, prev_outstanding, track)"
        ),
        " ON CONFLICT (loan_id) DO UPDATE SET first_on = excluded.first_on, \
         evaluated_on = excluded.evaluated_on, review_on = excluded.review_on, dirty_from = NULL, \
         status = excluded.status, dpd = excluded.dpd, bucket = excluded.bucket, \
         bucket_rank = excluded.bucket_rank, five_class = excluded.five_class, \
         overdue_principal = excluded.overdue_principal, overdue_interest = excluded.overdue_interest, \
         overdue_fee = excluded.overdue_fee, overdue_penalty = excluded.overdue_penalty, \
         outstanding_principal = excluded.outstanding_principal, credit = excluded.credit, \
         prev_status = excluded.prev_status, prev_bucket = excluded.prev_bucket, \
         prev_bucket_rank = excluded.prev_bucket_rank, prev_outstanding = excluded.prev_outstanding, \
         track = excluded.track",
        items,
        |r, e| {
            let last = &e.advance.last;
            let prev = e.advance.before_last.as_ref();
            r.text(&e.loan_id)
                .text(&e.borrower_id)
                .text(&e.product)
                .text(&e.currency)
                .date(e.first_on)
                .date(last.on)
                .opt_date(last.review_on)
                .null();
            snapshot_values(r, &last.snapshot);
            r.opt_text(prev.map(|p| p.status.as_str()))
                .opt_text(prev.map(|p| p.bucket.as_str()))
                .opt_int(prev.map(|p| i64::from(p.bucket_rank)))
                .opt_int(prev.map(|p| p.outstanding_principal.0))
                .text(&crate::track::to_text(&e.advance.track));
        },
    )
    .await?;
    crate::rows::insert_all(
        tx,
        "INSERT INTO case_sync (borrower_id)",
        " ON CONFLICT (borrower_id) DO NOTHING",
        &resync,
        |r, id| {
            r.text(id);
        },
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- payments arriving

/// Notes the payments an import (or a payment recorded by hand, which is a one-row import)
/// brought for loans the batch already knows, inside that import's transaction so the note
/// cannot be lost: a value date on or before the last business date marks the loan for
/// recompute from it; a later one brings the loan's next review forward to it. Returns the
/// loans touched.
pub async fn note_new_payments(tx: &mut Tx, import_id: i64) -> Result<u64, StoreError> {
    let touched = on_tx!(tx, conn => {
        let last: Option<NaiveDate> =
            sqlx::query_scalar("SELECT MAX(business_date) FROM business_days").fetch_one(&mut *conn).await?;
        // Before the first batch there is no loan state to mark.
        let Some(last) = last else { return Ok(0) };
        let mut touched = 0;
        for (column, window) in [("dirty_from", "p.paid_on <= $2"), ("review_on", "p.paid_on > $2")] {
            let first = format!(
                "(SELECT MIN(p.paid_on) FROM payments p WHERE p.loan_id = loan_state.loan_id \
                 AND p.import_id = $1 AND {window})"
            );
            let sql = format!(
                "UPDATE loan_state SET {column} = {first} WHERE {first} IS NOT NULL \
                 AND ({column} IS NULL OR {column} > {first})"
            );
            touched += sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(import_id)
                .bind(last)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        }
        touched
    });
    Ok(touched)
}

/// What happened to a payment recorded by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored.
    New,
    /// The same payment was already there: nothing changed.
    AlreadyThere,
}

/// Stores one payment; the same id with different fields is a conflict named in the error.
pub async fn record_payment(
    tx: &mut Tx,
    p: &Payment,
    import_id: i64,
) -> Result<Option<Recorded>, StoreError> {
    on_tx!(tx, conn => {
        let existing = sqlx::query("SELECT loan_id, paid_on, amount, channel FROM payments WHERE payment_id = $1")
            .bind(p.id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = existing {
            let same = r.try_get::<String, _>(0)? == p.loan_id.as_str()
                && r.try_get::<NaiveDate, _>(1)? == p.paid_on
                && r.try_get::<i64, _>(2)? == p.amount.0
                && r.try_get::<String, _>(3)? == p.channel;
            return Ok(same.then_some(Recorded::AlreadyThere));
        }
        sqlx::query(
            "INSERT INTO payments (payment_id, loan_id, paid_on, amount, channel, import_id, src_line) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(p.id.as_str())
        .bind(p.loan_id.as_str())
        .bind(p.paid_on)
        .bind(p.amount.0)
        .bind(&p.channel)
        .bind(import_id)
        .execute(&mut *conn)
        .await?;
    });
    Ok(Some(Recorded::New))
}

// ---------------------------------------------------------------- cases

/// Up to `limit` borrowers waiting for their cases to be derived again.
pub async fn case_sync_page(db: &Db, limit: i64) -> Result<Vec<String>, StoreError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_scalar("SELECT borrower_id FROM case_sync ORDER BY borrower_id LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await?)
    })
}

/// Runs `sql` with `{ids}` replaced by the list of ids.
async fn select_in<T>(db: &Db, sql: &str, ids: &[String]) -> Result<Vec<T>, StoreError>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let sql = sql.replace("{ids}", &text_list(ids));
    on_pool!(db, pool => {
        // Not kept as a prepared statement: the text differs every time.
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).persistent(false).fetch_all(pool).await?)
    })
}

/// The delinquency spells of every loan of each borrower, from the snapshots.
pub async fn borrower_spells(
    db: &Db,
    borrowers: &[String],
) -> Result<HashMap<String, Vec<Spell>>, StoreError> {
    let mut out: HashMap<String, Vec<Spell>> = HashMap::new();
    if borrowers.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, NaiveDate, i64)> = select_in(
        db,
        "SELECT l.borrower_id, s.loan_id, s.as_of, s.dpd FROM loans l JOIN snapshots s ON s.loan_id = l.loan_id \
         WHERE l.borrower_id IN ({ids})",
        borrowers,
    )
    .await?;
    let mut by_loan: HashMap<(String, String), Vec<(NaiveDate, bool)>> = HashMap::new();
    for (borrower, loan, on, dpd) in rows {
        by_loan.entry((borrower, loan)).or_default().push((on, dpd > 0));
    }
    for ((borrower, loan), mut changes) in by_loan {
        changes.sort_unstable();
        out.entry(borrower).or_default().extend(arrears_core::case::spells(&loan, &changes));
    }
    Ok(out)
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCase {
    /// Identifier.
    pub case_id: String,
    /// Borrower.
    pub borrower_id: String,
    /// Opening date.
    pub opened_on: NaiveDate,
    /// Closing date.
    pub closed_on: Option<NaiveDate>,
    /// `open`, `closed` or `void`.
    pub status: String,
    /// Whether work was recorded on it (promises to pay), so it must never vanish.
    pub has_work: bool,
    /// Its loans with the date each joined, in joining order.
    pub loans: Vec<(String, NaiveDate)>,
}

/// The stored cases of each borrower.
pub async fn stored_cases(
    db: &Db,
    borrowers: &[String],
) -> Result<HashMap<String, Vec<StoredCase>>, StoreError> {
    let mut out: HashMap<String, Vec<StoredCase>> = HashMap::new();
    if borrowers.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, NaiveDate, Option<NaiveDate>, String, i64)> = select_in(
        db,
        "SELECT c.case_id, c.borrower_id, c.opened_on, c.closed_on, c.status, \
         (SELECT COUNT(*) FROM ptps t WHERE t.case_id = c.case_id) FROM cases c WHERE c.borrower_id IN ({ids})",
        borrowers,
    )
    .await?;
    let loan_rows: Vec<(String, String, NaiveDate)> = select_in(
        db,
        "SELECT cl.case_id, cl.loan_id, cl.added_on FROM case_loans cl JOIN cases c ON c.case_id = cl.case_id \
         WHERE c.borrower_id IN ({ids})",
        borrowers,
    )
    .await?;
    let mut loans: HashMap<String, Vec<(String, NaiveDate)>> = HashMap::new();
    for (case_id, loan_id, on) in loan_rows {
        loans.entry(case_id).or_default().push((loan_id, on));
    }
    for (case_id, borrower_id, opened_on, closed_on, status, work) in rows {
        let mut case_loans = loans.remove(&case_id).unwrap_or_default();
        // The derivation lists loans by joining date, then id: compare in that order.
        case_loans.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        out.entry(borrower_id.clone()).or_default().push(StoredCase {
            case_id,
            borrower_id,
            opened_on,
            closed_on,
            status,
            has_work: work > 0,
            loans: case_loans,
        });
    }
    Ok(out)
}

/// A change to the cases table that deriving cases called for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseWrite {
    /// Insert or update a case and set its loans.
    Put {
        /// Identifier.
        case_id: String,
        /// Borrower.
        borrower_id: String,
        /// Opening date.
        opened_on: NaiveDate,
        /// Closing date (`None`: open).
        closed_on: Option<NaiveDate>,
        /// Loans with the date each joined.
        loans: Vec<(String, NaiveDate)>,
    },
    /// Remove a case that should never have opened.
    Delete(String),
    /// Keep a case that should never have opened but has work recorded, marked void.
    Void(String),
}

/// Applies case changes and removes the borrowers from the work list, in one transaction.
/// Removals and voids are one statement per thousand cases, and the cases written go
/// through [`crate::rows::insert_all`]: a night can open tens of thousands of them.
pub async fn apply_cases(tx: &mut Tx, writes: &[CaseWrite], done: &[String]) -> Result<(), StoreError> {
    let mut relinked = Vec::new();
    let mut puts = Vec::new();
    let mut deleted = Vec::new();
    let mut voided = Vec::new();
    for w in writes {
        match w {
            CaseWrite::Put { case_id, borrower_id, opened_on, closed_on, loans } => {
                relinked.push(case_id.as_str());
                puts.push((case_id, borrower_id, *opened_on, *closed_on, loans));
            }
            CaseWrite::Delete(case_id) => {
                relinked.push(case_id.as_str());
                deleted.push(case_id.as_str());
            }
            CaseWrite::Void(case_id) => voided.push(case_id.as_str()),
        }
    }
    let mut statements = Vec::new();
    for part in relinked.chunks(ROWS_PER_STATEMENT) {
        statements.push(format!("DELETE FROM case_loans WHERE case_id IN ({})", text_list(part)));
    }
    for part in deleted.chunks(ROWS_PER_STATEMENT) {
        statements.push(format!("DELETE FROM cases WHERE case_id IN ({})", text_list(part)));
    }
    for part in voided.chunks(ROWS_PER_STATEMENT) {
        statements.push(format!("UPDATE cases SET status = 'void' WHERE case_id IN ({})", text_list(part)));
    }
    let mut finished = Vec::new();
    for part in done.chunks(ROWS_PER_STATEMENT) {
        finished.push(format!("DELETE FROM case_sync WHERE borrower_id IN ({})", text_list(part)));
    }
    on_tx!(tx, conn => {
        for sql in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    crate::rows::insert_all(
        tx,
        "INSERT INTO cases (case_id, borrower_id, opened_on, closed_on, status)",
        " ON CONFLICT (case_id) DO UPDATE SET closed_on = excluded.closed_on, status = excluded.status",
        &puts,
        |r, &(case_id, borrower_id, opened_on, closed_on, _)| {
            r.text(case_id)
                .text(borrower_id)
                .date(opened_on)
                .opt_date(closed_on)
                .text(if closed_on.is_some() { "closed" } else { "open" });
        },
    )
    .await?;
    let links: Vec<(&str, &str, NaiveDate)> = puts
        .iter()
        .flat_map(|&(case_id, _, _, _, loans)| {
            loans.iter().map(move |(loan, on)| (case_id.as_str(), loan.as_str(), *on))
        })
        .collect();
    crate::rows::insert_all(
        tx,
        "INSERT INTO case_loans (case_id, loan_id, added_on)",
        "",
        &links,
        |r, &(c, l, on)| {
            r.text(c).text(l).date(on);
        },
    )
    .await?;
    on_tx!(tx, conn => {
        for sql in finished {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    Ok(())
}

/// A line of the case list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseRow {
    /// Identifier.
    pub case_id: String,
    /// Borrower.
    pub borrower_id: String,
    /// Borrower's name.
    pub borrower_name: String,
    /// Opening date.
    pub opened_on: NaiveDate,
    /// Closing date.
    pub closed_on: Option<NaiveDate>,
    /// `open`, `closed` or `void`.
    pub status: String,
    /// Loans in the case.
    pub loans: i64,
    /// The worst DPD among them now.
    pub max_dpd: i64,
}

/// A case row as selected: id, borrower, name, opened, closed, status, loans, max DPD.
type CaseTuple = (String, String, String, NaiveDate, Option<NaiveDate>, String, i64, i64);

/// A promise row as selected: id, case, currency, promised, due, amount, status, paid.
type PtpTuple = (String, String, String, NaiveDate, NaiveDate, i64, String, i64);

/// Cases, newest first, optionally only those with `status`; at most `limit`.
pub async fn list_cases(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<CaseRow>, StoreError> {
    let filter = if status.is_some() { "WHERE c.status = $2" } else { "WHERE $2 = $2" };
    let sql = format!(
        "SELECT c.case_id, c.borrower_id, COALESCE(b.name, ''), c.opened_on, c.closed_on, c.status, \
         COUNT(cl.loan_id), COALESCE(MAX(s.dpd), 0) \
         FROM cases c LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
         LEFT JOIN case_loans cl ON cl.case_id = c.case_id LEFT JOIN loan_state s ON s.loan_id = cl.loan_id \
         {filter} GROUP BY c.case_id, c.borrower_id, b.name, c.opened_on, c.closed_on, c.status \
         ORDER BY c.opened_on DESC, c.case_id LIMIT $1"
    );
    let rows: Vec<CaseTuple> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(limit).bind(status.unwrap_or("")).fetch_all(pool).await?
    });
    Ok(rows
        .into_iter()
        .map(|(case_id, borrower_id, borrower_name, opened_on, closed_on, status, loans, max_dpd)| CaseRow {
            case_id,
            borrower_id,
            borrower_name,
            opened_on,
            closed_on,
            status,
            loans,
            max_dpd,
        })
        .collect())
}

/// One loan of a case with its latest snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseLoan {
    /// Loan.
    pub loan_id: String,
    /// Date it joined the case.
    pub added_on: NaiveDate,
    /// Currency code.
    pub currency: String,
    /// Date of the snapshot.
    pub evaluated_on: Option<NaiveDate>,
    /// Latest snapshot, if evaluated.
    pub snapshot: Option<Snapshot>,
}

/// A promise to pay as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtpRow {
    /// Identifier.
    pub ptp_id: String,
    /// Case.
    pub case_id: String,
    /// Currency code of the amount.
    pub currency: String,
    /// The promise.
    pub promise: Promise,
    /// Where it stands.
    pub status: PtpStatus,
    /// Paid towards it when last judged.
    pub paid: Amount,
}

/// A case, its loans and its promises.
pub async fn case_detail(
    db: &Db,
    case_id: &str,
) -> Result<Option<(CaseRow, Vec<CaseLoan>, Vec<PtpRow>)>, StoreError> {
    let sql = format!(
        "SELECT cl.loan_id, cl.added_on, l.currency, s.evaluated_on, {} FROM case_loans cl \
         JOIN loans l ON l.loan_id = cl.loan_id LEFT JOIN loan_state s ON s.loan_id = cl.loan_id \
         WHERE cl.case_id = $1 ORDER BY cl.added_on, cl.loan_id",
        SNAPSHOT_COLS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
    );
    let head = on_pool!(db, pool => {
        sqlx::query_as::<_, (String, String, String, NaiveDate, Option<NaiveDate>, String)>(
            "SELECT c.case_id, c.borrower_id, COALESCE(b.name, ''), c.opened_on, c.closed_on, c.status \
             FROM cases c LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id WHERE c.case_id = $1",
        )
        .bind(case_id)
        .fetch_optional(pool)
        .await?
    });
    let Some((case_id, borrower_id, borrower_name, opened_on, closed_on, status)) = head else {
        return Ok(None);
    };
    let loans = on_pool!(db, pool => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(&case_id).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let evaluated_on: Option<NaiveDate> = r.try_get(3)?;
            out.push(CaseLoan {
                loan_id: r.try_get(0)?,
                added_on: r.try_get(1)?,
                currency: r.try_get(2)?,
                evaluated_on,
                snapshot: if evaluated_on.is_some() { Some(snapshot_from_row(r, 4)?) } else { None },
            });
        }
        out
    });
    let ptps = ptps_of(db, "WHERE case_id = $1", &case_id).await?;
    let max_dpd =
        loans.iter().filter_map(|l| l.snapshot.as_ref()).map(|s| i64::from(s.dpd)).max().unwrap_or(0);
    let row = CaseRow {
        case_id,
        borrower_id,
        borrower_name,
        opened_on,
        closed_on,
        status,
        loans: loans.len() as i64,
        max_dpd,
    };
    Ok(Some((row, loans, ptps)))
}

async fn ptps_of(db: &Db, filter: &str, arg: &str) -> Result<Vec<PtpRow>, StoreError> {
    let sql = format!(
        "SELECT ptp_id, case_id, currency, promised_on, due_on, amount, status, paid FROM ptps {filter} \
         ORDER BY due_on, ptp_id"
    );
    let rows: Vec<PtpTuple> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(arg).fetch_all(pool).await?
    });
    rows.into_iter()
        .map(|(ptp_id, case_id, currency, promised_on, due_on, amount, status, paid)| {
            Ok(PtpRow {
                status: PtpStatus::parse(&status)
                    .ok_or_else(|| corrupt("ptps", format!("status {status:?}")))?,
                ptp_id,
                case_id,
                currency,
                promise: Promise { promised_on, due_on, amount: Amount(amount) },
                paid: Amount(paid),
            })
        })
        .collect()
}

// ---------------------------------------------------------------- promises to pay

/// Promises to judge: every pending one, and every promise of a borrower whose history a
/// recompute rewrote (on the case work list), since a broken promise may now be kept.
pub async fn ptps_to_judge(db: &Db) -> Result<Vec<PtpRow>, StoreError> {
    ptps_of(
        db,
        "WHERE status = $1 OR case_id IN (SELECT c.case_id FROM cases c JOIN case_sync w \
         ON w.borrower_id = c.borrower_id)",
        "pending",
    )
    .await
}

/// What the loans of the promise's borrower, in the promise's currency, received with
/// value dates in `from..=to`.
pub async fn paid_on_borrower(
    db: &Db,
    ptp_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Amount, StoreError> {
    let sum: Option<i64> = on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT CAST(SUM(p.amount) AS BIGINT) FROM ptps t JOIN cases c ON c.case_id = t.case_id \
             JOIN loans l ON l.borrower_id = c.borrower_id AND l.currency = t.currency \
             JOIN payments p ON p.loan_id = l.loan_id \
             WHERE t.ptp_id = $1 AND p.paid_on >= $2 AND p.paid_on <= $3",
        )
        .bind(ptp_id)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?
    });
    Ok(Amount(sum.unwrap_or(0)))
}

/// Stores a promise's judgement.
pub async fn set_ptp(
    tx: &mut Tx,
    ptp_id: &str,
    status: PtpStatus,
    paid: Amount,
    on: NaiveDate,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE ptps SET status = $2, paid = $3, evaluated_on = $4 WHERE ptp_id = $1")
            .bind(ptp_id)
            .bind(status.as_str())
            .bind(paid.0)
            .bind(on)
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// Records a promise to pay (the case-work use case will call this; tests do now).
pub async fn add_ptp(
    tx: &mut Tx,
    ptp_id: &str,
    case_id: &str,
    currency: &str,
    p: &Promise,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO ptps (ptp_id, case_id, promised_on, due_on, amount, currency) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ptp_id)
        .bind(case_id)
        .bind(p.promised_on)
        .bind(p.due_on)
        .bind(p.amount.0)
        .bind(currency)
        .execute(conn)
        .await?;
    });
    Ok(())
}

// ---------------------------------------------------------------- portfolio figures

/// The book's loan states on `date` summed in fine groups, which [`store_figures`] turns
/// into the date's figures. Read after the loan phase, when each state is the loan's
/// snapshot on `date`; no later phase of the date changes loan states.
pub struct BookGroups(Vec<FigureGroup>);

/// The fine groups' dimensions in [`FigureGroup`] order, with `$1` the date: a loan
/// evaluated on the date counts where it was the business date before.
macro_rules! group_keys {
    () => {
        "currency, status, bucket, bucket_rank, five_class, product, \
         CASE WHEN evaluated_on = $1 THEN prev_status ELSE status END, \
         CASE WHEN evaluated_on = $1 THEN prev_bucket ELSE bucket END, \
         CASE WHEN evaluated_on = $1 THEN prev_bucket_rank ELSE bucket_rank END"
    };
}

/// Principal outstanding the business date before, with `$1` the date.
const PREV_OUTSTANDING: &str =
    "CASE WHEN evaluated_on = $1 THEN prev_outstanding ELSE outstanding_principal END";

/// [`book_groups`]' query where the database groups: the fine groups, with `$1` the date.
const GROUPS_SQL: &str = concat!(
    "SELECT ",
    group_keys!(),
    ", COUNT(*), CAST(SUM(CASE WHEN dpd > 0 THEN 1 ELSE 0 END) AS BIGINT), \
     CAST(SUM(outstanding_principal) AS BIGINT), \
     CAST(SUM(overdue_principal + overdue_interest + overdue_fee + overdue_penalty) AS BIGINT), \
     CAST(SUM(CASE WHEN evaluated_on = $1 THEN prev_outstanding ELSE outstanding_principal END) AS BIGINT) \
     FROM loan_state GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
);

/// Reads the [`BookGroups`] of `date` (one pass over every loan's state).
pub async fn book_groups(db: &Db, date: NaiveDate) -> Result<BookGroups, StoreError> {
    // One pass over the book, grouped finely (a few hundred groups); the four dimensions and
    // the roll-rate matrix are summed from those groups in `store_figures`, instead of five
    // passes each sorting the whole book. A loan evaluated on this date carries the snapshot
    // in force the business date before in prev_*; any other loan has not changed since, so
    // it was where it is now.
    if let Db::Sqlite(pool) = db {
        return sqlite_book_groups(pool, date).await;
    }
    let groups: Vec<FigureGroup> = on_pool!(db, pool => {
        sqlx::query_as(GROUPS_SQL)
        .bind(date)
        .fetch_all(pool)
        .await?
    });
    Ok(BookGroups(groups))
}

/// Replaces the portfolio figures and roll rates of `date` with ones summed from `groups`.
pub async fn store_figures(tx: &mut Tx, date: NaiveDate, groups: &BookGroups) -> Result<(), StoreError> {
    #[derive(Default)]
    struct Sums {
        rank: i64,
        loans: i64,
        overdue_loans: i64,
        outstanding: i64,
        overdue: i64,
    }
    let mut dims: BTreeMap<(&str, &str, String), Sums> = BTreeMap::new();
    // (currency, from bucket, to bucket) -> (from rank, to rank, loans, balance)
    type RollKey<'a> = (&'a str, &'a str, &'a str);
    let mut rolls: BTreeMap<RollKey<'_>, [i64; 4]> = BTreeMap::new();
    for g in &groups.0 {
        let (currency, status, bucket, bucket_rank, class, product) = (&g.0, &g.1, &g.2, g.3, &g.4, &g.5);
        let mut add = |dimension: &'static str, group: &str, rank: i64| {
            let s = dims
                .entry((currency, dimension, group.to_string()))
                .or_insert(Sums { rank, ..Sums::default() });
            s.rank = s.rank.min(rank);
            s.loans += g.9;
            s.overdue_loans += g.10;
            s.outstanding += g.11;
            s.overdue += g.12;
        };
        if status == "active" {
            add("bucket", bucket, bucket_rank);
            add("five_class", class, FiveClass::parse(class).map_or(4, |c| c as i64));
            add("product", product, 0);
        }
        add("status", status, LoanStatus::parse(status).map_or(2, |s| s as i64));
        if let (Some("active"), Some(from), Some(from_rank)) = (g.6.as_deref(), g.7.as_deref(), g.8) {
            let (to, to_rank) =
                if status == "paid_off" { ("paid_off", 1000) } else { (bucket.as_str(), bucket_rank) };
            let r = rolls.entry((currency, from, to)).or_insert([from_rank, to_rank, 0, 0]);
            r[0] = r[0].min(from_rank);
            r[1] = r[1].min(to_rank);
            r[2] += g.9;
            r[3] += g.13.unwrap_or(0);
        }
    }
    let mut statements = vec![
        format!("DELETE FROM portfolio_figures WHERE business_date = '{date}'"),
        format!("DELETE FROM roll_rates WHERE business_date = '{date}'"),
    ];
    let mut v = Values::new(
        "INSERT INTO portfolio_figures (business_date, currency, dimension, grp, rank, loans, overdue_loans, \
         outstanding_principal, overdue_total)",
    );
    for ((currency, dimension, group), s) in &dims {
        v.row(|r| {
            r.date(date).text(currency).text(dimension).text(group).int(s.rank);
            r.int(s.loans).int(s.overdue_loans).int(s.outstanding).int(s.overdue);
        });
    }
    if !v.is_empty() {
        statements.push(v.finish(""));
    }
    let mut v = Values::new(
        "INSERT INTO roll_rates (business_date, currency, from_bucket, from_rank, to_bucket, to_rank, loans, balance)",
    );
    for ((currency, from, to), [from_rank, to_rank, loans, balance]) in &rolls {
        v.row(|r| {
            r.date(date)
                .text(currency)
                .text(from)
                .int(*from_rank)
                .text(to)
                .int(*to_rank)
                .int(*loans)
                .int(*balance);
        });
    }
    if !v.is_empty() {
        statements.push(v.finish(""));
    }
    on_tx!(tx, conn => {
        for sql in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    Ok(())
}

/// [`book_groups`] on SQLite, which groups by sorting: sorting the whole book took two
/// seconds of CPU beside the alerts phase, so its rows are summed here instead, into a
/// few hundred groups.
async fn sqlite_book_groups(pool: &sqlx::SqlitePool, date: NaiveDate) -> Result<BookGroups, StoreError> {
    #[derive(Default)]
    struct Sums {
        groups: Vec<FigureGroup>,
        index: HashMap<String, usize>,
        key: String,
    }
    let sql = format!(
        "SELECT {}, dpd, outstanding_principal, \
         overdue_principal + overdue_interest + overdue_fee + overdue_penalty, {PREV_OUTSTANDING} FROM loan_state",
        group_keys!()
    )
    .replace("$1", &format!("'{date}'"));
    let sums = crate::rows::fold_rows(pool, sql, "loan_state", Sums::default(), |acc, r| {
        let (rank, prev_rank) = (r.int(3)?, r.opt_int(8)?);
        acc.key.clear();
        for i in [0, 1, 2, 4, 5, 6, 7] {
            // Length-prefixed, so that no two different groups can share a key.
            match r.opt_raw(i)? {
                Some(t) => {
                    let _ = write!(acc.key, "{}:{t}", t.len());
                }
                None => acc.key.push('-'),
            }
        }
        let _ = write!(acc.key, "{rank}:{prev_rank:?}");
        let at = match acc.index.get(acc.key.as_str()) {
            Some(&at) => at,
            None => {
                let (prev_status, prev_bucket) = (r.opt_text(6)?, r.opt_text(7)?);
                let (currency, status, bucket) = (r.text(0)?, r.text(1)?, r.text(2)?);
                let (class, product) = (r.text(4)?, r.text(5)?);
                acc.groups.push((
                    currency,
                    status,
                    bucket,
                    rank,
                    class,
                    product,
                    prev_status,
                    prev_bucket,
                    prev_rank,
                    0,
                    0,
                    0,
                    0,
                    None,
                ));
                acc.index.insert(acc.key.clone(), acc.groups.len() - 1);
                acc.groups.len() - 1
            }
        };
        let g = &mut acc.groups[at];
        g.9 += 1;
        g.10 += i64::from(r.int(9)? > 0);
        g.11 += r.int(10)?;
        g.12 += r.int(11)?;
        if let Some(prev) = r.opt_int(12)? {
            g.13 = Some(g.13.unwrap_or(0) + prev);
        }
        Ok(())
    })
    .await?;
    Ok(BookGroups(sums.groups))
}

/// One fine group of the book: currency, status, bucket and its rank, class, product; the
/// status, bucket and rank the business date before; loans, overdue loans, principal
/// outstanding, everything overdue, and principal outstanding the business date before.
type FigureGroup = (
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
);

/// One line of the stored figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FigureRow {
    /// Currency code.
    pub currency: String,
    /// `bucket`, `five_class`, `product` or `status`.
    pub dimension: String,
    /// The bucket, class, product or status.
    pub group: String,
    /// Loans.
    pub loans: i64,
    /// Loans with DPD > 0.
    pub overdue_loans: i64,
    /// Principal outstanding.
    pub outstanding_principal: Amount,
    /// Everything overdue.
    pub overdue_total: Amount,
}

/// One cell of a roll-rate matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollRow {
    /// Currency code.
    pub currency: String,
    /// Bucket on the previous business date.
    pub from_bucket: String,
    /// Bucket (or `paid_off`) on this one.
    pub to_bucket: String,
    /// Loans that moved so.
    pub loans: i64,
    /// Their principal outstanding on the previous business date.
    pub balance: Amount,
}

/// The stored figures of `date` in report order; empty when no batch closed it.
pub async fn figures(db: &Db, date: NaiveDate) -> Result<(Vec<FigureRow>, Vec<RollRow>), StoreError> {
    let (f, r) = on_pool!(db, pool => {
        let f: Vec<(String, String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT currency, dimension, grp, loans, overdue_loans, outstanding_principal, overdue_total \
             FROM portfolio_figures WHERE business_date = $1 ORDER BY currency, dimension, rank, grp",
        )
        .bind(date)
        .fetch_all(pool)
        .await?;
        let r: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT currency, from_bucket, to_bucket, loans, balance FROM roll_rates WHERE business_date = $1 \
             ORDER BY currency, from_rank, from_bucket, to_rank, to_bucket",
        )
        .bind(date)
        .fetch_all(pool)
        .await?;
        (f, r)
    });
    Ok((
        f.into_iter()
            .map(|(currency, dimension, group, loans, overdue_loans, o, t)| FigureRow {
                currency,
                dimension,
                group,
                loans,
                overdue_loans,
                outstanding_principal: Amount(o),
                overdue_total: Amount(t),
            })
            .collect(),
        r.into_iter()
            .map(|(currency, from_bucket, to_bucket, loans, b)| RollRow {
                currency,
                from_bucket,
                to_bucket,
                loans,
                balance: Amount(b),
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DbUrl;

    #[tokio::test]
    async fn sqlite_sums_the_fine_groups_as_grouping_in_sql_does() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::new(format!("sqlite://{}/g.db", dir.path().display()));
        let db = Db::open(&url).await.unwrap();
        let Db::Sqlite(pool) = &db else { unreachable!("a SQLite URL") };
        let date = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        // Loans evaluated on the date (their prev_* count) and before it (they do not), new
        // loans without a previous snapshot, two currencies, paid-off loans, NULL sums.
        let mut values = Vec::new();
        for i in 0..300i64 {
            let on = if i % 3 == 0 { "2026-03-30" } else { "2026-03-31" };
            let (status, bucket, rank) = match i % 5 {
                0 => ("paid_off", "M0", 0),
                1 | 2 => ("active", "M0", 0),
                3 => ("active", "M1", 1),
                _ => ("active", "M2", 2),
            };
            let prev = if i % 7 == 0 {
                "NULL, NULL, NULL, NULL".to_string()
            } else {
                format!("'active', 'M{}', {}, {}", i % 3, i % 3, 1000 + i)
            };
            values.push(format!(
                "('L{i:04}', 'B{}', '{}', '{}', '2026-01-01', '{on}', '{status}', {}, '{bucket}', {rank}, '{}', \
                 {}, {}, 0, {}, {}, 0, {prev})",
                i / 2,
                if i % 4 == 0 { "sme" } else { "consumer" },
                if i % 11 == 0 { "USD" } else { "CNY" },
                rank * 30,
                if rank == 0 { "normal" } else { "special_mention" },
                rank * 100 + i,
                rank * 10,
                rank * i,
                50_000 - i * 7,
            ));
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO loan_state (loan_id, borrower_id, product, currency, first_on, evaluated_on, status, dpd, \
             bucket, bucket_rank, five_class, overdue_principal, overdue_interest, overdue_fee, overdue_penalty, \
             outstanding_principal, credit, prev_status, prev_bucket, prev_bucket_rank, prev_outstanding) VALUES {}",
            values.join(", ")
        )))
        .execute(pool)
        .await
        .unwrap();
        // Fourteen fields are more than a tuple compares or prints: two halves do.
        let halves = |groups: Vec<FigureGroup>| {
            let mut out: Vec<_> = groups
                .into_iter()
                .map(|g| ((g.0, g.1, g.2, g.3, g.4, g.5), (g.6, g.7, g.8, g.9, g.10, g.11, g.12, g.13)))
                .collect();
            out.sort();
            out
        };
        let summed = halves(sqlite_book_groups(pool, date).await.unwrap().0);
        let grouped = halves(sqlx::query_as(GROUPS_SQL).bind(date).fetch_all(pool).await.unwrap());
        assert!(grouped.len() > 10, "the rows fall in many groups: {}", grouped.len());
        assert!(grouped.iter().any(|g| g.1.7.is_none()), "some group has no previous balance");
        assert_eq!(summed, grouped);
    }
}
