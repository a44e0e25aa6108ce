//! `arrears strategy …`: check a collection strategy file before it goes live.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arrears_strategy::{CheckErrors, Strategy};
use clap::Subcommand;
use serde_json::json;

use crate::Rejected;

/// The `arrears strategy` subcommands.
#[derive(Subcommand)]
pub enum StrategyCommand {
    /// Check a strategy file: every error as FILE:LINE:COL: message; exit 1 if there is any.
    Check {
        /// Strategy file (TOML).
        file: PathBuf,
        /// Configuration folder holding templates/ and queues.toml; by default the folder above
        /// the file's `strategies/`, else ./config.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a strategy file and install it: the batch uses it from its `effective_from` on.
    Install {
        /// Strategy file (TOML).
        file: PathBuf,
        /// Configuration folder holding templates/ and queues.toml (as for `check`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Champion / challenger results per experiment arm: cases, cure rate, recovered, contacts.
    Report {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `strategy` subcommand.
pub async fn run(db: &str, cmd: StrategyCommand) -> Result<()> {
    match cmd {
        StrategyCommand::Check { file, config, json } => check_file(&file, config, json),
        StrategyCommand::Install { file, config } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let s = match check_with(&file, &text, &config_dir(&file, config)) {
                Ok(s) => s,
                Err(e) => {
                    for line in e.lines() {
                        println!("{line}");
                    }
                    eprintln!(
                        "{} 个错误，未安装 / {} error(s), not installed",
                        e.errors.len(),
                        e.errors.len()
                    );
                    return Err(Rejected.into());
                }
            };
            let db = crate::open(db).await?;
            let new = arrears_app::strategies::install(&db, &s, text, &crate::now(), "user:cli").await?;
            println!(
                "{} v{} {} / {}, effective from {}",
                s.name,
                s.version,
                if new { "已安装" } else { "已是当前内容" },
                if new { "installed" } else { "already installed" },
                s.effective_from
            );
            Ok(())
        }
        StrategyCommand::Report { json } => {
            let db = crate::open(db).await?;
            let rows = arrears_store::treatment::arm_figures(&db).await?;
            if json {
                return crate::print_json(&rows);
            }
            println!(
                "{:<24} {:<12} {:>7} {:>7} {:>8} {:>14} {:>9}",
                "experiment", "arm", "cases", "cured", "cure %", "recovered", "contacts"
            );
            for r in &rows {
                let rate = if r.cases > 0 { 100.0 * r.cured as f64 / r.cases as f64 } else { 0.0 };
                println!(
                    "{:<24} {:<12} {:>7} {:>7} {:>7.1}% {:>14} {:>9}",
                    r.experiment,
                    r.arm,
                    r.cases,
                    r.cured,
                    rate,
                    arrears_core::Amount::from_minor(r.recovered_minor)
                        .format(arrears_core::Currency::from_code("CNY")?),
                    r.contacts
                );
            }
            Ok(())
        }
    }
}

fn config_dir(file: &Path, config: Option<PathBuf>) -> PathBuf {
    if let Some(c) = config {
        return c;
    }
    match file.parent() {
        Some(dir) if dir.file_name().is_some_and(|n| n == "strategies") => {
            dir.parent().map_or_else(|| PathBuf::from("config"), Path::to_path_buf)
        }
        _ => PathBuf::from("config"),
    }
}

fn check_file(file: &Path, config: Option<PathBuf>, json: bool) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let shown = file.display().to_string();
    let result = check_with(file, &text, &config_dir(file, config));
    match result {
        Ok(s) => {
            if json {
                println!(
                    "{}",
                    json!({ "file": shown, "ok": true, "errors": [], "summary": summary_json(&s) })
                );
            } else {
                println!(
                    "{shown}: 检查通过 / ok — {} v{}, {} segments, {} steps, {} experiments",
                    s.name,
                    s.version,
                    s.segments.len(),
                    s.all_steps().count(),
                    s.experiments.len()
                );
            }
            Ok(())
        }
        Err(e) => {
            if json {
                let errors: Vec<_> = e
                    .errors
                    .iter()
                    .map(|d| json!({ "file": e.path, "line": d.line, "column": d.column, "message": d.message }))
                    .collect();
                println!("{}", json!({ "file": shown, "ok": false, "errors": errors }));
            } else {
                for line in e.lines() {
                    println!("{line}");
                }
                eprintln!("{} 个错误 / {} error(s)", e.errors.len(), e.errors.len());
            }
            Err(Rejected.into())
        }
    }
}

fn summary_json(s: &Strategy) -> serde_json::Value {
    json!({
        "name": s.name,
        "version": s.version,
        "effective_from": s.effective_from.to_string(),
        "segments": s.segments.iter().map(|g| json!({ "name": g.name, "steps": g.steps.len() })).collect::<Vec<_>>(),
        "experiments": s.experiments.iter().map(|x| json!({
            "name": x.name,
            "segment": x.segment,
            "arms": x.arms.iter().map(|a| json!({ "name": a.name, "share": a.share })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Checks a strategy file against the configuration folder, printing the notes about what
/// could not be checked.
fn check_with(file: &Path, text: &str, dir: &Path) -> Result<Strategy, CheckErrors> {
    let (s, notes) = arrears_app::strategies::check_strategy(&file.display().to_string(), text, dir)?;
    for n in notes {
        eprintln!("{n}");
    }
    Ok(s)
}
