//! The batch's refusal of a date a loan does not balance on.

use crate::support::each_backend;
use crate::{Book, common};

/// Money is conserved in the batch too: a loan whose stored schedule no longer adds up to what
/// was lent (edited behind the system's back) stops the date, naming the loan, and nothing of
/// its chunk is written.
#[tokio::test]
async fn the_batch_refuses_a_date_a_loan_does_not_balance_on() {
    each_backend(async |t| {
        let b = Book::new(t, 200, 3, "2026-06-19", &[]);
        let loan = b.loan_of(&b.open_cases(1)[0]);
        let exec = async |sql: String| {
            arrears_store::on_pool!(b.db(), pool => {
                sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            })
        };
        // One instalment of 100.00 more principal than was lent, put in behind the system's back.
        exec(format!("UPDATE loans SET schedule = 'imported' WHERE loan_id = '{loan}'")).await;
        // A date literal in a SELECT list is text to PostgreSQL unless typed; SQLite has no type.
        let due = if t.backend == "postgres" { "DATE '2026-07-19'" } else { "'2026-07-19'" };
        exec(format!(
            "INSERT INTO installments (loan_id, seq, due_on, principal, interest, fee, import_id, src_line, borrower_id) \
             SELECT loan_id, 1, {due}, principal + 10000, 0, 0, import_id, 0, borrower_id FROM loans \
             WHERE loan_id = '{loan}'"
        ))
        .await;
        exec(format!("UPDATE loan_state SET dirty_from = '2026-06-19' WHERE loan_id = '{loan}'")).await;
        let out = b.run("", &["batch", "--date", "2026-06-22"]);
        assert!(!out.status.success(), "the batch must stop: {}", common::text(&out.stdout));
        let err = common::text(&out.stderr);
        assert!(err.contains(&format!("loan {loan} does not balance on 2026-06-19")), "{err}");
        let sql = format!("SELECT CAST(evaluated_on AS TEXT) FROM loan_state WHERE loan_id = '{loan}'");
        let on = common::rows(b.db(), &sql).await;
        assert_eq!(on[0][0], "2026-06-19", "nothing of its chunk was written");
    })
    .await;
}
