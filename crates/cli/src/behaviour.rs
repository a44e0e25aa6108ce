//! `arrears score behaviour …`: train the roll and propensity-to-pay models on the stored
//! history, install one for the batch, and list the scores the batch stored.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use arrears_score::{BehaviourPart, Evaluation};
use chrono::NaiveDate;
use clap::Subcommand;
use serde_json::json;

/// The `arrears score behaviour` subcommands.
#[derive(Subcommand)]
pub enum BehaviourCommand {
    /// Train both behaviour models on the batch's history and print AUC/KS on the later dates held out.
    Train {
        /// First business date of the training history.
        #[arg(long, value_parser = crate::date_arg)]
        from: NaiveDate,
        /// Last business date (dates without 30 or 14 closed days after them give no rows).
        #[arg(long, value_parser = crate::date_arg)]
        to: NaiveDate,
        /// Model file to write.
        #[arg(long)]
        out: PathBuf,
        /// Share of the latest dates held out to test each model.
        #[arg(long, default_value_t = 0.3)]
        test_share: f64,
        /// Print the evaluation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Install a behaviour model file: the batch scores with it from its next run.
    Install {
        /// Model file written by `score behaviour train`.
        model: PathBuf,
    },
    /// Scores the batch stored for a business date.
    List {
        /// Business date.
        #[arg(long, value_parser = crate::date_arg)]
        date: NaiveDate,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn eval_json(e: &Evaluation) -> serde_json::Value {
    json!({"rows": e.rows, "bads": e.bads, "auc": e.auc, "ks": e.ks, "gini": e.gini})
}

fn part_json(p: &Option<BehaviourPart>) -> serde_json::Value {
    match p {
        None => serde_json::Value::Null,
        Some(p) => json!({
            "target": p.target,
            "horizon_days": p.horizon_days,
            "rows": p.scorecard.training.rows,
            "bads": p.scorecard.training.bads,
            "variables": p.scorecard.variable_names(),
            "test_from": p.time_split.test_from,
            "train": eval_json(&p.time_split.train),
            "test": eval_json(&p.time_split.test),
        }),
    }
}

/// Runs one `arrears score behaviour` subcommand.
pub async fn run(db: &str, cmd: BehaviourCommand) -> Result<()> {
    match cmd {
        BehaviourCommand::Train { from, to, out, test_share, json } => {
            if !(test_share > 0.0 && test_share < 1.0) {
                anyhow::bail!("--test-share must be between 0 and 1 (exclusive), got {test_share}");
            }
            let db = crate::open(db).await?;
            let t = arrears_app::behaviour::train(&db, from, to, test_share)
                .await
                .with_context(|| format!("training on the history {from}..{to}"))?;
            t.model.save(&out).map_err(|e| anyhow::anyhow!("{e}")).context("saving the model")?;
            let skipped: Vec<_> =
                t.skipped.iter().map(|s| json!({"model": s.model, "reason": s.reason})).collect();
            if json {
                return crate::print_json(&json!({
                    "model": out.display().to_string(),
                    "from": from, "to": to, "last_closed": t.set.last_closed,
                    "roll": part_json(&t.model.roll),
                    "ptp": part_json(&t.model.ptp),
                    "skipped": skipped,
                }));
            }
            let mut w = std::io::stdout().lock();
            writeln!(
                w,
                "behaviour models trained on {from}..{to} (last closed date {}), written to {}",
                t.set.last_closed,
                out.display()
            )?;
            for (name, part, dates) in [
                ("roll (M1 -> M2 within 30 days)", &t.model.roll, t.set.roll_dates),
                ("ptp (payment within 14 days)", &t.model.ptp, t.set.ptp_dates),
            ] {
                let Some(p) = part else { continue };
                writeln!(w)?;
                writeln!(
                    w,
                    "{name}: {} rows over {dates} dates, {} {}; variables: {}",
                    p.scorecard.training.rows,
                    p.scorecard.training.bads,
                    p.scorecard.training.bad_value,
                    p.scorecard.variable_names().join(", ")
                )?;
                writeln!(
                    w,
                    "  time split: trained on dates before {}, tested on the rest",
                    p.time_split.test_from
                )?;
                writeln!(w, "  {:<6} {:>7} {:>6} {:>7} {:>7}", "", "rows", "bads", "AUC", "KS")?;
                for (n, e) in [("train", &p.time_split.train), ("test", &p.time_split.test)] {
                    writeln!(w, "  {n:<6} {:>7} {:>6} {:>7.4} {:>7.4}", e.rows, e.bads, e.auc, e.ks)?;
                }
            }
            for s in &t.skipped {
                writeln!(w, "{} model not trained: {}", s.model, s.reason)?;
            }
            Ok(())
        }
        BehaviourCommand::Install { model } => {
            let text =
                std::fs::read_to_string(&model).with_context(|| format!("reading {}", model.display()))?;
            let db = crate::open(db).await?;
            let i = arrears_app::behaviour::install(&db, &text, "cli", &crate::now())
                .await
                .with_context(|| format!("installing {}", model.display()))?;
            println!(
                "behaviour model v{} {} (sha256 {})",
                i.version,
                if i.new { "installed" } else { "already installed" },
                i.sha256
            );
            Ok(())
        }
        BehaviourCommand::List { date, json } => {
            let db = crate::open(db).await?;
            let mut rows: Vec<_> =
                arrears_app::behaviour::scores_on(&db, date, None).await?.into_iter().collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let ratio = |ppm: Option<i64>| ppm.map(|p| p as f64 / 1_000_000.0);
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(b, s)| {
                        json!({
                            "borrower_id": b, "roll": ratio(s.roll_ppm), "ptp": ratio(s.ptp_ppm),
                            "points": s.points, "previous_points": s.previous_points,
                        })
                    })
                    .collect();
                return crate::print_json(&v);
            }
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            writeln!(w, "{:<16} {:>8} {:>8} {:>7}", "borrower", "roll", "ptp", "points")?;
            let show = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.4}"));
            for (b, s) in &rows {
                writeln!(
                    w,
                    "{b:<16} {:>8} {:>8} {:>7}",
                    show(ratio(s.roll_ppm)),
                    show(ratio(s.ptp_ppm)),
                    s.points.map_or("-".to_string(), |p| p.to_string())
                )?;
            }
            w.flush()?;
            Ok(())
        }
    }
}
