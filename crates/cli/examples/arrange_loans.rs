//! Puts arrangements in force on a book for the batch benchmark (`scripts/bench-arrangements.sh`):
//! K loans of PROBE's latest evaluation that are delinquent (or, with `any`, K active loans, the
//! delinquent first: a generated book has fewer delinquent loans than the target's 50,000 in a
//! million, and a current loan put in an arrangement opens a case it would not have), get an approved
//! extension (6 months) or instalment plan (12 months), in turn, as ledger events of TARGET
//! effective on DATE — as approvals would store them, without the requests, so that a business
//! date's cost with and without them can be compared on the same book.
//!
//! `cargo run --release -p arrears-cli --example arrange_loans -- PROBE_URL TARGET_URL K DATE [delinquent|any]`

use arrears_core::Amount;
use arrears_core::arrangement::{ArrangementKind, Terms};
use arrears_core::ledger::{LedgerAction, LedgerEvent};
use arrears_store::{Db, DbUrl};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (probe, target, k, date, which) = match &args[..] {
        [p, t, k, d] => (p, t, k, d, "delinquent"),
        [p, t, k, d, w] => (p, t, k, d, w.as_str()),
        _ => anyhow::bail!("usage: arrange_loans PROBE_URL TARGET_URL K DATE [delinquent|any]"),
    };
    let filter = match which {
        "delinquent" => "dpd > 0",
        "any" => "status = 'active'",
        other => anyhow::bail!("{other:?}: delinquent or any"),
    };
    let k: i64 = k.parse()?;
    let on: chrono::NaiveDate = date.parse()?;
    let probe = Db::open(&DbUrl::new(probe.clone())).await?;
    let sql = format!(
        "SELECT loan_id FROM loan_state WHERE {filter} ORDER BY CASE WHEN dpd > 0 THEN 0 ELSE 1 END, loan_id LIMIT $1"
    );
    let ids: Vec<String> = arrears_store::on_pool!(&probe, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(k).fetch_all(p).await?);
    let db = Db::open(&DbUrl::new(target.clone())).await?;
    let mut tx = db.begin().await?;
    for (i, loan) in ids.iter().enumerate() {
        let (kind, months) =
            if i % 2 == 0 { (ArrangementKind::Extension, 6) } else { (ArrangementKind::InstalmentPlan, 12) };
        let e = LedgerEvent {
            on,
            id: format!("BENCH:{loan}"),
            action: LedgerAction::Arrange {
                terms: Terms { kind, months: Some(months), amount: None, max_months: u32::MAX },
                tolerance_days: 15,
                tolerance: Amount::ZERO,
                was_non_performing: false,
            },
        };
        arrears_store::ledger_events::add(&mut tx, loan, &e).await?;
    }
    tx.commit().await?;
    // Closing checkpoints SQLite's write-ahead log into the file, which the script copies.
    db.close().await;
    probe.close().await;
    println!("{} arrangements in force from {on}", ids.len());
    Ok(())
}
