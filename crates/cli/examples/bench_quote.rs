//! Arrangement quotes: how long one takes from the database (the loan, its schedule and
//! payments read, replayed to the date, assessed and quoted), as a collector waits for it.
//!
//! `cargo run --release -p arrears-cli --example bench_quote -- [LOANS] [QUOTES]` (default a book
//! of 20000 loans, 2000 quotes of every kind in turn on a fresh SQLite file). Prints p50, p99
//! and max in milliseconds. Target: a quote in under 5 ms.

use std::time::Instant;

use arrears_store::{Db, DbUrl};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let loans: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20_000);
    let quotes: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2_000);
    let dir = tempfile::tempdir()?;
    let as_of: chrono::NaiveDate = "2026-11-20".parse()?;
    let book = dir.path().join("book");
    arrears_sim::generate(&arrears_sim::GenConfig::new(loans, 7, as_of), &book, &|_| {})?;
    let db = Db::open(&DbUrl::new(format!("sqlite://{}/q.db", dir.path().display()))).await?;
    let at = chrono::Local::now().fixed_offset();
    arrears_app::import::import_dir(&db, &book, &at, &arrears_app::import::Quiet).await?;
    let ids: Vec<String> = arrears_store::on_pool!(&db, p => sqlx::query_scalar("SELECT loan_id FROM loans ORDER BY loan_id")
        .fetch_all(p).await?);
    let kinds = [
        ("extension", Some(6), None),
        ("instalment_plan", Some(12), Some("10.00")),
        ("settlement", Some(2), Some("100.00")),
        ("waiver", None, None),
    ];
    let mut ms = Vec::with_capacity(quotes);
    let mut quoted = 0usize;
    for i in 0..quotes {
        let loan = &ids[(i * 7919) % ids.len()];
        let (kind, months, amount) = kinds[i % kinds.len()];
        let started = Instant::now();
        let q = arrears_app::arrangements::quote(&db, loan, as_of, kind, months, amount).await;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        quoted += usize::from(q.is_ok());
    }
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    println!(
        "{{\"loans\": {loans}, \"quotes\": {quotes}, \"quoted\": {quoted}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}}}",
        at(0.50),
        at(0.99),
        ms[ms.len() - 1]
    );
    Ok(())
}
