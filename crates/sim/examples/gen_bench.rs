//! Generates a synthetic book and prints loans/s and the summary.
//!
//! `cargo run --release -p arrears-sim --example gen_bench -- [LOANS] [THREADS] [OUT_DIR] [ASSESS_EVERY]`
//! (defaults: 1000000 loans, 2 threads, a temporary directory, every 10th loan assessed).

use std::time::Instant;

use arrears_sim::{BUCKET_LABELS, GenConfig, generate};
use chrono::NaiveDate;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let loans = args.first().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let threads = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let out = args
        .get(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("arrears-gen-bench"));
    let assess_every = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let as_of = NaiveDate::from_ymd_opt(2025, 6, 30).expect("valid date");
    let cfg = GenConfig { threads, assess_every, ..GenConfig::new(loans, 42, as_of) };

    let start = Instant::now();
    let summary = match generate(&cfg, &out, &|_| {}) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gen_bench: {e}");
            std::process::exit(1);
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{loans} loans in {secs:.2} s with {threads} threads: {:.0} loans/s, {:.1} MB/s",
        loans as f64 / secs,
        summary.bytes as f64 / secs / 1e6
    );
    println!(
        "borrowers {} contacts {} loans {} payments {} financial rows {} bytes {}",
        summary.borrowers,
        summary.contacts,
        summary.loans,
        summary.payments,
        summary.financial_rows,
        summary.bytes
    );
    println!(
        "assessed {} (every {assess_every}), active {}, overdue {} ({:.2}% of active)",
        summary.assessed_loans,
        summary.active_loans,
        summary.overdue_loans(),
        100.0 * summary.overdue_share()
    );
    let buckets: Vec<String> =
        BUCKET_LABELS.iter().zip(summary.by_bucket).map(|(l, n)| format!("{l} {n}")).collect();
    println!("by bucket: {}", buckets.join(", "));
    for (name, _) in arrears_sim::FILES {
        if let Ok(m) = std::fs::metadata(out.join(name)) {
            println!("{name}: {:.1} MB", m.len() as f64 / 1e6);
        }
    }
}
