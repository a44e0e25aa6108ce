//! A generated book's borrowers ask for arrangements, keep them and break them: the requests
//! come in through `arrangements.csv`, approved ones are put in force by the import, the batch
//! finds them kept or broken, and a request still waiting is decided on the desk.

use std::collections::BTreeMap;

use crate::Book;
use crate::common::text as common_text;
use crate::support::each_backend;

/// The single number `sql` selects.
async fn count(db: &arrears_store::Db, sql: &str) -> i64 {
    arrears_store::on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(p).await.unwrap())
}

/// Requests by (status, ledger status).
fn standing(b: &Book) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for r in b.json(&["arrangement", "list", "--json"]).as_array().unwrap() {
        let key =
            (r["status"].as_str().unwrap().to_string(), r["ledger_status"].as_str().unwrap().to_string());
        *out.entry(key).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn generated_borrowers_ask_for_keep_and_break_arrangements() {
    each_backend(async |t| {
        let as_of = "2026-06-19";
        let b = Book::new(t, 6000, 11, as_of, &[("supervisor", "supervisor")]);
        let seen = standing(&b);
        let count =
            |status: &str, ledger: &str| seen.get(&(status.into(), ledger.into())).copied().unwrap_or(0);
        for (status, ledger) in [
            ("requested", ""),
            ("rejected", ""),
            ("approved", "active"),
            ("approved", "kept"),
            ("approved", "broken"),
        ] {
            assert!(count(status, ledger) > 0, "[{}] no {status}/{ledger:?} request: {seen:?}", t.backend);
        }
        assert_eq!(count("approved", "void"), 0, "[{}] {seen:?}", t.backend);
        assert_eq!(count("approved", ""), 0, "[{}] an approval the batch did not track: {seen:?}", t.backend);

        // A broken arrangement's loan balances (collections may have brought it back since); a
        // kept settlement's rest is waived.
        let rows = b.json(&["arrangement", "list", "--status", "approved", "--json"]);
        let first = |ledger: &str, kind: Option<&str>| {
            rows.as_array()
                .unwrap()
                .iter()
                .find(|r| r["ledger_status"] == ledger && kind.is_none_or(|k| r["kind"] == k))
                .map(|r| r["loan_id"].as_str().unwrap().to_string())
        };
        let broken = first("broken", None).unwrap();
        let loan = b.loan(&broken, as_of);
        assert_eq!(loan["arrangements"][0]["status"], "broken", "[{}] {broken}: {loan}", t.backend);
        if let Some(kept) = first("kept", Some("settlement")) {
            let loan = b.loan(&kept, as_of);
            assert!(
                crate::minor(&loan["totals"]["waived"]) > 0,
                "[{}] kept settlement {kept}: {loan}",
                t.backend
            );
        }

        // A request the lender's system still had waiting is decided here, by someone other than
        // its maker, and put in force.
        let waiting = b.json(&["arrangement", "list", "--status", "requested", "--json"]);
        let r = &waiting[0];
        let id = r["request_id"].as_str().unwrap();
        assert!(r["case_id"].is_null(), "[{}] {r}", t.backend);
        let decided = b.json_as(
            "supervisor",
            &["arrangement", "approve", id, "--as", "supervisor", "--date", as_of, "--json"],
        );
        assert_eq!(decided["status"], "approved", "[{}] {decided}", t.backend);
        let loan = r["loan_id"].as_str().unwrap();
        let after = b.json(&["arrangement", "list", "--loan", loan, "--json"]);
        assert_eq!(after[0]["status"], "approved", "[{}] {after}", t.backend);
        assert!(
            ["active", "kept"].contains(&after[0]["ledger_status"].as_str().unwrap()),
            "[{}] {after}",
            t.backend
        );
        // The decision is on the case the loan is in.
        let case = b
            .json(&["case", "list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .find(|c| b.loan_of(c["case_id"].as_str().unwrap()) == loan)
            .map(|c| c["case_id"].as_str().unwrap().to_string());
        if let Some(case) = case {
            let shown = b.ok("", &["case", "show", &case]);
            assert!(shown.contains(id), "[{}] {case} does not show {id}: {shown}", t.backend);
        }
    })
    .await;
}

/// `arrangements.csv` is checked like every import file: bad rows are named by line and column
/// and nothing is written; the same file again changes nothing.
#[tokio::test]
async fn bad_arrangement_rows_are_named_and_nothing_is_imported() {
    each_backend(async |t| {
        let as_of = "2026-06-19";
        let b = Book::new(t, 300, 3, as_of, &[]);
        let loans = b.json(&["case", "list", "--json"]);
        let case = loans.as_array().unwrap().iter().find(|c| c["status"] == "open").unwrap();
        let loan = b.loan_of(case["case_id"].as_str().unwrap());
        let header = "arrangement_id,loan_id,kind,months,amount,requested_on,requested_by,status,decided_on,decided_by";
        let before = b.json(&["arrangement", "list", "--json"]);
        let write = |rows: &[String]| {
            let dir = b.path("bad");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("arrangements.csv"), format!("{header}\n{}\n", rows.join("\n"))).unwrap();
            dir
        };
        let cases: [(String, &str); 6] = [
            (format!("X1,{loan},extension,6,,2026-06-01,ann,approved,2026-06-02,ann"), "cannot also decide it"),
            (format!("X2,{loan},extension,,,2026-06-01,ann,approved,2026-06-02,bob"), "needs the number of months"),
            (format!("X3,{loan},settlement,1,,2026-06-01,ann,approved,2026-06-02,bob"), "needs the amount"),
            (format!("X4,{loan},extension,6,,2026-06-01,ann,requested,2026-06-02,"), "no decision date"),
            (format!("X5,{loan},instalment_plan,600,,2026-06-01,ann,approved,2026-06-02,bob"), "arrangements.csv:2: months: 600 months is beyond"),
            ("X6,NOPE,extension,6,,2026-06-01,ann,approved,2026-06-02,bob".to_string(), "unknown loan NOPE"),
        ];
        for (row, want) in &cases {
            let dir = write(std::slice::from_ref(row));
            let out = b.run("", &["import", dir.to_str().unwrap()]);
            let said = format!("{}{}", common_text(&out.stdout), common_text(&out.stderr));
            assert_eq!(out.status.code(), Some(1), "[{}] {row}: {said}", t.backend);
            assert!(said.contains(want) && said.contains("arrangements.csv"), "[{}] {row}: {said}", t.backend);
        }
        assert_eq!(b.json(&["arrangement", "list", "--json"]), before, "[{}] a refused import wrote", t.backend);

        // A good row is put in force, and importing it again changes nothing.
        let good = format!("G1,{loan},instalment_plan,12,,2026-06-18,ann,approved,{as_of},bob");
        let dir = write(&[good]);
        let imported = b.json(&["import", dir.to_str().unwrap(), "--json"]);
        assert_eq!(imported["arrangements"], 1, "[{}] {imported}", t.backend);
        let audited = format!(
            "SELECT COUNT(*) FROM audit_entries e JOIN audit_entities x ON x.seq = e.seq \
             WHERE e.kind = 'arrangement.imported' AND x.entity_id = 'loan:{loan}'"
        );
        assert_eq!(count(b.db(), &audited).await, 1, "[{}] the imported decision is audited", t.backend);
        let once = b.json(&["arrangement", "list", "--loan", &loan, "--json"]);
        let g1 = once.as_array().unwrap().iter().find(|r| r["request_id"] == "G1").expect("G1 imported");
        assert_eq!(g1["status"], "approved", "[{}] {g1}", t.backend);
        let again = b.json(&["import", dir.to_str().unwrap(), "--json"]);
        assert_eq!(again["arrangements"], 0, "[{}] {again}", t.backend);
        assert_eq!(b.json(&["arrangement", "list", "--loan", &loan, "--json"]), once, "[{}]", t.backend);
        assert_eq!(count(b.db(), &audited).await, 1, "[{}] and only once", t.backend);
        let shown = b.loan(&loan, as_of);
        assert_eq!(shown["installments"].as_array().unwrap().len(), 12, "[{}] {shown}", t.backend);
    })
    .await;
}
