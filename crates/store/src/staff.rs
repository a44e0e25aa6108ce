//! Collectors and agencies (tables `collectors`, `collector_days_off`, `agencies`): who works
//! the queues and with what capacity and skills, and the outside agencies cases are placed with.

use arrears_core::id::{AgencyId, CollectorId};
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

type CollectorTuple = (String, String, String, i64, String, String, String, String);

/// A collector as stored; lists are comma-separated, empty meaning any.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CollectorRow {
    /// The collector's id, also the user name the collector logs in with.
    pub collector_id: CollectorId,
    /// The collector's name as people see it.
    pub name: String,
    /// The collector's team; its collectors and supervisor see the cases allocated to the collector.
    pub team: String,
    /// Queue tasks a day.
    pub capacity: i64,
    /// Queues worked.
    pub queues: String,
    /// Languages spoken.
    pub languages: String,
    /// Buckets worked.
    pub buckets: String,
    /// Products worked.
    pub products: String,
}

/// Adds or updates a collector and adds their days off.
pub async fn put_collector(db: &Db, c: &CollectorRow, days_off: &[NaiveDate]) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    put_collector_tx(&mut tx, c, days_off).await?;
    tx.commit().await
}

/// [`put_collector`] in the caller's transaction, so that its audit entry commits with it.
pub async fn put_collector_tx(
    tx: &mut Tx,
    c: &CollectorRow,
    days_off: &[NaiveDate],
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO collectors (collector_id, name, team, capacity, queues, languages, buckets, products) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (collector_id) DO UPDATE SET \
             name = excluded.name, team = excluded.team, capacity = excluded.capacity, queues = excluded.queues, \
             languages = excluded.languages, buckets = excluded.buckets, products = excluded.products",
        )
        .bind(c.collector_id.as_str()).bind(&c.name).bind(&c.team).bind(c.capacity).bind(&c.queues)
        .bind(&c.languages).bind(&c.buckets).bind(&c.products)
        .execute(&mut *conn).await?;
        for d in days_off {
            sqlx::query("INSERT INTO collector_days_off (collector_id, day) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(c.collector_id.as_str()).bind(*d).execute(&mut *conn).await?;
        }
    });
    Ok(())
}

/// Every active collector.
pub async fn collectors(db: &Db) -> Result<Vec<CollectorRow>, StoreError> {
    let sql = format!("SELECT {COLLECTOR_COLS} FROM collectors c WHERE c.active = 1 ORDER BY c.collector_id");
    let rows: Vec<CollectorTuple> =
        on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    rows.into_iter().map(collector).collect()
}

pub(crate) const COLLECTOR_COLS: &str =
    "c.collector_id, c.name, c.team, c.capacity, c.queues, c.languages, c.buckets, c.products";

pub(crate) fn collector(t: CollectorTuple) -> Result<CollectorRow, StoreError> {
    let (collector_id, name, team, capacity, queues, languages, buckets, products) = t;
    let collector_id = crate::stored_id("collectors", collector_id)?;
    Ok(CollectorRow { collector_id, name, team, capacity, queues, languages, buckets, products })
}

/// An agency as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgencyRow {
    /// The agency's id: what a strategy's placement step names and an agency user's `agency` holds.
    pub agency_id: AgencyId,
    /// The agency's name as people see it.
    pub name: String,
    /// Commission on recoveries, a decimal fraction as text.
    pub commission_rate: String,
}

/// Adds or updates an agency.
pub async fn put_agency(db: &Db, a: &AgencyRow) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    put_agency_tx(&mut tx, a).await?;
    tx.commit().await
}

/// [`put_agency`] in the caller's transaction, so that its audit entry commits with it.
pub async fn put_agency_tx(tx: &mut Tx, a: &AgencyRow) -> Result<(), StoreError> {
    on_tx!(tx, p => sqlx::query(
        "INSERT INTO agencies (agency_id, name, commission_rate) VALUES ($1, $2, $3) \
         ON CONFLICT (agency_id) DO UPDATE SET name = excluded.name, commission_rate = excluded.commission_rate",
    ).bind(a.agency_id.as_str()).bind(&a.name).bind(&a.commission_rate).execute(p).await?.rows_affected());
    Ok(())
}

/// Every active agency.
pub async fn agencies(db: &Db) -> Result<Vec<AgencyRow>, StoreError> {
    let rows: Vec<(String, String, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT agency_id, name, commission_rate FROM agencies WHERE active = 1 ORDER BY agency_id",
    ).fetch_all(p).await?);
    rows.into_iter()
        .map(|(agency_id, name, commission_rate)| {
            Ok(AgencyRow { agency_id: crate::stored_id("agencies", agency_id)?, name, commission_rate })
        })
        .collect()
}
