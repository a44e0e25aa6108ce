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

/// Minor units of a decimal string ("-12.34" → -1234).
fn minor(s: &serde_json::Value) -> i64 {
    let s = s.as_str().expect("an amount");
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (units, cents) = s.split_once('.').unwrap_or((s, "00"));
    let v = units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap();
    if neg { -v } else { v }
}

/// Whether a `loan show --json` balances: principal + interest + fee + penalty = paid − credit
/// + waived + written_off + sold + outstanding.
fn balances(v: &serde_json::Value) -> bool {
    let t = &v["totals"];
    let m = |k: &str| minor(&t[k]);
    m("principal") + m("interest") + m("fee") + m("penalty")
        == m("paid") - m("credit") + m("waived") + m("written_off") + m("sold") + m("outstanding")
}

/// Approved arrangements change the ledger (issue 24) on a generated book: while a settlement
/// stands its case is held (its work cancelled, none added); kept, the rest is waived and the
/// case closes; unpaid past the product's grace days (15 by default) it breaks, the rest is
/// owed again and collection resumes; every date balances and every step is audited.
#[test]
fn approved_settlements_are_kept_or_broken_by_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let book = dir.path().join("book");
    let ok = |stdin: &str, args: &[&str]| {
        let out = arrears_in(&db, stdin, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok("", args)).unwrap() };
    ok(
        "",
        &[
            "generate",
            "--loans",
            "300",
            "--seed",
            "3",
            "--as-of",
            "2026-06-19",
            "--out",
            book.to_str().unwrap(),
        ],
    );
    ok("", &["import", book.to_str().unwrap()]);
    ok("", &["batch", "--date", "2026-06-19"]);
    for (name, role) in [("col1", "collector"), ("sup1", "supervisor")] {
        ok(&format!("pw-{name}-123\n"), &["user", "add", name, "--role", role, "--password-stdin"]);
    }
    let cases = json(&["case", "list", "--json"]);
    let open: Vec<String> = cases
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "open" && c["loans"] == 1)
        .map(|c| c["case_id"].as_str().unwrap().to_string())
        .take(2)
        .collect();
    assert_eq!(open.len(), 2, "two open cases of one loan each");
    // Each product may set its own limits: out of range is refused, nothing stored.
    let products = json(&["product", "list", "--json"]);
    let product = products[0]["product"].as_str().unwrap().to_string();
    for (flag, bad) in [
        ("--max-arrangement-months", "0"),
        ("--arrangement-grace-days", "400"),
        ("--observation-months", "121"),
    ] {
        let out = arrears_in(&db, "", &["product", "set", &product, flag, bad]);
        assert_eq!(out.status.code(), Some(2), "{flag} {bad}");
        assert!(text(&out.stderr).contains(&flag[2..]), "{}", text(&out.stderr));
    }
    assert_eq!(json(&["product", "list", "--json"]), products);
    for p in products.as_array().unwrap() {
        let code = p["product"].as_str().unwrap();
        ok("", &["product", "set", code, "--max-arrangement-months", "24", "--arrangement-grace-days", "15"]);
    }
    assert_eq!(json(&["product", "list", "--json"])[0]["max_arrangement_months"], 24);
    let mut loans = Vec::new();
    for case in &open {
        let shown = json(&["case", "show", case, "--json"]);
        let loan = shown["loans"][0]["loan_id"].as_str().unwrap().to_string();
        // A settlement of 90% of what is owed, in one payment a month later.
        let q = json(&[
            "arrangement",
            "quote",
            "--loan",
            &loan,
            "--kind",
            "settlement",
            "--date",
            "2026-06-19",
            "--amount",
            "1",
            "--json",
        ]);
        let owed = minor(&q["owed"]["total"]);
        let long = arrears_in(
            &db,
            "",
            &[
                "arrangement",
                "quote",
                "--loan",
                &loan,
                "--kind",
                "extension",
                "--months",
                "36",
                "--date",
                "2026-06-19",
            ],
        );
        assert_eq!(long.status.code(), Some(2));
        assert!(text(&long.stderr).contains("out of range: 1 to 24"), "{}", text(&long.stderr));
        let offer = format!("{}.{:02}", owed * 9 / 10 / 100, owed * 9 / 10 % 100);
        let r: serde_json::Value = serde_json::from_str(&ok(
            "pw-col1-123\n",
            &[
                "arrangement",
                "request",
                "--case",
                case,
                "--kind",
                "settlement",
                "--amount",
                &offer,
                "--as",
                "col1",
                "--json",
            ],
        ))
        .unwrap();
        let id = r["request_id"].as_str().unwrap().to_string();
        let d: serde_json::Value = serde_json::from_str(&ok(
            "pw-sup1-123\n",
            &["arrangement", "approve", &id, "--as", "sup1", "--date", "2026-06-19", "--json"],
        ))
        .unwrap();
        let waived = minor(&d["quote"]["waived"]);
        assert_eq!(waived, owed - minor(&serde_json::json!(offer)));
        // In force at once: the new schedule, the case held with its work cancelled.
        let v = json(&["loan", "show", &loan, "--date", "2026-06-19", "--json"]);
        assert!(balances(&v), "{}", v["totals"]);
        assert_eq!(v["installments"].as_array().unwrap().len(), 1, "{}", v["installments"]);
        assert_eq!(v["installments"][0]["due_on"], "2026-07-19");
        assert_eq!(v["arrangements"][0]["status"], "active");
        assert_eq!(v["dpd"], 0);
        let c = json(&["case", "show", case, "--json"]);
        assert_eq!(c["status"], "open", "an arrangement keeps the case");
        assert!(
            c["tasks"].as_array().unwrap().iter().all(|t| t["status"] != "due" && t["status"] != "pending"),
            "{}",
            c["tasks"]
        );
        assert!(c["tasks"].as_array().unwrap().iter().any(|t| t["reason"] == "hold: arrangement"));
        loans.push((case.clone(), loan, id, offer, waived));
    }
    // The first borrower pays on the due date; the second never does.
    let (kept_case, kept_loan, _, offer, waived) = &loans[0];
    ok(
        "",
        &[
            "payment",
            "add",
            "--id",
            "SETTLE-1",
            "--loan",
            kept_loan,
            "--date",
            "2026-07-19",
            "--amount",
            offer,
        ],
    );
    ok("", &["batch", "--from", "2026-06-22", "--to", "2026-08-10"]);

    let kept = json(&["loan", "show", kept_loan, "--date", "2026-08-10", "--json"]);
    assert!(balances(&kept), "{}", kept["totals"]);
    assert_eq!(kept["arrangements"][0]["status"], "kept");
    assert_eq!(minor(&kept["totals"]["waived"]), *waived);
    assert_eq!(minor(&kept["totals"]["outstanding"]), 0);
    assert_eq!(kept["status"], "paid_off");
    let c = json(&["case", "show", kept_case, "--json"]);
    assert_eq!(c["status"], "closed");
    assert_eq!(c["arrangements"][0]["ledger_status"], "kept");

    let (broken_case, broken_loan, ..) = &loans[1];
    let broken = json(&["loan", "show", broken_loan, "--date", "2026-08-10", "--json"]);
    assert!(balances(&broken), "{}", broken["totals"]);
    assert_eq!(broken["arrangements"][0]["status"], "broken");
    assert_eq!(broken["arrangements"][0]["ended_on"], "2026-08-04", "15 days after 19 July");
    assert_eq!(minor(&broken["totals"]["waived"]), 0);
    assert_eq!(broken["dpd"], 22);
    let c = json(&["case", "show", broken_case, "--json"]);
    assert_eq!(c["status"], "open");
    assert_eq!(c["arrangements"][0]["ledger_status"], "broken");
    let tasks = c["tasks"].as_array().unwrap();
    assert!(
        tasks.iter().all(|t| t["created_on"].as_str().unwrap() <= "2026-06-19"
            || t["created_on"].as_str().unwrap() >= "2026-08-04"),
        "no work while the settlement stood: {tasks:?}"
    );
    assert!(tasks.iter().any(|t| t["created_on"].as_str().unwrap() >= "2026-08-04"), "collection resumed");
    // Each loan balances on every date before, during and after its arrangement.
    for (_, loan, ..) in &loans {
        for date in ["2026-06-18", "2026-06-19", "2026-07-19", "2026-07-20", "2026-08-03", "2026-08-04"] {
            let v = json(&["loan", "show", loan, "--date", date, "--json"]);
            assert!(balances(&v), "{loan} {date}: {}", v["totals"]);
        }
    }
    // Kept and broken are in the log, on the case, and the log is intact.
    let zip = dir.path().join("ev.zip");
    ok("", &["audit", "evidence", broken_case, "--out", zip.to_str().unwrap()]);
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
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
    for want in ["arrangement.requested", "arrangement.approved", "arrangement.broken"] {
        assert!(kinds.iter().any(|k| k == want), "{want} in {kinds:?}");
    }
    ok("", &["audit", "verify"]);
}

