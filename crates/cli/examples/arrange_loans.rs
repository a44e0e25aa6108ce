//! Puts arrangements in force on a book for the batch benchmark (`scripts/bench-arrangements.sh`):
//! the first K loans delinquent in PROBE's latest evaluation get an approved extension (6
//! months) or instalment plan (12 months), in turn, as ledger events of TARGET effective on
//! DATE — as approvals would store them, without the requests, so that a business date's cost
//! with and without them can be compared on the same book.
//!
//! `cargo run --release -p arrears-cli --example arrange_loans -- PROBE_URL TARGET_URL K DATE`

use arrears_core::Amount;
use arrears_core::arrangement::{ArrangementKind, Terms};
use arrears_core::ledger::{LedgerAction, LedgerEvent};
use arrears_store::{Db, DbUrl};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [probe, target, k, date] = &args[..] else {
        anyhow::bail!("usage: arrange_loans PROBE_URL TARGET_URL K DATE");
    };
    let k: i64 = k.parse()?;
    let on: chrono::NaiveDate = date.parse()?;
    let probe = Db::open(&DbUrl::new(probe.clone())).await?;
    let ids: Vec<String> = arrears_store::on_pool!(&probe, p => sqlx::query_scalar(
        "SELECT loan_id FROM loan_state WHERE dpd > 0 ORDER BY loan_id LIMIT $1",
    ).bind(k).fetch_all(p).await?);
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
    println!("{} arrangements in force from {on}", ids.len());
    Ok(())
}
