//! Running the binary against a test database, for the integration tests that share it.

use std::process::{Command, Output};

use crate::support::TestDb;

/// A book written by `arrears generate` (deterministic for a seed) into a new temporary
/// folder, kept as long as the returned folder is.
pub fn generated_book(loans: u32, seed: u64, as_of: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("book");
    let (loans, seed) = (loans.to_string(), seed.to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
        .args(["generate", "--loans", &loans, "--seed", &seed, "--as-of", as_of, "--out"])
        .arg(&path)
        .output()
        .expect("generate runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    (dir, path)
}

/// Bytes of an output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `arrears --db <test database> args…`, free of the switches the environment could set.
pub fn arrears(t: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arrears"))
        .arg("--db")
        .arg(t.url.expose())
        .args(args)
        .env_remove("ARREARS_FAILPOINT")
        .env_remove("ARREARS_ALERT_RULES")
        .output()
        .expect("the arrears binary runs")
}

/// Runs the binary, asserts success and returns its standard output.
pub fn ok(t: &TestDb, args: &[&str]) -> String {
    let out = arrears(t, args);
    assert!(out.status.success(), "[{}] arrears {args:?}: {}", t.backend, text(&out.stderr));
    text(&out.stdout)
}

/// Rows of `sql`, every column cast to text by the caller's SQL ('' for NULL).
#[allow(dead_code)]
pub async fn rows(db: &arrears_store::Db, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row as _;
    arrears_store::on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| (0..r.len()).map(|i| r.get::<Option<String>, _>(i).unwrap_or_default()).collect())
            .collect()
    })
}

/// Runs the binary and parses its standard output as JSON.
#[allow(dead_code)]
pub fn json(t: &TestDb, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(t, args)).expect("JSON output")
}
