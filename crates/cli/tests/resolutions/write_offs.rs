//! Write-offs with recoveries and their reversal.

use crate::support::each_backend;
use crate::{Book, minor, pw};

/// Write-offs (核销): requested by one user, approved by another; the balance leaves the book
/// and a later payment is a recovery that never reopens the loan; a reversal needs its own
/// approval and puts back what was not recovered; a loan in an arrangement in force, or written
/// off already, is refused with the reason and nothing changes.
#[tokio::test]
async fn write_offs_leave_the_book_recover_and_reverse() {
    each_backend(async |t| {
        let users = [("col1", "collector"), ("sup1", "supervisor"), ("sup2", "supervisor")];
        let b = Book::new(t, 300, 5, "2026-06-19", &users);
        let open = b.open_cases(2);
        // A day later: the cases were open on a closed business date before anything changed.
        b.ok("", &["batch", "--date", "2026-06-22"]);
        let (loan, other_case) = (b.loan_of(&open[0]), open[1].clone());
        let other = b.loan_of(&other_case);
        let request = |args: &[&str]| -> String {
            let mut all = vec!["writeoff", "request", "--as", "col1", "--date", "2026-06-22", "--json"];
            all.extend_from_slice(args);
            b.json_as("col1", &all)["request_id"].as_str().unwrap().to_string()
        };
        let before = b.loan(&loan, "2026-06-22");
        let owed = minor(&before["totals"]["outstanding"]) - minor(&before["totals"]["credit"]);

        let id = request(&["--loan", &loan]);
        b.refused(
            &pw("col1"),
            &["writeoff", "approve", &id, "--as", "col1", "--date", "2026-06-22"],
            "maker-checker",
        );
        b.ok(&pw("sup1"), &["writeoff", "approve", &id, "--as", "sup1", "--date", "2026-06-22"]);
        let off = b.loan(&loan, "2026-06-22");
        assert_eq!(off["book"], "written_off");
        assert_eq!(off["status"], "written_off");
        assert_eq!(minor(&off["totals"]["outstanding"]), 0);
        assert_eq!(minor(&off["totals"]["written_off"]), owed);
        // Nothing overdue is left on the book: the case closes.
        assert_eq!(b.json(&["case", "show", &open[0], "--json"])["status"], "closed");
        b.refused(
            &pw("col1"),
            &["writeoff", "request", "--loan", &loan, "--as", "col1", "--date", "2026-06-23"],
            "written off already",
        );
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
                "3",
                "--date",
                "2026-06-23",
            ],
            "written off",
        );

        // A payment after it is a recovery: the loan stays off the book.
        b.ok(
            "",
            &[
                "payment",
                "add",
                "--id",
                "REC-1",
                "--loan",
                &loan,
                "--date",
                "2026-07-01",
                "--amount",
                "100.00",
            ],
        );
        let rec = b.loan(&loan, "2026-07-01");
        assert_eq!(rec["book"], "written_off");
        assert_eq!(minor(&rec["totals"]["recovered"]), 10_000);
        assert_eq!(minor(&rec["totals"]["written_off"]), owed - 10_000);
        let payments = rec["payments"].as_array().unwrap();
        assert_eq!(payments[payments.len() - 1]["allocation"][0]["component"], "recovery");

        // The reversal has its own approval and puts back what was not recovered.
        let back = request(&["--loan", &loan, "--reverse"]);
        b.ok(&pw("sup2"), &["writeoff", "approve", &back, "--as", "sup2", "--date", "2026-07-10"]);
        let v = b.loan(&loan, "2026-07-10");
        assert_eq!(v["book"], "on_book");
        assert_eq!(minor(&v["totals"]["written_off"]), 0);
        assert_eq!(minor(&v["totals"]["outstanding"]) - minor(&v["totals"]["credit"]), owed - 10_000);

        // A partial write-off of a loan in an arrangement in force is refused, nothing changed.
        let r = b.json_as(
            "col1",
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
        );
        let rid = r["request_id"].as_str().unwrap();
        b.ok(&pw("sup1"), &["arrangement", "approve", rid, "--as", "sup1", "--date", "2026-06-22"]);
        let arranged = b.loan(&other, "2026-06-22");
        b.refused(
            &pw("col1"),
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
        assert_eq!(b.loan(&other, "2026-06-22"), arranged);
        b.ok("", &["audit", "verify"]);
    })
    .await;
}
