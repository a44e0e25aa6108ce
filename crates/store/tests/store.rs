//! The store against real databases: SQLite always, PostgreSQL when `ARREARS_TEST_PG`
//! holds an admin URL (each test gets its own database, dropped afterwards).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use arrears_core::schedule;
use arrears_core::{Amount, BorrowerId, Currency, Loan, LoanId, RepaymentMethod};
use arrears_store::import::{INSTALLMENTS, LOANS, PAYMENTS};
use arrears_store::loans::{load_chunk, load_loan};
use arrears_store::rows::keyed::{Row, Value, insert_rows};
use arrears_store::{Db, DbUrl, StoreError};
use chrono::NaiveDate;
use tempfile::TempDir;

/// A fresh database; a PostgreSQL one is dropped on drop.
struct TestDb {
    db: Db,
    url: DbUrl,
    backend: &'static str,
    _dir: Option<TempDir>,
    pg: Option<(String, String)>,
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

fn pg_url() -> Option<String> {
    std::env::var("ARREARS_TEST_PG").ok().filter(|s| !s.trim().is_empty())
}

fn with_database(url: &str, name: &str) -> String {
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

async fn admin_sql(admin: &str, sql: &str) -> Result<(), sqlx::Error> {
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await?;
    sqlx::Connection::close(c).await
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::new(format!("sqlite://{}/t.db", dir.path().display()));
        let db = Db::open(&url).await.expect("open sqlite");
        TestDb { db, url, backend: "sqlite", _dir: Some(dir), pg: None }
    }

    /// A new PostgreSQL database; `options` go after `CREATE DATABASE name`.
    async fn postgres(admin: &str, options: &str) -> TestDb {
        let name = format!("arrears_t_{:016x}", random_u64());
        let create = format!("CREATE DATABASE {name} {options}");
        let mut tries = 0;
        while let Err(e) = admin_sql(admin, &create).await {
            tries += 1;
            assert!(tries < 20, "{create}: {e}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let url = DbUrl::new(with_database(admin, &name));
        let db = Db::open(&url).await.expect("open postgres");
        TestDb { db, url, backend: "postgres", _dir: None, pg: Some((admin.to_string(), name)) }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("*** the failure above happened on backend {}", self.backend);
        }
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(admin_sql(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).ok()
            })
            .join();
        }
    }
}

async fn each_backend(test: impl AsyncFn(&TestDb)) {
    let mut dbs = vec![TestDb::sqlite().await];
    if let Some(url) = pg_url() {
        dbs.push(TestDb::postgres(&url, "").await);
    }
    for t in dbs {
        eprintln!("-- running on {}", t.backend);
        test(&t).await;
        t.db.close().await;
    }
}

#[tokio::test]
async fn migrations_apply_twice() {
    each_backend(async |t| {
        t.db.migrate().await.unwrap_or_else(|e| panic!("[{}] second migrate: {e}", t.backend));
        let again = Db::open(&t.url).await.unwrap_or_else(|e| panic!("[{}] reopen: {e}", t.backend));
        again.migrate().await.unwrap();
        for table in [
            "imports",
            "borrowers",
            "contacts",
            "products",
            "loans",
            "installments",
            "payments",
            "financials",
        ] {
            assert_eq!(again.count(table).await.unwrap(), 0, "[{}] {table}", t.backend);
        }
        assert_eq!(again.backend(), t.backend);
        again.close().await;
    })
    .await;
}

#[test]
fn db_url_hides_the_password() {
    let u = DbUrl::new("postgres://bob:hunter2@db.local:5432/arrears?sslmode=require");
    assert_eq!(u.to_string(), "postgres://bob:***@db.local:5432/arrears?sslmode=require");
    assert!(!format!("{u:?}").contains("hunter2"));
    assert!(u.expose().contains("hunter2"));
    assert!(!u.is_sqlite());
    let plain = DbUrl::new("postgres://bob@db.local/arrears");
    assert_eq!(plain.to_string(), "postgres://bob@db.local/arrears");
    let sqlite = DbUrl::new("sqlite://arrears.db");
    assert_eq!(sqlite.to_string(), "sqlite://arrears.db");
    assert!(sqlite.is_sqlite());
}

