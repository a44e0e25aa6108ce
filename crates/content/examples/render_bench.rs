//! What scanning every rendered outgoing message costs the batch: 60,000 messages (the daily
//! volume of a 1M-loan book) rendered from the shipped SMS and e-mail templates with a distinct
//! name, DPD and amount each, scanned one by one; then the same messages when only the names
//! differ by borrower but amounts repeat, with the batch's once-per-distinct-text cache.
//!
//! `cargo run --release -p arrears-content --example render_bench [MESSAGES]`

use std::collections::HashMap;
use std::time::Instant;

use arrears_content::{Scanner, Verdict, render};

const TEMPLATES: [&str; 3] = [
    include_str!("../../../config/templates/reminder_soft.zh.txt"),
    include_str!("../../../config/templates/reminder_firm.zh.txt"),
    include_str!("../../../config/templates/overdue_notice.zh.txt"),
];
const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋"];

fn message(i: usize, distinct_amounts: bool) -> String {
    let name = format!("{}{}{}", SURNAMES[i % 8], GIVEN[(i / 8) % 10], GIVEN[(i / 80) % 10]);
    let dpd = 1 + i % 60;
    let overdue =
        if distinct_amounts { format!("{}.{:02}", 500 + i % 9973, i % 100) } else { "1280.00".into() };
    render(TEMPLATES[i % 3], |k| match k {
        "name" => Some(name.clone().into()),
        "dpd" => Some(dpd.to_string().into()),
        "overdue" => Some(overdue.clone().into()),
        _ => None,
    })
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(60_000);
    let start = Instant::now();
    let scanner = Scanner::default();
    println!("scanner built in {:?}", start.elapsed());
    for distinct_amounts in [true, false] {
        let start = Instant::now();
        let texts: Vec<String> = (0..n).map(|i| message(i, distinct_amounts)).collect();
        let rendered = start.elapsed();
        let start = Instant::now();
        let mut seen: HashMap<&str, Verdict> = HashMap::new();
        let mut flagged = 0;
        for t in &texts {
            let v = *seen.entry(t.as_str()).or_insert_with(|| scanner.scan(t).verdict);
            flagged += usize::from(v != Verdict::Ok);
        }
        let scanned = start.elapsed();
        println!(
            "{n} messages ({} distinct texts, amounts {}): rendered in {rendered:?}, scanned in {scanned:?} \
             ({:.0} messages/s), {flagged} flagged",
            seen.len(),
            if distinct_amounts { "distinct" } else { "repeated" },
            n as f64 / scanned.as_secs_f64()
        );
    }
}
