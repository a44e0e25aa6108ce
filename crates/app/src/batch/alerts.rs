//! Early warning (预警), step 4 of the daily cycle, and the repayment-ability view.
//!
//! The alerts phase reads only the borrowers that changed on the business date (a loan
//! snapshot taken, a promise judged, a statement arrived), binds what the rules see of
//! each, and raises an alert for every rule whose condition starts to hold. A condition
//! that goes on holding raises nothing more; one that stops and holds again is a new
//! episode. Running a date again finds every condition as it left it and raises nothing.

use std::path::Path;
use std::sync::OnceLock;

use arrears_core::Currency;
use arrears_core::ability::{self, Figure, InputValue};
use arrears_core::id::BorrowerId;
use arrears_store::alerts::{self as store, AlertInput, AlertWrites, NewAlert};
use arrears_store::batch_chunks::KeyRange;
use arrears_store::{Db, StoreError};
use arrears_strategy::alert::{
    AlertFacts, AlertRecord, AlertRules, FinFacts, GuarantorFacts, Outcome, check_rules,
};
use arrears_strategy::expr::Val;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{BatchError, DayReport, joined};
use crate::audit::Clock;

/// The rules shipped with arrears, used unless `ARREARS_ALERT_RULES` names a file.
pub const DEFAULT_RULES: &str = include_str!("../../../../config/alerts/default.toml");

/// The environment variable naming the alert rule file the batch uses.
pub const RULES_ENV: &str = "ARREARS_ALERT_RULES";

/// Borrowers evaluated per page (and per transaction).
const PAGE: usize = 5000;

/// From this many pages of changed borrowers on, PostgreSQL reads the guarantor links of
/// the whole book at once.
const WHOLE_BOOK_PAGES: usize = 10;

/// Reads and checks the rule file named by [`RULES_ENV`], or the shipped rules.
pub fn load_rules() -> Result<AlertRules, BatchError> {
    read_rules().map_err(BatchError::AlertRules)
}

fn read_rules() -> Result<AlertRules, String> {
    match std::env::var_os(RULES_ENV) {
        Some(path) => {
            let path = Path::new(&path);
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {} ({RULES_ENV}): {e}", path.display()))?;
            check_rules(&path.display().to_string(), &text).map_err(|e| e.to_string())
        }
        None => check_rules("config/alerts/default.toml", DEFAULT_RULES).map_err(|e| e.to_string()),
    }
}

/// The alerts phase of business date `date` for the borrowers of `range`. Over the whole book it
/// also marks the financial statements read; chunks of it leave that to [`mark_financials_read`]
/// once every chunk is done.
pub async fn run_phase(
    db: &Db,
    date: NaiveDate,
    range: &KeyRange,
    report: &mut DayReport,
    clock: &Clock,
) -> Result<(), BatchError> {
    // Checked once per process: a batch over many dates reads the file once.
    static RULES: OnceLock<Result<AlertRules, String>> = OnceLock::new();
    let rules = RULES.get_or_init(read_rules).as_ref().map_err(|e| BatchError::AlertRules(e.clone()))?;
    let mark = store::financials_mark(db).await?;
    let newest = store::financials_import_max(db).await?;
    let borrowers = store::changed_borrowers(db, date, mark, range).await?;
    let mut memo = OutcomeMemo::default();
    // A page looks each guarantor's phone up in the borrowers' index. On PostgreSQL, when
    // many pages are read (a first date), one join over the book is far cheaper; a worker's
    // chunk (a sixteenth of the book by default) joins its own borrowers' guarantors once
    // it has more than a page of them.
    let pages = if range.is_all() { WHOLE_BOOK_PAGES } else { 1 };
    let links = if matches!(db, Db::Postgres(_)) && borrowers.len() >= pages * PAGE {
        Some(std::sync::Arc::new(store::guarantor_links(db, range).await?))
    } else {
        None
    };
    // The next page is read while this one is decided and written: the reads run on the
    // pool's connections and pages are disjoint sets of borrowers, so neither sees the
    // other's writes.
    let read = |page: &[String]| {
        let (db, page, links) = (db.clone(), page.to_vec(), links.clone());
        tokio::spawn(async move { store::alert_inputs(&db, date, &page, links.as_deref()).await })
    };
    let pages: Vec<&[String]> = borrowers.chunks(PAGE).collect();
    let mut reading = pages.first().map(|p| read(p));
    for (i, page) in pages.iter().enumerate() {
        let Some(r) = reading.take() else { break };
        let inputs = r.await.map_err(joined)??;
        reading = pages.get(i + 1).map(|p| read(p));
        let mut writes = AlertWrites::default();
        for b in *page {
            if let Some(input) = inputs.get(b) {
                let borrower: BorrowerId = b.parse().map_err(|e| StoreError::Corrupt {
                    table: "loans",
                    detail: format!("borrower id {b:?}: {e}"),
                })?;
                decide(&borrower, input, date, rules, &mut memo, &mut writes);
            }
        }
        report.alerts_raised += writes.raise.len() as u64;
        let events = writes.raise.iter().map(|a| crate::audit::alert_event(date, a)).collect();
        let mut tx = db.begin().await?;
        store::apply_alerts(&mut tx, date, &writes).await?;
        crate::audit::record_all(&mut tx, &clock(), events).await?;
        tx.commit().await?;
    }
    if range.is_all() {
        mark_financials_read(db, mark, newest).await?;
    }
    Ok(())
}

