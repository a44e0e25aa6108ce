//! The legal track.

use crate::support::each_backend;
use crate::{Book, minor, pw};

/// A legal case on a collection case moves forward through its stages with a deadline each,
/// never back; costs, the judgment, the 失信被执行人 listing and recoveries by enforcement
/// (booked as payments) are recorded and audited on the case; the board lists it with its
/// deadline; the filing bundle holds the claim and the evidence.
#[tokio::test]
async fn legal_cases_move_forward_and_bundle_their_claim() {
    each_backend(async |t| {
        let b = Book::new(t, 300, 3, "2026-06-19", &[("col1", "collector"), ("law1", "legal")]);
        let case = b.open_cases(1).remove(0);
        let law = pw("law1");
        let step = |args: &[&str]| -> serde_json::Value {
            let mut all: Vec<&str> = args.to_vec();
            all.extend_from_slice(&["--as", "law1", "--json"]);
            b.json_as("law1", &all)
        };
        b.refused(
            &pw("col1"),
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
        assert!(v["claim_amount"].as_i64().unwrap() > 0);

        // Forward, skipping mediation; never back; nothing changes on a refusal.
        let v = step(&["legal", "stage", &id, "--to", "filing", "--date", "2026-06-25"]);
        assert_eq!((v["stage"].as_str(), v["deadline"].as_str()), (Some("filing"), Some("2026-07-25")));
        let before = b.json(&["legal", "show", &id, "--date", "2026-06-25", "--json"]);
        let refusals: [(&[&str], &str); 5] = [
            (&["legal", "stage", &id, "--to", "mediation", "--date", "2026-06-26"], "cannot go to mediation"),
            (&["legal", "stage", &id, "--to", "sideways"], "sideways"),
            (&["legal", "recover", &id, "--amount", "10.00", "--date", "2026-06-26"], "after a judgment"),
            (&["legal", "dishonest", &id, "--date", "2026-06-26"], "during enforcement"),
            (&["legal", "cost", &id, "--kind", "bribe", "--amount", "1.00"], "court_fee, lawyer_fee, other"),
        ];
        for (args, want) in refusals {
            let mut all = args.to_vec();
            all.extend_from_slice(&["--as", "law1"]);
            b.refused(&law, &all, want);
        }
        assert_eq!(b.json(&["legal", "show", &id, "--date", "2026-06-25", "--json"]), before);

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
        let board = b.json(&["legal", "list", "--date", "2026-07-26", "--json"]);
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
        let l = b.loan(&loan, "2026-09-01");
        let paid =
            l["payments"].as_array().unwrap().iter().find(|p| p["channel"] == "enforcement").expect("booked");
        assert_eq!(paid["amount"], "1000.00");

        // The filing bundle: the claim is what is owed plus the recoverable costs.
        let out = b.path("bundle");
        b.ok("", &["legal", "bundle", &id, "--out", out.to_str().unwrap(), "--date", "2026-09-01"]);
        let claim: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("claim.json")).unwrap()).unwrap();
        let owed = &claim["owed"];
        let sum = minor(&owed["principal"])
            + minor(&owed["interest"])
            + minor(&owed["fee"])
            + minor(&owed["penalty"])
            - minor(&owed["credit_held"]);
        assert_eq!(minor(&claim["claim_total"]), sum + 50_000);
        assert_eq!(claim["contract"]["loan_id"], loan.as_str());
        assert!(out.join("summary.json").exists());
        let kinds = crate::evidence_kinds(&out.join("evidence.zip"));
        assert!(
            kinds.iter().filter(|k| k.starts_with("legal.")).count() >= 8,
            "every step on the case: {kinds:?}"
        );
        b.ok("", &["audit", "verify"]);
    })
    .await;
}