#[tokio::test]
async fn connect_errors_hide_the_password() {
    // Nothing listens on port 1: the error must name the URL without its password.
    let url = DbUrl::new("postgres://bob:hunter2@127.0.0.1:1/arrears?connect_timeout=2");
    match Db::connect(&url).await {
        Err(e @ StoreError::Connect { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("bob:***@127.0.0.1:1"), "{msg}");
            assert!(!msg.contains("hunter2") && !format!("{e:?}").contains("hunter2"), "{msg}");
        }
        Err(e) => panic!("expected Connect, got {e}"),
        Ok(_) => panic!("connected to port 1?"),
    }
}

#[tokio::test]
async fn unsupported_url() {
    for raw in ["mysql://bob:hunter2@db.local/arrears", "arrears.db", "", "file:///tmp/x.db"] {
        match Db::connect(&DbUrl::new(raw)).await {
            Err(e @ StoreError::UnsupportedUrl(_)) => {
                assert!(!e.to_string().contains("hunter2"), "{e}");
                assert!(e.to_string().contains("sqlite://"), "says what is supported: {e}");
            }
            Err(e) => panic!("{raw:?}: expected UnsupportedUrl, got {e}"),
            Ok(_) => panic!("{raw:?}: connected"),
        }
    }
    assert!(matches!(Db::open(&DbUrl::new("mysql://x/y")).await, Err(StoreError::UnsupportedUrl(_))));
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// Ids of every shape: upper and lower case, punctuation, digits of different lengths.
fn ids() -> Vec<String> {
    let mut ids: Vec<String> = (1..=23).map(|i| format!("L-{i:03}")).collect();
    ids.extend(["a1", "B1", "a-2", "b10", "Z9", "L10", "l-1", "L_1", "L.1", "贷款-1"].map(String::from));
    ids
}

/// Writes `ids` as loans: loan n has a term of n % 4 + 1 months, the schedule core
/// generates for its terms, and, when n is even, n % 3 + 1 payments; odd loans have none.
async fn write_book(db: &Db, ids: &[String]) -> BTreeMap<String, (usize, usize)> {
    let mut loans = Vec::new();
    let mut insts = Vec::new();
    let mut pays = Vec::new();
    let mut want = BTreeMap::new();
    for (n, id) in ids.iter().enumerate() {
        let k = n % 4 + 1;
        let loan = Loan {
            id: LoanId::new(id.clone()).unwrap(),
            borrower_id: BorrowerId::new("B1").unwrap(),
            product: "consumer".into(),
            currency: Currency::CNY,
            principal: Amount::from_minor(10_000 * (n as i64 + 1)),
            annual_rate: "0.12".parse().unwrap(),
            term_months: k as u32,
            disbursed_on: d("2024-01-31"),
            method: RepaymentMethod::EqualPrincipal,
            penalty_rate: "0.18".parse().unwrap(),
            grace_days: 0,
        };
        loans.push(Row {
            line: n as u64 + 2,
            values: vec![
                text(id),
                text("B1"),
                text("consumer"),
                text("CNY"),
                Value::Int(loan.principal.minor()),
                text("0.12"),
                Value::Int(k as i64),
                Value::Date(loan.disbursed_on),
                text("equal_principal"),
                text("0.18"),
                Value::Int(0),
            ],
        });
        for i in schedule::generate(&loan).unwrap() {
            insts.push(Row {
                line: 0,
                values: vec![
                    text(id),
                    Value::Int(i64::from(i.seq)),
                    Value::Date(i.due_on),
                    Value::Int(i.principal.minor()),
                    Value::Int(i.interest.minor()),
                    Value::Int(i.fee.minor()),
                    text("B1"),
                ],
            });
        }
        let np = if n % 2 == 0 { n % 3 + 1 } else { 0 };
        for j in 0..np {
            pays.push(Row {
                line: 0,
                values: vec![
                    text(&format!("P-{n}-{j}")),
                    text(id),
                    Value::Date(d("2024-02-01")),
                    Value::Int(1 + n as i64),
                    text("bank"),
                    text("B1"),
                ],
            });
        }
        want.insert(id.clone(), (k, np));
    }
    let mut tx = db.begin().await.unwrap();
    assert!(insert_rows(&mut tx, &LOANS, 1, &loans).await.unwrap().is_empty());
    assert!(insert_rows(&mut tx, &INSTALLMENTS, 1, &insts).await.unwrap().is_empty());
    assert!(insert_rows(&mut tx, &PAYMENTS, 1, &pays).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    want
}

/// Pages through the book `limit` loans at a time and checks every loan comes once,
/// in the order of the pages, with its own schedule and payments.
async fn check_paging(t: &TestDb, want: &BTreeMap<String, (usize, usize)>, limit: i64, byte_order: bool) {
    let be = t.backend;
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = load_chunk(&t.db, after.as_deref(), limit).await.unwrap();
        assert!(page.len() as i64 <= limit);
        let Some(last) = page.last() else { break };
        after = Some(last.loan.id.to_string());
        for b in &page {
            let id = b.loan.id.to_string();
            let (k, np) = want[&id];
            assert_eq!(b.schedule.len(), k, "[{be}] schedule of {id}");
            assert_eq!(b.schedule, schedule::generate(&b.loan).unwrap(), "[{be}] schedule of {id}");
            assert_eq!(b.payments.len(), np, "[{be}] payments of {id}");
            assert!(b.payments.iter().all(|p| p.loan_id == b.loan.id), "[{be}] {id}");
            let n = ids().iter().position(|x| *x == id).unwrap() as i64;
            assert!(b.payments.iter().all(|p| p.amount.minor() == 1 + n), "[{be}] payments of {id}");
            assert_eq!(b.loan.principal.minor(), 10_000 * (n + 1), "[{be}] {id}");
            let single = load_loan(&t.db, &id).await.unwrap().unwrap();
            assert_eq!(&single, b, "[{be}] load_chunk and load_loan agree on {id}");
            seen.push(id);
        }
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "[{be}] a loan came twice: {seen:?}");
    assert_eq!(seen.len(), want.len(), "[{be}] loans missing: {seen:?}");
    if byte_order {
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "[{be}] pages are in id order");
    }
}

