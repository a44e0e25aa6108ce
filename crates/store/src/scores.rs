//! Behaviour scores: the history the behaviour models read (loans with their payments,
//! snapshots, promises and cases of a page of borrowers, in a handful of bulk queries), the
//! installed model files, and the scores stored per borrower and business date.

use arrears_core::id::BorrowerId;
use std::collections::HashMap;

use arrears_core::Amount;
use arrears_core::behaviour::{CaseRecord, KeptBorrower, KeptLoan, PromiseRecord, SnapshotPoint};
use arrears_core::delinquency::LoanStatus;
use arrears_core::ptp::PtpStatus;
use chrono::NaiveDate;

use crate::batch_chunks::KeyRange;
use crate::corrupt;
use crate::loans::{LOAN_FIELDS, LoanBundle, attach, loan_from_row};
use crate::rows::literal::text_list;
use crate::rows::packed::{self, Fields, RECORD, Record};
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A borrower, a text and an optional date as text, as two of the history's reads return them.
type DatedText = (String, String, Option<String>);

/// Borrowers that were past due on some date of `from..=to` or had a case open then: the
/// only ones a behaviour model is trained on. In id order.
pub async fn candidates(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<Vec<String>, StoreError> {
    on_pool!(db, p => Ok(sqlx::query_scalar(
        "SELECT l.borrower_id FROM snapshots s JOIN loans l ON l.loan_id = s.loan_id AND l.borrower_id = s.borrower_id \
         WHERE s.dpd > 0 AND s.as_of >= $1 AND s.as_of <= $2 \
         UNION SELECT borrower_id FROM cases WHERE status <> 'void' AND opened_on <= $2 \
         AND (closed_on IS NULL OR closed_on > $1) ORDER BY 1",
    ).bind(from).bind(to).fetch_all(p).await?))
}

/// Borrowers the batch scores on a date: those with an open case or a loan in M1 (the
/// first past-due bucket). In id order.
pub async fn to_score(db: &Db, range: &KeyRange) -> Result<Vec<BorrowerId>, StoreError> {
    let only = range.sql("borrower_id");
    let sql = format!(
        "SELECT borrower_id FROM cases WHERE status = 'open'{only} \
         UNION SELECT borrower_id FROM loan_state WHERE bucket_rank = 1 AND status = 'active'{only} ORDER BY 1"
    );
    let ids: Vec<String> =
        on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    ids.into_iter().map(|id| crate::stored_id("cases", id)).collect()
}

/// What is stored of one borrower for the behaviour features.
#[derive(Debug, Clone, Default)]
pub struct StoredHistory {
    /// Each loan with its snapshots in date order (the first may be the one in force at the
    /// start of the window asked for).
    pub loans: Vec<(LoanBundle, Vec<SnapshotPoint>)>,
    /// Promises to pay over all of its cases.
    pub promises: Vec<PromiseRecord>,
    /// Its cases, void ones left out.
    pub cases: Vec<CaseRecord>,
}

/// The histories of `borrowers`: loans with schedules and payments, snapshots dated in
/// (`start`, `through`] plus the one in force at `start`, promises and cases. Five queries
/// for the whole page, whatever its size.
pub async fn histories(
    db: &Db,
    borrowers: &[String],
    start: NaiveDate,
    through: NaiveDate,
) -> Result<HashMap<String, StoredHistory>, StoreError> {
    let mut out: HashMap<String, StoredHistory> = HashMap::with_capacity(borrowers.len());
    if borrowers.is_empty() {
        return Ok(out);
    }
    let ids = text_list(borrowers);
    let loan_sql = format!(
        "SELECT {} FROM loans l LEFT JOIN products p ON p.product = l.product WHERE l.borrower_id IN ({ids}) \
         ORDER BY l.loan_id",
        LOAN_FIELDS.join(", ")
    );
    let heads = on_pool!(db, pool => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(loan_sql.as_str())).persistent(false).fetch_all(pool).await?;
        rows.iter().map(loan_from_row).collect::<Result<Vec<_>, _>>()?
    });
    let bundles = attach(db, heads).await?;
    // Snapshots come back packed into one text: a delinquent loan has one a day.
    let cols = ["s.loan_id", "s.as_of", "s.status", "s.dpd", "s.bucket_rank", "s.outstanding_principal"];
    // The window's rows by key range, and the one row in force at its start by one look-up
    // per loan, so a long history before the window is never read.
    let snap_sql = format!(
        "SELECT string_agg(rec, '{RECORD}') FROM (\
         SELECT {pack} AS rec FROM loans l JOIN snapshots s ON s.loan_id = l.loan_id AND s.borrower_id = l.borrower_id \
         WHERE l.borrower_id IN ({ids}) AND s.as_of > $1 AND s.as_of <= $2 \
         UNION ALL SELECT {pack} AS rec FROM loans l JOIN snapshots s ON s.loan_id = l.loan_id AND s.borrower_id = l.borrower_id \
         AND s.as_of = (SELECT MAX(x.as_of) FROM snapshots x WHERE x.loan_id = l.loan_id AND x.as_of <= $1) \
         WHERE l.borrower_id IN ({ids})) t",
        pack = packed::pack(&cols)
    );
    let snaps: Option<String> = on_pool!(db, pool => {
        sqlx::Row::try_get(
            &sqlx::query(sqlx::AssertSqlSafe(snap_sql.as_str()))
                .bind(start)
                .bind(through)
                .persistent(false)
                .fetch_one(pool)
                .await?,
            0,
        )?
    });
    let mut by_loan: HashMap<&str, Vec<SnapshotPoint>> = HashMap::new();
    for rec in packed::records(snaps.as_deref()) {
        let f = Fields::split("snapshots", rec);
        let status = f.raw(2)?;
        let status =
            LoanStatus::parse(status).ok_or_else(|| corrupt("snapshots", format!("status {status:?}")))?;
        by_loan.entry(f.raw(0)?).or_default().push(SnapshotPoint {
            as_of: f.date(1)?,
            dpd: u32::try_from(f.int(3)?).map_err(|e| corrupt("snapshots", e))?,
            bucket_rank: u32::try_from(f.int(4)?).map_err(|e| corrupt("snapshots", e))?,
            outstanding_principal: Amount::from_minor(f.int(5)?),
            active: status == LoanStatus::Active,
        });
    }
    for b in bundles {
        let mut snaps = by_loan.remove(b.loan.id.as_str()).unwrap_or_default();
        snaps.sort_by_key(|s| s.as_of);
        out.entry(b.loan.borrower_id.as_str().to_string()).or_default().loans.push((b, snaps));
    }
    let (promises, cases) = promises_and_cases(db, &ids).await?;
    for (b, p) in promises {
        out.entry(b).or_default().promises.push(p);
    }
    for (b, c) in cases {
        out.entry(b).or_default().cases.push(c);
    }
    Ok(out)
}

