//! `arrears alert …` (early-warning alerts: list, acknowledge, close, check a rule file)
//! and `arrears ability BORROWER` (repayment ability with every figure explained).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use arrears_app::ability::{Ability, input_text};
use arrears_core::ability::Figure;
use arrears_core::work::AlertStatus;
use arrears_store::alerts::AlertRow;
use arrears_strategy::alert::check_rules;
use chrono::NaiveDate;
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use crate::Rejected;

/// The `arrears alert` subcommands.
#[derive(Subcommand)]
pub enum AlertCommand {
    /// List alerts, oldest first.
    List {
        /// Only alerts in this status: open, acknowledged or closed.
        #[arg(long)]
        status: Option<String>,
        /// Only this borrower's alerts.
        #[arg(long)]
        borrower: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an open alert with a note.
    Ack {
        /// Alert id.
        id: i64,
        /// What was seen or done.
        #[arg(long)]
        note: String,
        /// Who acknowledges it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Close an open or acknowledged alert with a note.
    Close {
        /// Alert id.
        id: i64,
        /// Why it is closed.
        #[arg(long)]
        note: String,
        /// Who closes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Check an alert rule file: every error as FILE:LINE:COL: message; exit 1 if there is any.
    Check {
        /// Rule file (TOML).
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Language of the text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Chinese headings and figure names (the default).
    Zh,
    /// English headings; figures named by their code.
    En,
}

/// Runs an `alert` subcommand.
pub async fn run(db_url: &str, cmd: AlertCommand) -> Result<()> {
    match cmd {
        AlertCommand::Check { file, json } => check_file(&file, json),
        AlertCommand::List { status, borrower, json } => {
            let status: Option<AlertStatus> = match &status {
                Some(s) => Some(s.parse().map_err(|_| {
                    anyhow::anyhow!("--status {s:?} 无效 / is not a status: use open, acknowledged or closed")
                })?),
                None => None,
            };
            let db = crate::open(db_url).await?;
            let rows = arrears_store::alerts::list_alerts(&db, status, borrower.as_deref()).await?;
            db.close().await;
            if json {
                crate::print_json(&rows.iter().map(row_json).collect::<Vec<_>>())
            } else {
                print_rows(&rows)
            }
        }
        AlertCommand::Ack { id, note, by } => change(db_url, id, AlertStatus::Acknowledged, &note, by).await,
        AlertCommand::Close { id, note, by } => change(db_url, id, AlertStatus::Closed, &note, by).await,
    }
}

fn row_json(a: &AlertRow) -> serde_json::Value {
    let values: serde_json::Value = serde_json::from_str(&a.values).unwrap_or(serde_json::Value::Null);
    json!({
        "id": a.alert_id, "borrower_id": a.borrower_id, "case_id": a.case_id, "rule_id": a.rule_id,
        "severity": a.severity, "departments": a.departments, "values": values, "raised_on": a.raised_on,
        "status": a.status, "notes": a.notes, "updated_by": a.updated_by, "updated_at": a.updated_at,
    })
}

fn print_rows(rows: &[AlertRow]) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>6}  {:<10}  {:<12}  {:<8}  {:<26}  {:<12}  {:<12}  values",
        "id", "raised_on", "status", "severity", "rule", "borrower", "case"
    )?;
    for a in rows {
        writeln!(
            out,
            "{:>6}  {:<10}  {:<12}  {:<8}  {:<26}  {:<12}  {:<12}  {} → {}",
            a.alert_id,
            a.raised_on,
            a.status,
            a.severity,
            a.rule_id,
            a.borrower_id,
            a.case_id.as_deref().unwrap_or("-"),
            a.values,
            a.departments.join(",")
        )?;
    }
    writeln!(out, "{} 条预警 / {} alert(s)", rows.len(), rows.len())?;
    Ok(())
}

async fn change(db_url: &str, id: i64, to: AlertStatus, note: &str, by: Option<String>) -> Result<()> {
    let who = by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into());
    let db = crate::open(db_url).await?;
    let at = crate::now();
    let result = arrears_app::alerts::set_status(&db, id, to, note, &who, &at).await;
    db.close().await;
    let a = result?;
    println!(
        "预警 {} 已{} / alert {} {}",
        a.alert_id,
        if to == AlertStatus::Closed { "关闭" } else { "确认" },
        a.alert_id,
        to
    );
    Ok(())
}