#[tokio::test]
async fn load_chunk_pages_in_id_order_without_gaps_or_repeats() {
    each_backend(async |t| {
        let want = write_book(&t.db, &ids()).await;
        assert!(load_chunk(&t.db, None, 0).await.unwrap().is_empty());
        for limit in [1, 3, 7, 100] {
            check_paging(t, &want, limit, true).await;
        }
        // Paging from past the last id gives nothing.
        assert!(load_chunk(&t.db, Some("\u{10ffff}"), 10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn load_chunk_on_a_postgres_database_with_a_linguistic_collation() {
    let Some(admin) = pg_url() else { return };
    let t = TestDb::postgres(
        &admin,
        "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
    )
    .await;
    let want = write_book(&t.db, &ids()).await;
    for limit in [3, 100] {
        check_paging(&t, &want, limit, false).await;
    }
    t.db.close().await;
}

/// Inserts `n` queued e-mails due at `send_at`, ids `M0000`….
async fn queue_messages(db: &Db, n: usize, send_at: &str) {
    for i in 0..n {
        let sql = format!(
            "INSERT INTO outbox (message_id, task_id, case_id, borrower_id, channel, template, language, send_at, \
             status, created_on, body) VALUES ('M{i:04}', 'M{i:04}', 'C1', 'B1', 'email', 'reminder_soft', 'zh', \
             '{send_at}', 'queued', '2026-11-19', '您好')"
        );
        arrears_store::on_pool!(db, p => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await.expect("insert").rows_affected());
    }
}

#[tokio::test]
async fn dispatchers_claiming_at_once_never_share_a_message_and_a_stale_one_records_nothing() {
    use arrears_store::outbox::{Finish, Finished, Lease, claim};
    each_backend(async |t| {
        queue_messages(&t.db, 120, "2026-11-20T00:00:00+00:00").await;
        let now = "2026-11-20T01:00:00+00:00";
        let lease = |owner: &'static str, real_ms: i64| Lease {
            owner,
            now_ms: 1,
            now,
            real_ms,
            until_ms: real_ms + 1_000,
        };
        // Four dispatchers claim ten at a time, all at once, until nothing is left.
        let mut handles = Vec::new();
        for owner in ["d1", "d2", "d3", "d4"] {
            let db = t.db.clone();
            handles.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = claim(&db, &lease(owner, 10_000), &["email"], 10).await.expect("claim");
                    assert!(got.len() <= 10, "{owner} claimed {} for a limit of 10", got.len());
                    if got.is_empty() {
                        break mine;
                    }
                    mine.extend(got.into_iter().map(|c| c.message_id.to_string()));
                }
            }));
        }
        let mut all: Vec<String> = Vec::new();
        for h in handles {
            all.extend(h.await.expect("claimer"));
        }
        let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!(all.len(), 120, "[{}] claimed {} times for 120 messages", t.backend, all.len());
        assert_eq!(distinct.len(), 120, "[{}] a message was claimed twice", t.backend);
        // Not due yet: nothing to claim; a lease not run out: nothing to take over.
        assert!(claim(&t.db, &lease("d5", 10_500), &["email"], 10).await.expect("claim").is_empty());

        // d1's leases ran out; d5 takes one over (attempt 2). d1's late result changes nothing.
        let taken = claim(&t.db, &lease("d5", 20_000), &["email"], 1).await.expect("claim");
        assert_eq!(taken.len(), 1);
        assert!(taken[0].reclaimed && taken[0].attempts == 2, "{taken:?}");
        let finished = |attempts, owner_finish| Finished {
            message_id: taken[0].message_id.clone(),
            attempts,
            finish: owner_finish,
            subject: String::new(),
            body: "您好".into(),
            address_field: "email",
            address_bidx: String::new(),
            error: String::new(),
            invalid_address: false,
        };
        let sent = || Finish::Sent { provider: "smtp".into(), provider_id: "x".into(), sent_at: now.into() };
        let mut tx = t.db.begin().await.expect("tx");
        let day = d("2026-11-20");
        for (owner, attempts) in [("d1", 1), ("d5", 1), ("d1", 2)] {
            let f = finished(attempts, sent());
            let stale = arrears_store::delivery::record_all(&mut tx, owner, &[("B1", &f)], day, now).await;
            assert!(
                stale.expect("record").is_empty(),
                "[{}] {owner} attempt {attempts} recorded over d5's lease",
                t.backend
            );
        }
        let f = finished(2, sent());
        let written = arrears_store::delivery::record_all(&mut tx, "d5", &[("B1", &f)], day, now)
            .await
            .expect("record");
        assert_eq!(written.len(), 1, "[{}] d5's own result not recorded", t.backend);
        tx.commit().await.expect("commit");
        let rows = arrears_store::outbox::list(
            &t.db,
            arrears_store::outbox::MessageFilter {
                status: Some(arrears_core::work::MessageStatus::Sent),
                ..Default::default()
            },
            10,
        )
        .await
        .expect("list");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].attempts, rows[0].provider_id.as_deref()), (2, Some("x")));
    })
    .await;
}

