//! Throughput of the scanner on one core: messages per second over the texts of the shipped
//! evaluation set (half of them violations, so the slow path with segmentation is well exercised)
//! and over its lawful lines alone (the common case in production).
//!
//! `cargo run --release -p arrears-content --example bench [SECONDS]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use arrears_content::{DEFAULT_EVAL_SET, Scanner, Verdict, eval};

/// CPU time this thread has run, from Linux's /proc/thread-self/schedstat (None elsewhere). On a
/// shared, loaded machine wall time undercounts what one core does; CPU time does not.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(s.split_whitespace().next()?.parse().ok()?))
}

/// Scans `texts` round-robin for about `secs` seconds; returns (messages, elapsed,
/// CPU time, non-ok verdicts).
fn run(scanner: &Scanner, texts: &[&str], secs: f64) -> (u64, Duration, Option<Duration>, u64) {
    let cpu0 = cpu_time();
    let start = Instant::now();
    let budget = Duration::from_secs_f64(secs);
    let (mut n, mut flagged) = (0u64, 0u64);
    while start.elapsed() < budget {
        for t in texts {
            if black_box(scanner.scan(black_box(t))).verdict != Verdict::Ok {
                flagged += 1;
            }
            n += 1;
        }
    }
    let cpu = cpu_time().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    (n, start.elapsed(), cpu, flagged)
}

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let t0 = Instant::now();
    let scanner = Scanner::default();
    println!("scanner built in {:.0} ms (jieba dictionary + lexicon)", t0.elapsed().as_secs_f64() * 1e3);
    let examples = match eval::parse(DEFAULT_EVAL_SET) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: eval.tsv:{e}");
            std::process::exit(2);
        }
    };
    let all: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let lawful: Vec<&str> =
        examples.iter().filter(|e| e.labels.is_empty()).map(|e| e.text.as_str()).collect();
    let avg = all.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / all.len() as f64;
    println!("texts: {} (lawful {}), {avg:.1} characters on average", all.len(), lawful.len());
    for (name, texts) in [("eval mix", &all), ("lawful only", &lawful)] {
        run(&scanner, texts, 0.3); // warm caches
        let (n, el, cpu, flagged) = run(&scanner, texts, secs);
        let per_cpu = cpu.map_or_else(
            || "CPU time unavailable".to_string(),
            |c| format!("{:.0} messages per CPU-second", n as f64 / c.as_secs_f64()),
        );
        println!(
            "{name:12} {:>9.0} messages/s wall on one thread, {per_cpu} ({n} scans in {:.2} s, {:.0}% flagged)",
            n as f64 / el.as_secs_f64(),
            el.as_secs_f64(),
            100.0 * flagged as f64 / n as f64
        );
    }
}
