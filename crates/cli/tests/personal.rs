//! Personal data through the binary, on SQLite always and on PostgreSQL when
//! `ARREARS_TEST_PG` is set: nothing of a borrower's or contact's ID number, phone or
//! e-mail is stored in plaintext or printed without a permitted role; unmasking by legal
//! or auditor works and is recorded, by anyone else is refused and recorded; re-keying
//! round-trips; a wrong key is a clear error; the retention purge keeps the amounts.

#[allow(dead_code)]
#[path = "../../app/tests/import/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use arrears_store::Db;
use support::{TestDb, each_backend};

const AS_OF: &str = "2026-06-30";

/// A generated book shared by the tests (generating is deterministic).
fn book() -> &'static Path {
    static BOOK: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = BOOK.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("book");
        let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .args(["generate", "--loans", "500", "--seed", "11", "--as-of", AS_OF, "--out"])
            .arg(&path)
            .output()
            .expect("generate runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        (dir, path)
    });
    path
}

/// Identity values of one person in the files.
#[derive(Debug, Clone)]
struct Person {
    borrower_id: String,
    national_id: String,
    phone: String,
    email: String,
}

/// Borrowers and contacts of a book directory, as the files hold them.
fn people(dir: &Path) -> Vec<Person> {
    let mut out = Vec::new();
    let mut r = csv::Reader::from_path(dir.join("borrowers.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        out.push(Person {
            borrower_id: rec[0].to_string(),
            national_id: rec[3].to_string(),
            phone: rec[4].to_string(),
            email: rec[5].to_string(),
        });
    }
    if let Ok(mut r) = csv::Reader::from_path(dir.join("contacts.csv")) {
        for rec in r.records() {
            let rec = rec.unwrap();
            out.push(Person {
                borrower_id: rec[1].to_string(),
                national_id: String::new(),
                phone: rec[4].to_string(),
                email: rec[5].to_string(),
            });
        }
    }
    out
}

/// Every non-empty identity value of the book.
fn secrets(people: &[Person]) -> BTreeSet<String> {
    people
        .iter()
        .flat_map(|p| [&p.national_id, &p.phone, &p.email])
        .filter(|v| !v.is_empty())
        .cloned()
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The test database with its own keyring file.
struct Env<'a> {
    t: &'a TestDb,
    keys: PathBuf,
    _dir: tempfile::TempDir,
}

impl<'a> Env<'a> {
    fn new(t: &'a TestDb) -> Env<'a> {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("test.keys");
        arrears_store::personal::Keyring::open_or_create(&keys).unwrap();
        Env { t, keys, _dir: dir }
    }

    /// Runs the binary with `stdin` on standard input.
    fn run_with(&self, keys: &Path, stdin: &str, args: &[&str]) -> Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .arg("--db")
            .arg(self.t.url.expose())
            .arg("--data-key")
            .arg(keys)
            .args(args)
            .env_remove("ARREARS_DATA_KEY")
            .env_remove("ARREARS_DATA_KEY_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the arrears binary runs");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn run(&self, stdin: &str, args: &[&str]) -> Output {
        self.run_with(&self.keys, stdin, args)
    }

    fn ok(&self, stdin: &str, args: &[&str]) -> String {
        let out = self.run(stdin, args);
        assert!(out.status.success(), "[{}] arrears {args:?}: {}", self.t.backend, text(&out.stderr));
        text(&out.stdout)
    }

    fn json(&self, stdin: &str, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(stdin, args)).expect("JSON output")
    }

    fn users(&self) {
        // A collector user's name is a collector's id.
        self.ok("", &["collector", "add", "wang", "--name", "王", "--team", "t1", "--capacity", "60"]);
        for (name, role) in
            [("lawyer", "legal"), ("checker", "auditor"), ("wang", "collector"), ("boss", "admin")]
        {
            self.ok(&format!("pw-{name}-123\n"), &["user", "add", name, "--role", role, "--password-stdin"]);
        }
    }
}

