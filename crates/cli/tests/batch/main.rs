//! The close of business through the binary, on SQLite always and on PostgreSQL when
//! `ARREARS_TEST_PG` is set: a killed batch resumes to the state of one clean run,
//! running a date twice changes nothing, a backdated payment ends as if it had come on
//! time, shards share the book, a second batch is refused, bad dates write nothing,
//! and DPD, bucket and five-class agree with an independent count.

#[allow(dead_code)]
#[path = "../../../app/tests/import/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use arrears_store::Db;
use chrono::NaiveDate;
use sqlx::Row as _;
use support::{TestDb, each_backend};

mod workers;

/// A generated book shared by the tests (generating is deterministic).
fn book() -> &'static Path {
    static BOOK: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = BOOK.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("book");
        let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .args(["generate", "--loans", "600", "--seed", "7", "--as-of", "2026-10-20", "--out"])
            .arg(&path)
            .output()
            .expect("generate runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        (dir, path)
    });
    path
}

/// One audit signing key for the tests' batches, in a temp dir.
fn audit_key() -> &'static Path {
    static KEY: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = KEY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.key");
        (dir, path)
    });
    path
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the binary against the test database, with an optional failpoint.
fn arrears(t: &TestDb, failpoint: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arrears"));
    c.arg("--db").arg(t.url.expose()).args(args).env_remove("ARREARS_FAILPOINT");
    // On PostgreSQL the audit key would default to the working directory: keep it in a temp dir.
    c.env("ARREARS_AUDIT_KEY", audit_key());
    if let Some(f) = failpoint {
        c.env("ARREARS_FAILPOINT", f);
    }
    c.output().expect("the arrears binary runs")
}

fn ok(t: &TestDb, args: &[&str]) -> String {
    let out = arrears(t, None, args);
    assert!(out.status.success(), "[{}] arrears {args:?}: {}", t.backend, text(&out.stderr));
    text(&out.stdout)
}

fn json(t: &TestDb, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(t, args)).expect("JSON output")
}

async fn fresh_book(t: &TestDb) {
    ok(t, &["import", book().to_str().unwrap()]);
}

/// Every table the batch writes, as text, in key order; timestamps left out.
const DUMPED: [(&str, &str, &str); 13] = [
    ("business_days", "business_date, status", "business_date"),
    (
        "loan_state",
        "loan_id, first_on, review_on, dirty_from, status, dpd, bucket, five_class, overdue_principal, overdue_interest, overdue_fee, overdue_penalty, outstanding_principal, credit",
        "loan_id",
    ),
    (
        "snapshots",
        "loan_id, as_of, status, dpd, bucket, bucket_rank, five_class, overdue_principal, overdue_interest, overdue_fee, overdue_penalty, outstanding_principal, credit",
        "loan_id, as_of",
    ),
    ("cases", "case_id, borrower_id, opened_on, closed_on, status", "case_id"),
    ("case_loans", "case_id, loan_id, added_on", "case_id, loan_id"),
    ("case_sync", "borrower_id", "borrower_id"),
    ("ptps", "ptp_id, case_id, status, paid, evaluated_on", "ptp_id"),
    (
        "portfolio_figures",
        "business_date, currency, dimension, grp, rank, loans, overdue_loans, outstanding_principal, overdue_total",
        "business_date, currency, dimension, grp",
    ),
    (
        "roll_rates",
        "business_date, currency, from_bucket, from_rank, to_bucket, to_rank, loans, balance",
        "business_date, currency, from_bucket, to_bucket",
    ),
    (
        "tasks",
        "task_id, step, kind, created_on, due_at, priority, status, queue, segment, arm, reason, collector_id, closed_on",
        "task_id",
    ),
    ("outbox", "message_id, channel, template, send_at, status", "message_id"),
    ("case_treatment", "case_id, segment, experiment, arm, collector_id, placed_with, bucket", "case_id"),
    ("placements", "placement_id, agency_id, placed_on, until_on, recalled_on", "placement_id"),
];

