//! Importing the same rows again changes nothing; schedules are generated or kept as given.

use arrears_core::schedule::{self, Installment};
use arrears_core::{Amount, Currency};
use arrears_sim::{GenConfig, generate};
use arrears_store::loans::{load_chunk, load_loan};
use chrono::NaiveDate;

use crate::support::*;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

#[tokio::test]
async fn same_files_twice_change_nothing() {
    each_backend(async |t| {
        let first = import_good(t).await;
        let dir = write_files(&good_files());
        let again =
            import(&t.db, dir.path()).await.unwrap_or_else(|e| panic!("[{}] re-import: {e}", t.backend));
        assert_eq!(again.schedules_generated, 0, "[{}]", t.backend);
        let second = snapshot(&t.db).await;
        // The imports log records each import; the book itself is untouched, row for row.
        assert_eq!(first.book(), second.book(), "[{}]", t.backend);
        assert_eq!(second.count("imports"), first.count("imports") + 1, "[{}]", t.backend);
        assert_eq!(second.count("loans"), 2);
        assert_eq!(second.count("payments"), 1);
        for (id, n) in [("L1", 12), ("L2", 6)] {
            let b = load_loan(&t.db, id).await.unwrap().expect("loan");
            assert_eq!(b.schedule.len(), n, "[{}] {id}", t.backend);
        }
    })
    .await;
}

#[tokio::test]
async fn generated_book_imports_and_reimports_cleanly() {
    let out = tempfile::tempdir().unwrap();
    let sim = generate(&GenConfig::new(300, 42, d("2024-06-30")), out.path(), &|_| {}).expect("generate");
    each_backend(async |t| {
        let s = import(&t.db, out.path()).await.unwrap_or_else(|e| panic!("[{}] import: {e}", t.backend));
        assert_eq!(s.schedules_generated, 300, "[{}]", t.backend);
        let first = snapshot(&t.db).await;
        assert_eq!(first.count("loans"), 300);
        assert_eq!(first.count("borrowers") as u64, sim.borrowers);
        assert_eq!(first.count("contacts") as u64, sim.contacts);
        assert_eq!(first.count("payments") as u64, sim.payments);
        assert_eq!(first.count("financials") as u64, sim.financial_rows);

        let s = import(&t.db, out.path()).await.unwrap_or_else(|e| panic!("[{}] re-import: {e}", t.backend));
        assert_eq!(s.schedules_generated, 0, "[{}]", t.backend);
        assert_eq!(first.book(), snapshot(&t.db).await.book(), "[{}]", t.backend);

        // Every generated schedule is core's schedule of the loan's terms.
        let mut after: Option<String> = None;
        let mut seen = 0;
        loop {
            let chunk = load_chunk(&t.db, after.as_deref(), 64).await.unwrap();
            let Some(last) = chunk.last() else { break };
            after = Some(last.loan.id.to_string());
            for b in &chunk {
                assert_eq!(b.schedule, schedule::generate(&b.loan).unwrap(), "[{}] {}", t.backend, b.loan.id);
            }
            seen += chunk.len();
        }
        assert_eq!(seen, 300, "[{}]", t.backend);
    })
    .await;
}

#[tokio::test]
async fn loans_without_installments_get_core_schedules() {
    each_backend(async |t| {
        import_good(t).await;
        for id in ["L1", "L2"] {
            let b = load_loan(&t.db, id).await.unwrap().expect("loan");
            let want = schedule::generate(&b.loan).unwrap();
            assert_eq!(b.schedule, want, "[{}] {id}", t.backend);
        }
        // Month-end clamping from a 31st.
        let l1 = load_loan(&t.db, "L1").await.unwrap().unwrap();
        let due: Vec<String> = l1.schedule.iter().take(4).map(|i| i.due_on.to_string()).collect();
        assert_eq!(due, ["2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]);
    })
    .await;
}

#[tokio::test]
async fn provided_installments_are_stored_as_given() {
    each_backend(async |t| {
        import_good(t).await;
        // L3 has its own, irregular schedule (with fees); L4 in the same import gets a generated one.
        let loans = "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days\n\
                     L3,B1,consumer,CNY,1000.00,0.12,3,2024-02-10,equal_principal,0.18,0\n\
                     L4,B2,sme,USD,2000.00,0.06,2,2024-02-10,interest_only,0.18,0\n";
        let inst = "loan_id,seq,due_on,principal,interest,fee\n\
                    L3,1,2024-03-05,100.01,9.99,5.00\n\
                    L3,3,2024-05-20,599.99,2.00,0.00\n\
                    L3,2,2024-04-01,300.00,7.50,0.50\n";
        let dir = write_files(&[("loans.csv", loans), ("installments.csv", inst)]);
        let s = import(&t.db, dir.path()).await.unwrap_or_else(|e| panic!("[{}] {e}", t.backend));
        assert_eq!(s.schedules_generated, 1, "[{}]", t.backend);

        let c = Currency::CNY;
        let a = |x: &str| Amount::parse(x, c).unwrap();
        let want = vec![
            Installment { seq: 1, due_on: d("2024-03-05"), principal: a("100.01"), interest: a("9.99"), fee: a("5.00") },
            Installment { seq: 2, due_on: d("2024-04-01"), principal: a("300.00"), interest: a("7.50"), fee: a("0.50") },
            Installment { seq: 3, due_on: d("2024-05-20"), principal: a("599.99"), interest: a("2.00"), fee: a("0.00") },
        ];
        let l3 = load_loan(&t.db, "L3").await.unwrap().unwrap();
        assert_eq!(l3.schedule, want, "[{}]", t.backend);
        let l4 = load_loan(&t.db, "L4").await.unwrap().unwrap();
        assert_eq!(l4.schedule, schedule::generate(&l4.loan).unwrap(), "[{}]", t.backend);

        // And again: nothing changes.
        let before = snapshot(&t.db).await;
        import(&t.db, dir.path()).await.unwrap_or_else(|e| panic!("[{}] {e}", t.backend));
        assert_eq!(before.book(), snapshot(&t.db).await.book(), "[{}]", t.backend);
    })
    .await;
}

#[tokio::test]
async fn adding_rows_later_keeps_earlier_ones() {
    each_backend(async |t| {
        let first = import_good(t).await;
        let pays = "payment_id,loan_id,paid_on,amount,channel\nP1,L1,2024-02-29,1066.19,bank\nP2,L1,2024-03-31,1066.19,card\n";
        let dir = write_files(&[("payments.csv", pays)]);
        import(&t.db, dir.path()).await.unwrap_or_else(|e| panic!("[{}] {e}", t.backend));
        let after = snapshot(&t.db).await;
        assert_eq!(after.count("payments"), 2);
        // P1 keeps its original import and line; the loans are untouched.
        assert_eq!(after.rows_of("payments")[0], first.rows_of("payments")[0], "[{}]", t.backend);
        assert_eq!(after.rows_of("loans"), first.rows_of("loans"), "[{}]", t.backend);
    })
    .await;
}
