//! Approved settlements kept or broken by the batch; products' own arrangement rules.

use crate::support::each_backend;
use crate::{Book, evidence_kinds, minor};

/// Approved arrangements change the ledger on a generated book: while a settlement stands its
/// case is held (its work cancelled, none added); kept, the rest is waived and the case closes;
/// unpaid past the product's grace days (15 by default) it breaks, the rest is owed again and
/// collection resumes; every date balances and every step is audited on the case. Products set
/// their own limits, range-checked.
#[tokio::test]
async fn approved_settlements_are_kept_or_broken_by_the_batch() {
    each_backend(async |t| {
        let b = Book::new(t, 300, 3, "2026-06-19", &[("col1", "collector"), ("sup1", "supervisor")]);
        let open = b.open_cases(2);
        // Each product may set its own limits: out of range is refused, nothing stored.
        let products = b.json(&["product", "list", "--json"]);
        let product = products[0]["product"].as_str().unwrap().to_string();
        for (flag, bad) in [
            ("--max-arrangement-months", "0"),
            ("--arrangement-grace-days", "400"),
            ("--observation-months", "121"),
        ] {
            b.refused("", &["product", "set", &product, flag, bad], &flag[2..]);
        }
        assert_eq!(b.json(&["product", "list", "--json"]), products);
        for p in products.as_array().unwrap() {
            let code = p["product"].as_str().unwrap();
            b.ok(
                "",
                &["product", "set", code, "--max-arrangement-months", "24", "--arrangement-grace-days", "15"],
            );
        }
        assert_eq!(b.json(&["product", "list", "--json"])[0]["max_arrangement_months"], 24);

        let mut loans = Vec::new();
        for case in &open {
            let loan = b.loan_of(case);
            b.refused(
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
                "out of range: 1 to 24",
            );
            // A settlement of 90% of what is owed, in one payment a month later.
            let q = b.json(&[
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
            let offer = format!("{}.{:02}", owed * 9 / 10 / 100, owed * 9 / 10 % 100);
            let r = b.json_as(
                "col1",
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
            );
            let id = r["request_id"].as_str().unwrap().to_string();
            let d = b.json_as(
                "sup1",
                &["arrangement", "approve", &id, "--as", "sup1", "--date", "2026-06-19", "--json"],
            );
            let waived = minor(&d["quote"]["waived"]);
            assert_eq!(waived, owed - minor(&serde_json::json!(offer)));
            // In force at once: the new schedule, the case held with its work cancelled.
            let v = b.loan(&loan, "2026-06-19");
            assert_eq!(v["installments"].as_array().unwrap().len(), 1, "{}", v["installments"]);
            assert_eq!(v["installments"][0]["due_on"], "2026-07-19");
            assert_eq!(v["arrangements"][0]["status"], "active");
            assert_eq!(v["dpd"], 0);
            let c = b.json(&["case", "show", case, "--json"]);
            assert_eq!(c["status"], "open", "an arrangement keeps the case");
            let tasks = c["tasks"].as_array().unwrap();
            assert!(tasks.iter().all(|t| t["status"] != "due" && t["status"] != "pending"), "{tasks:?}");
            assert!(tasks.iter().any(|t| t["reason"] == "hold: arrangement"));
            loans.push((case.clone(), loan, offer, waived));
        }
        // The first borrower pays on the due date; the second never does.
        let (kept_case, kept_loan, offer, waived) = &loans[0];
        b.ok(
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
        b.ok("", &["batch", "--from", "2026-06-22", "--to", "2026-08-10"]);

        let kept = b.loan(kept_loan, "2026-08-10");
        assert_eq!(kept["arrangements"][0]["status"], "kept");
        assert_eq!(minor(&kept["totals"]["waived"]), *waived);
        assert_eq!(minor(&kept["totals"]["outstanding"]), 0);
        assert_eq!(kept["status"], "paid_off");
        let c = b.json(&["case", "show", kept_case, "--json"]);
        assert_eq!(c["status"], "closed");
        assert_eq!(c["arrangements"][0]["ledger_status"], "kept");

        let (broken_case, broken_loan, ..) = &loans[1];
        let broken = b.loan(broken_loan, "2026-08-10");
        assert_eq!(broken["arrangements"][0]["status"], "broken");
        assert_eq!(broken["arrangements"][0]["ended_on"], "2026-08-04", "15 days after 19 July");
        assert_eq!(minor(&broken["totals"]["waived"]), 0);
        assert_eq!(broken["dpd"], 22);
        let c = b.json(&["case", "show", broken_case, "--json"]);
        assert_eq!(c["status"], "open");
        assert_eq!(c["arrangements"][0]["ledger_status"], "broken");
        let tasks = c["tasks"].as_array().unwrap();
        let created = |t: &serde_json::Value| t["created_on"].as_str().unwrap().to_string();
        assert!(
            tasks.iter().all(|t| created(t).as_str() <= "2026-06-19" || created(t).as_str() >= "2026-08-04"),
            "no work while the settlement stood: {tasks:?}"
        );
        assert!(tasks.iter().any(|t| created(t).as_str() >= "2026-08-04"), "collection resumed");
        // Each loan balances on every date before, during and after its arrangement.
        for (_, loan, ..) in &loans {
            for date in ["2026-06-18", "2026-06-19", "2026-07-19", "2026-07-20", "2026-08-03", "2026-08-04"] {
                b.loan(loan, date);
            }
        }
        // Requested, approved and broken are in the case's evidence, and the log is intact.
        let zip = b.path("ev.zip");
        b.ok("", &["audit", "evidence", broken_case, "--out", zip.to_str().unwrap()]);
        let kinds = evidence_kinds(&zip);
        for want in ["arrangement.requested", "arrangement.approved", "arrangement.broken"] {
            assert!(kinds.iter().any(|k| k == want), "{want} in {kinds:?}");
        }
        b.ok("", &["audit", "verify"]);
    })
    .await;
}
