//! Every road to a resolved debt through the binary (issue 24), on a generated book: approved
//! arrangements kept or broken by the batch, write-offs with recoveries and reversal, NPL
//! transfers with their package and notices, the legal track, and the batch's refusal of a
//! date a loan does not balance on. SQLite always, PostgreSQL when `ARREARS_TEST_PG` is set.

mod arrangements;
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
mod conservation;
mod generated;
mod legal;
#[allow(dead_code)]
#[path = "../../../app/tests/import/support.rs"]
mod support;
mod transfers;
mod write_offs;

use std::process::{Command, Output, Stdio};

use common::text;
use support::TestDb;

/// A generated book imported and closed for its first date, with users, on a test database.
pub struct Book<'a> {
    t: &'a TestDb,
    dir: tempfile::TempDir,
}

/// The password of a test user (`pw-NAME-123`), with the newline the binary reads.
pub fn pw(user: &str) -> String {
    format!("pw-{user}-123\n")
}

impl<'a> Book<'a> {
    /// `loans` loans of `seed` as of `as_of`, imported, the batch run for `as_of`, and `users`
    /// (name, role) added with their [`pw`].
    pub fn new(t: &'a TestDb, loans: u32, seed: u64, as_of: &str, users: &[(&str, &str)]) -> Book<'a> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_keep, book) = common::generated_book(loans, seed, as_of);
        let b = Book { t, dir };
        b.ok("", &["import", book.to_str().unwrap()]);
        b.ok("", &["batch", "--date", as_of]);
        for (name, role) in users {
            if *role == "collector" {
                // A collector user's name is a collector's id.
                b.ok("", &["collector", "add", name, "--name", name, "--team", "t1", "--capacity", "60"]);
            }
            b.ok(&pw(name), &["user", "add", name, "--role", role, "--password-stdin"]);
        }
        b
    }

    /// The test database.
    pub fn db(&self) -> &arrears_store::Db {
        &self.t.db
    }

    /// A path in the book's own temporary folder.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `arrears --db … args` with `stdin` on standard input.
    pub fn run(&self, stdin: &str, args: &[&str]) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .arg("--db")
            .arg(self.t.url.expose())
            .args(args)
            .env_remove("ARREARS_FAILPOINT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the arrears binary runs");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("it ends")
    }

    /// [`Book::run`], asserting success; standard output.
    pub fn ok(&self, stdin: &str, args: &[&str]) -> String {
        let out = self.run(stdin, args);
        assert!(out.status.success(), "[{}] {args:?}: {}", self.t.backend, text(&out.stderr));
        text(&out.stdout)
    }

    /// [`Book::run`], asserting exit 2 with `want` in the message.
    pub fn refused(&self, stdin: &str, args: &[&str], want: &str) {
        let out = self.run(stdin, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "[{}] {args:?} should fail: {}",
            self.t.backend,
            text(&out.stdout)
        );
        assert!(text(&out.stderr).contains(want), "[{}] {args:?}: {}", self.t.backend, text(&out.stderr));
    }

    /// [`Book::ok`] of a `--json` command, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok("", args)).expect("JSON")
    }

    /// [`Book::ok`] with a password, parsed.
    pub fn json_as(&self, user: &str, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(&pw(user), args)).expect("JSON")
    }

    /// The first `n` open cases holding one loan each, in id order.
    pub fn open_cases(&self, n: usize) -> Vec<String> {
        let cases = self.json(&["case", "list", "--json"]);
        let open: Vec<String> = cases
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "open" && c["loans"] == 1)
            .map(|c| c["case_id"].as_str().unwrap().to_string())
            .take(n)
            .collect();
        assert_eq!(open.len(), n, "{n} open cases of one loan each");
        open
    }

    /// The (first) loan of a case.
    pub fn loan_of(&self, case: &str) -> String {
        self.json(&["case", "show", case, "--json"])["loans"][0]["loan_id"].as_str().unwrap().to_string()
    }

    /// `loan show L --date D --json`, checked to balance.
    pub fn loan(&self, loan: &str, date: &str) -> serde_json::Value {
        let v = self.json(&["loan", "show", loan, "--date", date, "--json"]);
        assert!(balances(&v), "[{}] {loan} on {date}: {}", self.t.backend, v["totals"]);
        v
    }
}

/// Minor units of a decimal string ("-12.34" → -1234).
pub fn minor(s: &serde_json::Value) -> i64 {
    let s = s.as_str().expect("an amount");
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (units, cents) = s.split_once('.').unwrap_or((s, "00"));
    let v = units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap();
    if neg { -v } else { v }
}

/// Whether a `loan show --json` balances: principal + interest + fee + penalty = paid − credit
/// + waived + written_off + sold + outstanding.
pub fn balances(v: &serde_json::Value) -> bool {
    let t = &v["totals"];
    let m = |k: &str| minor(&t[k]);
    m("principal") + m("interest") + m("fee") + m("penalty")
        == m("paid") - m("credit") + m("waived") + m("written_off") + m("sold") + m("outstanding")
}

/// The kinds of the audit entries in an evidence package.
pub fn evidence_kinds(zip: &std::path::Path) -> Vec<String> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut kinds = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut f, &mut body).unwrap();
        if f.name().unwrap().starts_with("entries/") {
            let e: serde_json::Value = serde_json::from_str(&body).unwrap();
            let entry: serde_json::Value = serde_json::from_str(e["entry"].as_str().unwrap()).unwrap();
            kinds.push(entry["kind"].as_str().unwrap_or_default().to_string());
        }
    }
    kinds
}