/// The dump of one table, rows as `|`-joined text; `filter` narrows it (SQL after WHERE).
async fn dump_table(db: &Db, table: &str, cols: &str, key: &str, filter: &str) -> Vec<String> {
    let cast: Vec<String> = cols.split(", ").map(|c| format!("COALESCE(CAST({c} AS TEXT), '-')")).collect();
    let sql = format!("SELECT {} FROM {table} WHERE {filter} ORDER BY {key}", cast.join(" || '|' || "));
    arrears_store::on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    })
}

async fn dump(db: &Db) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (table, cols, key) in DUMPED {
        out.push((table.to_string(), dump_table(db, table, cols, key, "1 = 1").await));
    }
    out
}

/// Asserts two dumps are equal, naming the first table and row that differ.
fn same(a: &[(String, Vec<String>)], b: &[(String, Vec<String>)], what: &str) {
    for ((ta, ra), (_, rb)) in a.iter().zip(b) {
        if ra != rb {
            let first = ra.iter().zip(rb).position(|(x, y)| x != y).unwrap_or(ra.len().min(rb.len()));
            panic!(
                "{what}: table {ta} differs ({} vs {} rows); first difference at row {first}: {:?} vs {:?}",
                ra.len(),
                rb.len(),
                ra.get(first),
                rb.get(first)
            );
        }
    }
}

#[tokio::test]
async fn killed_batch_resumes_to_one_clean_run_and_a_second_run_changes_nothing() {
    each_backend(async |clean| {
        fresh_book(clean).await;
        let range = ["batch", "--from", "2026-10-20", "--to", "2026-10-24", "--chunk", "100"];
        ok(clean, &range);
        let want = dump(&clean.db).await;
        assert!(want[2].1.len() > 600, "snapshots were written");
        assert!(!want[3].1.is_empty(), "cases were opened");

        // Kill in the loan phase, between loan phase and cases, between cases and figures,
        // then in the loan phase of a later date; finish with a run that is not killed.
        let killed = TestDb::like(clean).await;
        fresh_book(&killed).await;
        for f in ["chunks:2", "cases", "figures", "chunks:1"] {
            let out = arrears(&killed, Some(f), &range);
            assert!(!out.status.success(), "[{}] failpoint {f} should have killed the batch", killed.backend);
        }
        ok(&killed, &range);
        same(&dump(&killed.db).await, &want, &format!("[{}] killed and resumed vs clean", clean.backend));

        // The same date again: nothing changes.
        ok(clean, &["batch", "--date", "2026-10-24"]);
        same(&dump(&clean.db).await, &want, &format!("[{}] second run", clean.backend));
    })
    .await;
}

