//! Shared helpers: a fresh database per backend, CSV files in a temp dir, and
//! snapshots of the whole database to prove that a rejected import wrote nothing.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use arrears_app::import::{ImportError, ImportSummary, Quiet, import_dir};
use arrears_store::{Db, DbUrl};
use sqlx::Row as _;
use tempfile::TempDir;

/// The import's start time recorded by every test import.
pub const NOW: &str = "2024-06-01T00:00:00Z";

/// [`NOW`] as the instant the tests hand in.
pub fn now() -> arrears_app::audit::At {
    chrono::DateTime::parse_from_rfc3339(NOW).expect("NOW is an instant")
}

/// A clock that always reads [`NOW`] (not every test binary that includes this file uses it).
#[allow(dead_code)]
pub fn clock() -> arrears_app::audit::Clock {
    arrears_app::audit::fixed_clock(now())
}

/// A fresh, migrated database on one backend; the PostgreSQL database is dropped on drop.
pub struct TestDb {
    /// The database.
    pub db: Db,
    /// `sqlite` or `postgres`, for failure messages.
    pub backend: &'static str,
    /// Where it is (the batch locks by it).
    pub url: DbUrl,
    _dir: Option<TempDir>,
    /// Admin URL and database name, to drop it afterwards.
    pg: Option<(String, String)>,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let url = DbUrl::new(url);
        let db = Db::open(&url).await.expect("open sqlite");
        TestDb { db, backend: "sqlite", url, _dir: Some(dir), pg: None }
    }

    async fn postgres(admin: &str) -> TestDb {
        let name = format!("arrears_t_{:016x}", random_u64());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
            .await
            .unwrap_or_else(|e| panic!("ARREARS_TEST_PG={admin}: cannot connect: {e}"));
        let create = format!("CREATE DATABASE {name}");
        let mut tries = 0;
        loop {
            match sqlx::raw_sql(sqlx::AssertSqlSafe(create.as_str())).execute(&mut conn).await {
                Ok(_) => break,
                // Concurrent CREATE DATABASE from the same template can collide briefly.
                Err(_) if tries < 20 => {
                    tries += 1;
                    tokio::task::yield_now().await;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("{create}: {e}"),
            }
        }
        let _ = sqlx::Connection::close(conn).await;
        let url = DbUrl::new(with_database(admin, &name));
        let db = Db::open(&url).await.expect("open postgres");
        if partitioned() {
            // The layout a distributed PostgreSQL needs, as PostgreSQL's own hash partitions.
            arrears_store::distribution::partition_by_borrower(&db, 4)
                .await
                .unwrap_or_else(|e| panic!("partitioning {name}: {e}"));
        }
        TestDb { db, backend: "postgres", url, _dir: None, pg: Some((admin.to_string(), name)) }
    }
}

impl TestDb {
    /// Another fresh database on the same backend as `other`.
    #[allow(dead_code, reason = "the batch tests of arrears-cli share this module")]
    pub async fn like(other: &TestDb) -> TestDb {
        match other.backend {
            "postgres" => TestDb::postgres(&pg_url().expect("postgres under test")).await,
            _ => TestDb::sqlite().await,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("*** the failure above happened on backend {}", self.backend);
        }
        if let Some((admin, name)) = self.pg.take() {
            // Best effort, on its own thread and runtime: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.ok()?;
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(drop.as_str())).execute(&mut c).await.ok()
                })
            })
            .join();
        }
    }
}