/// Write-offs (核销, issue 24): requested by one user, approved by another; the balance leaves
/// the book and a later payment is a recovery that never reopens the loan; a reversal needs its
/// own approval and puts back what was not recovered; a loan in an arrangement in force, or
/// written off already, is refused with the reason and nothing changes.
#[test]
fn write_offs_leave_the_book_recover_and_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
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
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok("", args)).unwrap() };
    ok(
        "",
        &[
            "generate",
            "--loans",
            "300",
            "--seed",
            "5",
            "--as-of",
            "2026-06-19",
            "--out",
            book.to_str().unwrap(),
        ],
    );
    ok("", &["import", book.to_str().unwrap()]);
    ok("", &["batch", "--date", "2026-06-19"]);
    for (name, role) in [("col1", "collector"), ("sup1", "supervisor"), ("sup2", "supervisor")] {
        ok(&format!("pw-{name}-123\n"), &["user", "add", name, "--role", role, "--password-stdin"]);
    }
    let cases = json(&["case", "list", "--json"]);
    let open: Vec<String> = cases
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "open" && c["loans"] == 1)
        .map(|c| c["case_id"].as_str().unwrap().to_string())
        .take(2)
        .collect();
    let loan_of = |case: &str| {
        json(&["case", "show", case, "--json"])["loans"][0]["loan_id"].as_str().unwrap().to_string()
    };
    let (loan, other_case) = (loan_of(&open[0]), open[1].clone());
    let other = loan_of(&other_case);
    // A day later: the cases were open on a closed business date before anything changed.
    ok("", &["batch", "--date", "2026-06-22"]);
    let request = |args: &[&str]| -> String {
        let mut all = vec!["writeoff", "request", "--as", "col1", "--date", "2026-06-22", "--json"];
        all.extend_from_slice(args);
        let r: serde_json::Value = serde_json::from_str(&ok("pw-col1-123\n", &all)).unwrap();
        r["request_id"].as_str().unwrap().to_string()
    };
    let before = json(&["loan", "show", &loan, "--date", "2026-06-22", "--json"]);
    let owed = minor(&before["totals"]["outstanding"]) - minor(&before["totals"]["credit"]);

    let id = request(&["--loan", &loan]);
    refused(
        "pw-col1-123\n",
        &["writeoff", "approve", &id, "--as", "col1", "--date", "2026-06-22"],
        "maker-checker",
    );
    ok("pw-sup1-123\n", &["writeoff", "approve", &id, "--as", "sup1", "--date", "2026-06-22"]);
    let off = json(&["loan", "show", &loan, "--date", "2026-06-22", "--json"]);
    assert!(balances(&off), "{}", off["totals"]);
    assert_eq!(off["book"], "written_off");
    assert_eq!(off["status"], "written_off");
    assert_eq!(minor(&off["totals"]["outstanding"]), 0);
    assert_eq!(minor(&off["totals"]["written_off"]), owed);
    // Nothing overdue is left on the book: the case closes.
    assert_eq!(json(&["case", "show", &open[0], "--json"])["status"], "closed");
    refused(
        "pw-col1-123\n",
        &["writeoff", "request", "--loan", &loan, "--as", "col1", "--date", "2026-06-23"],
        "written off already",
    );
    refused(
        "",
        &[
            "arrangement",
            "quote",
            "--loan",
            &loan,
            "--kind",
            "extension",
            "--months",
            "3",
            "--date",
            "2026-06-23",
        ],
        "written off",
    );

    // A payment after it is a recovery: the loan stays off the book.
    ok(
        "",
        &["payment", "add", "--id", "REC-1", "--loan", &loan, "--date", "2026-07-01", "--amount", "100.00"],
    );
    let rec = json(&["loan", "show", &loan, "--date", "2026-07-01", "--json"]);
    assert!(balances(&rec), "{}", rec["totals"]);
    assert_eq!(rec["book"], "written_off");
    assert_eq!(minor(&rec["totals"]["recovered"]), 10_000);
    assert_eq!(minor(&rec["totals"]["written_off"]), owed - 10_000);
    assert_eq!(
        rec["payments"][rec["payments"].as_array().unwrap().len() - 1]["allocation"][0]["component"],
        "recovery"
    );

    // The reversal has its own approval and puts back what was not recovered.
    let back = request(&["--loan", &loan, "--reverse"]);
    ok("pw-sup2-123\n", &["writeoff", "approve", &back, "--as", "sup2", "--date", "2026-07-10"]);
    let v = json(&["loan", "show", &loan, "--date", "2026-07-10", "--json"]);
    assert!(balances(&v), "{}", v["totals"]);
    assert_eq!(v["book"], "on_book");
    assert_eq!(minor(&v["totals"]["written_off"]), 0);
    assert_eq!(minor(&v["totals"]["outstanding"]) - minor(&v["totals"]["credit"]), owed - 10_000);

    // A partial write-off of a loan in an arrangement in force is refused, nothing changed.
    let q = json(&[
        "arrangement",
        "quote",
        "--loan",
        &other,
        "--kind",
        "extension",
        "--months",
        "6",
        "--date",
        "2026-06-22",
        "--json",
    ]);
    assert!(q["schedule"].as_array().is_some_and(|s| !s.is_empty()));
    let r: serde_json::Value = serde_json::from_str(&ok(
        "pw-col1-123\n",
        &[
            "arrangement",
            "request",
            "--case",
            &other_case,
            "--kind",
            "extension",
            "--months",
            "6",
            "--as",
            "col1",
            "--json",
        ],
    ))
    .unwrap();
    ok(
        "pw-sup1-123\n",
        &[
            "arrangement",
            "approve",
            r["request_id"].as_str().unwrap(),
            "--as",
            "sup1",
            "--date",
            "2026-06-22",
        ],
    );
    let arranged = json(&["loan", "show", &other, "--date", "2026-06-22", "--json"]);
    refused(
        "pw-col1-123\n",
        &[
            "writeoff",
            "request",
            "--loan",
            &other,
            "--amount",
            "10.00",
            "--as",
            "col1",
            "--date",
            "2026-06-22",
        ],
        "is in force since 2026-06-22",
    );
    assert_eq!(json(&["loan", "show", &other, "--date", "2026-06-22", "--json"]), arranged);
    ok("", &["audit", "verify"]);
}