#[tokio::test]
async fn backdated_payment_ends_as_if_it_had_come_on_time() {
    each_backend(async |late| {
        fresh_book(late).await;
        ok(late, &["batch", "--from", "2026-10-20", "--to", "2026-10-24"]);
        // A loan overdue since before 2026-10-22 whose borrower has no other overdue loan.
        let cases = json(late, &["case", "list", "--status", "open", "--limit", "1000", "--json"]);
        let case = cases
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["loans"] == 1 && c["max_dpd"].as_i64().unwrap() > 10)
            .expect("an open single-loan case");
        let case_id = case["case_id"].as_str().unwrap().to_string();
        let shown = json(late, &["case", "show", &case_id, "--json"]);
        let loan = shown["loans"][0]["loan_id"].as_str().unwrap().to_string();
        let view = json(late, &["loan", "show", &loan, "--date", "2026-10-22", "--json"]);
        let amount = view["overdue"]["total"].as_str().unwrap().to_string();

        let add = [
            "payment",
            "add",
            "--id",
            "PLATE1",
            "--loan",
            &loan,
            "--date",
            "2026-10-22",
            "--amount",
            &amount,
        ];
        let out = ok(late, &add);
        assert!(out.contains("re-evaluated"), "{out}");
        // Recorded at once: the case is closed on the value date before any batch runs.
        let shown = json(late, &["case", "show", &case_id, "--json"]);
        assert_eq!(shown["status"], "closed", "[{}] {shown}", late.backend);
        assert_eq!(shown["closed_on"], "2026-10-22");
        // The same payment again changes nothing; the same id with another amount is refused.
        assert!(ok(late, &add).contains("already recorded"));
        let mut other = add;
        other[9] = "1.00";
        let out = arrears(late, None, &other);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("already exists with a different"), "{}", text(&out.stderr));
        // A second late payment arrives by import: its loan is recomputed by the import itself.
        let other_case = cases
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["case_id"] != case_id.as_str() && c["loans"] == 1)
            .expect("a second open case");
        let other_id = other_case["case_id"].as_str().unwrap().to_string();
        let other_loan = json(late, &["case", "show", &other_id, "--json"])["loans"][0]["loan_id"]
            .as_str()
            .unwrap()
            .to_string();
        let extra_late = format!("PLATE2,{other_loan},2026-10-21,5.00,bank\n");
        let late_file = support::write_files(&[(
            "payments.csv",
            &format!("payment_id,loan_id,paid_on,amount,channel\n{extra_late}"),
        )]);
        let out = ok(late, &["import", late_file.path().to_str().unwrap(), "--json"]);
        let imported: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(imported["refresh"]["report"]["loans_recomputed"], 1, "[{}] {imported}", late.backend);
        ok(late, &["batch", "--date", "2026-10-25"]);

        let on_time = TestDb::like(late).await;
        fresh_book(&on_time).await;
        let extra = support::write_files(&[(
            "payments.csv",
            &format!("payment_id,loan_id,paid_on,amount,channel\nPLATE1,{loan},2026-10-22,{amount},manual\n{extra_late}"),
        )]);
        ok(&on_time, &["import", extra.path().to_str().unwrap()]);
        ok(&on_time, &["batch", "--from", "2026-10-20", "--to", "2026-10-25"]);

        // Figures of dates already reported are not restated, and work already done or
        // cancelled is history (tasks, messages, placements): everything else must match.
        for (table, cols, key) in DUMPED {
            if ["tasks", "outbox", "case_treatment", "placements"].contains(&table) {
                continue;
            }
            let filter = match table {
                "portfolio_figures" | "roll_rates" => "business_date >= '2026-10-25'",
                _ => "1 = 1",
            };
            let filter = if late.backend == "postgres" {
                filter.replace("'2026", "DATE '2026")
            } else {
                filter.to_string()
            };
            let a = dump_table(&late.db, table, cols, key, &filter).await;
            let b = dump_table(&on_time.db, table, cols, key, &filter).await;
            same(
                &[(table.to_string(), a)],
                &[(table.to_string(), b)],
                &format!("[{}] late vs on time", late.backend),
            );
        }
    })
    .await;
}

#[tokio::test]
async fn shards_share_the_book_and_a_second_batch_is_refused() {
    each_backend(async |whole| {
        fresh_book(whole).await;
        ok(whole, &["batch", "--date", "2026-10-20"]);
        let want = dump(&whole.db).await;

        let sharded = TestDb::like(whole).await;
        fresh_book(&sharded).await;
        let first = ok(&sharded, &["batch", "--date", "2026-10-20", "--shard", "1/2", "--chunk", "50"]);
        assert!(first.contains("other shards still running"), "{first}");
        let out = arrears(&sharded, None, &["batch", "--date", "2026-10-20", "--shard", "1/3"]);
        assert!(text(&out.stderr).contains("use --shard i/2"), "{}", text(&out.stderr));
        ok(&sharded, &["batch", "--date", "2026-10-20", "--shard", "2/2", "--chunk", "50"]);
        same(&dump(&sharded.db).await, &want, &format!("[{}] two shards vs one run", whole.backend));

        // While one batch holds the lock, another is refused with a clear message.
        let held = arrears_store::lock::acquire(&whole.db, &whole.url, "batch-1-of-1").await.unwrap();
        let out = arrears(whole, None, &["batch", "--date", "2026-10-21"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("another arrears batch-1-of-1 is running"),
            "{}",
            text(&out.stderr)
        );
        held.release().await;
        same(&dump(&whole.db).await, &want, &format!("[{}] refused batch wrote nothing", whole.backend));
        ok(whole, &["batch", "--date", "2026-10-21"]);
    })
    .await;
}

#[tokio::test]
async fn a_book_smaller_than_its_shards_and_lanes_evaluates_each_loan_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tiny = dir.path().join("tiny");
    let tiny = tiny.to_str().expect("UTF-8 path");
    let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
        .args(["generate", "--loans", "2", "--seed", "3", "--as-of", "2026-10-20", "--out", tiny])
        .output()
        .expect("generate runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    each_backend(async |t| {
        ok(t, &["import", tiny]);
        let loans = t.db.count("loans").await.expect("count");
        let first = json(t, &["batch", "--date", "2026-10-20", "--json"]);
        assert_eq!(first["days"][0]["loans_evaluated"], loans, "[{}] one date, three lanes", t.backend);
        // Five shards of a two-loan book: most are empty, none may take the whole book (a
        // loan evaluated twice for a date would fail on its snapshot's key).
        let mut evaluated = 0;
        let mut finished = false;
        for shard in 1..=5 {
            let spec = format!("{shard}/5");
            let day = json(t, &["batch", "--date", "2026-10-21", "--shard", &spec, "--json"]);
            evaluated += day["days"][0]["loans_evaluated"].as_i64().expect("a count");
            finished = day["days"][0]["finished"] == true;
        }
        assert!(finished, "[{}] the last shard finishes the date", t.backend);
        assert!(evaluated <= loans, "[{}] {evaluated} evaluations of {loans} loans", t.backend);
    })
    .await;
}

