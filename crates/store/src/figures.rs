//! Portfolio figures (tables `portfolio_figures`, `roll_rates`): the book summed per date by
//! status, product, bucket and five-class, and the roll-rate matrix.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use arrears_core::Amount;
use arrears_core::delinquency::{FiveClass, LoanStatus};
use chrono::NaiveDate;

use crate::rows::literal::Values;
use crate::rows::packed::Record;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

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
    let sums = crate::sqlite::rows::fold_rows(pool, sql, "loan_state", Sums::default(), |acc, r| {
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
    /// Loans in the group on the date.
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
                outstanding_principal: Amount::from_minor(o),
                overdue_total: Amount::from_minor(t),
            })
            .collect(),
        r.into_iter()
            .map(|(currency, from_bucket, to_bucket, loans, b)| RollRow {
                currency,
                from_bucket,
                to_bucket,
                loans,
                balance: Amount::from_minor(b),
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