#[tokio::test]
async fn batch_chunks_are_claimed_in_phase_order_with_leases() {
    use arrears_store::batch_chunks::{self as chunks, Claim, KeyRange, PlannedChunk};
    each_backend(async |t| {
        let b = t.backend;
        let date = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let claim = |worker: &'static str, now: i64| {
            let db = t.db.clone();
            async move {
                chunks::claim(&db, date, worker, now, now + 1000, |p| if p == "loans" { 2 } else { 1 }).await
            }
        };
        assert_eq!(claim("a", 0).await.unwrap(), Claim::Unplanned, "[{b}] nothing planned yet");
        let part = |lo: Option<&str>, hi: Option<&str>| KeyRange {
            lo: lo.map(str::to_string),
            hi: hi.map(str::to_string),
        };
        let plan = vec![
            PlannedChunk { step: 1, phase: "loans", chunk: 0, range: part(None, Some("L5")) },
            PlannedChunk { step: 1, phase: "loans", chunk: 1, range: part(Some("L5"), Some("L9")) },
            PlannedChunk { step: 1, phase: "loans", chunk: 2, range: part(Some("L9"), None) },
            PlannedChunk { step: 2, phase: "cases", chunk: 0, range: KeyRange::ALL },
        ];
        let mut tx = t.db.begin().await.unwrap();
        assert!(chunks::plan(&mut tx, date, &plan).await.unwrap(), "[{b}] first plan stored");
        assert!(!chunks::plan(&mut tx, date, &plan[..1]).await.unwrap(), "[{b}] a second plan is ignored");
        tx.commit().await.unwrap();

        let names = |c: &Claim| match c {
            Claim::Got(v) => {
                v.iter().map(|c| format!("{}/{}#{}", c.phase, c.chunk, c.claims)).collect::<Vec<_>>()
            }
            other => vec![format!("{other:?}")],
        };
        // (worker, clock ms, what it gets): two loan chunks at once, then the third; the cases
        // chunk waits for every loan chunk; a lease that ran out is claimed again.
        let table: [(&str, i64, &[&str]); 5] = [
            ("a", 0, &["loans/0#1", "loans/1#1"]),
            ("b", 10, &["loans/2#1"]),
            ("c", 20, &["Wait"]),
            ("c", 1005, &["loans/0#2", "loans/1#2"]),
            ("d", 1006, &["Wait"]),
        ];
        for (worker, now, want) in table {
            let got = claim(worker, now).await.unwrap();
            assert_eq!(names(&got), want.to_vec(), "[{b}] {worker} at {now}");
        }
        // The renewal of a worker that lost its chunks changes nothing; the holder's does.
        chunks::renew(&t.db, date, "a", &[(1, 0)], 99_999).await.unwrap();
        assert_eq!(
            names(&claim("e", 3000).await.unwrap()),
            ["loans/0#3", "loans/1#3"],
            "[{b}] a's renewal is void"
        );
        assert_eq!(names(&claim("e", 3000).await.unwrap()), ["loans/2#2"], "[{b}]");
        chunks::renew(&t.db, date, "e", &[(1, 0), (1, 1), (1, 2)], 99_999).await.unwrap();
        assert_eq!(claim("h", 5000).await.unwrap(), Claim::Wait, "[{b}] e's renewal holds its chunks");
        let mut tx = t.db.begin().await.unwrap();
        for chunk in 0..3 {
            chunks::finish(&mut tx, date, 1, chunk, "e", "{\"n\":1}", "t").await.unwrap();
        }
        // A second finish (a worker whose lease ran out, finishing late) keeps the first report.
        chunks::finish(&mut tx, date, 1, 0, "a", "{\"n\":2}", "t").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(names(&claim("f", 3001).await.unwrap()), ["cases/0#1"], "[{b}] the next phase opens");
        let mut tx = t.db.begin().await.unwrap();
        chunks::finish(&mut tx, date, 2, 0, "f", "{}", "t").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(claim("g", 3002).await.unwrap(), Claim::Done, "[{b}]");
        let reports = chunks::reports(&t.db, date).await.unwrap();
        assert_eq!(reports[0], ("loans".to_string(), "{\"n\":1}".to_string()), "[{b}]");
        let status = chunks::status(&t.db, date).await.unwrap();
        assert!(status.iter().all(|c| c.done), "[{b}] {status:?}");
        assert_eq!(status[2].worker.as_deref(), Some("e"), "[{b}]");
    })
    .await;
}