#[tokio::test]
async fn bad_dates_and_shards_are_refused_and_write_nothing() {
    each_backend(async |t| {
        let out = arrears(t, None, &["batch", "--date", "2026-10-20"]);
        assert!(text(&out.stderr).contains("the loan book is empty"), "{}", text(&out.stderr));
        fresh_book(t).await;
        ok(t, &["batch", "--date", "2026-10-20"]);
        let before = dump(&t.db).await;
        // (arguments, what the one-line error says)
        let cases: [(&[&str], &str); 6] = [
            (&["batch", "--date", "2001-01-01"], "is before the first disbursement in the book"),
            (&["batch", "--date", "2099-01-01"], "more than a year after today"),
            (
                &["batch", "--from", "2026-10-25", "--to", "2026-10-21"],
                "--from 2026-10-25 is after --to 2026-10-21",
            ),
            (&["batch", "--date", "2026-10-21", "--shard", "3/2"], "--shard \"3/2\" is not a shard"),
            (&["batch", "--date", "2026-10-19"], "business dates up to 2026-10-20 are closed"),
            (&["batch", "--date", "2026-13-01"], "is not a date"),
        ];
        for (args, want) in cases {
            let out = arrears(t, None, args);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "[{}] {args:?}: {err}", t.backend);
            assert!(err.contains(want), "[{}] {args:?}: {err}", t.backend);
            assert!(!err.contains("panicked"), "{err}");
            same(&dump(&t.db).await, &before, &format!("[{}] {args:?} wrote nothing", t.backend));
        }
    })
    .await;
}

/// DPD of the first installment due before `date` that is not paid in full, from the loan
/// view's schedule alone (tolerance 0), and the DESIGN.md bucket and five-class of it.
fn independent(view: &serde_json::Value, date: NaiveDate) -> (i64, String, &'static str) {
    let minor = |v: &serde_json::Value| -> i64 {
        let s = v.as_str().unwrap();
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        int.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap_or(0)
    };
    let mut dpd = 0;
    for i in view["installments"].as_array().unwrap() {
        let due: NaiveDate = i["due_on"].as_str().unwrap().parse().unwrap();
        let owed = minor(&i["principal"]) + minor(&i["interest"]) + minor(&i["fee"]);
        let paid = minor(&i["paid_principal"]) + minor(&i["paid_interest"]) + minor(&i["paid_fee"]);
        if due < date && paid < owed {
            dpd = (date - due).num_days();
            break;
        }
    }
    let bucket = match dpd {
        0 => "M0".to_string(),
        1..=180 => format!("M{}", (dpd + 29) / 30),
        _ => "M7+".to_string(),
    };
    let class = match dpd {
        0 => "normal",
        1..=90 => "special_mention",
        91..=270 => "substandard",
        271..=360 => "doubtful",
        _ => "loss",
    };
    (dpd, bucket, floored(class, restructuring_floor(view, date)))
}

