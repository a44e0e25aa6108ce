//! Every state-changing command appends to the audit log (存证): each command of the table
//! runs once on a small generated book, and the log must have grown by an entry of the
//! command's kind. A command that changes state without an entry fails the test by name.
//! SQLite always, PostgreSQL too when `ARREARS_TEST_PG` is set.

#[allow(dead_code)]
#[path = "../../app/tests/import/support.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use arrears_store::Db;
use support::{TestDb, each_backend};

const AS_OF: &str = "2026-06-30";

/// One state-changing command: its arguments (`{name}` placeholders are filled from the
/// book just before it runs, see [`fill`]), its standard input, and the kind of entry it
/// must append (a prefix: `action.` is logged or refused, both recorded).
struct Step {
    args: &'static [&'static str],
    stdin: &'static str,
    kind: &'static str,
}

const fn step(args: &'static [&'static str], kind: &'static str) -> Step {
    Step { args, stdin: "", kind }
}

/// The state-changing commands. Left out: `init` (the schema, not business state), `audit
/// checkpoint` (signs the log itself), `audit evidence` (records its export, but changes no
/// business state), and `score behaviour install` (covered by `cli/tests/behaviour.rs`; it
/// needs a trained model).
const STEPS: &[Step] = &[
    step(&["import", "{book}"], "import.committed"),
    step(&["batch", "--date", AS_OF], "batch.day_closed"),
    step(
        &["payment", "add", "--id", "AUDIT-P1", "--loan", "{loan}", "--date", AS_OF, "--amount", "1.00"],
        "payment.recorded",
    ),
    Step {
        args: &["user", "add", "auditee", "--role", "legal", "--password-stdin"],
        stdin: "long-enough-pw\n",
        kind: "user.added",
    },
    step(&["collector", "add", "cz9", "--name", "催收员", "--capacity", "5"], "collector.saved"),
    step(&["agency", "add", "AZ9", "--name", "外包", "--commission", "0.1"], "agency.saved"),
    step(&["strategy", "install", "{strategy}", "--config", "{config}"], "strategy.installed"),
    step(&["product", "set", "{product}", "--tolerance-minor", "7"], "product.set"),
    step(
        &[
            "action",
            "log",
            "--case",
            "{case}",
            "--channel",
            "call",
            "--party",
            "borrower",
            "--outcome",
            "no_answer",
            "--at",
            "2026-06-30T15:00:00+08:00",
            "--by",
            "cz9",
        ],
        "action.",
    ),
    step(&["case", "assign", "{case}", "--collector", "cz9"], "case.assigned"),
    step(&["case", "recall", "{placed_case}"], "case.recalled"),
    step(&["case", "release-hold", "{held_case}"], "case.hold_released"),
    step(&["contact", "restrict", "{borrower}", "--kind", "cease", "--date", AS_OF], "contact.restricted"),
    step(&["contact", "lift", "{restriction}", "--note", "客户同意"], "contact.restriction_lifted"),
    step(&["alert", "ack", "{alert}", "--note", "seen"], "alert.acknowledged"),
    step(&["alert", "close", "{alert}", "--note", "done"], "alert.closed"),
    step(&["pii", "rekey", "--new-key"], "pii.rekeyed"),
    step(&["pii", "purge", "--date", AS_OF, "--years", "8"], "pii.purged"),
];

struct Env<'a> {
    t: &'a TestDb,
    dir: tempfile::TempDir,
}

