//! Business dates and their shards (tables `business_days`, `batch_shards`): which dates the
//! batch started and finished, and how a date's book was split among workers.

use chrono::NaiveDate;

use crate::{Db, StoreError, Tx, corrupt, on_pool, on_tx};

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
    key_bounds(db, Keys::Loans, shard, shards).await
}

/// Which ids a book is cut by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Loan ids (table `loans`).
    Loans,
    /// Borrower ids (table `borrowers`).
    Borrowers,
}

/// Part `part` (from 0) of `parts` of the book's ids in id order: ids after the first bound,
/// up to and including the second (`None`: unbounded); parts hold as nearly the same number
/// of ids as can be.
pub async fn key_bounds(
    db: &Db,
    keys: Keys,
    part: u32,
    parts: u32,
) -> Result<(Option<String>, Option<String>), StoreError> {
    if parts <= 1 {
        return Ok((None, None));
    }
    let (table, sql) = match keys {
        Keys::Loans => ("loans", "SELECT loan_id FROM loans ORDER BY loan_id LIMIT 1 OFFSET $1"),
        Keys::Borrowers => {
            ("borrowers", "SELECT borrower_id FROM borrowers ORDER BY borrower_id LIMIT 1 OFFSET $1")
        }
    };
    let total = db.count(table).await?;
    let at = |k: u32| (total * i64::from(k)) / i64::from(parts);
    let bound = |offset: i64| async move {
        if offset <= 0 || offset > total {
            return Ok::<_, StoreError>(None);
        }
        on_pool!(db, pool => {
            Ok(sqlx::query_scalar::<_, String>(sql).bind(offset - 1).fetch_optional(pool).await?)
        })
    };
    let lo = if part == 0 { None } else { bound(at(part)).await? };
    let hi = if part + 1 >= parts {
        None
    } else if at(part + 1) == 0 {
        // More parts than ids: this one is empty. No id is at most the empty text,
        // whereas `None` would mean the whole book.
        Some(String::new())
    } else {
        bound(at(part + 1)).await?
    };
    Ok((lo, hi))
}

/// Every part of [`key_bounds`] at once, read in one pass over the ids' index.
pub async fn key_parts(
    db: &Db,
    keys: Keys,
    parts: u32,
) -> Result<Vec<(Option<String>, Option<String>)>, StoreError> {
    if parts <= 1 {
        return Ok(vec![(None, None)]);
    }
    let (table, col) = match keys {
        Keys::Loans => ("loans", "loan_id"),
        Keys::Borrowers => ("borrowers", "borrower_id"),
    };
    let total = db.count(table).await?;
    // Part k ends with the id numbered total * (k + 1) / parts (from 1), as in key_bounds.
    let ends: Vec<i64> = (1..parts).map(|k| (total * i64::from(k)) / i64::from(parts)).collect();
    let wanted: Vec<String> = ends.iter().filter(|n| **n > 0).map(i64::to_string).collect();
    let mut ids: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    if !wanted.is_empty() {
        let sql = format!(
            "SELECT n, id FROM (SELECT {col} AS id, ROW_NUMBER() OVER (ORDER BY {col}) AS n FROM {table}) x \
             WHERE n IN ({})",
            wanted.join(", ")
        );
        let rows: Vec<(i64, String)> =
            on_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(pool).await?);
        ids.extend(rows);
    }
    // An end numbered 0 (more parts than ids) is the empty text: no id is at most it.
    let end = |n: i64| if n == 0 { Some(String::new()) } else { ids.get(&n).cloned() };
    let mut out = Vec::with_capacity(parts as usize);
    let mut lo = None;
    for n in &ends {
        let hi = end(*n);
        out.push((lo, hi.clone()));
        lo = if *n == 0 { None } else { hi };
    }
    out.push((lo, None));
    Ok(out)
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
