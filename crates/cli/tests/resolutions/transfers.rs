//! NPL transfers with their package and notices.

use sha2::Digest as _;

use crate::support::each_backend;
use crate::{Book, minor, pw};

/// NPL transfers: loans chosen by a filter and valued at the cut-off, requested by one user and
/// approved by another; the package (loans.csv, summary.json, each case's evidence package) is
/// written; contact stops at once; each borrower is sent the transfer notice; the loans are sold
/// at the end of the transfer date (the balance leaves the book, later money is held for the
/// buyer) and their cases close; a sold loan takes no arrangement.
#[tokio::test]
async fn npl_transfers_sell_loans_with_their_package_and_notices() {
    each_backend(async |t| {
        let b = Book::new(t, 400, 3, "2026-06-19", &[("col1", "collector"), ("sup1", "supervisor")]);
        let pkg = b.path("pkg");
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
        let tr = b.json_as("col1", &create);
        let id = tr["transfer_id"].as_str().unwrap().to_string();
        let n = tr["loans"].as_u64().unwrap() as usize;
        assert!(n >= 1, "{tr}");
        assert_eq!(tr["status"], "requested");
        // Every loan of the filter is in this package: a second finds none free.
        b.refused(&pw("col1"), &create, "is free to transfer");
        let out = pkg.to_str().unwrap();
        let approve = ["transfer", "approve", &id, "--date", "2026-06-19", "--out", out, "--as"];
        b.refused(&pw("col1"), &[&approve[..], &["col1"]].concat(), "maker-checker");
        b.ok(&pw("sup1"), &[&approve[..], &["sup1"]].concat());

        // The package: a line per loan whose totals add up to the request's, its digest in the
        // summary, an evidence package per case.
        let csv = std::fs::read_to_string(pkg.join("loans.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(lines.len(), n);
        let total: i64 = lines.iter().map(|l| minor(&serde_json::json!(l.rsplit(',').next().unwrap()))).sum();
        assert_eq!(total, minor(&tr["total"]));
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
        let messages = b.json(&["message", "list", "--json"]);
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

        b.ok("", &["batch", "--from", "2026-06-22", "--to", "2026-07-01"]);
        let (loan, case) = &loans[0];
        // Contact stopped when it was approved: no work after it, the case closed on the sale.
        let c = b.json(&["case", "show", case, "--json"]);
        assert_eq!(c["status"], "closed");
        assert_eq!(c["closed_on"], "2026-06-30");
        for task in c["tasks"].as_array().unwrap() {
            assert!(task["created_on"].as_str().unwrap() <= "2026-06-19", "work after the approval: {task}");
        }
        let sold = b.loan(loan, "2026-06-30");
        assert_eq!(sold["status"], "sold");
        assert_eq!(minor(&sold["totals"]["outstanding"]), 0);
        assert!(minor(&sold["totals"]["sold"]) > 0);
        assert_eq!(
            b.loan(loan, "2026-06-29")["book"],
            "on_book",
            "sold at the end of the transfer date, not before"
        );
        // Money that comes in afterwards is held for the buyer; no arrangement is possible.
        b.ok(
            "",
            &[
                "payment",
                "add",
                "--id",
                "AFTER-1",
                "--loan",
                loan,
                "--date",
                "2026-07-01",
                "--amount",
                "50.00",
            ],
        );
        let after = b.loan(loan, "2026-07-01");
        assert_eq!(minor(&after["totals"]["credit"]), 5_000);
        assert_eq!(after["book"], "sold");
        b.refused(
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
        b.ok("", &["audit", "verify"]);
    })
    .await;
}