const CLASSES: [&str; 5] = ["normal", "special_mention", "substandard", "doubtful", "loss"];

/// The five-class floor of a restructuring (extension or instalment plan) in the loan view
/// within a year of taking effect (DESIGN.md): special mention, substandard if the loan was
/// non-performing before it.
fn restructuring_floor(view: &serde_json::Value, date: NaiveDate) -> Option<&'static str> {
    let a = view["arrangements"].as_array()?.iter().rev().find(|a| {
        ["extension", "instalment_plan"].contains(&a["kind"].as_str().unwrap()) && a["status"] != "void"
    })?;
    let on: NaiveDate = a["on"].as_str().unwrap().parse().unwrap();
    let ends = on.checked_add_months(chrono::Months::new(12)).unwrap();
    (date >= on && date < ends)
        .then(|| if a["was_non_performing"] == true { "substandard" } else { "special_mention" })
}

/// `class`, raised to `floor` if it is below it.
fn floored(class: &'static str, floor: Option<&'static str>) -> &'static str {
    let rank = |c: &str| CLASSES.iter().position(|x| *x == c).unwrap();
    match floor {
        Some(f) if rank(f) > rank(class) => f,
        _ => class,
    }
}

#[tokio::test]
async fn dpd_bucket_and_class_agree_with_an_independent_count() {
    each_backend(async |t| {
        fresh_book(t).await;
        ok(t, &["batch", "--from", "2026-10-20", "--to", "2026-10-23"]);
        let date: NaiveDate = "2026-10-23".parse().unwrap();
        let rows =
            dump_table(&t.db, "loan_state", "loan_id, status, dpd, bucket, five_class", "loan_id", "1 = 1")
                .await;
        let mut checked = (0, 0);
        for (n, row) in rows.iter().enumerate() {
            let f: Vec<&str> = row.split('|').collect();
            let delinquent = f[2] != "0";
            // Every delinquent loan, and a sample of the rest.
            if f[1] != "active" || !(delinquent || n % 7 == 0) {
                continue;
            }
            let view = json(t, &["loan", "show", f[0], "--date", "2026-10-23", "--json"]);
            let (dpd, bucket, class) = independent(&view, date);
            assert_eq!(
                (f[2], f[3], f[4]),
                (dpd.to_string().as_str(), bucket.as_str(), class),
                "[{}] loan {}",
                t.backend,
                f[0]
            );
            if delinquent {
                checked.0 += 1;
            } else {
                checked.1 += 1;
            }
        }
        assert!(checked.0 > 10 && checked.1 > 20, "[{}] checked {checked:?}", t.backend);
    })
    .await;
}

#[tokio::test]
async fn promises_to_pay_are_judged_kept_or_broken() {
    use arrears_core::Amount;
    use arrears_core::ptp::Promise;
    each_backend(async |t| {
        fresh_book(t).await;
        ok(t, &["batch", "--date", "2026-10-20"]);
        let cases = json(t, &["case", "list", "--status", "open", "--json"]);
        let case_id = cases[0]["case_id"].as_str().unwrap().to_string();
        let shown = json(t, &["case", "show", &case_id, "--json"]);
        let loan = shown["loans"][0]["loan_id"].as_str().unwrap().to_string();
        let currency = shown["loans"][0]["currency"].as_str().unwrap().to_string();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let mut tx = t.db.begin().await.unwrap();
        // (id, promised on, due on, amount in minor units)
        for (id, from, due, amount) in [
            ("T1", "2026-10-20", "2026-10-23", 10_000),
            ("T2", "2026-10-20", "2026-10-21", 10_000),
            ("T3", "2026-10-20", "2026-10-30", 1_000_000_000),
        ] {
            let p = Promise { promised_on: d(from), due_on: d(due), amount: Amount::from_minor(amount) };
            arrears_store::ptps::add_ptp(&mut tx, id, &case_id, &currency, &p).await.unwrap();
        }
        tx.commit().await.unwrap();
        ok(
            t,
            &[
                "payment",
                "add",
                "--id",
                "PTP1",
                "--loan",
                &loan,
                "--date",
                "2026-10-22",
                "--amount",
                "100.00",
            ],
        );
        ok(t, &["batch", "--from", "2026-10-21", "--to", "2026-10-23"]);
        let shown = json(t, &["case", "show", &case_id, "--json"]);
        let status: Vec<(String, String, String)> = shown["ptps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["ptp_id"].as_str().unwrap().into(),
                    p["status"].as_str().unwrap().into(),
                    p["paid"].as_str().unwrap().into(),
                )
            })
            .collect();
        let want = [("T2", "broken", "0.00"), ("T1", "kept", "100.00"), ("T3", "pending", "100.00")];
        let want: Vec<(String, String, String)> =
            want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
        assert_eq!(status, want, "[{}]", t.backend);
    })
    .await;
}