/// Records that the alerts phase has read the financial statements of imports up to `newest`
/// (`mark` being where it had read up to).
pub async fn mark_financials_read(db: &Db, mark: i64, newest: i64) -> Result<(), BatchError> {
    if newest > mark {
        let mut tx = db.begin().await?;
        store::set_financials_mark(&mut tx, newest).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Exact to about 15 significant digits, which is all a threshold in a rule can use; the
/// figures themselves stay decimals.
fn to_f64(d: Option<Decimal>) -> Option<f64> {
    d.and_then(|v| v.to_f64())
}

fn fig(figures: &[Figure], code: &str) -> Option<Decimal> {
    ability::find(figures, code).and_then(|f| f.value)
}

/// What the rules see of one borrower on `date`.
pub fn facts(input: &AlertInput, date: NaiveDate) -> AlertFacts {
    let exp = input.currency.as_deref().and_then(|c| Currency::from_code(c).ok()).map_or(2, |c| c.exponent());
    let figures = ability::company(&input.statements, date);
    let prev_quick = ability::find(&figures, "quick_ratio_change").and_then(|f| {
        f.inputs.iter().find(|i| i.name == "previous quick_ratio").and_then(|i| match i.value {
            InputValue::Ratio(r) => Some(r),
            _ => None,
        })
    });
    let fin = FinFacts {
        period_end: input
            .statements
            .iter()
            .map(|s| s.period_end)
            .filter(|p| *p <= date)
            .max()
            .map(|d| d.to_string()),
        current_ratio: to_f64(fig(&figures, "current_ratio")),
        quick_ratio: to_f64(fig(&figures, "quick_ratio")),
        quick_ratio_prev: to_f64(prev_quick),
        quick_ratio_change: to_f64(fig(&figures, "quick_ratio_change")),
        debt_to_assets: to_f64(fig(&figures, "debt_to_assets")),
        net_margin: to_f64(fig(&figures, "net_margin")),
        ocf_to_current_liabilities: to_f64(fig(&figures, "ocf_to_current_liabilities")),
        revenue_growth: to_f64(fig(&figures, "revenue_growth")),
    };
    // Without a business date before this one there is no history to call clean.
    let previously_clean =
        input.first_seen.filter(|f| *f < date).map(|_| input.first_delinquent.is_none_or(|f| f >= date));
    // The worst delinquent guarantor (ties: the first contact, then borrower, by id).
    let delinquent = input.guarantors.iter().filter(|g| g.2 > 0);
    let worst = delinquent.clone().fold(None::<&(String, String, i64)>, |w, g| match w {
        Some(w) if w.2 >= g.2 => Some(w),
        _ => Some(g),
    });
    let guarantor = GuarantorFacts {
        contact_id: worst.map(|g| g.0.clone()),
        borrower_id: worst.map(|g| g.1.clone()),
        dpd: worst.map(|g| g.2),
        delinquent: delinquent.map(|g| &g.0).collect::<std::collections::BTreeSet<_>>().len() as i64,
    };
    AlertFacts {
        kind: input.kind.clone(),
        max_dpd: input.max_dpd,
        overdue_total: input.overdue_total as f64 / 10f64.powi(i32::from(exp)),
        delinquent_loans: input.delinquent_loans,
        active_loans: input.active_loans,
        previously_clean,
        has_open_case: input.open_case.is_some(),
        ptp_broken_today: input.ptp_broken_today,
        ptp_kept_today: input.ptp_kept_today,
        ptp_broken_total: input.ptp_broken,
        ptp_kept_total: input.ptp_kept,
        ptp_pending: input.ptp_pending,
        fin,
        guarantor,
        score_current: input.scores.points.map(|p| p as f64),
        score_previous: input.scores.previous_points.map(|p| p as f64),
        score_roll: input.scores.roll_ppm.map(|p| p as f64 / 1_000_000.0),
        score_ptp: input.scores.ptp_ppm.map(|p| p as f64 / 1_000_000.0),
    }
}

fn json_value(v: &Val) -> serde_json::Value {
    match v {
        Val::Int(i) => (*i).into(),
        Val::Double(d) => serde_json::Number::from_f64(*d).map_or(serde_json::Value::Null, Into::into),
        Val::Str(s) => s.clone().into(),
        Val::Bool(b) => (*b).into(),
        Val::Null => serde_json::Value::Null,
    }
}

/// The rules' outcomes per distinct facts, within one run of the phase. Most borrowers of a
/// book have the facts of many others (no statements, nothing past due, no promises), and
/// evaluating the conditions is the phase's largest cost after reading.
#[derive(Default)]
pub struct OutcomeMemo(std::collections::HashMap<Vec<u8>, Vec<Outcome>>);

impl OutcomeMemo {
    /// Facts remembered at most; past it the memo starts again, so memory stays bounded
    /// when most facts are one of a kind (an amount past due).
    const LIMIT: usize = 50_000;

    fn outcomes(&mut self, facts: &AlertFacts, rules: &AlertRules) -> &[Outcome] {
        let key = facts.key();
        if self.0.len() >= Self::LIMIT && !self.0.contains_key(&key) {
            self.0.clear();
        }
        self.0.entry(key).or_insert_with(|| {
            let record = AlertRecord::new(facts);
            rules.rules.iter().map(|rule| rule.evaluate(&record)).collect()
        })
    }
}

/// Evaluates every rule for one borrower and adds what changed to `w`.
pub fn decide(
    borrower: &BorrowerId,
    input: &AlertInput,
    date: NaiveDate,
    rules: &AlertRules,
    memo: &mut OutcomeMemo,
    w: &mut AlertWrites,
) {
    let outcomes = memo.outcomes(&facts(input, date), rules);
    for (rule, outcome) in rules.rules.iter().zip(outcomes) {
        let was = input.holding.iter().any(|h| h == rule.id.as_str());
        match outcome {
            Outcome::Holds(values) => {
                if was {
                    continue;
                }
                w.now_holding.push((borrower.to_string(), rule.id.to_string()));
                if input.open_alerts.iter().any(|h| h == rule.id.as_str()) {
                    continue;
                }
                let obj: serde_json::Map<String, serde_json::Value> =
                    values.iter().map(|(k, v)| (k.clone(), json_value(v))).collect();
                w.raise.push(NewAlert {
                    borrower_id: borrower.clone(),
                    case_id: input.open_case.clone(),
                    rule_id: rule.id.clone(),
                    severity: rule.severity.as_str().to_string(),
                    departments: rule.departments.join(","),
                    values_json: serde_json::Value::Object(obj).to_string(),
                });
            }
            Outcome::Clear | Outcome::Undecided | Outcome::Failed(_) => {
                if was {
                    w.stopped.push((borrower.to_string(), rule.id.to_string()));
                }
            }
        }
    }
    if input.max_dpd > 0 && input.first_delinquent.is_none() {
        w.first_delinquent.push(borrower.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrears_core::Amount;
    use arrears_core::ability::Statement;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn rules() -> AlertRules {
        check_rules("default.toml", DEFAULT_RULES).unwrap()
    }

    fn individual(dpd: i64, first_seen: Option<&str>, first_delinquent: Option<&str>) -> AlertInput {
        AlertInput {
            kind: "individual".into(),
            currency: Some("CNY".into()),
            max_dpd: dpd,
            first_seen: first_seen.map(d),
            first_delinquent: first_delinquent.map(d),
            ..AlertInput::default()
        }
    }

    fn raised(input: &AlertInput, on: &str) -> AlertWrites {
        let mut w = AlertWrites::default();
        let borrower: BorrowerId = "B1".parse().unwrap();
        decide(&borrower, input, d(on), &rules(), &mut OutcomeMemo::default(), &mut w);
        w
    }

    fn ids(w: &AlertWrites) -> Vec<&str> {
        w.raise.iter().map(|a| a.rule_id.as_str()).collect()
    }

    /// (dpd, first seen, first delinquent, date, raised, first delinquency recorded)
    type Row = (i64, Option<&'static str>, Option<&'static str>, &'static str, bool, bool);

    #[test]
    fn first_missed_installment_only_after_a_clean_history() {
        // (dpd, first seen, first delinquent, date, raised, first delinquency recorded)
        let table: &[Row] = &[
            (1, Some("2026-01-01"), None, "2026-01-05", true, true),
            (1, Some("2026-01-05"), None, "2026-01-05", false, true),
            (0, Some("2026-01-01"), None, "2026-01-05", false, false),
            (3, Some("2026-01-01"), Some("2026-01-03"), "2026-01-05", false, false),
            // the date run again after its first delinquency was recorded
            (1, Some("2026-01-01"), Some("2026-01-05"), "2026-01-05", true, false),
            (2, None, None, "2026-01-05", false, true),
        ];
        for (dpd, seen, first, on, want, record) in table {
            let w = raised(&individual(*dpd, *seen, *first), on);
            assert_eq!(ids(&w).contains(&"first_missed_installment"), *want, "{dpd} {seen:?} {first:?} {on}");
            assert_eq!(!w.first_delinquent.is_empty(), *record, "{dpd} {seen:?} {first:?} {on}");
        }
    }

    #[test]
    fn borrowers_sharing_facts_share_outcomes_but_not_state() {
        // One memo across borrowers, as in the batch: the second and third borrower have the
        // first one's facts; what each already holds or has open is still its own.
        let rules = rules();
        let mut memo = OutcomeMemo::default();
        let mut w = AlertWrites::default();
        let mut fresh = individual(0, Some("2026-01-01"), None);
        fresh.ptp_broken_today = 1;
        let holding = AlertInput { holding: vec!["broken_promise".into()], ..fresh.clone() };
        let open = AlertInput { open_alerts: vec!["broken_promise".into()], ..fresh.clone() };
        let clean = individual(0, Some("2026-01-01"), None);
        for (b, input) in [("B1", &fresh), ("B2", &holding), ("B3", &open), ("B4", &clean)] {
            let borrower: BorrowerId = b.parse().unwrap();
            decide(&borrower, input, d("2026-01-05"), &rules, &mut memo, &mut w);
        }
        assert_eq!(w.raise.iter().map(|a| a.borrower_id.as_str()).collect::<Vec<_>>(), ["B1"]);
        let held: Vec<&str> = w.now_holding.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(held, ["B1", "B3"]);
        assert_eq!(memo.0.len(), 2, "two distinct facts");
    }

    #[test]
    fn edges_raise_once_per_episode() {
        let mut input = individual(1, Some("2026-01-01"), None);
        input.ptp_broken_today = 1;
        let w = raised(&input, "2026-01-05");
        assert_eq!(ids(&w), ["first_missed_installment", "broken_promise"]);
        assert_eq!(w.now_holding.len(), 2);
        // Still holding: nothing new.
        input.holding = vec!["broken_promise".into()];
        input.first_delinquent = Some(d("2026-01-04"));
        let w = raised(&input, "2026-01-05");
        assert!(w.raise.is_empty() && w.now_holding.is_empty(), "{w:?}");
        // Stops holding: the state is cleared.
        input.ptp_broken_today = 0;
        let w = raised(&input, "2026-01-06");
        assert_eq!(w.stopped, [("B1".to_string(), "broken_promise".to_string())]);
        // Holds again while the first alert is still open: held, but no second alert.
        input.holding.clear();
        input.ptp_broken_today = 1;
        input.open_alerts = vec!["broken_promise".into()];
        let w = raised(&input, "2026-01-07");
        assert!(w.raise.is_empty(), "{w:?}");
        assert_eq!(w.now_holding.len(), 1);
    }

    #[test]
    fn a_delinquent_guarantor_fires_with_its_contact_borrower_and_dpd() {
        let rule = "guarantor_delinquent";
        let mut input = individual(0, Some("2026-01-01"), None);
        // (guarantors as contact, borrower, DPD; raised; values: contact, borrower, DPD, count)
        type Case = (Vec<(&'static str, &'static str, i64)>, Option<(&'static str, &'static str, i64, i64)>);
        let table: Vec<Case> = vec![
            (vec![], None),
            (vec![("C2", "B7", 0)], None),
            (vec![("C2", "B7", 3), ("C3", "B8", 12), ("C4", "B9", 0)], Some(("C3", "B8", 12, 2))),
            // Ties go to the first contact.
            (vec![("C2", "B7", 5), ("C3", "B8", 5)], Some(("C2", "B7", 5, 2))),
        ];
        for (guarantors, want) in table {
            input.guarantors =
                guarantors.iter().map(|(c, b, d)| (c.to_string(), b.to_string(), *d)).collect();
            let f = facts(&input, d("2026-01-05"));
            let w = raised(&input, "2026-01-05");
            let got = w.raise.iter().find(|a| a.rule_id == rule);
            assert_eq!(got.is_some(), want.is_some(), "{guarantors:?}");
            if let (Some(a), Some((c, b, dpd, n))) = (got, want) {
                let v: serde_json::Value = serde_json::from_str(&a.values_json).unwrap();
                assert_eq!(
                    (&v["guarantor.contact_id"], &v["guarantor.borrower_id"], &v["guarantor.dpd"]),
                    (&serde_json::json!(c), &serde_json::json!(b), &serde_json::json!(dpd)),
                    "{guarantors:?}"
                );
                assert_eq!(f.guarantor.delinquent, n);
                assert_eq!((a.departments.as_str(), a.severity.as_str()), ("risk,collections", "warning"));
            }
        }
        // Still delinquent at the next evaluation: nothing new; cured: the episode ends.
        input.holding = vec![rule.into()];
        assert!(raised(&input, "2026-01-06").raise.is_empty());
        input.guarantors = vec![("C2".into(), "B7".into(), 0)];
        assert_eq!(raised(&input, "2026-01-07").stopped, [("B1".to_string(), rule.to_string())]);
    }

    fn stmt(end: &str, ca: i64, cl: i64, rev: i64) -> Statement {
        Statement {
            period_end: d(end),
            current_assets: Amount::from_minor(ca),
            current_liabilities: Amount::from_minor(cl),
            inventory: Amount::from_minor(0),
            total_assets: Amount::from_minor(1000),
            total_liabilities: Amount::from_minor(500),
            revenue: Amount::from_minor(rev),
            net_income: Amount::from_minor(1),
            operating_cash_flow: Amount::from_minor(1),
        }
    }

    #[test]
    fn company_rules_fire_on_the_latest_period_with_their_values() {
        let input = AlertInput {
            kind: "company".into(),
            statements: vec![stmt("2024-12-31", 100, 100, 100), stmt("2025-12-31", 69, 100, 79)],
            ..AlertInput::default()
        };
        let w = raised(&input, "2026-02-01");
        assert_eq!(ids(&w), ["current_ratio_below_1", "quick_ratio_drop_30", "revenue_down_20"]);
        let v: serde_json::Value = serde_json::from_str(&w.raise[0].values_json).unwrap();
        assert_eq!(v["fin.current_ratio"], serde_json::json!(0.69));
        // Before the second statement ends only the first is known: nothing fires.
        let w = raised(&input, "2025-06-30");
        assert!(w.raise.is_empty(), "{w:?}");
    }
}