fn check_file(file: &std::path::Path, json: bool) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let shown = file.display().to_string();
    match check_rules(&shown, &text) {
        Ok(rules) => {
            if json {
                let list: Vec<_> = rules
                    .rules
                    .iter()
                    .map(|r| json!({"id": r.id, "severity": r.severity.as_str(), "departments": r.departments, "when": r.when.source()}))
                    .collect();
                println!("{}", json!({ "file": shown, "ok": true, "errors": [], "rules": list }));
            } else {
                println!("{shown}: 检查通过 / ok — {} rules", rules.rules.len());
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

/// `arrears ability BORROWER`.
pub async fn ability(db_url: &str, borrower: &str, date: NaiveDate, json: bool, lang: Lang) -> Result<()> {
    let db = crate::open(db_url).await?;
    let a = arrears_app::ability::ability(&db, borrower, date).await?;
    db.close().await;
    let Some(a) = a else { bail!("没有借款人 {borrower:?} / no borrower with id {borrower:?}") };
    if json {
        crate::print_json(&json!({
            "borrower_id": a.borrower_id, "kind": a.kind, "date": a.date, "currency": a.currency.code(),
            "company": a.company.iter().map(|f| figure_json(f, &a)).collect::<Vec<_>>(),
            "behaviour": a.behaviour.iter().map(|f| figure_json(f, &a)).collect::<Vec<_>>(),
        }))
    } else {
        print_ability(&a, lang)
    }
}

fn figure_json(f: &Figure, a: &Ability) -> serde_json::Value {
    json!({
        "code": f.code, "name": f.name_zh(),
        "value": f.value.map(|v| v.normalize().to_string()),
        "formula": f.formula, "period_end": f.period_end,
        "inputs": f.inputs.iter().map(|i| json!({
            "name": i.name, "value": input_text(&i.value, a.currency), "period_end": i.period_end,
        })).collect::<Vec<_>>(),
        "missing": f.missing.map(|m| json!({"zh": m.zh(), "en": m.en()})),
    })
}

fn print_ability(a: &Ability, lang: Lang) -> Result<()> {
    use std::io::Write;
    let zh = lang == Lang::Zh;
    let mut out = std::io::stdout().lock();
    let kind = match (zh, a.kind.as_str()) {
        (true, "company") => "企业",
        (true, _) => "个人",
        (false, k) => k,
    };
    if zh {
        writeln!(
            out,
            "借款人 {}（{kind}）于 {} 的还款能力（金额单位 {}）",
            a.borrower_id,
            a.date,
            a.currency.code()
        )?;
    } else {
        writeln!(
            out,
            "Repayment ability of {} ({kind}) on {} (amounts in {})",
            a.borrower_id,
            a.date,
            a.currency.code()
        )?;
    }
    let sections: [(&str, &str, &[Figure]); 2] =
        [("财务指标", "From financial statements", &a.company), ("行为指标", "From behaviour", &a.behaviour)];
    for (title_zh, title_en, figures) in sections {
        if figures.is_empty() {
            continue;
        }
        writeln!(out, "\n{}", if zh { title_zh } else { title_en })?;
        for f in figures {
            let name = if zh { format!("{} {}", f.name_zh(), f.code) } else { f.code.to_string() };
            let value = match (f.value, f.missing) {
                (Some(v), _) => v.normalize().to_string(),
                (None, Some(m)) => {
                    if zh {
                        m.zh()
                    } else {
                        m.en()
                    }
                }
                (None, None) => "-".into(),
            };
            writeln!(out, "  {name} = {value}")?;
            writeln!(out, "    {}: {}", if zh { "公式" } else { "formula" }, f.formula)?;
            if !f.inputs.is_empty() {
                let inputs: Vec<String> = f
                    .inputs
                    .iter()
                    .map(|i| match i.period_end {
                        Some(p) => format!("{} = {} ({p})", i.name, input_text(&i.value, a.currency)),
                        None => format!("{} = {}", i.name, input_text(&i.value, a.currency)),
                    })
                    .collect();
                writeln!(out, "    {}: {}", if zh { "输入" } else { "inputs" }, inputs.join(", "))?;
            }
            if let Some(p) = f.period_end {
                writeln!(out, "    {}: {p}", if zh { "期间" } else { "period" })?;
            }
        }
    }
    Ok(())
}