/// `url` with its database name replaced by `name` (query string kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[start..].find('/') {
        Some(i) => &base[..start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A random 64-bit number (std's randomly keyed hasher, mixed with the time).
pub fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// Whether the PostgreSQL databases under test have their book tables hash-partitioned by
/// borrower (`ARREARS_TEST_PG_LAYOUT=partitioned`), as a distributed PostgreSQL spreads them.
pub fn partitioned() -> bool {
    std::env::var("ARREARS_TEST_PG_LAYOUT").is_ok_and(|v| v == "partitioned")
}

/// The PostgreSQL admin URL under test, if any.
pub fn pg_url() -> Option<String> {
    std::env::var("ARREARS_TEST_PG").ok().filter(|s| !s.trim().is_empty())
}

/// Runs `test` once per backend under test, each time on a fresh database.
pub async fn each_backend(test: impl AsyncFn(&TestDb)) {
    // The partitioned layout is a second look at PostgreSQL: SQLite ran already.
    let mut dbs = if partitioned() { Vec::new() } else { vec![TestDb::sqlite().await] };
    if let Some(url) = pg_url() {
        dbs.push(TestDb::postgres(&url).await);
    }
    for t in dbs {
        eprintln!("-- running on {}", t.backend);
        test(&t).await;
        t.db.close().await;
    }
}

/// Writes text files into a fresh temp dir.
pub fn write_files(files: &[(&str, &str)]) -> TempDir {
    let raw: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
    write_raw_files(&raw)
}

/// Writes files of raw bytes into a fresh temp dir.
pub fn write_raw_files(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).expect("write file");
    }
    dir
}

/// Imports `dir` with the fixed [`NOW`].
pub async fn import(db: &Db, dir: &Path) -> Result<ImportSummary, ImportError> {
    import_dir(db, dir, &now(), &Quiet).await
}

/// Every table of the schema, in dependency order.
pub const TABLES: [&str; 8] =
    ["imports", "borrowers", "contacts", "products", "loans", "installments", "payments", "financials"];

/// Key columns to order each table's dump by.
fn key_of(table: &str) -> &'static str {
    match table {
        "imports" => "import_id",
        "borrowers" => "borrower_id",
        "contacts" => "contact_id",
        "products" => "product",
        "loans" => "loan_id",
        "installments" => "loan_id, seq",
        "payments" => "payment_id",
        _ => "borrower_id, period_end",
    }
}

/// The whole database: row counts of every table and every row, every column, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `(table, rows)` for every table.
    pub counts: Vec<(&'static str, i64)>,
    /// `(table, rows as text)` for every table, by key, all columns (import_id and src_line too).
    pub rows: Vec<(&'static str, Vec<Vec<String>>)>,
}

impl Snapshot {
    /// The snapshot without the `imports` log (which records every successful import).
    pub fn book(&self) -> Snapshot {
        Snapshot {
            counts: self.counts.iter().filter(|(t, _)| *t != "imports").cloned().collect(),
            rows: self.rows.iter().filter(|(t, _)| *t != "imports").cloned().collect(),
        }
    }

    /// Rows of a table.
    pub fn count(&self, table: &str) -> i64 {
        self.counts.iter().find(|(t, _)| *t == table).map_or(-1, |(_, n)| *n)
    }

    /// The dumped rows of a table.
    pub fn rows_of(&self, table: &str) -> &[Vec<String>] {
        self.rows.iter().find(|(t, _)| *t == table).map_or(&[], |(_, r)| r)
    }
}

/// Takes a [`Snapshot`].
pub async fn snapshot(db: &Db) -> Snapshot {
    let mut counts = Vec::new();
    let mut rows = Vec::new();
    for t in TABLES {
        counts.push((t, db.count(t).await.unwrap_or_else(|e| panic!("count {t}: {e}"))));
        rows.push((t, dump(db, t).await));
    }
    Snapshot { counts, rows }
}

/// The columns of a table as the database has them (whatever the migrations added).
pub async fn columns(db: &Db, table: &str) -> Vec<String> {
    let names: Vec<String> = match db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
            .bind(table)
            .fetch_all(p)
            .await
            .expect("table_info"),
        Db::Postgres(p) => sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(p)
        .await
        .expect("information_schema"),
    };
    assert!(!names.is_empty(), "table {table} has no columns?");
    names
}

