//! `arrears worker`: one of several processes sharing a business date's close of business.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use arrears_store::DbUrl;
use chrono::NaiveDate;
use clap::Args;

use crate::{audit, clock, date_arg, open, print_json, today};

/// What a worker is asked to do.
#[derive(Args)]
pub struct WorkerArgs {
    /// Business date (YYYY-MM-DD): the next date to close, or one part-way.
    #[arg(long, value_parser = date_arg)]
    date: NaiveDate,
    /// Chunks per phase, if this worker is the first and cuts the date (three times as many loan
    /// chunks, taken three at a time).
    #[arg(long, default_value_t = 16)]
    chunks: u32,
    /// Seconds a claim holds unless renewed: a killed worker's chunks go to another after this.
    #[arg(long, default_value_t = 60.0)]
    lease: f64,
    /// This worker's name in the chunk table (default: host and process id).
    #[arg(long)]
    name: Option<String>,
    /// Loans per transaction in the loan phase.
    #[arg(long, default_value_t = 2000)]
    chunk: i64,
    /// Only show the date's chunks: who holds or did each, how often each was claimed.
    #[arg(long)]
    status: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `arrears worker`.
pub async fn run(url: &str, audit_key: Option<&Path>, a: WorkerArgs) -> Result<()> {
    if a.chunks < 1 || a.chunks > 10_000 {
        bail!("--chunks must be between 1 and 10000 (got {})", a.chunks);
    }
    if !(a.lease.is_finite() && a.lease >= 0.5) {
        bail!("--lease must be at least 0.5 seconds (got {})", a.lease);
    }
    if a.chunk < 1 {
        bail!("--chunk must be at least 1");
    }
    let db = open(url).await?;
    if a.status {
        let chunks = arrears_store::batch_chunks::status(&db, a.date).await;
        db.close().await;
        let chunks = chunks?;
        if a.json {
            print_json(&chunks)?;
        } else {
            for c in &chunks {
                let state = if c.done {
                    "done"
                } else if c.worker.is_some() {
                    "claimed"
                } else {
                    "open"
                };
                let by = c.worker.as_deref().unwrap_or("-");
                println!("{:<11} {:>4}  {state:<7}  {by}  (claimed {} time(s))", c.phase, c.chunk, c.claims);
            }
        }
        return Ok(());
    }
    let name = a.name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}:{}", host.trim(), std::process::id())
    });
    let opts = arrears_app::batch::WorkerOptions {
        name,
        chunks: a.chunks,
        lease: Duration::from_secs_f64(a.lease),
        loans_per_tx: a.chunk,
        failpoint: std::env::var("ARREARS_FAILPOINT")
            .ok()
            .and_then(|f| arrears_app::batch::Failpoint::parse(&f)),
    };
    let started = Instant::now();
    let result = arrears_app::batch::work(&db, &DbUrl::new(url), a.date, today(), &clock(), &opts).await;
    // The worker that finished the date signs a checkpoint over what the date committed.
    let signed = match &result {
        Ok(r) if r.finished => Some(audit::checkpoint_after_batch(&db, url, audit_key).await),
        _ => None,
    };
    db.close().await;
    let report = result?;
    let signed = signed.transpose()?;
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        print_json(&serde_json::json!({ "work": report, "seconds": secs, "checkpoint": signed }))?;
    } else {
        if report.already_done {
            println!("{}: already finished; nothing to do", report.date);
        } else {
            println!(
                "{} chunk(s) done by {} in {secs:.1}s: {}",
                report.chunks.len(),
                report.worker,
                report.chunks.join(" ")
            );
        }
        if let Some(day) = &report.day {
            println!("{day}");
        }
        if let Some(s) = signed {
            println!("audit checkpoint signed: {} entries, root {}", s.size, s.root);
        }
    }
    Ok(())
}