#[tokio::test]
async fn bucket_history_follows_the_snapshots_and_products_can_have_their_own_buckets() {
    each_backend(async |t| {
        fresh_book(t).await;
        // Weekly buckets for one product, so that loans move between buckets within days.
        ok(
            t,
            &[
                "product",
                "set",
                "consumer_loan",
                "--buckets",
                "C=0,W1=1-7,W2=8-14,W3+=15-",
                "--five-class",
                "1,31,61,91",
            ],
        );
        let out = arrears(t, None, &["product", "set", "sme_loan", "--buckets", "M0=0,M1=2-30,M2=31-"]);
        assert!(
            text(&out.stderr).contains("bucket M1 starts at 2, but the previous bucket ends at 0"),
            "{}",
            text(&out.stderr)
        );
        ok(t, &["batch", "--from", "2026-10-20", "--to", "2026-10-31"]);
        let rows = dump_table(
            &t.db,
            "loan_state s JOIN loans l ON l.loan_id = s.loan_id",
            "l.product, s.bucket, s.dpd, s.five_class, s.loan_id",
            "s.loan_id",
            "s.status = 'active'",
        )
        .await;
        let mut weekly = 0;
        for r in &rows {
            let f: Vec<&str> = r.split('|').collect();
            let dpd: i64 = f[2].parse().unwrap();
            if f[0] == "consumer_loan" {
                let want = match dpd {
                    0 => "C",
                    1..=7 => "W1",
                    8..=14 => "W2",
                    _ => "W3+",
                };
                let class = match dpd {
                    0 => "normal",
                    1..=30 => "special_mention",
                    31..=60 => "substandard",
                    61..=90 => "doubtful",
                    _ => "loss",
                };
                let view = json(t, &["loan", "show", f[4], "--date", "2026-10-31", "--json"]);
                let class = floored(class, restructuring_floor(&view, "2026-10-31".parse().unwrap()));
                assert_eq!((f[1], f[3]), (want, class), "[{}] {r}", t.backend);
                weekly += usize::from(dpd > 0);
            } else {
                assert!(f[1].starts_with('M'), "[{}] {r}", t.backend);
            }
        }
        assert!(weekly > 0, "some consumer loans are overdue");

        // The history view: per loan, one row per bucket entered, each left when the next is entered.
        let history = dump_table(
            &t.db,
            "bucket_history",
            "loan_id, bucket, entered_on, left_on",
            "loan_id, entered_on",
            "1 = 1",
        )
        .await;
        let snaps = dump_table(&t.db, "snapshots", "loan_id, as_of, bucket", "loan_id, as_of", "1 = 1").await;
        let mut want = Vec::new();
        let mut prev: Option<(String, String)> = None;
        for s in &snaps {
            let f: Vec<&str> = s.split('|').collect();
            let same_loan = prev.as_ref().is_some_and(|(l, _)| l == f[0]);
            if !(same_loan && prev.as_ref().is_some_and(|(_, b)| b == f[2])) {
                if same_loan {
                    let last: &mut String = want.last_mut().unwrap();
                    *last = format!("{}|{}", last.trim_end_matches("|-"), f[1]);
                }
                want.push(format!("{}|{}|{}|-", f[0], f[2], f[1]));
            }
            prev = Some((f[0].to_string(), f[2].to_string()));
        }
        assert_eq!(history, want, "[{}]", t.backend);
        assert!(history.iter().any(|h| !h.ends_with("|-")), "[{}] some loan changed bucket", t.backend);
    })
    .await;
}