#[tokio::test]
async fn key_parts_in_one_pass_equal_the_parts_read_one_by_one() {
    use arrears_store::days::{Keys, key_bounds, key_parts};
    each_backend(async |t| {
        write_book(&t.db, &ids()).await;
        for parts in [1, 2, 3, 7, 33, 50] {
            let mut one_by_one = Vec::new();
            for part in 0..parts {
                one_by_one.push(key_bounds(&t.db, Keys::Loans, part, parts).await.unwrap());
            }
            assert_eq!(
                key_parts(&t.db, Keys::Loans, parts).await.unwrap(),
                one_by_one,
                "[{}] {parts} parts",
                t.backend
            );
        }
    })
    .await;
}

/// The tables of the migrated schema (views left out).
async fn schema_tables(db: &Db) -> Vec<String> {
    let sql = match db {
        Db::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations' ORDER BY name"
        }
        Db::Postgres(_) => {
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
             AND c.relname <> '_sqlx_migrations' ORDER BY 1"
        }
    };
    arrears_store::on_pool!(db, p => sqlx::query_scalar(sql).fetch_all(p).await.unwrap())
}

#[tokio::test]
async fn every_table_has_one_place_when_the_book_is_spread_and_spread_keys_hold_the_borrower() {
    use arrears_store::distribution::{COORDINATOR, DISTRIBUTED, REFERENCE};
    each_backend(async |t| {
        let mut listed: Vec<&str> = DISTRIBUTED.iter().chain(REFERENCE).chain(COORDINATOR).copied().collect();
        listed.sort_unstable();
        let tables = schema_tables(&t.db).await;
        assert_eq!(tables, listed, "[{}] tables of the schema vs crates/store/src/distribution.rs", t.backend);
        let Db::Postgres(pool) = &t.db else { return };
        // Every key and unique index of a spread table holds borrower_id, which is NOT NULL.
        let keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             WHERE i.indisunique AND c.relname = ANY($1)",
        )
        .bind(DISTRIBUTED)
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(keys.len() >= DISTRIBUTED.len(), "a spread table has no key: {keys:?}");
        for (table, def) in &keys {
            let cols = def.split_once(" USING btree (").map(|(_, c)| c).unwrap_or_default();
            assert!(cols.contains("borrower_id"), "{table}: a unique index without borrower_id: {def}");
        }
        let nullable: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.columns WHERE table_schema = current_schema() \
             AND column_name = 'borrower_id' AND is_nullable = 'YES' AND table_name = ANY($1)",
        )
        .bind(DISTRIBUTED)
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(nullable, Vec::<String>::new(), "spread tables whose borrower_id may be NULL");
        let with_column: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() \
             AND column_name = 'borrower_id' AND table_name = ANY($1)",
        )
        .bind(DISTRIBUTED)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(with_column, DISTRIBUTED.len() as i64, "spread tables without borrower_id");
    })
    .await;
}

