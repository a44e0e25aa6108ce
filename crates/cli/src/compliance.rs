//! `arrears compliance …`: scan collection messages, templates and call notes against the content
//! rules, and measure the rules on a labelled evaluation set.
//!
//! `scan` exits 1 when a line is blocked (the input is rejected), `eval` exits 1 when the targets
//! are missed; both exit 2 on an error (unreadable file, broken lexicon or evaluation set).

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arrears_content::eval::{self, Counts, Example, Report, TARGET_FPR, TARGET_RECALL};
use arrears_content::{DEFAULT_EVAL_SET, Finding, Scanner, Verdict};
use clap::Subcommand;
use serde::Serialize;

use crate::Rejected;

/// The `arrears compliance` subcommands.
#[derive(Subcommand)]
pub enum ComplianceCommand {
    /// Scan texts, one a line (a message, a template or a note), from FILE or standard input.
    /// Exit code 1 when any line is blocked.
    Scan {
        /// File with one text a line; standard input when absent.
        file: Option<PathBuf>,
        /// One JSON object a line: {"text","verdict","findings":[{"category","start","end","rule"}]}.
        #[arg(long)]
        json: bool,
        /// Lexicon (TOML) to use instead of the built-in config/content/lexicon.toml.
        #[arg(long)]
        lexicon: Option<PathBuf>,
    },
    /// Precision, recall and false-positive rate per category on a labelled set (LABEL<TAB>TEXT).
    /// Exit code 1 when recall < 0.95 on the violations or the false-positive rate > 2% on lawful lines.
    Eval {
        /// Labelled set; the built-in config/content/eval.tsv when absent.
        file: Option<PathBuf>,
        /// Lexicon (TOML) to use instead of the built-in one.
        #[arg(long)]
        lexicon: Option<PathBuf>,
        /// Also list every line the rules get wrong.
        #[arg(long)]
        misses: bool,
    },
    /// The compliance review queue: queued messages and saved notes the content rules warned
    /// about, with the rules that warned.
    Review {
        /// At most this many of each.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Print JSON: {"messages":[…],"notes":[…]}.
        #[arg(long)]
        json: bool,
    },
}

/// `compliance review`: warned outbox messages and warned notes.
pub async fn review(db: &arrears_store::Db, limit: i64, json: bool) -> Result<()> {
    let messages = arrears_store::outbox::for_review(db, limit).await?;
    let notes = arrears_store::actions::for_review(db, limit).await?;
    if json {
        return crate::print_json(&serde_json::json!({ "messages": messages, "notes": notes }));
    }
    let mut o = std::io::stdout().lock();
    writeln!(o, "待复核消息 / messages to review: {}", messages.len())?;
    for m in &messages {
        writeln!(
            o,
            "  {} {} {} {} {} [{}]",
            m.message_id,
            m.case_id.as_ref().map_or("-", |c| c.as_str()),
            m.channel,
            m.template,
            m.send_at,
            m.content_rules
        )?;
    }
    writeln!(o, "待复核备注 / notes to review: {}", notes.len())?;
    for a in &notes {
        writeln!(o, "  {} {} {} {}", a.action_id, a.case_id, a.at, a.note)?;
    }
    Ok(())
}

/// Runs one `compliance` subcommand.
pub fn run(cmd: ComplianceCommand) -> Result<()> {
    match cmd {
        ComplianceCommand::Scan { file, json, lexicon } => scan(file.as_deref(), json, lexicon.as_deref()),
        ComplianceCommand::Eval { file, lexicon, misses } => {
            evaluate(file.as_deref(), lexicon.as_deref(), misses)
        }
        // main runs `review` itself, with the database open.
        ComplianceCommand::Review { .. } => anyhow::bail!("compliance review needs the database"),
    }
}

fn scanner(lexicon: Option<&Path>) -> Result<Scanner> {
    match lexicon {
        None => Ok(Scanner::default()),
        Some(p) => {
            let src = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            // The error already says the line; the file name makes it `file: line N: …`.
            Scanner::from_toml(&src).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        }
    }
}

/// One output line of `scan --json`, in the order of the contract.
#[derive(Serialize)]
struct JsonLine<'a> {
    text: &'a str,
    verdict: Verdict,
    findings: &'a [Finding],
}

