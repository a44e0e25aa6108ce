//! Prints the evaluation figures and the lines the scanner gets wrong.
//! `cargo run --example eval [dev|held-out|all]` (default dev: the part used while writing rules).

use arrears_content::{DEFAULT_EVAL_SET, Scanner, eval};

fn main() {
    let part = std::env::args().nth(1).unwrap_or_else(|| "dev".into());
    let scanner = Scanner::default();
    let examples = match eval::parse(DEFAULT_EVAL_SET) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: eval.tsv:{e}");
            std::process::exit(2);
        }
    };
    let chosen = examples.iter().filter(|e| match part.as_str() {
        "dev" => !e.held_out,
        "held-out" => e.held_out,
        _ => true,
    });
    let chosen: Vec<_> = chosen.collect();
    if std::env::var_os("EXTRA").is_some() {
        for e in &chosen {
            let s = scanner.scan(&e.text);
            let extra: Vec<_> = s.findings.iter().filter(|f| !e.labels.contains(&f.category)).collect();
            if !extra.is_empty() && !e.labels.is_empty() {
                println!(
                    "extra line {}: {:?} {}",
                    e.line,
                    extra.iter().map(|f| (f.category.code(), &f.rule)).collect::<Vec<_>>(),
                    e.text
                );
            }
        }
    }
    let r = eval::evaluate(&scanner, chosen);
    for m in &r.misses {
        let codes =
            |v: &[arrears_content::Category]| v.iter().map(|c| c.code()).collect::<Vec<_>>().join(",");
        println!(
            "line {}: expected [{}] found [{}]  {}",
            m.line,
            codes(&m.expected),
            codes(&m.found),
            m.text
        );
    }
    println!(
        "{part}: violations {} recall {:.3}; lawful {} flagged {} FPR {:.3}; precision {:.3}",
        r.violations,
        r.recall().unwrap_or(0.0),
        r.lawful,
        r.lawful_flagged,
        r.false_positive_rate().unwrap_or(0.0),
        r.precision().unwrap_or(0.0)
    );
    for c in &r.categories {
        if c.false_pos > 0 || c.false_neg > 0 {
            println!(
                "  {:34} tp {:3} fp {:3} fn {:3}",
                c.category.code(),
                c.true_pos,
                c.false_pos,
                c.false_neg
            );
        }
    }
}
