//! Times the strategy decision alone: the shipped default strategy over N synthetic open
//! cases (default 100,000, the open-case count of a 1,000,000-loan book) on one date.
//!
//! `cargo run --release -p arrears-strategy --example due_bench [N]`

use std::collections::BTreeMap;
use std::time::Instant;

use arrears_core::{Amount, BorrowerKind};
use arrears_strategy::facts::sample;
use arrears_strategy::{Done, Hold, Known, check, due_steps};
use chrono::{Days, NaiveDate};

/// A small fixed generator: the benchmark needs the same cases on every run, not quality randomness.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let text = include_str!("../../../config/strategies/default.toml");
    let strategy = check("default.toml", text, &Known::default()).expect("the default strategy checks");
    let on = NaiveDate::from_ymd_opt(2026, 11, 27).expect("date");
    let mut rng = Lcg(2026);
    let cases: Vec<_> = (0..n)
        .map(|i| {
            // Mostly early cases, a long tail of late ones, as in a consumer book.
            let dpd = match rng.next(10) {
                0..=5 => 1 + rng.next(30),
                6..=7 => 31 + rng.next(60),
                _ => 91 + rng.next(300),
            } as i64;
            let opened = on.checked_sub_days(Days::new(dpd as u64 - 1)).expect("date");
            let mut f = sample(&format!("C-B{i:07}-{}", opened.format("%Y%m%d")), opened, dpd);
            f.case.total_overdue = Amount::from_minor(10_000 + rng.next(2_000_000) as i64);
            if rng.next(10) == 0 {
                f.borrower.kind = BorrowerKind::Company;
            }
            if rng.next(50) == 0 {
                f.case.hold = Some(Hold::Dispute);
                f.case.dispute_raised_on = Some(on);
            }
            if dpd > 120 && rng.next(2) == 0 {
                f.case.placed_with = Some("default_agency".into());
            }
            if rng.next(10) < 7 {
                f.score.pd = Some(rng.next(1000) as f64 / 1000.0);
            }
            if rng.next(5) == 0 {
                f.case.last_broken_promise_on = on.checked_sub_days(Days::new(rng.next(10)));
            }
            // Yesterday's run already did what was due then.
            let history: Vec<Done> = due_steps(&strategy, &f, &[], on.pred_opt().expect("date"))
                .due
                .into_iter()
                .map(|d| Done { step: d.step, on: on.pred_opt().expect("date") })
                .collect();
            (f, history)
        })
        .collect();
    // Binding the facts alone, to split the cost between building records and evaluating.
    let started = Instant::now();
    for (f, _) in &cases {
        std::hint::black_box(f.bindings(on));
    }
    let bind_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut segments: BTreeMap<String, usize> = BTreeMap::new();
    for (f, history) in &cases {
        let d = due_steps(&strategy, f, history, on);
        *segments.entry(d.segment.unwrap_or_default()).or_default() += 1;
        for s in d.due {
            *by_kind.entry(s.kind.as_str()).or_default() += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} cases in {secs:.3} s: {:.0} cases/s, {:.1} µs/case",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
    println!("of which binding the facts: {:.1} µs/case", bind_secs * 1e6 / n as f64);
    println!("segments: {segments:?}");
    println!("due steps by kind: {by_kind:?}");
}
