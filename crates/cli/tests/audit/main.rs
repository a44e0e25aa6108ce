//! The audit log through the binary, on SQLite always and on PostgreSQL when
//! `ARREARS_TEST_PG` is set: importing and batching append entries and sign a checkpoint;
//! proofs printed as JSON match RFC 6962's definitions computed here from the raw entries;
//! tampering of every kind with raw SQL is found by `audit verify`, down to every column of
//! every audit table (`columns`); a case's evidence
//! package checks on its own and fails once a byte of it changes.

#[allow(dead_code)]
#[path = "../../../app/tests/import/support.rs"]
mod support;

mod columns;
mod rfc;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use arrears_store::Db;
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use support::{TestDb, each_backend};

/// A small generated book shared by the tests.
fn book() -> &'static Path {
    static BOOK: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = BOOK.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("book");
        let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .args(["generate", "--loans", "300", "--seed", "11", "--as-of", "2026-10-20", "--out"])
            .arg(&path)
            .output()
            .expect("generate runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        (dir, path)
    });
    path
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A test database with its own key file.
struct Env<'a> {
    t: &'a TestDb,
    _keys: tempfile::TempDir,
    key: PathBuf,
}

impl<'a> Env<'a> {
    fn new(t: &'a TestDb) -> Self {
        let keys = tempfile::tempdir().expect("temp dir");
        let key = keys.path().join("audit.key");
        Env { t, _keys: keys, key }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_arrears"))
            .arg("--db")
            .arg(self.t.url.expose())
            .arg("--audit-key")
            .arg(&self.key)
            .args(args)
            .env_remove("ARREARS_FAILPOINT")
            .env_remove("ARREARS_AUDIT_KEY")
            .env_remove("ARREARS_ALERT_RULES")
            .output()
            .expect("the arrears binary runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "[{}] arrears {args:?}: {}", self.t.backend, text(&out.stderr));
        text(&out.stdout)
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("JSON output")
    }

    /// `audit verify --json`, which must fail: its report.
    fn tampered(&self) -> serde_json::Value {
        let out = self.run(&["audit", "verify", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "[{}] verify must exit 1: {}",
            self.t.backend,
            text(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).expect("JSON report")
    }

    fn intact(&self) {
        let v = self.json(&["audit", "verify", "--json"]);
        assert_eq!(v["intact"], true, "[{}] {v:#}", self.t.backend);
    }

    /// Imports the shared book and runs three business dates.
    fn book_with_history(&self) {
        self.ok(&["import", book().to_str().unwrap()]);
        self.ok(&["batch", "--from", "2026-10-18", "--to", "2026-10-20", "--chunk", "60"]);
    }
}

async fn exec(db: &Db, sql: &str) {
    arrears_store::on_pool!(db, p => {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

async fn bodies(db: &Db) -> Vec<Vec<u8>> {
    arrears_store::on_pool!(db, p => {
        sqlx::query("SELECT body FROM audit_entries ORDER BY seq")
            .fetch_all(p)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<Vec<u8>, _>(0))
            .collect()
    })
}

async fn set_body(db: &Db, seq: i64, body: &[u8]) {
    arrears_store::on_pool!(db, p => {
        sqlx::query("UPDATE audit_entries SET body = $1 WHERE seq = $2").bind(body.to_vec()).bind(seq).execute(p).await.unwrap();
    });
}

/// Inserts an entry row whose `at` and `kind` columns repeat its body, as an append writes them.
async fn insert_entry(db: &Db, seq: i64, body: &[u8]) {
    let v = entry_json(body);
    let (at, kind) = (v["at"].as_str().unwrap().to_string(), v["kind"].as_str().unwrap().to_string());
    arrears_store::on_pool!(db, p => {
        sqlx::query("INSERT INTO audit_entries (seq, at, kind, body) VALUES ($1, $2, $3, $4)")
            .bind(seq)
            .bind(at)
            .bind(kind)
            .bind(body.to_vec())
            .execute(p)
            .await
            .unwrap();
    });
}

fn hex32(s: &serde_json::Value) -> [u8; 32] {
    let s = s.as_str().expect("hex string");
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

fn hashes(v: &serde_json::Value) -> Vec<[u8; 32]> {
    v.as_array().expect("array").iter().map(hex32).collect()
}

fn entry_json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("entry JSON")
}

#[tokio::test]
async fn import_and_batch_append_entries_sign_a_checkpoint_and_proofs_follow_rfc_6962() {
    each_backend(async |t| {
        let e = Env::new(t);
        e.book_with_history();
        assert!(e.key.exists(), "the first batch creates the key file");
        let all = bodies(&t.db).await;
        let kinds: Vec<String> =
            all.iter().map(|b| entry_json(b)["kind"].as_str().unwrap().to_string()).collect();
        assert_eq!(kinds[0], "import.committed");
        for kind in ["batch.chunk", "batch.day_closed", "case.opened"] {
            assert!(kinds.iter().any(|k| k == kind), "no {kind} entry in {kinds:?}");
        }
        assert_eq!(kinds.iter().filter(|k| *k == "batch.day_closed").count(), 3, "one per business date");

        // The import entry names every file with its SHA-256 and row count.
        let import = entry_json(&all[0]);
        let files = import["facts"]["files"].as_array().unwrap();
        let loans = files.iter().find(|f| f["file"] == "loans.csv").expect("loans.csv listed");
        let bytes = std::fs::read(book().join("loans.csv")).unwrap();
        assert_eq!(loans["sha256"].as_str().unwrap(), hex::encode(Sha256::digest(&bytes)));
        assert_eq!(loans["rows"], 300);

        // 300 loans in chunks of 60 on the first date: the chunk entries count them all.
        let first_day: u64 = all
            .iter()
            .map(|b| entry_json(b))
            .filter(|v| v["kind"] == "batch.chunk" && v["facts"]["business_date"] == "2026-10-18")
            .map(|v| v["facts"]["loans"].as_u64().unwrap())
            .sum();
        assert_eq!(first_day, 300);

        // The batch signed a checkpoint of everything it appended.
        let cps = e.ok(&["audit", "checkpoints"]);
        assert!(cps.starts_with(&format!("arrears/audit\n{}\n", all.len())), "{cps}");
        e.intact();

        // Proofs: recomputed from the raw entries with RFC 6962's definitions only.
        let n = all.len();
        for m in [0, 1, n / 2, n - 2, n - 1] {
            let v = e.json(&["audit", "proof", &m.to_string(), "--json"]);
            assert_eq!(v["tree_size"].as_u64().unwrap() as usize, n);
            assert_eq!(v["entry"].as_str().unwrap().as_bytes(), all[m].as_slice());
            assert_eq!(hex32(&v["leaf_hash"]), rfc::mth(&all[m..m + 1]), "leaf hash of {m}");
            assert_eq!(hashes(&v["inclusion_proof"]), rfc::path(m, &all), "PATH({m}, D[{n}])");
            assert_eq!(hex32(&v["root"]), rfc::mth(&all), "MTH(D[{n}])");
            let note = v["checkpoint"].as_str().unwrap();
            assert!(note.starts_with(&format!("arrears/audit\n{n}\n")), "{note}");
        }
        for m in [1, 2, n / 3, n - 1] {
            let v = e.json(&["audit", "consistency", &m.to_string(), "--json"]);
            assert_eq!(hashes(&v["consistency_proof"]), rfc::proof(m, &all), "PROOF({m}, D[{n}])");
            assert_eq!(hex32(&v["old_root"]), rfc::mth(&all[..m]));
            assert_eq!(hex32(&v["new_root"]), rfc::mth(&all));
        }
        let out = e.run(&["audit", "proof", &n.to_string()]);
        assert_eq!(out.status.code(), Some(2), "an entry beyond the checkpoint has no proof");
        assert!(text(&out.stderr).contains("not covered by the latest checkpoint"), "{}", text(&out.stderr));

        // An on-demand checkpoint, and the public key that checks it.
        let cp = e.ok(&["audit", "checkpoint"]);
        let key: arrears_audit::LogVerifier = e.ok(&["audit", "pubkey"]).trim().parse().unwrap();
        assert_eq!(key.verify_checkpoint(&cp).unwrap().root, rfc::mth(&all));

        // A second run of the last date appends its entries and another checkpoint.
        e.ok(&["batch", "--date", "2026-10-20"]);
        let after = bodies(&t.db).await;
        assert!(after.len() > n && after[..n] == all[..], "the log only grows");
        e.intact();
    })
    .await;
}

#[tokio::test]
async fn tampering_of_every_kind_is_found() {
    each_backend(async |t| {
        let e = Env::new(t);
        e.book_with_history();
        let db = &t.db;
        let all = bodies(db).await;
        let n = all.len() as i64;
        assert!(n > 12, "enough entries to tamper with: {n}");
        e.intact();

        // Altered: a byte of one entry (it stays canonical JSON).
        let altered = text(&all[5]).replacen("\"at\":\"2", "\"at\":\"1", 1);
        set_body(db, 5, altered.as_bytes()).await;
        let v = e.tampered();
        assert_eq!(v["first_bad_entry"], 5, "{v:#}");
        assert!(v["problems"][0]["message"].as_str().unwrap().starts_with("entry 5 is not the entry"), "{v:#}");
        set_body(db, 5, &all[5]).await;
        e.intact();

        // Deleted: one entry in the middle, and the last one (after the checkpoint's signing
        // the log must not shrink either).
        exec(db, "DELETE FROM audit_entries WHERE seq = 7").await;
        assert_eq!(e.tampered()["first_bad_entry"], 7);
        insert_entry(db, 7, &all[7]).await;
        e.intact();
        exec(db, &format!("DELETE FROM audit_entries WHERE seq = {}", n - 1)).await;
        let v = e.tampered();
        assert_eq!(v["first_bad_entry"], n - 1, "{v:#}");
        insert_entry(db, n - 1, &all[n as usize - 1]).await;
        e.intact();

        // Inserted: a forged entry at 4, the later ones moved up by one.
        exec(db, "UPDATE audit_entries SET seq = seq + 1000000 WHERE seq >= 4").await;
        exec(db, "UPDATE audit_entries SET seq = seq - 999999 WHERE seq >= 1000000").await;
        let forged = text(&all[4]).replacen("\"kind\":\"", "\"kind\":\"forged.", 1);
        insert_entry(db, 4, forged.as_bytes()).await;
        let v = e.tampered();
        assert_eq!(v["first_bad_entry"], 4, "{v:#}");
        exec(db, "DELETE FROM audit_entries WHERE seq = 4").await;
        exec(db, "UPDATE audit_entries SET seq = seq + 1000000 WHERE seq >= 5").await;
        exec(db, "UPDATE audit_entries SET seq = seq - 1000001 WHERE seq >= 1000000").await;
        e.intact();

        // Reordered: two entries swapped.
        set_body(db, 3, &all[9]).await;
        set_body(db, 9, &all[3]).await;
        assert_eq!(e.tampered()["first_bad_entry"], 3);
        set_body(db, 3, &all[3]).await;
        set_body(db, 9, &all[9]).await;
        e.intact();

        // A stored tree node altered: proofs through it would be wrong.
        let saved: Vec<u8> = arrears_store::on_pool!(db, p => sqlx::query_scalar(
            "SELECT hash FROM audit_nodes WHERE level = 1 AND idx = 2").fetch_one(p).await.unwrap());
        exec(db, "UPDATE audit_nodes SET hash = (SELECT hash FROM audit_nodes WHERE level = 0 AND idx = 0) WHERE level = 1 AND idx = 2").await;
        let v = e.tampered();
        let node = v["problems"].as_array().unwrap().iter().find(|p| p["what"] == "node").expect("a node problem");
        assert_eq!(node["seq"], 4, "{v:#}");
        arrears_store::on_pool!(db, p => {
            sqlx::query("UPDATE audit_nodes SET hash = $1 WHERE level = 1 AND idx = 2").bind(saved).execute(p).await.unwrap();
        });
        e.intact();

        // A checkpoint altered: its signed text, then only its row's root.
        let note: String = arrears_store::on_pool!(db, p => sqlx::query_scalar(
            "SELECT note FROM audit_checkpoints ORDER BY id LIMIT 1").fetch_one(p).await.unwrap());
        let forged = note.replacen(&format!("\n{n}\n"), &format!("\n{}\n", n - 1), 1);
        assert_ne!(forged, note);
        arrears_store::on_pool!(db, p => {
            sqlx::query("UPDATE audit_checkpoints SET note = $1").bind(forged).execute(p).await.unwrap();
        });
        let v = e.tampered();
        let p0 = v["problems"].as_array().unwrap().iter().find(|p| p["what"] == "checkpoint").expect("checkpoint");
        assert!(p0["message"].as_str().unwrap().contains("does not verify"), "{v:#}");
        arrears_store::on_pool!(db, p => {
            sqlx::query("UPDATE audit_checkpoints SET note = $1").bind(note.clone()).execute(p).await.unwrap();
        });
        e.intact();
        exec(db, "UPDATE audit_checkpoints SET root = (SELECT hash FROM audit_nodes WHERE level = 0 AND idx = 0)").await;
        let v = e.tampered();
        assert!(v["problems"][0]["message"].as_str().unwrap().contains("was altered"), "{v:#}");

        // The text report names the entry and exits 1.
        set_body(db, 2, &all[8]).await;
        let out = e.run(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("first bad entry 2"), "{}", text(&out.stderr));
    })
    .await;
}

/// The entries that name `entity`.
fn naming<'a>(entries: &'a [serde_json::Value], entity: &str) -> Vec<&'a serde_json::Value> {
    entries.iter().filter(|v| v["entity_ids"].as_array().unwrap().iter().any(|x| x == entity)).collect()
}

#[tokio::test]
async fn judged_promises_and_raised_alerts_are_audited() {
    use arrears_core::Amount;
    use arrears_core::ptp::Promise;
    each_backend(async |t| {
        let e = Env::new(t);
        let db = &t.db;
        e.ok(&["import", book().to_str().unwrap()]);
        e.ok(&["batch", "--date", "2026-10-18"]);
        let cases: Vec<(String, String, String)> = arrears_store::on_pool!(db, p => sqlx::query_as(
            "SELECT c.case_id, MIN(cl.loan_id), MIN(l.currency) FROM cases c \
             JOIN case_loans cl ON cl.case_id = c.case_id JOIN loans l ON l.loan_id = cl.loan_id \
             WHERE c.status = 'open' GROUP BY c.case_id ORDER BY c.case_id").fetch_all(p).await.unwrap());
        assert!(cases.len() >= 4, "[{}] only {} open cases", t.backend, cases.len());
        let mut tx = db.begin().await.unwrap();
        let day = |s: &str| -> chrono::NaiveDate { s.parse().unwrap() };
        for (i, (case, _, currency)) in cases.iter().take(4).enumerate() {
            // The last two ask for more than any payment of the book could bring.
            let amount = Amount::from_minor(if i < 2 { 100 } else { 1_000_000_000 });
            let p = Promise { promised_on: day("2026-10-18"), due_on: day("2026-10-19"), amount };
            arrears_store::ptps::add_ptp(&mut tx, &format!("PTP{i}"), case, currency, &p).await.unwrap();
        }
        tx.commit().await.unwrap();
        // The first two promises are paid on their due date; the others never.
        for (i, (_, loan, _)) in cases.iter().take(2).enumerate() {
            let id = format!("PAY{i}");
            e.ok(&["payment", "add", "--id", &id, "--loan", loan, "--date", "2026-10-19", "--amount", "1.00"]);
        }
        e.ok(&["batch", "--from", "2026-10-19", "--to", "2026-10-20"]);
        let entries: Vec<serde_json::Value> = bodies(db).await.iter().map(|b| entry_json(b)).collect();

        let judged: Vec<(String, String, String, i64)> = arrears_store::on_pool!(db, p => sqlx::query_as(
            "SELECT ptp_id, case_id, status, paid FROM ptps ORDER BY ptp_id").fetch_all(p).await.unwrap());
        let statuses: Vec<&str> = judged.iter().map(|j| j.2.as_str()).collect();
        assert_eq!(statuses, ["kept", "kept", "broken", "broken"], "[{}]", t.backend);
        for (ptp, case, status, paid) in &judged {
            let about = naming(&entries, &format!("ptp:{ptp}"));
            assert_eq!(about.len(), 1, "[{}] one entry for {ptp}: {about:?}", t.backend);
            let v = about[0];
            assert_eq!(v["kind"], format!("ptp.{status}"), "{v}");
            assert!(naming(&entries, &format!("case:{case}")).contains(&v), "{v} names its case");
            assert_eq!(v["facts"]["was"], "pending");
            assert_eq!(v["facts"]["business_date"], "2026-10-19");
            assert_eq!(v["facts"]["paid_minor"], *paid, "{v}");
        }

        let mut alerts: Vec<(String, String, String, Option<String>)> = arrears_store::on_pool!(db, p => sqlx::query_as(
            "SELECT borrower_id, rule_id, CAST(raised_on AS TEXT), case_id FROM alerts").fetch_all(p).await.unwrap());
        assert!(alerts.iter().any(|a| a.1 == "broken_promise"), "[{}] {alerts:?}", t.backend);
        let mut audited: Vec<(String, String, String, Option<String>)> = entries
            .iter()
            .filter(|v| v["kind"] == "alert.raised")
            .map(|v| {
                let ids: Vec<&str> = v["entity_ids"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
                let f = &v["facts"];
                (
                    ids[0].strip_prefix("borrower:").unwrap().to_string(),
                    f["rule_id"].as_str().unwrap().to_string(),
                    f["business_date"].as_str().unwrap().to_string(),
                    ids.get(1).and_then(|c| c.strip_prefix("case:")).map(str::to_string),
                )
            })
            .collect();
        alerts.sort();
        audited.sort();
        assert_eq!(audited, alerts, "[{}] one alert.raised entry per alert", t.backend);
        e.intact();
    })
    .await;
}

fn read_zip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

fn write_zip(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

#[tokio::test]
async fn a_case_evidence_package_checks_alone_and_fails_when_changed() {
    each_backend(async |t| {
        let e = Env::new(t);
        e.book_with_history();
        let cases = e.json(&["case", "list", "--json"]);
        let case = cases[0]["case_id"].as_str().expect("the book has a case").to_string();
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("ev.zip");
        e.ok(&["audit", "evidence", &case, "--out", zip.to_str().unwrap()]);
        // check-evidence needs no database and no key file.
        let check = |path: &Path| {
            Command::new(env!("CARGO_BIN_EXE_arrears"))
                .args(["--db", "sqlite:///nonexistent/dir/x.db", "audit", "check-evidence"])
                .arg(path)
                .output()
                .unwrap()
        };
        let out = check(&zip);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(&format!("evidence for case {case} holds")),
            "{}",
            text(&out.stdout)
        );

        let files = read_zip(&zip);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        for want in ["README.md", "case.json", "checkpoint.txt", "public-key.txt"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let entries: Vec<&(String, Vec<u8>)> =
            files.iter().filter(|(n, _)| n.starts_with("entries/")).collect();
        assert!(entries.len() >= 2, "the case's entries and the export entry: {names:?}");
        let opened = entries.iter().any(|(_, b)| text(b).contains(r#"\"kind\":\"case.opened\""#));
        assert!(opened, "the case's opening is in the package");

        // One byte changed in the data of each file of the zip, as stored.
        let raw = std::fs::read(&zip).unwrap();
        for (name, bytes) in &files {
            let at =
                raw.windows(bytes.len()).position(|w| w == bytes.as_slice()).expect("stored uncompressed");
            let mut bad = raw.clone();
            bad[at + bytes.len() / 2] ^= 0x01;
            let p = dir.path().join("bad.zip");
            std::fs::write(&p, &bad).unwrap();
            assert_eq!(check(&p).status.code(), Some(1), "a changed byte in {name} passed");
        }
        // A rebuilt zip (checksums right) with one byte of one file changed, or a file removed.
        for (i, (name, bytes)) in files.iter().enumerate() {
            let mut changed = files.clone();
            let mut b = bytes.clone();
            let at = b.iter().position(|c| c.is_ascii_digit()).unwrap_or(0);
            b[at] = if b[at] == b'1' { b'2' } else { b'1' };
            changed[i].1 = b;
            let p = dir.path().join("rebuilt.zip");
            write_zip(&p, &changed);
            let out = check(&p);
            if name == "README.md" {
                // The README explains; it proves nothing, so changing it changes nothing.
                assert!(out.status.success());
                continue;
            }
            assert_eq!(out.status.code(), Some(1), "a changed {name} passed: {}", text(&out.stdout));
            let mut fewer = files.clone();
            fewer.remove(i);
            write_zip(&p, &fewer);
            assert_eq!(check(&p).status.code(), Some(1), "a package without {name} passed");
        }
    })
    .await;
}