/// NPL transfers (issue 24): loans chosen by a filter and valued at the cut-off, requested by
/// one user and approved by another; the package (loans.csv, summary.json, each case's evidence
/// package) is written; contact stops at once; each borrower is sent the transfer notice; the
/// loans are sold at the end of the transfer date (the balance leaves the book, later money is
/// held for the buyer) and their cases close; a sold loan takes no arrangement.
#[test]
fn npl_transfers_sell_loans_with_their_package_and_notices() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let book = dir.path().join("book");
    let pkg = dir.path().join("pkg");
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
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok("", args)).unwrap() };
    ok(
        "",
        &[
            "generate",
            "--loans",
            "400",
            "--seed",
            "3",
            "--as-of",
            "2026-06-19",
            "--out",
            book.to_str().unwrap(),
        ],
    );
    ok("", &["import", book.to_str().unwrap()]);
    ok("", &["batch", "--date", "2026-06-19"]);
    for (name, role) in [("col1", "collector"), ("sup1", "supervisor")] {
        ok(&format!("pw-{name}-123\n"), &["user", "add", name, "--role", role, "--password-stdin"]);
    }
    let create = [
        "transfer",
        "create",
        "--buyer",
        "东方资产管理",
        "--price",
        "5000.00",
        "--cut-off",
        "2026-06-19",
        "--on",
        "2026-06-30",
        "--min-dpd",
        "30",
        "--as",
        "col1",
        "--json",
    ];
    let t: serde_json::Value = serde_json::from_str(&ok("pw-col1-123\n", &create)).unwrap();
    let id = t["transfer_id"].as_str().unwrap().to_string();
    let n = t["loans"].as_u64().unwrap() as usize;
    assert!(n >= 1, "{t}");
    assert_eq!(t["status"], "requested");
    // Every loan of the filter is in this package: a second finds none free.
    refused("pw-col1-123\n", &create, "is free to transfer");
    refused(
        "pw-col1-123\n",
        &["transfer", "approve", &id, "--as", "col1", "--date", "2026-06-19", "--out", pkg.to_str().unwrap()],
        "maker-checker",
    );
    ok(
        "pw-sup1-123\n",
        &["transfer", "approve", &id, "--as", "sup1", "--date", "2026-06-19", "--out", pkg.to_str().unwrap()],
    );

    // The package: a line per loan whose totals add up to the request's, its digest in the
    // summary, an evidence package per case.
    let csv = std::fs::read_to_string(pkg.join("loans.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(lines.len(), n);
    let total: i64 = lines.iter().map(|l| minor(&serde_json::json!(l.rsplit(',').next().unwrap()))).sum();
    assert_eq!(total, minor(&t["total"]));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pkg.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["loans_csv_sha256"], hex::encode(sha2::Sha256::digest(csv.as_bytes())));
    assert_eq!(summary["transfer"]["status"], "approved");
    let loans: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[2].to_string())
        })
        .collect();
    for (_, case) in &loans {
        assert!(pkg.join("evidence").join(format!("{case}.zip")).exists(), "{case}");
    }

    // A notice per borrower, on the morning of the transfer date, naming the buyer.
    let messages = json(&["message", "list", "--json"]);
    let notices: Vec<&serde_json::Value> =
        messages.as_array().unwrap().iter().filter(|m| m["template"] == "transfer_notice").collect();
    assert_eq!(notices.len(), n, "one borrower per loan in this book");
    for m in &notices {
        // 09:00 on the 30th where the borrower lives (01:00 UTC in Beijing, 13:00 in New York).
        let send_at = m["send_at"].as_str().unwrap();
        assert!(send_at.starts_with("2026-06-30T"), "{send_at}");
        assert!(m["body"].as_str().unwrap().contains("东方资产管理"), "{}", m["body"]);
        assert_eq!(m["status"], "queued");
    }

    ok("", &["batch", "--from", "2026-06-22", "--to", "2026-07-01"]);
    let (loan, case) = &loans[0];
    // Contact stopped when it was approved: no work after it, the case closed on the sale.
    let c = json(&["case", "show", case, "--json"]);
    assert_eq!(c["status"], "closed");
    assert_eq!(c["closed_on"], "2026-06-30");
    for task in c["tasks"].as_array().unwrap() {
        assert!(task["created_on"].as_str().unwrap() <= "2026-06-19", "work after the approval: {task}");
    }
    let before = json(&["loan", "show", loan, "--date", "2026-06-30", "--json"]);
    assert!(balances(&before), "{}", before["totals"]);
    assert_eq!(before["status"], "sold");
    assert_eq!(minor(&before["totals"]["outstanding"]), 0);
    assert!(minor(&before["totals"]["sold"]) > 0);
    let on_the_29th = json(&["loan", "show", loan, "--date", "2026-06-29", "--json"]);
    assert_eq!(on_the_29th["book"], "on_book", "sold at the end of the transfer date, not before");
    // Money that comes in afterwards is held for the buyer; no arrangement is possible.
    ok(
        "",
        &["payment", "add", "--id", "AFTER-1", "--loan", loan, "--date", "2026-07-01", "--amount", "50.00"],
    );
    let after = json(&["loan", "show", loan, "--date", "2026-07-01", "--json"]);
    assert!(balances(&after), "{}", after["totals"]);
    assert_eq!(minor(&after["totals"]["credit"]), 5_000);
    assert_eq!(after["book"], "sold");
    refused(
        "",
        &[
            "arrangement",
            "quote",
            "--loan",
            loan,
            "--kind",
            "extension",
            "--months",
            "3",
            "--date",
            "2026-07-01",
        ],
        "is sold",
    );
    ok("", &["audit", "verify"]);
}