/// Promises to pay and non-void cases of the borrowers in the SQL list `ids`, by borrower.
async fn promises_and_cases(
    db: &Db,
    ids: &str,
) -> Result<(Vec<(String, PromiseRecord)>, Vec<(String, CaseRecord)>), StoreError> {
    let ptp_sql = format!(
        "SELECT c.borrower_id, t.status, CAST(t.evaluated_on AS TEXT) FROM ptps t \
         JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id WHERE c.borrower_id IN ({ids})"
    );
    let case_sql = format!(
        "SELECT borrower_id, CAST(opened_on AS TEXT), CAST(closed_on AS TEXT) FROM cases \
         WHERE status <> 'void' AND borrower_id IN ({ids})"
    );
    let (ptps, cases): (Vec<DatedText>, Vec<DatedText>) = on_pool!(db, pool => (
        sqlx::query_as(sqlx::AssertSqlSafe(ptp_sql.as_str())).persistent(false).fetch_all(pool).await?,
        sqlx::query_as(sqlx::AssertSqlSafe(case_sql.as_str())).persistent(false).fetch_all(pool).await?,
    ));
    let date = |table: &'static str, s: &str| {
        arrears_core::calendar::parse_iso_date(s).ok_or_else(|| corrupt(table, format!("date {s:?}")))
    };
    let mut promises = Vec::with_capacity(ptps.len());
    for (b, status, on) in ptps {
        let status =
            PtpStatus::parse(&status).ok_or_else(|| corrupt("ptps", format!("status {status:?}")))?;
        let judged_on = on.as_deref().map(|s| date("ptps", s)).transpose()?;
        promises.push((b, PromiseRecord { status, judged_on }));
    }
    let mut spans = Vec::with_capacity(cases.len());
    for (b, opened, closed) in cases {
        let rec = CaseRecord {
            opened_on: date("cases", &opened)?,
            closed_on: closed.as_deref().map(|s| date("cases", s)).transpose()?,
        };
        spans.push((b, rec));
    }
    Ok((promises, spans))
}