#[tokio::test]
async fn the_book_lays_out_as_hash_partitions_by_borrower_and_a_key_without_it_is_refused() {
    use arrears_store::distribution::{DISTRIBUTED, PartitionError, partition_by_borrower};
    let Some(admin) = pg_url() else {
        let t = TestDb::sqlite().await;
        assert!(matches!(partition_by_borrower(&t.db, 4).await, Err(PartitionError::NotPostgres)));
        return;
    };
    let t = TestDb::postgres(&admin, "").await;
    partition_by_borrower(&t.db, 4).await.unwrap_or_else(|e| panic!("{e}"));
    let Db::Postgres(pool) = &t.db else { unreachable!() };
    let partitioned: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut want: Vec<String> = DISTRIBUTED.iter().map(|s| s.to_string()).collect();
    want.sort_unstable();
    assert_eq!(partitioned, want);
    // The view over snapshots and the restriction's reference to its contact came back.
    let view: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bucket_history").fetch_one(pool).await.unwrap();
    assert_eq!(view, 0);
    let fks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' AND conparentid = 0 AND conrelid = 'contact_restrictions'::regclass",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(fks, 2);
    // A row lands in its borrower's partition, and the key still refuses a second one.
    sqlx::raw_sql("INSERT INTO case_sync (borrower_id) VALUES ('B1'), ('B2'), ('B3')")
        .execute(pool)
        .await
        .unwrap();
    let twice = sqlx::raw_sql("INSERT INTO case_sync (borrower_id) VALUES ('B1')").execute(pool).await;
    assert!(twice.is_err(), "a second B1 was stored");
    let spread: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT tableoid) FROM case_sync").fetch_one(pool).await.unwrap();
    assert!(spread > 1, "three borrowers all landed in one partition");
    drop(t);

    // What someone might add: a unique loan id on its own. PostgreSQL refuses it partitioned,
    // as Citus would refuse it spread, and the error names the table and the statement.
    let t = TestDb::postgres(&admin, "").await;
    let Db::Postgres(pool) = &t.db else { unreachable!() };
    sqlx::raw_sql("CREATE UNIQUE INDEX loans_alone ON loans (loan_id)").execute(pool).await.unwrap();
    let err = partition_by_borrower(&t.db, 4).await.expect_err("a key without borrower_id was accepted");
    let text = err.to_string();
    assert!(text.contains("partitioning loans") && text.contains("loans_alone"), "{text}");
}