/// The legal track (issue 24): a legal case on a collection case moves forward through its
/// stages with a deadline each, never back; costs, the judgment, the 失信被执行人 listing and
/// recoveries by enforcement (booked as payments) are recorded and audited on the case; the
/// board lists it with its deadline; the filing bundle holds the claim and the evidence.
#[test]
fn legal_cases_move_forward_and_bundle_their_claim() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
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
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok("", args)).unwrap() };
    ok(
        "",
        &[
            "generate",
            "--loans",
            "300",
            "--seed",
            "3",
            "--as-of",
            "2026-06-19",
            "--out",
            book.to_str().unwrap(),
        ],
    );
    ok("", &["import", book.to_str().unwrap()]);
    ok("", &["batch", "--date", "2026-06-19"]);
    for (name, role) in [("col1", "collector"), ("law1", "legal")] {
        ok(&format!("pw-{name}-123\n"), &["user", "add", name, "--role", role, "--password-stdin"]);
    }
    let cases = json(&["case", "list", "--json"]);
    let case = cases.as_array().unwrap().iter().find(|c| c["status"] == "open" && c["loans"] == 1).unwrap();
    let case = case["case_id"].as_str().unwrap().to_string();
    let law = "pw-law1-123\n";
    let step = |args: &[&str]| -> serde_json::Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--as", "law1", "--json"]);
        serde_json::from_str(&ok(law, &all)).unwrap()
    };
    refused(
        "pw-col1-123\n",
        &["legal", "open", "--case", &case, "--firm", "金杜", "--lawyer", "王律师", "--as", "col1"],
        "legal or supervisor only",
    );
    let v = step(&[
        "legal",
        "open",
        "--case",
        &case,
        "--firm",
        "金杜律师事务所",
        "--lawyer",
        "王明",
        "--date",
        "2026-06-19",
    ]);
    let id = v["legal_id"].as_str().unwrap().to_string();
    assert_eq!(v["stage"], "lawyer_letter");
    assert_eq!(v["deadline"], "2026-07-04", "15 days for the letter");
    let loan = v["loan_id"].as_str().unwrap().to_string();
    let claim = v["claim_amount"].as_i64().unwrap();
    assert!(claim > 0);

    // Forward, skipping mediation; never back; nothing changes on a refusal.
    let v = step(&["legal", "stage", &id, "--to", "filing", "--date", "2026-06-25"]);
    assert_eq!((v["stage"].as_str(), v["deadline"].as_str()), (Some("filing"), Some("2026-07-25")));
    let before = json(&["legal", "show", &id, "--date", "2026-06-25", "--json"]);
    refused(
        law,
        &["legal", "stage", &id, "--to", "mediation", "--as", "law1", "--date", "2026-06-26"],
        "cannot go to mediation",
    );
    refused(law, &["legal", "stage", &id, "--to", "sideways", "--as", "law1"], "sideways");
    refused(
        law,
        &["legal", "recover", &id, "--amount", "10.00", "--as", "law1", "--date", "2026-06-26"],
        "after a judgment",
    );
    refused(law, &["legal", "dishonest", &id, "--as", "law1", "--date", "2026-06-26"], "during enforcement");
    refused(
        law,
        &["legal", "cost", &id, "--kind", "bribe", "--amount", "1.00", "--as", "law1"],
        "court_fee, lawyer_fee, other",
    );
    assert_eq!(json(&["legal", "show", &id, "--date", "2026-06-25", "--json"]), before);

    step(&[
        "legal",
        "cost",
        &id,
        "--kind",
        "court_fee",
        "--amount",
        "500.00",
        "--recoverable",
        "--date",
        "2026-06-25",
    ]);
    step(&["legal", "cost", &id, "--kind", "lawyer_fee", "--amount", "3000.00", "--date", "2026-06-25"]);
    // The board on a day past the filing deadline shows it overdue.
    let board = json(&["legal", "list", "--date", "2026-07-26", "--json"]);
    let row = board.as_array().unwrap().iter().find(|r| r["legal_id"] == id.as_str()).unwrap();
    assert_eq!(row["overdue"], true);
    let v = step(&["legal", "judgment", &id, "--amount", "20000.00", "--date", "2026-08-01"]);
    assert_eq!(v["stage"], "judgment");
    assert_eq!(v["judgment_amount"], 2_000_000);
    step(&["legal", "stage", &id, "--to", "enforcement", "--date", "2026-08-20"]);
    let v = step(&["legal", "dishonest", &id, "--date", "2026-08-21"]);
    assert_eq!(v["dishonest_on"], "2026-08-21");
    let v = step(&["legal", "recover", &id, "--amount", "1000.00", "--date", "2026-09-01"]);
    assert_eq!(v["recovered"], "1000.00");
    assert_eq!(v["costs_recoverable"], "500.00");
    assert_eq!(v["costs_borne"], "3000.00");
    let kinds: Vec<&str> =
        v["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opened", "stage", "cost", "cost", "judgment", "stage", "dishonest", "recovery"]);
    // The recovery is the loan's payment.
    let l = json(&["loan", "show", &loan, "--date", "2026-09-01", "--json"]);
    let paid =
        l["payments"].as_array().unwrap().iter().find(|p| p["channel"] == "enforcement").expect("booked");
    assert_eq!(paid["amount"], "1000.00");
    assert!(balances(&l));

    // The filing bundle: the claim is what is owed plus the recoverable costs.
    let out = dir.path().join("bundle");
    ok("", &["legal", "bundle", &id, "--out", out.to_str().unwrap(), "--date", "2026-09-01"]);
    let claim: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("claim.json")).unwrap()).unwrap();
    let owed = &claim["owed"];
    let sum =
        minor(&owed["principal"]) + minor(&owed["interest"]) + minor(&owed["fee"]) + minor(&owed["penalty"])
            - minor(&owed["credit_held"]);
    assert_eq!(minor(&claim["claim_total"]), sum + 50_000);
    assert_eq!(claim["contract"]["loan_id"], loan.as_str());
    assert!(out.join("summary.json").exists() && out.join("evidence.zip").exists());
    let mut z = zip::ZipArchive::new(std::fs::File::open(out.join("evidence.zip")).unwrap()).unwrap();
    let mut legal_entries = 0;
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut f, &mut body).unwrap();
        if body.contains("legal.") {
            legal_entries += 1;
        }
    }
    assert!(legal_entries >= 8, "every legal step is on the case: {legal_entries}");
    ok("", &["audit", "verify"]);
}