/// What the batch keeps of `borrowers` for scoring on `date`, in two queries for the page:
/// each loan's state with its behaviour track, promises and cases. A borrower maps to `None`
/// when one of its loans has no track current for `date` (never evaluated, kept before
/// tracks were, or awaiting a recompute): its features must be read the long way
/// ([`histories`]).
pub async fn kept(
    db: &Db,
    borrowers: &[impl AsRef<str>],
    date: NaiveDate,
) -> Result<HashMap<String, Option<KeptBorrower>>, StoreError> {
    let mut out: HashMap<String, Option<KeptBorrower>> = HashMap::with_capacity(borrowers.len());
    if borrowers.is_empty() {
        return Ok(out);
    }
    let ids = text_list(borrowers);
    let cols = [
        "l.borrower_id",
        "l.principal",
        "s.status",
        "s.dpd",
        "s.bucket_rank",
        "s.outstanding_principal",
        "s.evaluated_on",
        "s.review_on",
        "s.dirty_from",
        "s.track",
    ];
    let sql = format!(
        "SELECT string_agg(rec, '{RECORD}') FROM (SELECT {} AS rec FROM loans l \
         LEFT JOIN loan_state s ON s.loan_id = l.loan_id AND s.borrower_id = l.borrower_id WHERE l.borrower_id IN ({ids})) t",
        packed::pack(&cols)
    );
    let text: Option<String> = on_pool!(db, pool => {
        sqlx::Row::try_get(
            &sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false).fetch_one(pool).await?,
            0,
        )?
    });
    for rec in packed::records(text.as_deref()) {
        let f = Fields::split("loan_state", rec);
        let borrower = f.raw(0)?;
        let loan = match (f.opt_date(6)?, f.opt_text(9)?) {
            // Evaluated on or before the date, not due again by it, and its track kept.
            (Some(on), Some(track))
                if on <= date && f.opt_date(8)?.is_none() && f.opt_date(7)?.is_none_or(|r| r > date) =>
            {
                let status = f.raw(2)?;
                let status = LoanStatus::parse(status)
                    .ok_or_else(|| corrupt("loan_state", format!("status {status:?}")))?;
                Some(KeptLoan {
                    principal: Amount::from_minor(f.int(1)?),
                    snapshot: SnapshotPoint {
                        as_of: on,
                        dpd: u32::try_from(f.int(3)?).map_err(|e| corrupt("loan_state", e))?,
                        bucket_rank: u32::try_from(f.int(4)?).map_err(|e| corrupt("loan_state", e))?,
                        outstanding_principal: Amount::from_minor(f.int(5)?),
                        active: status == LoanStatus::Active,
                    },
                    track: crate::track::from_text(&track)?,
                })
            }
            _ => None,
        };
        let entry = out.entry(borrower.to_string()).or_insert_with(|| Some(KeptBorrower::default()));
        match (entry.as_mut(), loan) {
            (Some(b), Some(l)) => b.loans.push(l),
            _ => *entry = None,
        }
    }
    let (promises, cases) = promises_and_cases(db, &ids).await?;
    for (b, p) in promises {
        if let Some(Some(k)) = out.get_mut(&b) {
            k.promises.push(p);
        }
    }
    for (b, c) in cases {
        if let Some(Some(k)) = out.get_mut(&b) {
            k.cases.push(c);
        }
    }
    Ok(out)
}

/// An installed behaviour model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledModel {
    /// Install number, from 1.
    pub version: i64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// The file's text.
    pub source: String,
    /// When it was installed.
    pub installed_at: String,
}

/// Stores a model file as the next version and returns that version; the same file as the
/// latest installed one is not stored again (its version is returned).
pub async fn install_model(
    tx: &mut Tx,
    sha256: &str,
    source: &str,
    at: &str,
) -> Result<(i64, bool), StoreError> {
    on_tx!(tx, c => {
        let latest: Option<(i64, String)> =
            sqlx::query_as("SELECT version, sha256 FROM score_models ORDER BY version DESC LIMIT 1")
                .fetch_optional(&mut *c)
                .await?;
        if let Some((v, sha)) = &latest
            && sha == sha256
        {
            return Ok((*v, false));
        }
        let version = latest.map_or(1, |(v, _)| v + 1);
        sqlx::query("INSERT INTO score_models (version, sha256, source, installed_at) VALUES ($1, $2, $3, $4)")
            .bind(version)
            .bind(sha256)
            .bind(source)
            .bind(at)
            .execute(&mut *c)
            .await?;
        Ok((version, true))
    })
}

