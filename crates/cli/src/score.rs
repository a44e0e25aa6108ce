//! `arrears score …`: train a scorecard on a CSV, apply it with reason codes and stability,
//! and print it as a regulator would read it.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arrears_score::split::scorecardpy_split;
use arrears_score::{
    CalibrationRow, CvReport, Evaluation, Labelled, ScoreError, Scorecard, Stability, TrainParams, Tuning,
    cross_validate, default_grid, evaluate_split, tune,
};
use clap::Subcommand;
use serde_json::json;

/// The `arrears score` subcommands.
#[derive(Subcommand)]
pub enum ScoreCommand {
    /// Train a scorecard on a CSV, save it, and print its evaluation (hold-out split and cross-validation).
    Train {
        /// CSV with a header row, one applicant per row.
        #[arg(long)]
        csv: PathBuf,
        /// Column holding the outcome.
        #[arg(long)]
        target: String,
        /// Value of the target column that marks a bad row; the one other value is good.
        #[arg(long)]
        bad: String,
        /// Model file to write (JSON, versioned, with the training data's fingerprint).
        #[arg(long)]
        out: PathBuf,
        /// Folds of the cross-validation.
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Repetitions of the cross-validation, each with a fresh shuffle.
        #[arg(long, default_value_t = 10)]
        repeats: usize,
        /// Seed of the cross-validation shuffles (repetition r uses seed + r).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Share of rows held out to test the split model.
        #[arg(long, default_value_t = 0.3)]
        test_share: f64,
        /// Seed of the hold-out split, drawn as scorecardpy's split_df draws it (186 is its documented seed).
        #[arg(long, default_value_t = 186)]
        split_seed: u32,
        /// Choose binning, IV cut-off and penalty from a fixed grid by repeated k-fold
        /// cross-validation (--folds) on the hold-out split's training rows only.
        #[arg(long)]
        tune: bool,
        /// Repetitions of the tuning cross-validation.
        #[arg(long, default_value_t = 4)]
        tune_repeats: usize,
        /// Print the evaluation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Score every row of a CSV with reason codes, and report population stability (PSI).
    Apply {
        /// Model file written by `score train`.
        #[arg(long)]
        model: PathBuf,
        /// CSV holding at least the model's variables.
        #[arg(long)]
        csv: PathBuf,
        /// One JSON object per row, one per line; the stability report goes to stderr.
        #[arg(long)]
        json: bool,
    },
    /// Behaviour models trained on the batch's history: roll to M2, propensity to pay.
    Behaviour {
        #[command(subcommand)]
        command: crate::behaviour::BehaviourCommand,
    },
    /// Print a scorecard: variables, bins, points, base score, points to double the odds.
    Report {
        /// Model file written by `score train`.
        #[arg(long)]
        model: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The crate's messages already quote their cause (`cannot read X: No such file`), and the
/// binary prints the whole chain, so the cause would appear twice: keep the message only.
trait Flat<T> {
    fn flat(self) -> Result<T>;
}

impl<T> Flat<T> for std::result::Result<T, ScoreError> {
    fn flat(self) -> Result<T> {
        self.map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Runs one `arrears score` subcommand.
pub fn run(cmd: ScoreCommand) -> Result<()> {
    match cmd {
        ScoreCommand::Train {
            csv,
            target,
            bad,
            out,
            folds,
            repeats,
            seed,
            test_share,
            split_seed,
            tune,
            tune_repeats,
            json,
        } => {
            let opts = TrainOptions { folds, repeats, seed, test_share, split_seed, tune, tune_repeats };
            train(&csv, &target, &bad, &out, &opts, json)
        }
        ScoreCommand::Apply { model, csv, json } => apply(&model, &csv, json),
        ScoreCommand::Report { model, json } => report(&model, json),
        // Needs the database: main runs it.
        ScoreCommand::Behaviour { .. } => {
            bail!("`score behaviour` runs against the database (dispatched by main)")
        }
    }
}

struct TrainOptions {
    folds: usize,
    repeats: usize,
    seed: u64,
    test_share: f64,
    split_seed: u32,
    tune: bool,
    tune_repeats: usize,
}

fn train(csv: &Path, target: &str, bad: &str, out: &Path, o: &TrainOptions, json: bool) -> Result<()> {
    if o.folds < 2 {
        bail!("--folds must be at least 2, got {}", o.folds);
    }
    if o.repeats < 1 {
        bail!("--repeats must be at least 1");
    }
    if o.tune_repeats < 1 {
        bail!("--tune-repeats must be at least 1");
    }
    if !(o.test_share > 0.0 && o.test_share < 1.0) {
        bail!("--test-share must be between 0 and 1 (exclusive), got {}", o.test_share);
    }
    let data =
        Labelled::from_path(csv, target, bad).flat().with_context(|| format!("reading {}", csv.display()))?;
    check_rows_for_folds(&data, o.folds)?;
    // The split is drawn per class like scorecardpy's split_df, so that on German Credit the
    // default seed gives the split its documentation reports figures for.
    let (train_rows, test_rows) = scorecardpy_split(&data.bad, 1.0 - o.test_share, o.split_seed);
    // Tuning reads the split's training rows only, so the hold-out test stays a fair test
    // of the whole procedure, parameter choice included.
    let tuning: Option<Tuning> = if o.tune {
        let grid = default_grid(&TrainParams::default());
        Some(
            tune(&data, &train_rows, &grid, o.folds, o.tune_repeats, o.seed)
                .flat()
                .context("tuning on the hold-out split's training rows")?,
        )
    } else {
        None
    };
    let params = tuning.as_ref().map_or_else(TrainParams::default, |t| t.best_params().clone());
    let model =
        Scorecard::train(&data, &params).flat().with_context(|| format!("training on {}", csv.display()))?;
    let holdout = evaluate_split(&data, &params, &train_rows, &test_rows)
        .flat()
        .context("evaluating on the hold-out split (the model is fitted on its training rows only)")?;
    let cv = cross_validate(&data, &params, o.folds, o.repeats, o.seed).flat().context("cross-validating")?;
    model.save(out).flat().context("saving the model")?;

    let mut ivs: Vec<_> = model.screening.iter().collect();
    ivs.sort_by(|a, b| b.iv.total_cmp(&a.iv).then(a.name.cmp(&b.name)));
    if json {
        let v = json!({
            "model": out.display().to_string(),
            "format_version": model.format_version,
            "training": model.training,
            "variables_used": model.variables.len(),
            "base_score": model.base_points,
            "points_to_double_odds": model.params.scaling.pdo,
            "holdout": {
                "test_share": o.test_share,
                "split_seed": o.split_seed,
                "variables_used": holdout.model.variables.len(),
                "train": holdout.train,
                "test": holdout.test,
            },
            "cv": cv,
            "tuning": tuning,
            "information_value": ivs.iter().map(|s| json!({
                "variable": s.name, "iv": s.iv, "used": s.used, "reason": s.reason,
            })).collect::<Vec<_>>(),
        });
        let mut w = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut w, &v)?;
        writeln!(w)?;
        return Ok(());
    }
    let mut w = BufWriter::new(std::io::stdout().lock());
    let t = &model.training;
    writeln!(
        w,
        "trained on {}: {} rows, {} bad ({} = {:?}; good = {:?}), data sha256 {}",
        csv.display(),
        t.rows,
        t.bads,
        t.target,
        t.bad_value,
        t.good_value,
        t.fingerprint
    )?;
    writeln!(
        w,
        "model written to {} (format {}): {} of {} variables, base score {:.2}, {} points double the odds",
        out.display(),
        model.format_version,
        model.variables.len(),
        model.screening.len(),
        model.base_points,
        model.params.scaling.pdo
    )?;
    if let Some(t) = &tuning {
        write_tuning(&mut w, t)?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "hold-out split ({:.0}% test, split seed {}; binning and regression fitted on the training rows only, {} variables):",
        o.test_share * 100.0,
        o.split_seed,
        holdout.model.variables.len()
    )?;
    writeln!(w, "  {:<6} {:>6} {:>6} {:>7} {:>7} {:>7}", "", "rows", "bads", "AUC", "KS", "Gini")?;
    for (name, e) in [("train", &holdout.train), ("test", &holdout.test)] {
        writeln!(w, "  {name:<6} {:>6} {:>6} {:>7.4} {:>7.4} {:>7.4}", e.rows, e.bads, e.auc, e.ks, e.gini)?;
    }
    writeln!(w)?;
    write_cv(&mut w, &cv, o.seed)?;
    writeln!(w)?;
    writeln!(w, "calibration on the hold-out test rows (deciles of predicted probability of bad):")?;
    write_calibration(&mut w, &holdout.test)?;
    writeln!(w)?;
    writeln!(w, "calibration of the cross-validated (out-of-fold) predictions, pooled over repetitions:")?;
    write_calibration_rows(&mut w, &cv.calibration)?;
    writeln!(w)?;
    writeln!(w, "information value per variable (on all rows):")?;
    let width = ivs.iter().map(|s| s.name.chars().count()).max().unwrap_or(8).max(8);
    for s in &ivs {
        writeln!(w, "  {:<width$} {:>8.4}  {}", s.name, s.iv, s.reason.as_deref().unwrap_or("used"))?;
    }
    w.flush()?;
    Ok(())
}

/// Stratified folds need every class in every fold; say which class is too small.
fn check_rows_for_folds(data: &Labelled, folds: usize) -> Result<()> {
    let bads = data.n_bad();
    let goods = data.n_rows() - bads;
    let (n, value) = if bads < goods { (bads, &data.bad_value) } else { (goods, &data.good_value) };
    if n < folds {
        bail!(
            "target column {:?} has only {n} {value:?} row(s) of {}; {folds}-fold cross-validation needs at least {folds} rows of each class (lower --folds or supply more rows)",
            data.target,
            data.n_rows()
        );
    }
    Ok(())
}

fn write_tuning(w: &mut impl Write, t: &Tuning) -> Result<()> {
    writeln!(
        w,
        "tuned on the hold-out split's {} training rows: {} candidates by {}x{}-fold CV AUC (seed {}); the model above, the hold-out model and the cross-validation use the choice; best 5:",
        t.rows,
        t.table.len(),
        t.repeats,
        t.folds,
        t.seed
    )?;
    let mut order: Vec<usize> = (0..t.table.len()).collect();
    order.sort_by(|&a, &b| t.table[b].auc_mean.total_cmp(&t.table[a].auc_mean).then(a.cmp(&b)));
    for &i in order.iter().take(5) {
        let r = &t.table[i];
        let b = &r.params.binning;
        writeln!(
            w,
            "  {} CV AUC {:.4} (sd {:.4}) KS {:.4}: {:?} binning, max {} bins, min share {}, {} fine bins, min IV {}, {:?}",
            if i == t.best { "*" } else { " " },
            r.auc_mean,
            r.auc_sd,
            r.ks_mean,
            b.method,
            b.max_bins,
            b.min_bin_share,
            b.fine_bins,
            r.params.min_iv,
            r.params.penalty
        )?;
    }
    Ok(())
}

fn write_cv(w: &mut impl Write, cv: &CvReport, seed: u64) -> Result<()> {
    writeln!(
        w,
        "cross-validation {}x{}-fold (seed {seed}; everything refitted per fold): AUC {:.4} (sd {:.4})  KS {:.4} (sd {:.4})  Gini {:.4}",
        cv.repeats, cv.folds, cv.auc_mean, cv.auc_sd, cv.ks_mean, cv.ks_sd, cv.gini_mean
    )?;
    Ok(())
}

fn write_calibration(w: &mut impl Write, e: &Evaluation) -> Result<()> {
    write_calibration_rows(w, &e.calibration)
}

fn write_calibration_rows(w: &mut impl Write, rows: &[CalibrationRow]) -> Result<()> {
    writeln!(w, "  {:>5} {:>6} {:>10} {:>10}", "group", "rows", "predicted", "observed")?;
    for (i, c) in rows.iter().enumerate() {
        writeln!(w, "  {:>5} {:>6} {:>10.4} {:>10.4}", i + 1, c.count, c.predicted, c.observed)?;
    }
    Ok(())
}

fn load(path: &Path) -> Result<Scorecard> {
    Scorecard::load(path).flat().with_context(|| format!("loading the model {}", path.display()))
}

fn apply(model_path: &Path, csv: &Path, json: bool) -> Result<()> {
    let model = load(model_path)?;
    let bytes = std::fs::read(csv).with_context(|| format!("reading {}", csv.display()))?;
    let table = model.read_csv(&bytes).flat().with_context(|| format!("reading {}", csv.display()))?;
    let scored = model
        .score_table(&table)
        .flat()
        .with_context(|| format!("applying the model to {}", csv.display()))?;
    let scores: Vec<f64> = scored.iter().map(|r| r.score).collect();
    let stability = model.stability_of_scores(&table, &scores).flat()?;
    let same_data = table.fingerprint == model.training.fingerprint;
    if json {
        let mut w = BufWriter::new(std::io::stdout().lock());
        for r in &scored {
            serde_json::to_writer(&mut w, r)?;
            writeln!(w)?;
        }
        w.flush()?;
        let mut e = std::io::stderr().lock();
        write_stability(&mut e, &stability, scored.len(), same_data)?;
        return Ok(());
    }
    let mut w = BufWriter::new(std::io::stdout().lock());
    writeln!(
        w,
        "{:>7} {:>11} {:>8}  reasons (points short of the variable's best bin)",
        "row", "probability", "score"
    )?;
    for r in &scored {
        let reasons: Vec<String> =
            r.reasons.iter().map(|x| format!("{} = {} (-{:.1})", x.variable, x.bin, x.shortfall)).collect();
        writeln!(w, "{:>7} {:>11.4} {:>8.1}  {}", r.row, r.probability, r.score, reasons.join("; "))?;
    }
    writeln!(w)?;
    write_stability(&mut w, &stability, scored.len(), same_data)?;
    w.flush()?;
    Ok(())
}

fn psi_verdict(psi: f64) -> &'static str {
    // The industry's usual reading of PSI.
    if psi < 0.1 {
        "stable"
    } else if psi < 0.25 {
        "some shift"
    } else {
        "major shift"
    }
}

fn write_stability(w: &mut impl Write, s: &Stability, rows: usize, same_data: bool) -> Result<()> {
    writeln!(
        w,
        "population stability of {rows} rows against the training data{}:",
        if same_data { " (this is the training data itself)" } else { "" }
    )?;
    let width = s.variables.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(5).max(5);
    writeln!(w, "  {:<width$} {:>8.4}  {}", "score", s.score_psi, psi_verdict(s.score_psi))?;
    for (name, p) in &s.variables {
        writeln!(w, "  {name:<width$} {p:>8.4}  {}", psi_verdict(*p))?;
    }
    Ok(())
}

/// "1:19" for the usual reference odds, a decimal otherwise.
fn odds_label(odds: f64) -> String {
    let inv = 1.0 / odds;
    if (inv - inv.round()).abs() < 1e-9 { format!("1:{}", inv.round()) } else { format!("{odds:.4}") }
}

fn report(path: &Path, json: bool) -> Result<()> {
    let m = load(path)?;
    let sc = &m.params.scaling;
    if json {
        let v = json!({
            "format_version": m.format_version,
            "trained_by": m.trained_by,
            "training": m.training,
            "base_score": m.base_points,
            "intercept": m.intercept,
            "points0": sc.points0,
            "odds0": sc.odds0,
            "points_to_double_odds": sc.pdo,
            "variables": m.variables.iter().map(|v| json!({
                "name": v.binning.name,
                "kind": v.binning.kind,
                "iv": v.binning.iv,
                "coef": v.coef,
                "bins": v.binning.bins.iter().zip(&v.points).map(|(b, p)| json!({
                    "label": b.label, "rule": b.rule, "count": b.count, "bads": b.bads,
                    "woe": b.woe, "iv": b.iv, "points": p,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "not_used": m.screening.iter().filter(|s| !s.used).map(|s| json!({
                "name": s.name, "iv": s.iv, "reason": s.reason,
            })).collect::<Vec<_>>(),
        });
        let mut w = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut w, &v)?;
        writeln!(w)?;
        return Ok(());
    }
    let mut w = BufWriter::new(std::io::stdout().lock());
    let t = &m.training;
    writeln!(w, "scorecard {} (format {}, {})", path.display(), m.format_version, m.trained_by)?;
    writeln!(
        w,
        "trained on {} rows, {} bad ({} = {:?}; good = {:?}), data sha256 {}",
        t.rows, t.bads, t.target, t.bad_value, t.good_value, t.fingerprint
    )?;
    writeln!(
        w,
        "scaling: {} points at odds of bad {}, {} points to double the odds; base score {:.2} (intercept {:.4})",
        sc.points0,
        odds_label(sc.odds0),
        sc.pdo,
        m.base_points,
        m.intercept
    )?;
    writeln!(w, "score = base score + the points of the applicant's bin in each variable; higher is safer.")?;
    let label_width = m
        .variables
        .iter()
        .flat_map(|v| v.binning.bins.iter().map(|b| b.label.chars().count()))
        .max()
        .unwrap_or(3)
        .clamp(3, 60);
    for v in &m.variables {
        writeln!(w)?;
        writeln!(w, "{}  (IV {:.4}, coefficient {:.4})", v.binning.name, v.binning.iv, v.coef)?;
        writeln!(
            w,
            "  {:<label_width$} {:>6} {:>6} {:>8} {:>8} {:>8}",
            "bin", "rows", "bads", "bad rate", "WoE", "points"
        )?;
        for (b, p) in v.binning.bins.iter().zip(&v.points) {
            let rate = if b.count == 0 { 0.0 } else { b.bads as f64 / b.count as f64 };
            writeln!(
                w,
                "  {:<label_width$} {:>6} {:>6} {:>8.3} {:>8.4} {:>8.2}",
                b.label, b.count, b.bads, rate, b.woe, p
            )?;
        }
    }
    let unused: Vec<_> = m.screening.iter().filter(|s| !s.used).collect();
    if !unused.is_empty() {
        writeln!(w)?;
        writeln!(w, "variables not in the model:")?;
        for s in unused {
            writeln!(w, "  {}  IV {:.4}: {}", s.name, s.iv, s.reason.as_deref().unwrap_or(""))?;
        }
    }
    w.flush()?;
    Ok(())
}