fn scan(file: Option<&Path>, json: bool, lexicon: Option<&Path>) -> Result<()> {
    let scanner = scanner(lexicon)?;
    let input: Box<dyn BufRead> = match file {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut blocked = 0usize;
    for (i, line) in input.lines().enumerate() {
        let name = file.map_or_else(|| "stdin".to_string(), |p| p.display().to_string());
        let line = line.with_context(|| format!("{name}:{}: not UTF-8 text", i + 1))?;
        let text = line.strip_suffix('\r').unwrap_or(&line);
        let s = scanner.scan(text);
        blocked += usize::from(s.verdict == Verdict::Block);
        if json {
            serde_json::to_writer(&mut out, &JsonLine { text, verdict: s.verdict, findings: &s.findings })?;
            writeln!(out)?;
        } else {
            writeln!(out, "{:<5} {text}", s.verdict.as_str())?;
            for f in &s.findings {
                let matched: String = text.chars().skip(f.start).take(f.end - f.start).collect();
                let (zh, en) = scanner
                    .rule(&f.rule)
                    .map_or(("", ""), |r| (r.description_zh.as_str(), r.description_en.as_str()));
                writeln!(
                    out,
                    "      {}..{} {} 「{matched}」 {} ({}): {zh} / {en}",
                    f.start,
                    f.end,
                    f.category.name_zh(),
                    f.category.code(),
                    f.rule
                )?;
            }
        }
    }
    out.flush()?;
    if blocked > 0 {
        eprintln!("{blocked} line(s) blocked (已拦截 {blocked} 行)");
        return Err(Rejected.into());
    }
    Ok(())
}

fn evaluate(file: Option<&Path>, lexicon: Option<&Path>, misses: bool) -> Result<()> {
    let scanner = scanner(lexicon)?;
    let (name, src) = match file {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        ),
        None => ("config/content/eval.tsv (built in)".to_string(), DEFAULT_EVAL_SET.to_string()),
    };
    let examples = eval::parse(&src).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let all = eval::evaluate(&scanner, &examples);
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{name}: {} lines", examples.len())?;
    writeln!(
        out,
        "{:<34} {:>9} {:>7} {:>7} {:>5} {:>5} {:>5}",
        "category", "precision", "recall", "FPR", "TP", "FP", "FN"
    )?;
    for c in &all.categories {
        write_counts(&mut out, c)?;
    }
    write_summary(&mut out, "all", &all)?;
    for (part, held_out) in [("dev", false), ("held-out", true)] {
        let chosen: Vec<&Example> = examples.iter().filter(|e| e.held_out == held_out).collect();
        if !chosen.is_empty() && chosen.len() < examples.len() {
            write_summary(&mut out, part, &eval::evaluate(&scanner, chosen))?;
        }
    }
    if misses {
        for m in &all.misses {
            let codes = |v: &[arrears_content::Category]| {
                if v.is_empty() {
                    "ok".to_string()
                } else {
                    v.iter().map(|c| c.code()).collect::<Vec<_>>().join(",")
                }
            };
            writeln!(
                out,
                "miss line {}: expected {} found {}: {}",
                m.line,
                codes(&m.expected),
                codes(&m.found),
                m.text
            )?;
        }
    }
    out.flush()?;
    if !all.meets_targets() {
        eprintln!(
            "targets missed: recall must be >= {TARGET_RECALL:.2} and the false-positive rate <= {TARGET_FPR:.2}"
        );
        return Err(Rejected.into());
    }
    Ok(())
}

fn fmt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn write_counts(out: &mut impl Write, c: &Counts) -> Result<()> {
    writeln!(
        out,
        "{:<34} {:>9} {:>7} {:>7} {:>5} {:>5} {:>5}",
        c.category.code(),
        fmt(c.precision()),
        fmt(c.recall()),
        fmt(c.false_positive_rate()),
        c.true_pos,
        c.false_pos,
        c.false_neg
    )?;
    Ok(())
}

fn write_summary(out: &mut impl Write, part: &str, r: &Report) -> Result<()> {
    writeln!(
        out,
        "{part:<8} violations {:>4}  recall {} (target >= {TARGET_RECALL:.2})  lawful {:>4}  FPR {} (target <= {TARGET_FPR:.2})  precision {}",
        r.violations,
        fmt(r.recall()),
        r.lawful,
        fmt(r.false_positive_rate()),
        fmt(r.precision())
    )?;
    Ok(())
}