/// The model in force: the highest installed version.
pub async fn installed_model(db: &Db) -> Result<Option<InstalledModel>, StoreError> {
    let row: Option<(i64, String, String, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT version, sha256, source, installed_at FROM score_models ORDER BY version DESC LIMIT 1",
    ).fetch_optional(p).await?);
    Ok(row.map(|(version, sha256, source, installed_at)| InstalledModel {
        version,
        sha256,
        source,
        installed_at,
    }))
}

/// One stored score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreRow {
    /// The borrower scored; scores are per borrower, not per loan or case.
    pub borrower_id: BorrowerId,
    /// `roll` or `ptp`.
    pub kind: &'static str,
    /// Installed model version that scored it.
    pub model_version: i64,
    /// Probability in parts per million.
    pub probability_ppm: i64,
    /// Scorecard points, rounded.
    pub points: i64,
    /// Variables that cost the most points, comma-separated, worst first.
    pub reasons: String,
}

/// Stores the scores of `date` in place of every score stored for it before for the
/// borrowers of `range`.
pub async fn replace_scores(
    tx: &mut Tx,
    date: NaiveDate,
    range: &KeyRange,
    rows: &[ScoreRow],
) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM scores WHERE business_date = $1{}", range.sql("borrower_id"));
    on_tx!(tx, c => {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(date).execute(&mut *c).await?;
    });
    crate::rows::insert_all(
        tx,
        "INSERT INTO scores (borrower_id, business_date, kind, model_version, probability_ppm, points, reasons)",
        "",
        rows,
        |x, r| {
            x.text(&r.borrower_id)
                .date(date)
                .text(r.kind)
                .int(r.model_version)
                .int(r.probability_ppm)
                .int(r.points)
                .text(&r.reasons);
        },
    )
    .await?;
    Ok(())
}

/// A borrower's scores on a date, as conditions read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScoreFacts {
    /// Probability of rolling to M2, ppm.
    pub roll_ppm: Option<i64>,
    /// Propensity to pay, ppm.
    pub ptp_ppm: Option<i64>,
    /// Behaviour points (the roll model's).
    pub points: Option<i64>,
    /// The behaviour points of the latest earlier date scored.
    pub previous_points: Option<i64>,
}

/// The scores stored for `date` of every borrower scored then (all of them when `borrowers`
/// is `None`), with each one's roll points of the latest earlier date.
pub async fn scores_on(
    db: &Db,
    date: NaiveDate,
    borrowers: Option<&[String]>,
) -> Result<HashMap<String, ScoreFacts>, StoreError> {
    if borrowers.is_some_and(<[String]>::is_empty) {
        return Ok(HashMap::new());
    }
    let only = |col: &str| borrowers.map_or(String::new(), |b| format!("AND {col} IN ({})", text_list(b)));
    let sql = format!(
        "SELECT borrower_id, kind, probability_ppm, points FROM scores WHERE business_date = $1 {}",
        only("borrower_id")
    );
    let rows: Vec<(String, String, i64, i64)> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(date).persistent(false).fetch_all(p).await?);
    let mut out: HashMap<String, ScoreFacts> = HashMap::with_capacity(rows.len());
    for (b, kind, ppm, points) in rows {
        let f = out.entry(b).or_default();
        match kind.as_str() {
            "roll" => {
                f.roll_ppm = Some(ppm);
                f.points = Some(points);
            }
            _ => f.ptp_ppm = Some(ppm),
        }
    }
    // One look-up by key per borrower scored on the date.
    let prev_sql = format!(
        "SELECT d.borrower_id, (SELECT x.points FROM scores x WHERE x.borrower_id = d.borrower_id \
         AND x.kind = 'roll' AND x.business_date < $1 ORDER BY x.business_date DESC LIMIT 1) \
         FROM scores d WHERE d.business_date = $1 AND d.kind = 'roll' {}",
        only("d.borrower_id")
    );
    let prev: Vec<(String, Option<i64>)> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(prev_sql.as_str()))
        .bind(date).persistent(false).fetch_all(p).await?);
    for (b, points) in prev {
        if let Some(f) = out.get_mut(&b) {
            f.previous_points = points;
        }
    }
    Ok(out)
}
