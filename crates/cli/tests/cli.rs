//! The binary as a user meets it: exit codes and messages for good and bad input.

use std::path::Path;
use std::process::{Command, Output};

fn arrears(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arrears"))
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .output()
        .expect("the arrears binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn generate_import_show_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let book = dir.path().join("book");
    let out = arrears(&db, &["generate", "--loans", "200", "--seed", "5", "--as-of", "2026-06-30", "--out"]);
    assert!(!out.status.success(), "--out without a value is a usage error");
    let out = arrears(
        &db,
        &[
            "generate",
            "--loans",
            "200",
            "--seed",
            "5",
            "--as-of",
            "2026-06-30",
            "--out",
            book.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = arrears(&db, &["import", book.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows"]["loans.csv"], 200);

    let out = arrears(&db, &["loan", "show", "L0000001", "--date", "2026-06-30", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "loan_id",
        "borrower_id",
        "currency",
        "dpd",
        "bucket",
        "five_class",
        "overdue",
        "outstanding_principal",
        "status",
        "installments",
    ] {
        assert!(v.get(key).is_some(), "loan show --json lacks {key}");
    }
    for key in ["principal", "interest", "fee", "penalty", "total"] {
        assert!(v["overdue"][key].is_string(), "overdue.{key} is a decimal string");
    }
    let inst = &v["installments"][0];
    for key in [
        "seq",
        "due_on",
        "principal",
        "interest",
        "fee",
        "paid_principal",
        "paid_interest",
        "paid_fee",
        "paid_penalty",
    ] {
        assert!(inst.get(key).is_some(), "installment lacks {key}");
    }

    let out = arrears(&db, &["report", "portfolio", "--date", "2026-06-30"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("run `arrears batch --date 2026-06-30`"), "{}", text(&out.stderr));
    let out = arrears(&db, &["batch", "--from", "2026-06-29", "--to", "2026-06-30", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b["days"][0]["loans_evaluated"], 200, "the first date evaluates every loan");
    assert!(b["loans_per_second"].as_f64().unwrap() > 0.0);

    let out = arrears(&db, &["report", "portfolio", "--date", "2026-06-30", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let loans: i64 = r["by_status"].as_array().unwrap().iter().map(|s| s["loans"].as_i64().unwrap()).sum();
    assert_eq!(loans, 200);
    for key in ["by_product", "by_bucket", "by_five_class", "roll_rates"] {
        assert!(r[key].is_array(), "report lacks {key}");
    }
    // Roll rates from 06-29: every loan active then is counted once, from its bucket then.
    let rolled: i64 = r["roll_rates"].as_array().unwrap().iter().map(|x| x["loans"].as_i64().unwrap()).sum();
    let active: i64 = r["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["group"] == "active")
        .map(|s| s["loans"].as_i64().unwrap())
        .sum();
    assert!(rolled >= active, "{rolled} rolled, {active} active");
    let roll = &r["roll_rates"][0];
    for key in ["currency", "from", "to", "loans", "balance", "loan_rate", "balance_rate"] {
        assert!(roll.get(key).is_some(), "roll rate lacks {key}");
    }

    let out = arrears(&db, &["case", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cases: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &cases[0];
    for key in
        ["case_id", "borrower_id", "borrower_name", "opened_on", "closed_on", "status", "loans", "max_dpd"]
    {
        assert!(first.get(key).is_some(), "case list lacks {key}");
    }
    let id = first["case_id"].as_str().unwrap();
    let out = arrears(&db, &["case", "show", id, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let case: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(case["case_id"], id);
    for key in
        ["loan_id", "added_on", "dpd", "bucket", "five_class", "overdue_total", "outstanding_principal"]
    {
        assert!(case["loans"][0].get(key).is_some(), "case loan lacks {key}");
    }
    let out = arrears(&db, &["case", "show", "NOPE"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no case with id \"NOPE\""));
}

#[test]
fn bad_input_gets_a_clear_error_and_a_meaningful_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("loans.csv"), "loan_id,borrower_id\nL1,B1,extra\n").unwrap();

    let out = arrears(&db, &["import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "rejected input exits 1");
    let err = text(&out.stderr);
    assert!(err.contains("import rejected, nothing was written"), "{err}");
    assert!(err.contains("loans.csv:1: product: column missing from the header"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = arrears(&db, &["loan", "show", "NOPE", "--date", "2026-01-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no loan with id \"NOPE\""));

    let out = arrears(&db, &["report", "portfolio", "--date", "2026-02-30"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a date"));

    let out = arrears(&db, &["import", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a directory"));

    let out =
        Command::new(env!("CARGO_BIN_EXE_arrears")).args(["--db", "mysql://x", "init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unsupported database URL"));
}

/// `arrears arrangement quote` on a generated book: each kind's schedule keeps the principal
/// owed (a settlement's payments and waiver make up what is owed), the JSON has the contract's
/// fields, and bad terms exit 2 naming the loan and the problem, storing nothing.
#[test]
fn arrangement_quotes_keep_the_money_and_refuse_bad_terms() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let book = dir.path().join("book");
    let run = |args: &[&str]| {
        let out = arrears(&db, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    run(&[
        "generate",
        "--loans",
        "300",
        "--seed",
        "3",
        "--as-of",
        "2026-11-20",
        "--out",
        book.to_str().unwrap(),
    ]);
    run(&["import", book.to_str().unwrap()]);
    run(&["batch", "--date", "2026-11-20"]);
    let cases: serde_json::Value = serde_json::from_str(&run(&["case", "list", "--json"])).unwrap();
    let case = cases.as_array().unwrap().iter().find(|c| c["status"] == "open").expect("an open case");
    let shown: serde_json::Value =
        serde_json::from_str(&run(&["case", "show", case["case_id"].as_str().unwrap(), "--json"])).unwrap();
    let loan = shown["loans"][0]["loan_id"].as_str().expect("a loan").to_string();
    let cents = |v: &serde_json::Value| -> i64 {
        let s = v.as_str().unwrap_or_else(|| panic!("{v}"));
        let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
        int.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
    };
    let quote = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["arrangement", "quote", "--loan", &loan, "--date", "2026-11-20", "--json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&run(&args)).unwrap()
    };
    // `loan show` gives the totals, and they balance: charged = paid − credit + … + outstanding.
    for id in cases.as_array().unwrap().iter().take(20).filter_map(|c| c["case_id"].as_str()) {
        let shown: serde_json::Value = serde_json::from_str(&run(&["case", "show", id, "--json"])).unwrap();
        for l in shown["loans"].as_array().unwrap() {
            let v: serde_json::Value = serde_json::from_str(&run(&[
                "loan",
                "show",
                l["loan_id"].as_str().unwrap(),
                "--date",
                "2026-11-20",
                "--json",
            ]))
            .unwrap();
            let t = &v["totals"];
            let charged: i64 =
                ["principal", "interest", "fee", "penalty"].iter().map(|k| cents(&t[*k])).sum();
            let went: i64 = cents(&t["paid"]) - cents(&t["credit"])
                + ["waived", "written_off", "sold", "outstanding"].iter().map(|k| cents(&t[*k])).sum::<i64>();
            assert_eq!(charged, went, "{}: {t}", l["loan_id"]);
            assert_eq!(cents(&t["principal"]), cents(&v["principal"]));
        }
    }
    let owed = quote(&["--kind", "waiver"])["owed"].clone();
    for extra in [
        &["--kind", "extension", "--months", "6"][..],
        &["--kind", "instalment_plan", "--months", "12"][..],
        &["--kind", "instalment_plan", "--months", "12", "--amount", "10.00"][..],
        &["--kind", "settlement", "--amount", "100.00", "--months", "2"][..],
    ] {
        let q = quote(extra);
        for field in ["kind", "schedule", "total_to_pay", "waived", "five_class_after"] {
            assert!(q.get(field).is_some(), "{extra:?}: no {field} in {q}");
        }
        let rows = q["schedule"].as_array().unwrap();
        let principal: i64 = rows.iter().map(|r| cents(&r["principal"])).sum();
        let charged: i64 =
            rows.iter().map(|r| cents(&r["principal"]) + cents(&r["interest"]) + cents(&r["fee"])).sum();
        if extra[1] == "settlement" {
            assert_eq!(cents(&q["total_to_pay"]), 10_000, "{q}");
            assert_eq!(cents(&q["total_to_pay"]) + cents(&q["waived"]), cents(&owed["total"]), "{q}");
        } else {
            assert_eq!(principal, cents(&owed["principal"]), "{extra:?}: {q}");
            assert_eq!(cents(&q["total_to_pay"]), charged - cents(&owed["credit"]), "{extra:?}");
            assert_eq!(
                q["five_class_after"],
                if shown["loans"][0]["dpd"].as_u64().unwrap() > 90 {
                    "substandard"
                } else {
                    "special_mention"
                }
            );
        }
    }
    let total = owed["total"].as_str().unwrap().to_string();
    for (extra, want) in [
        (vec!["--kind", "extension", "--months", "0"], "months 0 is out of range"),
        (vec!["--kind", "extension", "--months", "61"], "months 61 is out of range: 1 to 60"),
        (vec!["--kind", "settlement", "--amount", total.as_str()], "is not less than"),
        (vec!["--kind", "refinance", "--months", "3"], "kind \"refinance\""),
        (vec!["--kind", "settlement", "--amount", "1.2.3"], "amount \"1.2.3\""),
    ] {
        let mut args = vec!["arrangement", "quote", "--loan", loan.as_str(), "--date", "2026-11-20"];
        args.extend(extra.iter().copied());
        let out = arrears(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(want), "{extra:?}: {}", text(&out.stderr));
    }
}

/// Runs the binary with `stdin` on standard input.
fn arrears_in(db: &Path, stdin: &str, args: &[&str]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_arrears"))
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the arrears binary runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("it ends")
}

/// Maker-checker: a collector requests, never approves their own; a supervisor approves within
/// the authority of config/authority.toml and no further; a request is decided once, even when
/// two approvals race.
#[test]
fn arrangements_are_approved_by_another_user_within_their_authority_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let book = dir.path().join("book");
    let ok = |stdin: &str, args: &[&str]| {
        let out = arrears_in(&db, stdin, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let refused = |stdin: &str, args: &[&str], want: &str| {
        let out = arrears_in(&db, stdin, args);
        assert_eq!(out.status.code(), Some(2), "{args:?} should fail: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains(want), "{args:?}: {}", text(&out.stderr));
    };
    ok(
        "",
        &[
            "generate",
            "--loans",
            "300",
            "--seed",
            "3",
            "--as-of",
            "2026-11-20",
            "--out",
            book.to_str().unwrap(),
        ],
    );
    ok("", &["import", book.to_str().unwrap()]);
    ok("", &["batch", "--date", "2026-11-20"]);
    // A collector user's name is a collector's id.
    ok("", &["collector", "add", "col1", "--name", "催收员一", "--team", "t1", "--capacity", "60"]);
    for (name, role) in
        [("col1", "collector"), ("sup1", "supervisor"), ("sup2", "supervisor"), ("aud1", "auditor")]
    {
        ok(&format!("pw-{name}-123\n"), &["user", "add", name, "--role", role, "--password-stdin"]);
    }
    let cases: serde_json::Value = serde_json::from_str(&ok("", &["case", "list", "--json"])).unwrap();
    let case = cases.as_array().unwrap().iter().find(|c| c["status"] == "open").expect("an open case");
    let case = case["case_id"].as_str().unwrap().to_string();
    let request = |kind: &str, extra: &[&str]| -> String {
        let mut args =
            vec!["arrangement", "request", "--case", case.as_str(), "--kind", kind, "--as", "col1", "--json"];
        args.extend_from_slice(extra);
        let r: serde_json::Value = serde_json::from_str(&ok("pw-col1-123\n", &args)).unwrap();
        r["request_id"].as_str().unwrap().to_string()
    };
    let decide = |verb: &str, id: &str, who: &str| {
        vec![
            "arrangement".to_string(),
            verb.into(),
            id.into(),
            "--as".into(),
            who.into(),
            "--date".into(),
            "2026-11-20".into(),
        ]
    };
    let run_refused = |v: Vec<String>, pw: &str, want: &str| {
        refused(pw, &v.iter().map(String::as_str).collect::<Vec<_>>(), want);
    };
    let run_ok = |v: Vec<String>, pw: &str| ok(pw, &v.iter().map(String::as_str).collect::<Vec<_>>());

    // An auditor reads and never asks; a wrong password is refused.
    refused(
        "pw-aud1-123\n",
        &["arrangement", "request", "--case", &case, "--kind", "extension", "--months", "3", "--as", "aud1"],
        "does not work cases",
    );
    refused(
        "wrong-password\n",
        &["arrangement", "request", "--case", &case, "--kind", "extension", "--months", "3", "--as", "col1"],
        "col1",
    );

    // A settlement of 100.00 waives nearly everything: beyond a supervisor's 30%.
    let settle = request("settlement", &["--amount", "100.00"]);
    run_refused(
        decide("approve", &settle, "col1"),
        "pw-col1-123\n",
        "may not also decide it (maker-checker)",
    );
    run_refused(decide("approve", &settle, "sup1"), "pw-sup1-123\n", "over 300‰");
    run_ok(decide("decline", &settle, "sup1"), "pw-sup1-123\n");
    run_refused(decide("approve", &settle, "sup2"), "pw-sup2-123\n", "already rejected by sup1");

    // An extension waives nothing: within a supervisor's authority, approved once.
    let extend = request("extension", &["--months", "6"]);
    let approved: serde_json::Value = serde_json::from_str(&run_ok(
        {
            let mut v = decide("approve", &extend, "sup1");
            v.push("--json".into());
            v
        },
        "pw-sup1-123\n",
    ))
    .unwrap();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["quote"]["kind"], "extension");
    assert!(approved["quote"]["schedule"].as_array().is_some_and(|s| !s.is_empty()));
    run_refused(decide("approve", &extend, "sup2"), "pw-sup2-123\n", "already approved by sup1");

    // Two approvals at once: exactly one wins.
    let raced = request("extension", &["--months", "3"]);
    let spawn = |who: &str| {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .arg("--db")
            .arg(format!("sqlite://{}", db.display()))
            .args(["arrangement", "approve", raced.as_str(), "--as", who, "--date", "2026-11-20"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs");
        child.stdin.take().unwrap().write_all(format!("pw-{who}-123\n").as_bytes()).unwrap();
        child
    };
    let (a, b) = (spawn("sup1"), spawn("sup2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(
        [a.status.success(), b.status.success()].iter().filter(|s| **s).count(),
        1,
        "sup1: {} / sup2: {}",
        text(&a.stderr),
        text(&b.stderr)
    );
    let loser = if a.status.success() { &b } else { &a };
    assert!(
        text(&loser.stderr).contains("already approved")
            || text(&loser.stderr).contains("decided by someone else first"),
        "{}",
        text(&loser.stderr)
    );
    // Every decision is in the audit log, and the log is intact.
    ok("", &["audit", "verify"]);
}

/// API keys: made for a service account only, shown once, listed without the key, revoked
/// once; a service account is never a user with a password.
#[test]
fn api_keys_are_for_service_accounts_shown_once_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    assert!(arrears(&db, &["init"]).status.success());
    let made = arrears(&db, &["apikey", "create", "core-banking", "--role", "service", "--json"]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    let key = made["key"].as_str().unwrap();
    assert!(key.starts_with("arrk_") && key.len() == 5 + 64, "{key}");
    for (args, want) in [
        (vec!["apikey", "create", "core-banking", "--role", "service"], "exists already"),
        (vec!["apikey", "create", "ops", "--role", "admin"], "--role service"),
        (vec!["apikey", "create", "ops", "--role", "robot"], "unknown role"),
        (vec!["apikey", "revoke", "nobody"], "no API key named nobody"),
    ] {
        let out = arrears(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(want), "{args:?}: {}", text(&out.stderr));
    }
    let user =
        arrears_in(&db, "long enough pw\n", &["user", "add", "svc", "--role", "service", "--password-stdin"]);
    assert_eq!(user.status.code(), Some(2));
    assert!(text(&user.stderr).contains("never logs in"), "{}", text(&user.stderr));
    let list = arrears(&db, &["apikey", "list", "--json"]);
    let listed = text(&list.stdout);
    assert!(
        listed.contains("core-banking") && !listed.contains(key),
        "the key is never shown again: {listed}"
    );
    assert!(arrears(&db, &["apikey", "revoke", "core-banking"]).status.success());
    let again = arrears(&db, &["apikey", "revoke", "core-banking"]);
    assert_eq!(again.status.code(), Some(2), "revoked once");
    let list: serde_json::Value =
        serde_json::from_slice(&arrears(&db, &["apikey", "list", "--json"]).stdout).unwrap();
    assert!(list[0]["revoked_at"].is_string(), "{list}");
}
