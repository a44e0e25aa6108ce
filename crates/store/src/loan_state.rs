//! Each loan's state and change-only snapshots (tables `loan_state`, `snapshots`, and the
//! `case_sync` work list the loan phase fills): what the batch evaluates, and writes per chunk.

use arrears_core::Amount;
use arrears_core::behaviour::LoanTrack;
use arrears_core::close::{Advance, Carried, Snapshot};
use arrears_core::delinquency::{FiveClass, LoanStatus, Overdue};
use arrears_core::id::{BorrowerId, LoanId};
use chrono::NaiveDate;
use sqlx::Row as _;

use crate::loans::{LOAN_FIELDS, LoanBundle, attach, loan_from_row};
use crate::rows::literal::{ValueRow, text_list};
use crate::rows::packed::{self, Fields, RECORD, Record};
use crate::{Db, StoreError, Tx, corrupt, on_pool, on_tx};

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

pub(crate) const SNAPSHOT_COLS: &str = "status, dpd, bucket, bucket_rank, five_class, overdue_principal, overdue_interest, \
     overdue_fee, overdue_penalty, outstanding_principal, credit, arranged";

pub(crate) fn snapshot_from_row(r: &impl Record, at: usize) -> Result<Snapshot, StoreError> {
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
            principal: Amount::from_minor(r.int(at + 5)?),
            interest: Amount::from_minor(r.int(at + 6)?),
            fee: Amount::from_minor(r.int(at + 7)?),
            penalty: Amount::from_minor(r.int(at + 8)?),
        },
        outstanding_principal: Amount::from_minor(r.int(at + 9)?),
        credit: Amount::from_minor(r.int(at + 10)?),
        arranged: r.int(at + 11)? != 0,
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
         s.outstanding_principal, s.credit, s.arranged, s.track";
    let cols: Vec<&str> = LOAN_FIELDS.into_iter().chain(state_cols.split(", ").map(str::trim)).collect();
    // Only the marked loans (a re-evaluation after payments): the partial index on loan_state
    // finds them without reading the rest of the book, which a re-evaluation after every
    // payment or batch of payments could not afford at a million loans.
    let (from, key) = if only_dirty {
        (
            "FROM loan_state s JOIN loans l ON l.loan_id = s.loan_id AND l.borrower_id = s.borrower_id LEFT JOIN products p ON p.product = l.product",
            "s.loan_id",
        )
    } else {
        (
            "FROM loans l LEFT JOIN products p ON p.product = l.product LEFT JOIN loan_state s ON s.loan_id = l.loan_id AND s.borrower_id = l.borrower_id",
            "l.loan_id",
        )
    };
    let (heads, states) = match db {
        // SQLite hands each row over where it finds it (see `rows`); the values are written
        // into the SQL, as ids and dates are elsewhere in the batch's bulk statements.
        Db::Sqlite(pool) => {
            let upto_clause = upto.map(|u| format!("AND {key} <= {}", text_list(&[u]))).unwrap_or_default();
            let mut on = String::new();
            crate::rows::keyed::push_iso_date(&mut on, date);
            let sql = format!(
                "SELECT {} {from} WHERE {key} > {} {upto_clause} AND {} ORDER BY {key} LIMIT {limit}",
                cols.join(", "),
                text_list(&[after.unwrap_or("")]),
                filter.replace("$2", &text_list(&[on])),
            );
            let acc = (Vec::with_capacity(limit as usize), Vec::with_capacity(limit as usize));
            crate::sqlite::rows::fold_rows(pool, sql, "loan_state", acc, |(heads, states), r| {
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
            let upto_clause = if upto.is_some() { format!("AND {key} <= $4") } else { String::new() };
            let outer_cursor = if only_dirty { "" } else { " AND s.loan_id > $1" };
            let sql = format!(
                "SELECT string_agg(rec, '{RECORD}' ORDER BY id) FROM (SELECT l.loan_id AS id, {} AS rec \
                 {from}{outer_cursor} \
                 WHERE {key} > $1 {upto_clause} AND {filter} AND $2 = $2 ORDER BY {key} LIMIT $3) t",
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
    let at = LOAN_FIELDS.len();
    let Some(first_on) = r.opt_date(at)? else { return Ok(None) };
    Ok(Some(StoredState {
        first_on,
        carried: Carried {
            on: r.date(at + 1)?,
            review_on: r.opt_date(at + 2)?,
            snapshot: snapshot_from_row(r, at + 4)?,
        },
        dirty_from: r.opt_date(at + 3)?,
        track: r.opt_text(at + 16)?.as_deref().map(crate::track::from_text).transpose()?,
    }))
}

/// What recomputing a loan from a date needs of its stored history: the snapshot in force
/// before that date and the rows a lookback window sees (see
/// [`track_rows`], with `before` that date).
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The last snapshot dated before the date, with its date.
    pub prior: Option<(NaiveDate, Snapshot)>,
    /// `(as_of, dpd)` rows dated before the date, from the one in force at the window's start.
    pub track: Vec<(NaiveDate, u32)>,
}

/// [`History`] of every loan of `loans` from the date `from` in one read per thousand loans
/// (a re-evaluation after payments recomputes a chunk of loans, nearly all from one date),
/// the lookback window opening at `start`.
pub async fn histories(
    db: &Db,
    loans: &[&str],
    from: NaiveDate,
    start: NaiveDate,
) -> Result<std::collections::HashMap<String, History>, StoreError> {
    let mut out: std::collections::HashMap<String, History> =
        std::collections::HashMap::with_capacity(loans.len());
    for chunk in loans.chunks(crate::rows::keyed::ROWS_PER_STATEMENT) {
        let list = text_list(chunk);
        let prior = format!(
            "SELECT s.loan_id, s.as_of, {SNAPSHOT_COLS} FROM snapshots s WHERE s.loan_id IN ({list}) AND s.as_of = \
             (SELECT MAX(x.as_of) FROM snapshots x WHERE x.loan_id = s.loan_id AND x.as_of < $1)"
        );
        let track = format!(
            "SELECT s.loan_id, s.as_of, s.dpd FROM snapshots s WHERE s.loan_id IN ({list}) AND s.as_of < $1 AND \
             s.as_of >= COALESCE((SELECT MAX(x.as_of) FROM snapshots x WHERE x.loan_id = s.loan_id AND x.as_of <= $2), $2) \
             ORDER BY s.loan_id, s.as_of"
        );
        on_pool!(db, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(prior.as_str())).bind(from).fetch_all(pool).await? {
                let loan: String = r.try_get(0)?;
                let on: NaiveDate = r.try_get(1)?;
                out.entry(loan).or_default().prior = Some((on, snapshot_from_row(&r, 2)?));
            }
            let rows: Vec<(String, NaiveDate, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(track.as_str()))
                .bind(from)
                .bind(start)
                .fetch_all(pool)
                .await?;
            for (loan, on, dpd) in rows {
                let dpd = u32::try_from(dpd).map_err(|e| corrupt("snapshots", e))?;
                out.entry(loan).or_default().track.push((on, dpd));
            }
        });
    }
    Ok(out)
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
    pub loan_id: LoanId,
    /// Its borrower.
    pub borrower_id: BorrowerId,
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
        .int(s.overdue.principal.minor())
        .int(s.overdue.interest.minor())
        .int(s.overdue.fee.minor())
        .int(s.overdue.penalty.minor())
        .int(s.outstanding_principal.minor())
        .int(s.credit.minor())
        .int(i64::from(s.arranged));
}

/// Rows per multi-row statement: a few hundred KiB of SQL, parsed once per thousand rows.
pub(crate) const ROWS_PER_STATEMENT: usize = 1000;

/// Writes a chunk's evaluations: snapshots that changed, each loan's new state, and the
/// borrowers whose cases must be derived again. One transaction per chunk keeps a killed
/// batch resumable: a loan is either wholly evaluated for the date or not at all.
pub async fn write_chunk(tx: &mut Tx, items: &[Evaluated]) -> Result<(), StoreError> {
    let snaps: Vec<(&str, &str, NaiveDate, &Snapshot)> = items
        .iter()
        .flat_map(|e| {
            e.advance.changed.iter().map(move |(on, s)| (e.loan_id.as_str(), e.borrower_id.as_str(), *on, s))
        })
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
        &format!("INSERT INTO snapshots (loan_id, borrower_id, as_of, {SNAPSHOT_COLS})"),
        "",
        &snaps,
        |r, (loan_id, borrower_id, on, s)| {
            r.text(loan_id).text(borrower_id).date(*on);
            snapshot_values(r, s);
        },
    )
    .await?;
    let key = crate::distribution::upsert_key(tx, "loan_id");
    crate::rows::insert_all(
        tx,
        &format!(
            "INSERT INTO loan_state (loan_id, borrower_id, product, currency, first_on, evaluated_on, review_on, \
             dirty_from, {SNAPSHOT_COLS}, prev_status, prev_bucket, prev_bucket_rank, prev_outstanding, track, next_due_on, next_due_amount)"
        ),
        &format!(
            " ON CONFLICT {key} DO UPDATE SET first_on = excluded.first_on, \
         evaluated_on = excluded.evaluated_on, review_on = excluded.review_on, dirty_from = NULL, \
         status = excluded.status, dpd = excluded.dpd, bucket = excluded.bucket, \
         bucket_rank = excluded.bucket_rank, five_class = excluded.five_class, \
         overdue_principal = excluded.overdue_principal, overdue_interest = excluded.overdue_interest, \
         overdue_fee = excluded.overdue_fee, overdue_penalty = excluded.overdue_penalty, \
         outstanding_principal = excluded.outstanding_principal, credit = excluded.credit, arranged = excluded.arranged, \
         prev_status = excluded.prev_status, prev_bucket = excluded.prev_bucket, \
         prev_bucket_rank = excluded.prev_bucket_rank, prev_outstanding = excluded.prev_outstanding, \
         track = excluded.track, next_due_on = excluded.next_due_on, next_due_amount = excluded.next_due_amount"
        ),
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
                .opt_int(prev.map(|p| p.outstanding_principal.minor()))
                .text(&crate::track::to_text(&e.advance.track))
                .opt_date(e.advance.next_due.map(|(on, _)| on))
                .int(e.advance.next_due.map_or(0, |(_, left)| left.minor()));
        },
    )
    .await?;
    crate::case_sync::add(tx, &resync).await?;
    Ok(())
}