/// Every text value of every column of every table, with where it is.
async fn all_text(db: &Db) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match db {
        Db::Sqlite(p) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(p)
            .await
            .unwrap();
            for t in tables {
                let cols: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, type FROM pragma_table_info($1)")
                        .bind(&t)
                        .fetch_all(p)
                        .await
                        .unwrap();
                for (c, ty) in cols {
                    if !ty.eq_ignore_ascii_case("TEXT") {
                        continue;
                    }
                    let sql = format!("SELECT {c} FROM \"{t}\"");
                    let vals: Vec<Option<String>> =
                        sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(p).await.unwrap();
                    out.extend(vals.into_iter().flatten().map(|v| (format!("{t}.{c}"), v)));
                }
            }
        }
        Db::Postgres(p) => {
            let cols: Vec<(String, String)> = sqlx::query_as(
                "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
                 JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema \
                 WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
                 AND c.data_type IN ('text', 'character varying')",
            )
            .fetch_all(p)
            .await
            .unwrap();
            for (t, c) in cols {
                let sql = format!("SELECT \"{c}\" FROM \"{t}\"");
                let vals: Vec<Option<String>> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(p).await.unwrap();
                out.extend(vals.into_iter().flatten().map(|v| (format!("{t}.{c}"), v)));
            }
        }
    }
    out
}

fn assert_no_secret(what: &str, output: &str, secrets: &BTreeSet<String>) {
    for s in secrets {
        assert!(!output.contains(s.as_str()), "{what} shows a plaintext identity value:\n{output}");
    }
}

