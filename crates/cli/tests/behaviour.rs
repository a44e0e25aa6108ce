//! Behaviour scoring through the binary on a generated book of 3,000 loans and 60 business
//! days, on SQLite always and on PostgreSQL when `ARREARS_TEST_PG` is set: the roll model
//! is trained on the batch's history and must rank on later dates it never saw (AUC > 0.6);
//! installed, the batch scores exactly the borrowers in M1 or with an open case, and a
//! strategy condition on `score.roll` places exactly the cases above its threshold.

mod common;
#[allow(dead_code)]
#[path = "../../app/tests/import/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{Days, NaiveDate};
use common::{arrears, json, ok, rows, text};
use support::each_backend;

/// The book's payments run to this date, the last business date of the history.
const LAST: &str = "2026-10-20";
const DAYS: u64 = 60;
/// Days at the end run after the model is installed.
const SCORED_DAYS: u64 = 5;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn minus(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap()
}

fn book() -> &'static Path {
    static BOOK: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = BOOK.get_or_init(|| common::generated_book(3000, 23, LAST));
    path
}

#[tokio::test]
async fn roll_model_ranks_later_dates_and_its_scores_drive_a_strategy() {
    each_backend(async |t| {
        let b = t.backend;
        let last = day(LAST);
        let first = minus(last, DAYS - 1);
        let trained_to = minus(last, SCORED_DAYS);
        ok(t, &["import", book().to_str().unwrap()]);
        // Without a model the batch stores no score.
        ok(t, &["batch", "--from", &first.to_string(), "--to", &trained_to.to_string()]);
        assert_eq!(t.db.count("scores").await.unwrap(), 0, "[{b}] no model, no scores");

        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("behaviour.json");
        let model_s = model.to_str().unwrap();
        let bad_range = arrears(t, &["score", "behaviour", "train", "--from", LAST, "--to", LAST, "--out", model_s]);
        assert_eq!(bad_range.status.code(), Some(2), "[{b}] no outcomes after the last closed date");
        assert!(text(&bad_range.stderr).contains("closed days after it"), "[{b}] {}", text(&bad_range.stderr));
        let report = json(
            t,
            &["score", "behaviour", "train", "--from", &first.to_string(), "--to", &trained_to.to_string(), "--out", model_s, "--json"],
        );
        let roll = &report["roll"];
        let auc = roll["test"]["auc"].as_f64().expect("roll test AUC");
        eprintln!("[{b}] roll: {} rows, test {} (from {}): AUC {auc:.4} KS {:.4}; ptp test AUC {}",
            roll["rows"], roll["test"]["rows"], roll["test_from"], roll["test"]["ks"], report["ptp"]["test"]["auc"]);
        assert!(auc > 0.6, "[{b}] roll AUC on the held-out later dates is {auc}");
        assert!(roll["test"]["bads"].as_u64() > Some(0) && roll["train"]["rows"].as_u64() > Some(0), "[{b}] {roll}");
        // Only dates with 30 closed days after them: the test part ends 30 days before the history.
        let test_from = day(roll["test_from"].as_str().unwrap());
        assert!(test_from > first && test_from <= minus(trained_to, 30), "[{b}] test from {test_from}");
        assert!(report["ptp"]["test"]["auc"].as_f64().is_some(), "[{b}] the propensity model is trained too");

        // A scorecard file is not a behaviour model.
        let not_model = dir.path().join("not.json");
        std::fs::write(&not_model, "{\"format_version\": 1}").unwrap();
        let refused = arrears(t, &["score", "behaviour", "install", not_model.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(2), "[{b}] refused");
        assert_eq!(t.db.count("score_models").await.unwrap(), 0, "[{b}] nothing installed");
        assert!(ok(t, &["score", "behaviour", "install", model_s]).contains("v1 installed"));
        assert!(ok(t, &["score", "behaviour", "install", model_s]).contains("already installed"));

        let scored_last = minus(last, 1);
        ok(t, &["batch", "--from", &minus(last, SCORED_DAYS - 1).to_string(), "--to", &scored_last.to_string()]);
        let on = scored_last.to_string();
        // Scored: exactly the borrowers with an open case (ptp) and those whose worst active loan is in M1 (roll).
        let stored = rows(
            &t.db,
            &format!(
                "SELECT borrower_id, kind, CAST(probability_ppm AS TEXT), CAST(points AS TEXT), reasons FROM scores \
                 WHERE CAST(business_date AS TEXT) = '{on}'"
            ),
        )
        .await;
        let kind = |k: &str| stored.iter().filter(|r| r[1] == k).map(|r| r[0].clone()).collect::<BTreeSet<_>>();
        let open: BTreeSet<String> =
            rows(&t.db, "SELECT DISTINCT borrower_id FROM cases WHERE status = 'open'").await.into_iter().map(|r| r[0].clone()).collect();
        let m1: BTreeSet<String> = rows(
            &t.db,
            "SELECT borrower_id FROM loan_state GROUP BY borrower_id \
             HAVING MAX(CASE WHEN status = 'active' THEN bucket_rank ELSE 0 END) = 1",
        )
        .await
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
        assert!(!m1.is_empty() && !open.is_empty(), "[{b}] the book has borrowers in M1 and open cases");
        assert_eq!(kind("roll"), m1, "[{b}] roll scores for the borrowers in M1");
        assert_eq!(kind("ptp"), open, "[{b}] propensity scores for the open cases");
        for r in &stored {
            let ppm: i64 = r[2].parse().unwrap();
            assert!((0..=1_000_000).contains(&ppm), "[{b}] {r:?}");
            assert!(r[4].split(',').count() <= 3, "[{b}] at most three reasons: {r:?}");
        }
        // Every date after the install was scored, with the model's version.
        let dates = rows(&t.db, "SELECT CAST(COUNT(DISTINCT business_date) AS TEXT), CAST(MIN(model_version) AS TEXT) FROM scores").await;
        assert_eq!(dates[0], vec![(SCORED_DAYS - 1).to_string(), "1".to_string()], "[{b}]");
        let listed = json(t, &["score", "behaviour", "list", "--date", &on, "--json"]);
        assert_eq!(listed.as_array().map(Vec::len), Some(kind("roll").union(&kind("ptp")).count()), "[{b}]");

        // A strategy that calls the likeliest rollers: its condition reads score.roll, with the
        // median of the last scores as threshold so that both sides have cases.
        let mut probs: Vec<i64> = stored.iter().filter(|r| r[1] == "roll").map(|r| r[2].parse().unwrap()).collect();
        probs.sort_unstable();
        let threshold = probs[probs.len() / 2] as f64 / 1_000_000.0;
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config");
        let default = std::fs::read_to_string(format!("{config}/strategies/default.toml")).unwrap();
        let risky = format!(
            "[[segment]]\nname = \"risky\"\ndescription = \"likely to roll\"\n\
             when = 'case.max_dpd <= 30 && score.roll != null && score.roll >= {threshold:?}'\n\n\
             [[segment.step]]\nname = \"risky_call\"\nkind = \"call\"\ndpd = 1\nqueue = \"early_calls\"\n\n\
             [[segment]]\nname = \"early\"\n"
        );
        let changed = default
            .replace("version = 1", "version = 2")
            .replace("effective_from = \"2026-01-01\"", &format!("effective_from = \"{LAST}\""))
            .replacen("[[segment]]\nname = \"early\"\n", &risky, 1);
        assert_ne!(changed, default);
        let file = dir.path().join("strategy.toml");
        std::fs::write(&file, &changed).unwrap();
        ok(t, &["strategy", "install", file.to_str().unwrap(), "--config", config]);
        ok(t, &["batch", "--date", LAST]);

        let cases = rows(
            &t.db,
            &format!(
                "SELECT c.case_id, COALESCE(t.segment, ''), COALESCE(b.kind, ''), COALESCE(t.hold, ''), \
                 COALESCE(CAST(s.probability_ppm AS TEXT), '') FROM cases c \
                 JOIN case_treatment t ON t.case_id = c.case_id JOIN borrowers b ON b.borrower_id = c.borrower_id \
                 LEFT JOIN scores s ON s.borrower_id = c.borrower_id AND s.kind = 'roll' \
                 AND CAST(s.business_date AS TEXT) = '{LAST}' WHERE c.status = 'open'"
            ),
        )
        .await;
        let mut seen: BTreeMap<bool, usize> = BTreeMap::new();
        for c in &cases {
            let (segment, kind, hold, ppm) = (&c[1], &c[2], &c[3], &c[4]);
            if segment == "on_hold" || kind == "company" || !hold.is_empty() {
                continue;
            }
            let above = ppm.parse::<i64>().is_ok_and(|p| p as f64 / 1_000_000.0 >= threshold);
            *seen.entry(above).or_default() += 1;
            assert_eq!(segment == "risky", above, "[{b}] case {} in {segment} with roll {ppm:?} (threshold {threshold})", c[0]);
        }
        assert!(seen.get(&true) > Some(&0) && seen.get(&false) > Some(&0), "[{b}] cases on both sides: {seen:?}");
        let calls = rows(&t.db, &format!("SELECT CAST(COUNT(*) AS TEXT) FROM tasks WHERE step = 'risky_call' AND CAST(created_on AS TEXT) = '{LAST}'")).await;
        assert_ne!(calls[0][0], "0", "[{b}] the risky segment made calls");
        // Scoring and installing are in the audit log, which still verifies.
        ok(t, &["audit", "verify"]);
        let entries = rows(
            &t.db,
            "SELECT kind, CAST(COUNT(*) AS TEXT) FROM audit_entries \
             WHERE kind IN ('scores.stored', 'score_model.installed') GROUP BY kind ORDER BY kind",
        )
        .await;
        let want = vec![
            vec!["score_model.installed".to_string(), "1".to_string()],
            vec!["scores.stored".to_string(), SCORED_DAYS.to_string()],
        ];
        assert_eq!(entries, want, "[{b}] one entry per install and per scored date");
    })
    .await;
}