/// Notes the payments an import (or a payment recorded by hand, which is a one-row import)
/// brought for loans the batch already knows, inside that import's transaction so the note
/// cannot be lost: a value date on or before the last business date marks the loan for
/// recompute from it; a later one brings the loan's next review forward to it. Returns the
/// loans touched. `loans`, when the caller knows them, are the only loans the payments are
/// for: a booking of a few payments then looks at those loans, not at every loan of the book.
pub async fn note_new_payments(
    tx: &mut Tx,
    import_id: i64,
    loans: Option<&[&str]>,
) -> Result<u64, StoreError> {
    let Some(loans) = loans else { return note_payments_of(tx, import_id, "").await };
    let mut touched = 0;
    for chunk in loans.chunks(crate::rows::keyed::ROWS_PER_STATEMENT) {
        let only = format!(" AND loan_id IN ({})", crate::rows::literal::text_list(chunk));
        touched += note_payments_of(tx, import_id, &only).await?;
    }
    Ok(touched)
}

/// [`note_new_payments`] for the loans that `only` (an SQL condition on `loan_state`, or
/// nothing) leaves.
async fn note_payments_of(tx: &mut Tx, import_id: i64, only: &str) -> Result<u64, StoreError> {
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
                 AND ({column} IS NULL OR {column} > {first}){only}"
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

/// Marks a loan whose ledger changed on `on` by other than a payment (an arrangement, a
/// write-off, a sale), in that change's transaction: evaluated again from `on` if the batch
/// has closed that date, else at the close of `on`.
pub async fn note_event(tx: &mut Tx, loan_id: &str, on: NaiveDate) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        let last: Option<NaiveDate> =
            sqlx::query_scalar("SELECT MAX(business_date) FROM business_days").fetch_one(&mut *conn).await?;
        let column = if last.is_some_and(|l| on <= l) { "dirty_from" } else { "review_on" };
        let sql = format!(
            "UPDATE loan_state SET {column} = $2 WHERE loan_id = $1 AND ({column} IS NULL OR {column} > $2)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(loan_id).bind(on).execute(&mut *conn).await?;
    });
    Ok(())
}

