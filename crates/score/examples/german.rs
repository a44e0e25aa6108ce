//! Prints the German Credit figures: `cargo run --release --example german [l2|l1 LAMBDA]`.

use arrears_score::german::{default_path, german_credit_report};
use arrears_score::{Penalty, TrainParams};

fn main() -> Result<(), arrears_score::ScoreError> {
    let args: Vec<String> = std::env::args().collect();
    let mut params = TrainParams::default();
    if args.len() >= 3 {
        let l: f64 = args[2].parse().expect("lambda");
        params.penalty = if args[1] == "l1" { Penalty::L1(l) } else { Penalty::L2(l) };
    }
    if let Some(b) = args.get(3) {
        params.binning.max_bins = b.parse().expect("max_bins");
    }
    if let Some(f) = args.get(4) {
        params.binning.fine_bins = f.parse().expect("fine_bins");
    }
    // Knobs for exploring; the committed defaults are what the tests check.
    if let Ok(v) = std::env::var("MIN_IV") {
        params.min_iv = v.parse().expect("MIN_IV");
    }
    if let Ok(v) = std::env::var("SHARE") {
        params.binning.min_bin_share = v.parse().expect("SHARE");
    }
    if std::env::var("KEEP_NEGATIVE").is_ok() {
        params.drop_nonpositive = false;
    }
    let t = std::time::Instant::now();
    let r = german_credit_report(default_path(), &params)?;
    println!("params: {:?}", params);
    println!(
        "10x5-fold CV: AUC {:.4} (sd {:.4}), KS {:.4} (sd {:.4}), Gini {:.4}",
        r.cv.auc_mean, r.cv.auc_sd, r.cv.ks_mean, r.cv.ks_sd, r.cv.gini_mean
    );
    println!(
        "split_df(0.7, seed 186): train AUC {:.4} KS {:.4}; test AUC {:.4} KS {:.4} ({} variables)",
        r.split.train.auc,
        r.split.train.ks,
        r.split.test.auc,
        r.split.test.ks,
        r.split.model.variables.len()
    );
    for s in &r.split.model.screening {
        println!("  {:60} IV {:.4} {}", s.name, s.iv, s.reason.as_deref().unwrap_or("used"));
    }
    println!("elapsed {:.2?}", t.elapsed());
    Ok(())
}
