//! Storage for arrears: one [`Db`] over SQLite (the embedded default) or
//! PostgreSQL, chosen by the URL, with migrations for both.
//!
//! Queries are written once in SQL that both databases accept (`$1` parameters,
//! standard joins) and run through the [`on_pool!`]/[`on_tx!`] macros, which
//! expand the same code for each backend: no `sqlx::Any`, no duplicated SQL.
#![deny(unsafe_code)]

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

// One module per table or group of tables it writes; readers of other tables say so.
pub mod actions;
pub mod alert_pushes;
pub mod alerts;
pub mod api_keys;
pub mod arrangements;
pub mod audit;
pub mod batch_chunks;
pub mod case_sync;
pub mod case_treatment;
pub mod cases;
pub mod contact_points;
pub mod days;
pub mod delivery;
pub mod distribution;
pub mod events;
pub mod figures;
pub mod import;
pub mod ledger_events;
pub mod legal;
pub mod loan_state;
pub mod loans;
pub mod lock;
pub mod outbox;
pub mod payments;
pub mod people;
pub mod personal;
pub mod placements;
pub mod products;
pub mod ptps;
pub mod receipts;
pub mod reminders;
pub mod restrictions;
pub mod scores;
pub mod sessions;
pub mod staff;
pub mod strategies;
pub mod tasks;
mod track;
pub mod transfers;
pub mod treatment;
pub mod workbench;
pub mod write_offs;

// How many rows move at once, and the backend-only fast paths.
mod postgres;
pub mod rows;
mod sqlite;

/// Runs `$body` with `$pool` bound to the backend's pool.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection (`&mut *tx`).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

/// Stored data that arrears itself could not have written, in `table`.
pub(crate) fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}

/// An id read back from `table`: arrears wrote it valid, so a bad one is corruption.
pub(crate) fn stored_id<T>(table: &'static str, text: String) -> Result<T, StoreError>
where
    T: TryFrom<String, Error = arrears_core::id::IdError>,
{
    T::try_from(text).map_err(|e| corrupt(table, e))
}

/// A status (or other enumerated text) read back from `table`; one arrears never writes is
/// corruption.
pub(crate) fn stored_enum<T>(table: &'static str, text: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr<Err = arrears_core::book::EnumError>,
{
    text.parse().map_err(|e| corrupt(table, e))
}

/// Like [`stored_id`], for a column that may be empty (NULL).
pub(crate) fn stored_opt_id<T>(table: &'static str, text: Option<String>) -> Result<Option<T>, StoreError>
where
    T: TryFrom<String, Error = arrears_core::id::IdError>,
{
    text.map(|t| stored_id(table, t)).transpose()
}

/// A date stored as text in `table`, or the corruption that names it.
pub(crate) fn parse_date(table: &'static str, text: &str) -> Result<chrono::NaiveDate, StoreError> {
    arrears_core::calendar::parse_iso_date(text).ok_or_else(|| corrupt(table, format!("date {text:?}")))
}

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database arrears supports.
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// Could not open or reach the database.
    #[error("cannot open the database {url}: {source}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// Stored data that arrears itself could not have written.
    #[error("corrupt data in table {table}: {detail}")]
    Corrupt {
        /// The table holding the unreadable data.
        table: &'static str,
        /// What in it could not be read: the column or the value.
        detail: String,
    },
    /// A statement run through SQLite's own interface failed.
    #[error("database error: {0}")]
    Sqlite(String),
    /// A bulk write's rows do not fit its statement's columns (a fault in arrears itself).
    #[error("bulk write refused: {0}")]
    Rows(String),
    /// Another process holds the lock this one needs.
    #[error("{0}")]
    Busy(String),
}

/// A connection pool to one of the supported databases.
#[derive(Clone)]
pub enum Db {
    /// SQLite file in WAL mode.
    Sqlite(SqlitePool),
    /// PostgreSQL server.
    Postgres(PgPool),
}

/// An open transaction on a [`Db`].
pub enum Tx {
    /// SQLite transaction.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL transaction.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://arrears.db";

/// A database URL with its password hidden whenever it is printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl DbUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> DbUrl {
        DbUrl(url.into())
    }

    /// The URL itself, password included: for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for `sqlite:` URLs.
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // postgres://user:secret@host/db → postgres://user:***@host/db
        if let Some((scheme, rest)) = self.0.split_once("://")
            && let Some((auth, host)) = rest.split_once('@')
            && let Some((user, _)) = auth.split_once(':')
        {
            return write!(f, "{scheme}://{user}:***@{host}");
        }
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

impl Db {
    /// Opens the database named by `url`, creating a SQLite file if missing, and migrates it.
    pub async fn open(url: &DbUrl) -> Result<Db, StoreError> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Opens the database without migrating.
    pub async fn connect(url: &DbUrl) -> Result<Db, StoreError> {
        let connect_err = |source| StoreError::Connect { url: url.to_string(), source };
        let raw = url.expose();
        if url.is_sqlite() {
            let opts = SqliteConnectOptions::from_str(raw)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                // 96 MiB of page cache per connection; the import raises its own (see begin_import).
                .pragma("cache_size", "-98304")
                .pragma("temp_store", "memory");
            // Each connection may fill its own page cache: four of them (the batch reads three
            // parts of the book while it writes) keep a process under 1 GiB however large the book.
            let pool =
                SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(connect_err)?;
            Ok(Db::Sqlite(pool))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            // JIT compiling took longer than running the batch's short chunk queries (10 ms
            // each); nothing here scans enough to repay it.
            let opts = PgConnectOptions::from_str(raw).map_err(connect_err)?.options([("jit", "off")]);
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Db::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// Refreshes the planner's statistics on PostgreSQL, whose plans after a bulk load are
    /// otherwise made blind (a sequential scan of every payment per chunk); SQLite's
    /// plans do not depend on them, so it is left alone there.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        if let Db::Postgres(p) = self {
            sqlx::raw_sql("ANALYZE").execute(p).await?;
        }
        Ok(())
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads and then writes cannot wait for another process's
    /// writer (SQLite answers "database is locked" at once, whatever the busy timeout), and
    /// the server, the dispatcher and the batch write the same file.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Name of the backend, for messages.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Number of rows in a table of the schema (for reports and tests).
    pub async fn count(&self, table: &str) -> Result<i64, StoreError> {
        // Only names from the schema: never interpolate user input here.
        debug_assert!(table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        let sql = format!("SELECT COUNT(*) FROM {table}");
        Ok(
            on_pool!(self, p => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str())).fetch_one(p).await?),
        )
    }

    /// Closes the pool, flushing SQLite's WAL.
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

impl Tx {
    /// Commits: everything written in the transaction is kept, or nothing of it if the commit fails.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Rolls back; everything written in the transaction is gone.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_is_hidden() {
        let u = DbUrl::new("postgres://bob:hunter2@db.local:5432/arrears");
        assert_eq!(u.to_string(), "postgres://bob:***@db.local:5432/arrears");
        assert!(!format!("{u:?}").contains("hunter2"));
        assert_eq!(DbUrl::new("sqlite://arrears.db").to_string(), "sqlite://arrears.db");
    }
}