/// What a case owes at the latest close, per currency: what a letter itemises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOwed {
    /// Currency code.
    pub currency: String,
    /// Overdue principal, interest, fee and penalty (minor units).
    pub overdue: Overdue,
    /// Principal not yet due.
    pub outstanding_principal: Amount,
    /// The latest business date its loans were evaluated on.
    pub as_of: NaiveDate,
}

/// What each of these cases owes, by currency, largest overdue first.
pub async fn owed_by_cases(
    db: &Db,
    case_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<CaseOwed>>, StoreError> {
    let mut out: std::collections::HashMap<String, Vec<CaseOwed>> = std::collections::HashMap::new();
    type Row = (String, String, i64, i64, i64, i64, i64, NaiveDate);
    for chunk in case_ids.chunks(500) {
        let sql = format!(
            "SELECT cl.case_id, s.currency, CAST(SUM(s.overdue_principal) AS BIGINT), \
             CAST(SUM(s.overdue_interest) AS BIGINT), CAST(SUM(s.overdue_fee) AS BIGINT), \
             CAST(SUM(s.overdue_penalty) AS BIGINT), CAST(SUM(s.outstanding_principal) AS BIGINT), \
             MAX(s.evaluated_on) \
             FROM case_loans cl JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id \
             WHERE cl.case_id IN ({}) GROUP BY cl.case_id, s.currency",
            text_list(chunk)
        );
        let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
        for r in rows {
            let overdue = Overdue {
                principal: Amount::from_minor(r.2),
                interest: Amount::from_minor(r.3),
                fee: Amount::from_minor(r.4),
                penalty: Amount::from_minor(r.5),
            };
            out.entry(r.0).or_default().push(CaseOwed {
                currency: r.1,
                overdue,
                outstanding_principal: Amount::from_minor(r.6),
                as_of: r.7,
            });
        }
    }
    for owed in out.values_mut() {
        owed.sort_by(|a, b| {
            b.overdue.total().cmp(&a.overdue.total()).then_with(|| a.currency.cmp(&b.currency))
        });
    }
    Ok(out)
}
