//! What the audit log costs in the database: appends per second (one entry per
//! transaction, as an action would, and a hundred per transaction, as the cases phase
//! does), then a checkpoint, inclusion proofs and `verify` over the resulting log.
//!
//! `cargo run --release -p arrears-app --example audit_bench -- [ENTRIES] [DB_URL]`
//! (default 20000 entries in a fresh SQLite file in a temp dir).

use std::time::Instant;

use arrears_app::audit::{self, Event};
use arrears_audit::LogSigner;
use arrears_store::{Db, DbUrl};

fn event(i: usize) -> Event {
    Event::new("system:bench", "bench.appended")
        .entity(format!("case:C-B{:07}-20261120", i % 5000))
        .fact("i", i as u64)
        .fact("business_date", "2026-11-20")
        .fact("note", "催收记录：客户承诺月底还款")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    let url = args.next().unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let db = Db::open(&DbUrl::new(url.clone())).await?;
    println!("audit bench on {} ({} backend), {n} entries", DbUrl::new(url), db.backend());

    let half = n / 2;
    let started = Instant::now();
    for i in 0..half {
        let mut tx = db.begin().await?;
        audit::record_all(&mut tx, vec![event(i)]).await?;
        tx.commit().await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "append, 1 entry per transaction:   {:>9.0} entries/s ({:.3} ms each)",
        half as f64 / secs,
        secs * 1e3 / half as f64
    );

    let started = Instant::now();
    let mut i = half;
    while i < n {
        let upto = (i + 100).min(n);
        let mut tx = db.begin().await?;
        audit::record_all(&mut tx, (i..upto).map(event).collect()).await?;
        tx.commit().await?;
        i = upto;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("append, 100 entries per transaction: {:>7.0} entries/s", (n - half) as f64 / secs);

    let signer = LogSigner::generate(audit::ORIGIN)?;
    let started = Instant::now();
    let cp = audit::checkpoint(&db, &signer).await?;
    println!(
        "checkpoint of {} entries:           {:>7.2} ms",
        cp.size,
        started.elapsed().as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let proofs = 1000.min(n);
    for k in 0..proofs {
        let seq = (k as u64 * 7919) % n as u64;
        audit::inclusion(&db, seq).await?;
    }
    println!(
        "inclusion proof (entry, nodes, checkpoint read): {:.3} ms each",
        started.elapsed().as_secs_f64() * 1e3 / proofs as f64
    );

    let started = Instant::now();
    let report = audit::verify(&db, &signer.verifier()).await?;
    assert!(report.intact, "{report:?}");
    println!(
        "verify of {} entries:               {:>7.2} s",
        report.entries,
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}
