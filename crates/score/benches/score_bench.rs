//! Training time on 100,000 synthetic rows × 30 variables and scoring throughput.
//! Run: `cargo bench --bench score_bench` (release profile).

use std::time::Instant;

use arrears_score::{BinningMethod, Column, Labelled, Scorecard, Table, TrainParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROWS: usize = 100_000;
const NUMERIC: usize = 20;
const CATEGORICAL: usize = 10;

/// Synthetic applicants: risk depends on some numeric and categorical variables, some
/// variables are noise, and a few values are missing, as in real application data.
fn synthetic(seed: u64) -> Labelled {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut names = Vec::new();
    let mut columns = Vec::new();
    let mut log_odds = vec![-2.0f64; ROWS];
    for j in 0..NUMERIC {
        let weight = if j % 3 == 2 { 0.0 } else { 0.4 / (1.0 + j as f64 / 4.0) };
        let col: Vec<Option<f64>> = (0..ROWS)
            .map(|i| {
                let x: f64 = rng.random::<f64>() * 100.0 + (j as f64);
                log_odds[i] += weight * (x - 50.0) / 25.0 * if j % 2 == 0 { 1.0 } else { -1.0 };
                (rng.random::<f64>() > 0.02).then_some(x.round())
            })
            .collect();
        names.push(format!("num_{j}"));
        columns.push(Column::Numeric(col));
    }
    for j in 0..CATEGORICAL {
        let levels = 3 + j;
        let effects: Vec<f64> = (0..levels).map(|_| rng.random::<f64>() - 0.5).collect();
        let col: Vec<Option<String>> = (0..ROWS)
            .map(|i| {
                let l = rng.random_range(0..levels);
                if j % 2 == 0 {
                    log_odds[i] += effects[l];
                }
                Some(format!("level_{l}"))
            })
            .collect();
        names.push(format!("cat_{j}"));
        columns.push(Column::Categorical(col));
    }
    let bad = log_odds.iter().map(|lo| rng.random::<f64>() < 1.0 / (1.0 + (-lo).exp())).collect();
    Labelled {
        features: Table { names, columns, n_rows: ROWS, fingerprint: "synthetic".into() },
        bad,
        target: "bad".into(),
        bad_value: "1".into(),
        good_value: "0".into(),
    }
}

fn main() {
    let data = synthetic(42);
    let t = Instant::now();
    let model = Scorecard::train(&data, &TrainParams::default()).expect("training");
    let train_s = t.elapsed().as_secs_f64();
    println!(
        "train: {ROWS} rows x {} variables in {train_s:.2} s ({} variables kept, {} bads)",
        NUMERIC + CATEGORICAL,
        model.variables.len(),
        data.n_bad()
    );
    for sc in model.screening.iter().filter(|s| !s.used) {
        println!("  left out {}: {}", sc.name, sc.reason.as_deref().unwrap_or(""));
    }
    let t = Instant::now();
    let scored = model.score_table(&data.features).expect("scoring");
    let s = t.elapsed().as_secs_f64();
    println!("score with reason codes: {:.0} rows/s ({} rows in {s:.3} s)", ROWS as f64 / s, scored.len());
    let t = Instant::now();
    let p = model.predict(&data.features).expect("predict");
    let s = t.elapsed().as_secs_f64();
    println!("predict probability only: {:.0} rows/s", ROWS as f64 / s);
    let e = arrears_score::Evaluation::new(&p, &data.bad);
    println!("training AUC {:.4}, KS {:.4}", e.auc, e.ks);
    let mut tree = TrainParams::default();
    tree.binning.method = BinningMethod::Tree { stop_limit: 0.1 };
    let t = Instant::now();
    let model = Scorecard::train(&data, &tree).expect("training");
    println!(
        "train with tree binning: {ROWS} rows x {} variables in {:.2} s ({} variables kept)",
        NUMERIC + CATEGORICAL,
        t.elapsed().as_secs_f64(),
        model.variables.len()
    );
}