#[tokio::test]
async fn nothing_is_stored_or_printed_in_plaintext() {
    let people = people(book());
    let secrets = secrets(&people);
    assert!(secrets.len() > 500, "the book has identity data to hide ({})", secrets.len());
    each_backend(async |t| {
        let e = Env::new(t);
        let summary = e.ok("", &["import", book().to_str().unwrap()]);
        assert_no_secret("import", &summary, &secrets);
        assert_no_secret("batch", &e.ok("", &["batch", "--date", AS_OF]), &secrets);
        // The raw tables: no value equals or contains any plaintext.
        let stored = all_text(&t.db).await;
        assert!(stored.iter().any(|(w, _)| w == "borrowers.national_id"), "the scan saw the borrowers");
        assert!(stored.iter().any(|(w, _)| w.starts_with("cases.")), "the scan saw the cases");
        for (where_, value) in &stored {
            for s in &secrets {
                assert!(!value.contains(s.as_str()), "[{}] {where_} holds plaintext {value:?}", t.backend);
            }
        }
        // What the commands print without a role.
        let cases = e.json("", &["case", "list", "--json", "--limit", "20"]);
        let first_case = cases[0]["case_id"].as_str().expect("the batch opened cases").to_string();
        for args in [
            vec!["case", "list"],
            vec!["case", "list", "--json"],
            vec!["case", "show", &first_case],
            vec!["case", "show", &first_case, "--json"],
            vec!["loan", "show", "L0000001", "--date", AS_OF],
            vec!["loan", "show", "L0000001", "--date", AS_OF, "--json"],
            vec!["report", "portfolio", "--json"],
        ] {
            assert_no_secret(&format!("{args:?}"), &e.ok("", &args), &secrets);
        }
        let mut shown = 0;
        for p in people.iter().filter(|p| !p.national_id.is_empty()).take(25) {
            for json in [false, true] {
                let mut args = vec!["borrower", "show", p.borrower_id.as_str()];
                if json {
                    args.push("--json");
                }
                let out = e.ok("", &args);
                assert_no_secret(&format!("{args:?}"), &out, &secrets);
                if json {
                    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                    assert_eq!(v["masked"], true);
                    assert_eq!(v["national_id"], arrears_core::personal::mask_national_id(&p.national_id));
                    assert_eq!(v["phone"], arrears_core::personal::mask_phone(&p.phone));
                    assert_eq!(v["email"], arrears_core::personal::mask_email(&p.email));
                    shown += 1;
                }
            }
        }
        assert_eq!(shown, 25);
        // Importing the same files again is still idempotent with random nonces.
        e.ok("", &["import", book().to_str().unwrap()]);
        assert_eq!(t.db.count("imports").await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn unmask_needs_legal_or_auditor_and_every_request_is_recorded() {
    let people = people(book());
    let p = people.iter().find(|p| !p.email.is_empty() && !p.national_id.is_empty()).unwrap().clone();
    each_backend(async |t| {
        let e = Env::new(t);
        e.ok("", &["import", book().to_str().unwrap()]);
        e.users();
        let users = e.json("", &["user", "list", "--json"]);
        assert_eq!(users.as_array().unwrap().len(), 4);
        assert!(!users.to_string().contains("argon2"), "the list shows no password hash");
        let show = ["borrower", "show", p.borrower_id.as_str(), "--json", "--unmask", "--as"];
        for user in ["lawyer", "checker"] {
            let mut args = show.to_vec();
            args.push(user);
            let v = e.json(&format!("pw-{user}-123\n"), &args);
            assert_eq!(v["masked"], false, "{user}");
            assert_eq!(v["national_id"], p.national_id.as_str(), "{user}");
            assert_eq!(v["phone"], p.phone.as_str());
            assert_eq!(v["email"], p.email.as_str());
        }
        for (user, password) in
            [("wang", "pw-wang-123"), ("boss", "pw-boss-123"), ("lawyer", "wrong-password")]
        {
            let mut args = show.to_vec();
            args.push(user);
            let out = e.run(&format!("{password}\n"), &args);
            assert_eq!(out.status.code(), Some(2), "{user} is refused");
            assert!(out.stdout.is_empty(), "nothing is printed for a refused {user}");
            assert!(!text(&out.stderr).contains(&p.national_id));
        }
        let refusal = e.run("pw-wang-123\n", &[&show[..], &["wang"][..]].concat());
        assert!(
            text(&refusal.stderr).contains("may not see personal data unmasked"),
            "{}",
            text(&refusal.stderr)
        );
        let log = e.json("", &["pii", "access", "--borrower", &p.borrower_id, "--json"]);
        let log: Vec<(String, String)> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["user_name"].as_str().unwrap().into(), a["outcome"].as_str().unwrap().into()))
            .collect();
        let want: Vec<(String, String)> = [
            ("lawyer", "granted"),
            ("checker", "granted"),
            ("wang", "refused"),
            ("boss", "refused"),
            ("lawyer", "refused"),
            ("wang", "refused"),
        ]
        .iter()
        .map(|(u, o)| (u.to_string(), o.to_string()))
        .collect();
        assert_eq!(log, want, "[{}]", t.backend);
        // Each request is also in the tamper-evident log, granted or refused.
        let audited: Vec<String> = arrears_store::on_pool!(&t.db, p => {
            sqlx::query_scalar::<_, String>(
                "SELECT kind FROM audit_entries WHERE kind = 'pii.unmask_requested' ORDER BY seq",
            )
            .fetch_all(p)
            .await
            .expect("audit entries")
        });
        assert_eq!(audited.len(), want.len(), "[{}] every unmask request is audited", t.backend);
        // A bad role or a missing agency is refused and stores nothing.
        let bad = e.run("long-enough-pw\n", &["user", "add", "x", "--role", "root", "--password-stdin"]);
        assert_eq!(bad.status.code(), Some(2));
        let bad = e.run("long-enough-pw\n", &["user", "add", "x", "--role", "agency", "--password-stdin"]);
        assert!(text(&bad.stderr).contains("--agency"), "{}", text(&bad.stderr));
        let unknown = e.run(
            "long-enough-pw\n",
            &["user", "add", "x", "--role", "agency", "--agency", "ACME", "--password-stdin"],
        );
        assert!(text(&unknown.stderr).contains("is not registered"), "{}", text(&unknown.stderr));
        assert!(
            e.run("", &["agency", "add", "ACME", "--name", "ACME", "--commission", "0.1"]).status.success()
        );
        e.ok(
            "long-enough-pw\n",
            &["user", "add", "x", "--role", "agency", "--agency", "ACME", "--password-stdin"],
        );
        // A collector user without the collector of its name is refused, saying how to add one.
        let lone =
            e.run("long-enough-pw\n", &["user", "add", "li", "--role", "collector", "--password-stdin"]);
        assert_eq!(lone.status.code(), Some(2), "{}", text(&lone.stderr));
        assert!(text(&lone.stderr).contains("collector add li"), "{}", text(&lone.stderr));
        let dup = e.run("long-enough-pw\n", &["user", "add", "x", "--role", "legal", "--password-stdin"]);
        assert!(text(&dup.stderr).contains("exists already"));
        assert_eq!(t.db.count("users").await.unwrap(), 5);
    })
    .await;
}

/// The sealed values of one borrower's row, as stored.
async fn sealed(db: &Db, id: &str) -> (String, String, String) {
    arrears_store::on_pool!(db, p => sqlx::query_as("SELECT national_id, phone, email FROM borrowers WHERE borrower_id = $1")
        .bind(id)
        .fetch_one(p)
        .await
        .unwrap())
}

#[tokio::test]
async fn rekey_round_trips_and_a_wrong_key_is_a_clear_error() {
    let people = people(book());
    let p = people.iter().find(|p| !p.email.is_empty()).unwrap().clone();
    each_backend(async |t| {
        let e = Env::new(t);
        e.ok("", &["import", book().to_str().unwrap()]);
        e.users();
        let before = sealed(&t.db, &p.borrower_id).await;
        let masked = e.json("", &["borrower", "show", &p.borrower_id, "--json"]);
        let r = e.json("", &["pii", "rekey", "--new-key", "--json"]);
        let key_id = r["key_id"].as_str().unwrap().to_string();
        assert!(r["borrowers"].as_u64().unwrap() > 100 && r["contacts"].as_u64().unwrap() > 100, "{r}");
        let after = sealed(&t.db, &p.borrower_id).await;
        assert_ne!(before.0, after.0);
        assert!(!before.0.contains(&key_id) && after.0.starts_with(&format!("v1:{key_id}:")), "{after:?}");
        let unsealed = arrears_store::on_pool!(&t.db, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM borrowers WHERE national_id <> '' AND national_id NOT LIKE $1")
            .bind(format!("v1:{key_id}:%"))
            .fetch_one(p)
            .await
            .unwrap());
        assert_eq!(unsealed, 0, "every value is under the new key");
        // Same plain values, masked and unmasked.
        assert_eq!(e.json("", &["borrower", "show", &p.borrower_id, "--json"]), masked);
        let plain = e.json(
            "pw-lawyer-123\n",
            &["borrower", "show", &p.borrower_id, "--json", "--unmask", "--as", "lawyer"],
        );
        assert_eq!(
            (plain["national_id"].as_str(), plain["email"].as_str()),
            (Some(p.national_id.as_str()), Some(p.email.as_str()))
        );
        // A second run has nothing left to do.
        let again = e.json("", &["pii", "rekey", "--json"]);
        assert_eq!((again["borrowers"].as_u64(), again["contacts"].as_u64()), (Some(0), Some(0)));
        // Another keyring: a clear error naming the value and the key, never garbage.
        let other = tempfile::tempdir().unwrap();
        let other_keys = other.path().join("other.keys");
        arrears_store::personal::Keyring::open_or_create(&other_keys).unwrap();
        let out = e.run_with(&other_keys, "", &["borrower", "show", &p.borrower_id]);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        let err = text(&out.stderr);
        assert!(err.contains(&key_id) && err.contains("does not hold"), "{err}");
        assert!(err.contains(&format!("borrower {}", p.borrower_id)), "{err}");
        // Re-keying with the wrong keys fails and changes nothing.
        let out = e.run_with(&other_keys, "", &["pii", "rekey"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
        assert_eq!(sealed(&t.db, &p.borrower_id).await, after);
        // The old key is kept in the file, so values sealed before still open.
        let lines = std::fs::read_to_string(&e.keys).unwrap();
        assert_eq!(lines.lines().filter(|l| l.starts_with("key ")).count(), 2);
    })
    .await;
}

/// A small book: B1 repaid long ago, B2 still owing, B3 repaid but with an open case;
/// C1 (B2's guarantor) has B1's phone written another way.
fn purge_book() -> tempfile::TempDir {
    support::write_files(&[
        (
            "borrowers.csv",
            "borrower_id,kind,name,national_id,phone,email,timezone,language\n\
             B1,individual,张三,110101198001011234,13800000001,zhang@example.com,Asia/Shanghai,zh\n\
             B2,individual,李四,110101198001015678,13800000002,li@example.com,Asia/Shanghai,zh\n\
             B3,individual,王五,11010119800101901X,13800000003,,Asia/Shanghai,zh\n",
        ),
        (
            "contacts.csv",
            "contact_id,borrower_id,relation,name,phone,email,consent\n\
             C1,B2,guarantor,赵六,+86 138 0000 0001,,true\n\
             C2,B1,spouse,钱七,13900000009,qian@example.com,true\n",
        ),
        (
            "loans.csv",
            "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days\n\
             L1,B1,P,CNY,1000.00,0.12,1,2018-01-15,bullet,0.18,0\n\
             L2,B2,P,CNY,1000.00,0.12,12,2026-01-15,annuity,0.18,0\n\
             L3,B3,P,CNY,1000.00,0.12,1,2018-01-15,bullet,0.18,0\n",
        ),
        (
            "payments.csv",
            "payment_id,loan_id,paid_on,amount,channel\n\
             P1,L1,2018-02-15,1010.00,bank\n\
             P3,L3,2018-02-15,1010.00,bank\n",
        ),
    ])
}

/// Amounts that the purge must keep: loans and payments summed, and the snapshot count.
async fn amounts(db: &Db) -> (i64, i64, i64) {
    arrears_store::on_pool!(db, p => {
        let loans: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(principal), 0) AS BIGINT) FROM loans").fetch_one(p).await.unwrap();
        let paid: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payments").fetch_one(p).await.unwrap();
        let snaps: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM snapshots").fetch_one(p).await.unwrap();
        (loans, paid, snaps)
    })
}

#[tokio::test]
async fn purge_removes_identity_data_only_past_retention_and_keeps_amounts() {
    let dir = purge_book();
    each_backend(async |t| {
        let e = Env::new(t);
        e.ok("", &["import", dir.path().to_str().unwrap()]);
        e.ok("", &["batch", "--date", AS_OF]);
        // A guarantor's phone written another way finds the borrower with that phone.
        let found = e.json("", &["pii", "find", "--phone", "138-0000-0001", "--json"]);
        let ids: Vec<&str> = found.as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["B1", "C1"]);
        // Old closed cases for all three; B3 also has an open one.
        arrears_store::on_pool!(&t.db, p => {
            for (case, b, status, closed) in [
                ("K1", "B1", "closed", Some("2019-03-01")),
                ("K2", "B2", "closed", Some("2019-03-01")),
                ("K3", "B3", "closed", Some("2019-03-01")),
                ("K4", "B3", "open", None),
            ] {
                let closed = closed.map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
                sqlx::query("INSERT INTO cases (case_id, borrower_id, opened_on, closed_on, status) VALUES ($1, $2, $3, $4, $5)")
                    .bind(case).bind(b).bind(chrono::NaiveDate::from_ymd_opt(2018, 3, 1).unwrap()).bind(closed).bind(status)
                    .execute(p).await.unwrap();
            }
        });
        let before = amounts(&t.db).await;
        // Eight years before 2026-06-30 is 2018-06-30: cases closed in 2019 are within retention.
        let r = e.json("", &["pii", "purge", "--date", AS_OF, "--years", "8", "--json"]);
        assert_eq!(r["borrowers"].as_array().unwrap().len(), 0, "{r}");
        let r = e.json("", &["pii", "purge", "--date", AS_OF, "--pack", "cn", "--json"]);
        assert_eq!(r["borrowers"], serde_json::json!(["B1"]), "[{}] {r}", t.backend);
        assert_eq!(r["contacts"], 1);
        assert_eq!(r["cutoff"], "2021-06-30");
        let again = e.json("", &["pii", "purge", "--date", AS_OF, "--pack", "us", "--json"]);
        assert_eq!(again["borrowers"], serde_json::json!([]), "idempotent: {again}");
        assert_eq!(amounts(&t.db).await, before, "amounts, loans and history are kept");
        let b1 = e.json("", &["borrower", "show", "B1", "--json"]);
        assert_eq!((b1["national_id"].as_str(), b1["phone"].as_str(), b1["name"].as_str()), (Some(""), Some(""), Some("")));
        assert_eq!(b1["purged_on"], AS_OF);
        let b2 = e.json("", &["borrower", "show", "B2", "--json"]);
        assert_eq!(b2["national_id"], "110***********5678", "B2 still owes: kept");
        let b3 = e.json("", &["borrower", "show", "B3", "--json"]);
        assert_eq!(b3["phone"], "138****0003", "B3 has an open case: kept");
        let loan = e.json("", &["loan", "show", "L1", "--date", AS_OF, "--json"]);
        assert_eq!(loan["status"], "paid_off");
        let found = e.json("", &["pii", "find", "--phone", "13800000001", "--json"]);
        assert_eq!(found.as_array().unwrap().len(), 1, "only C1 still has that phone: {found}");
        let bad = e.run("", &["pii", "purge", "--date", AS_OF, "--pack", "eu"]);
        assert!(text(&bad.stderr).contains("no retention period"), "{}", text(&bad.stderr));
    })
    .await;
}