impl Env<'_> {
    fn run(&self, stdin: &str, args: &[String]) -> Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .arg("--db")
            .arg(self.t.url.expose())
            .arg("--data-key")
            .arg(self.dir.path().join("test.keys"))
            .arg("--audit-key")
            .arg(self.dir.path().join("audit.key"))
            .args(args)
            .env_remove("ARREARS_DATA_KEY")
            .env_remove("ARREARS_FAILPOINT")
            .env_remove("ARREARS_ALERT_RULES")
            .env("ARREARS_HOLIDAYS", self.dir.path().join("no-holidays.txt"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the arrears binary runs");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn one(db: &Db, sql: &str) -> String {
    arrears_store::on_pool!(db, pool => {
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

async fn exec(db: &Db, sql: &str) {
    arrears_store::on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
}

/// The open cases, in id order: the first is worked, the second placed, the third held.
async fn open_case(db: &Db, nth: usize) -> String {
    one(db, &format!("SELECT case_id FROM cases WHERE status = 'open' ORDER BY case_id LIMIT 1 OFFSET {nth}"))
        .await
}

/// Fills a placeholder from the book, setting up by SQL what a command needs to find (a
/// placement, a hold, an alert): the batch of a small book makes none of them reliably.
async fn fill(e: &Env<'_>, arg: &str, book: &Path) -> String {
    let db = &e.t.db;
    match arg {
        "{book}" => book.display().to_string(),
        "{config}" => concat!(env!("CARGO_MANIFEST_DIR"), "/../../config").to_string(),
        "{strategy}" => {
            let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config");
            let default = std::fs::read_to_string(format!("{config}/strategies/default.toml")).unwrap();
            let path = e.dir.path().join("strategy.toml");
            std::fs::write(&path, default.replace("version = 1", "version = 9")).unwrap();
            path.display().to_string()
        }
        "{loan}" => one(db, "SELECT loan_id FROM loans ORDER BY loan_id LIMIT 1").await,
        "{product}" => one(db, "SELECT product FROM loans ORDER BY loan_id LIMIT 1").await,
        "{case}" => open_case(db, 0).await,
        "{borrower}" => {
            let case = open_case(db, 0).await;
            one(db, &format!("SELECT borrower_id FROM cases WHERE case_id = '{case}'")).await
        }
        "{placed_case}" => {
            let case = open_case(db, 1).await;
            exec(
                db,
                &format!(
                    "INSERT INTO placements (placement_id, case_id, agency_id, placed_on, until_on, borrower_id) \
                     SELECT 'AUDIT-PL1', case_id, 'AZ9', '{AS_OF}', '2026-09-30', borrower_id FROM cases \
                     WHERE case_id = '{case}'"
                ),
            )
            .await;
            case
        }
        "{held_case}" => {
            let case = open_case(db, 2).await;
            exec(db, &format!("DELETE FROM case_treatment WHERE case_id = '{case}'")).await;
            exec(
                db,
                &format!(
                    "INSERT INTO case_treatment (case_id, hold, borrower_id) \
                     SELECT case_id, 'dispute', borrower_id FROM cases WHERE case_id = '{case}'"
                ),
            )
            .await;
            case
        }
        "{restriction}" => {
            one(db, "SELECT CAST(MAX(restriction_id) AS TEXT) FROM contact_restrictions").await
        }
        "{alert}" => {
            let have =
                one(db, "SELECT CAST(COUNT(*) AS TEXT) FROM alerts WHERE rule_id = 'AUDIT-TEST'").await;
            if have == "0" {
                let case = open_case(db, 0).await;
                let b = one(db, &format!("SELECT borrower_id FROM cases WHERE case_id = '{case}'")).await;
                exec(
                    db,
                    &format!(
                        "INSERT INTO alerts (borrower_id, rule_id, severity, departments, vals, raised_on) \
                         VALUES ('{b}', 'AUDIT-TEST', 'warning', 'risk', '{{}}', '{AS_OF}')"
                    ),
                )
                .await;
            }
            one(db, "SELECT CAST(MAX(alert_id) AS TEXT) FROM alerts WHERE rule_id = 'AUDIT-TEST'").await
        }
        other => other.to_string(),
    }
}

async fn last_seq(db: &Db) -> i64 {
    one(db, "SELECT CAST(COALESCE(MAX(seq), -1) AS TEXT) FROM audit_entries").await.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_state_changing_command_appends_an_audit_entry() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
        .args(["generate", "--loans", "400", "--seed", "3", "--as-of", AS_OF, "--out"])
        .arg(&book)
        .output()
        .expect("generate runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    each_backend(async |t: &TestDb| {
        let e = Env { t, dir: tempfile::tempdir().unwrap() };
        std::fs::write(e.dir.path().join("no-holidays.txt"), "").unwrap();
        arrears_store::personal::Keyring::open_or_create(&e.dir.path().join("test.keys")).unwrap();
        let mut silent = Vec::new();
        for s in STEPS {
            let mut args = Vec::with_capacity(s.args.len());
            for a in s.args {
                args.push(fill(&e, a, &book).await);
            }
            let before = last_seq(&t.db).await;
            let out = e.run(s.stdin, &args);
            // A logged contact the policy refuses is recorded as refused and exits non-zero.
            assert!(
                out.status.success() || s.kind == "action.",
                "[{}] arrears {}: {}",
                t.backend,
                args.join(" "),
                text(&out.stderr)
            );
            let kinds: Vec<String> = arrears_store::on_pool!(&t.db, pool => {
                sqlx::query_scalar::<_, String>("SELECT kind FROM audit_entries WHERE seq > $1 ORDER BY seq")
                    .bind(before)
                    .fetch_all(pool)
                    .await
                    .unwrap()
            });
            if !kinds.iter().any(|k| k.starts_with(s.kind)) {
                silent.push(format!("`arrears {}` (wanted {}, got {kinds:?})", s.args.join(" "), s.kind));
            }
        }
        assert!(
            silent.is_empty(),
            "[{}] commands that changed state without their audit entry:\n  {}",
            t.backend,
            silent.join("\n  ")
        );
    })
    .await;
}