/// Money is conserved in the batch too: a loan whose stored schedule no longer adds up to
/// what was lent (edited behind the system's back) stops the date, naming the loan, and
/// nothing of its chunk is written.
#[test]
fn the_batch_refuses_a_date_a_loan_does_not_balance_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let book = dir.path().join("book");
    let ok = |args: &[&str]| {
        let out = arrears(&db, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    ok(&[
        "generate",
        "--loans",
        "200",
        "--seed",
        "3",
        "--as-of",
        "2026-06-19",
        "--out",
        book.to_str().unwrap(),
    ]);
    ok(&["import", book.to_str().unwrap()]);
    ok(&["batch", "--date", "2026-06-19"]);
    let cases: serde_json::Value = serde_json::from_str(&ok(&["case", "list", "--json"])).unwrap();
    let case = cases.as_array().unwrap().iter().find(|c| c["status"] == "open").unwrap();
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["case", "show", case["case_id"].as_str().unwrap(), "--json"])).unwrap();
    let loan = shown["loans"][0]["loan_id"].as_str().unwrap().to_string();
    let url = format!("sqlite://{}", db.display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sql = |q: String| {
        rt.block_on(async {
            let pool = sqlx::sqlite::SqlitePool::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(q.clone()))
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{q}: {e}"));
            pool.close().await;
        })
    };
    let evaluated = || -> String {
        rt.block_on(async {
            let pool = sqlx::sqlite::SqlitePool::connect(&url).await.unwrap();
            let on: String = sqlx::query_scalar("SELECT evaluated_on FROM loan_state WHERE loan_id = $1")
                .bind(&loan)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            on
        })
    };
    // One instalment of 100.00 more principal than was lent, put in behind the system's back.
    sql(format!("UPDATE loans SET schedule = 'imported' WHERE loan_id = '{loan}'"));
    sql(format!(
        "INSERT INTO installments (loan_id, seq, due_on, principal, interest, fee, import_id, src_line) \
         SELECT loan_id, 1, '2026-07-19', principal + 10000, 0, 0, import_id, 0 FROM loans WHERE loan_id = '{loan}'"
    ));
    sql(format!("UPDATE loan_state SET dirty_from = '2026-06-19' WHERE loan_id = '{loan}'"));
    let out = arrears(&db, &["batch", "--date", "2026-06-22"]);
    assert!(!out.status.success(), "the batch must stop: {}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("loan {loan} does not balance on 2026-06-19")), "{err}");
    assert_eq!(evaluated(), "2026-06-19", "nothing of its chunk was written");
}