/// Every row of a table, every column as text, by key.
pub async fn dump(db: &Db, table: &str) -> Vec<Vec<String>> {
    let cols = columns(db, table).await;
    let select = cols.iter().map(|c| format!("CAST({c} AS TEXT)")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT {select} FROM {table} ORDER BY {}", key_of(table));
    let n = cols.len();
    arrears_store::on_pool!(db, p => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(p)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|r| (0..n).map(|i| r.try_get::<Option<String>, _>(i).expect("text").unwrap_or_default()).collect())
            .collect()
    })
}

pub const BORROWERS: &str = "\
borrower_id,kind,name,national_id,phone,email,timezone,language
B1,individual,Zhang San,110101199003074514,13800000001,zs@example.com,Asia/Shanghai,zh
B2,company,Acme Trading Ltd,91350100M000100Y43,13800000002,,Asia/Shanghai,en
";

pub const CONTACTS: &str = "\
contact_id,borrower_id,relation,name,phone,email,consent
C1,B1,guarantor,Li Si,13900000001,,true
C2,B2,emergency,Wang Wu,13900000002,ww@example.com,false
";

/// L1 is the view test's loan: annuity 12000.00 at 12%, 12 months, disbursed 2024-01-31.
pub const LOANS: &str = "\
loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days
L1,B1,consumer,CNY,12000.00,0.12,12,2024-01-31,annuity,0.18,3
L2,B2,sme,CNY,50000.00,0.08,6,2024-03-15,equal_principal,0.18,0
";

pub const PAYMENTS: &str = "\
payment_id,loan_id,paid_on,amount,channel
P1,L1,2024-02-29,1066.19,bank
";

/// A good book: two borrowers, two contacts, two loans (schedules generated), one payment.
pub fn good_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("borrowers.csv", BORROWERS),
        ("contacts.csv", CONTACTS),
        ("loans.csv", LOANS),
        ("payments.csv", PAYMENTS),
    ]
}

/// Imports [`good_files`] and checks it worked.
pub async fn import_good(t: &TestDb) -> Snapshot {
    let dir = write_files(&good_files());
    let s = import(&t.db, dir.path()).await.unwrap_or_else(|e| panic!("[{}] good import: {e}", t.backend));
    assert_eq!(s.schedules_generated, 2, "[{}]", t.backend);
    snapshot(&t.db).await
}

/// Imports the good book (unless already there), then `files`, which must be rejected
/// without a trace; returns the reported errors as `file:line: column: reason` strings.
pub async fn rejected(t: &TestDb, files: &[(&str, &[u8])]) -> Vec<String> {
    let before = if t.db.count("loans").await.expect("count") == 0 {
        import_good(t).await
    } else {
        snapshot(&t.db).await
    };
    let dir = write_raw_files(files);
    let err = import(&t.db, dir.path()).await.err();
    let after = snapshot(&t.db).await;
    assert_eq!(before, after, "[{}] a rejected import changed the database", t.backend);
    match err {
        Some(ImportError::Rejected { errors, total }) => {
            assert_eq!(total, errors.len(), "[{}] total counts every listed error", t.backend);
            errors.iter().map(ToString::to_string).collect()
        }
        other => panic!("[{}] expected Rejected, got {other:?}", t.backend),
    }
}

/// Like [`rejected`] with text files.
pub async fn rejected_text(t: &TestDb, files: &[(&str, &str)]) -> Vec<String> {
    let raw: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
    rejected(t, &raw).await
}

/// Asserts that exactly one error starts with `prefix` and contains `phrase`.
pub fn assert_has(t: &TestDb, errors: &[String], prefix: &str, phrase: &str) {
    let hits = errors.iter().filter(|e| e.starts_with(prefix) && e.contains(phrase)).count();
    assert_eq!(hits, 1, "[{}] want one error `{prefix}…{phrase}…`, got {errors:#?}", t.backend);
}
