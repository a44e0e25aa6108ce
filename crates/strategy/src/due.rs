//! Which steps are due for one case on one business date: the decision the batch
//! turns into tasks. Pure: the facts, the case's step history and the date are
//! all parameters, so running a date twice decides the same thing.
//!
//! The rules, in order:
//! 1. a closed (cured) case gets nothing;
//! 2. the first segment whose condition holds is the case's segment (with
//!    `exclusive = true` every segment is evaluated and extra matches are reported);
//!    a condition that fails to evaluate (a `null` score compared) does not match
//!    and is reported in [`Decision::errors`];
//! 3. if an experiment on that segment runs on the date, the case's arm picks the
//!    ladder (an arm without steps runs the segment's);
//! 4. each step of the ladder whose trigger fires and whose `if` holds is due,
//!    unless it is held back: on hold (dispute, deceased, bankrupt) only `hold`,
//!    `agency_recall` and `write_off_review` run; while placed with an agency no
//!    internal treatment runs (messages, calls, visits, letters, another
//!    placement); a recall needs a placement; once a terminal step
//!    (`legal_referral`, `write_off_review`) is done or due, later steps are held
//!    back except the kinds that run on hold; a placement is held back when a recall
//!    later in the ladder fires on the same date (a case first seen past the recall's
//!    DPD is not placed at all, and a rerun of the date decides the same).
//!
//! Triggers, with `last` the date the step last fired for this case:
//! - `dpd = N`: the worst DPD is at least N; fires once, or again every
//!   `repeat_every_days` after `last` while it holds;
//! - `days_open = N`: the case has been open N days or more; repeats likewise;
//! - `broken_promise`: a promise was judged broken after `last` (or ever, if never fired);
//! - `no_contact_days = N`: N days or more since the later of the last right-party
//!   contact (the opening date if none) and `last`;
//! - `dispute`: the case is on hold for a dispute raised after `last`.

use chrono::NaiveDate;

use crate::arm;
use crate::facts::{CaseFacts, CaseStatus, Hold};
use crate::file::{Placement, Step, StepKind, Strategy, Trigger};

/// One step already done for the case (from the task history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// Step name.
    pub step: String,
    /// Business date it fired.
    pub on: NaiveDate,
}

/// The experiment arm a case is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmChoice {
    /// Experiment name.
    pub experiment: String,
    /// Arm name.
    pub arm: String,
}

/// A step due today, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct DueStep {
    /// Step name (the key to record in the history once the task is made).
    pub step: String,
    /// What to do.
    pub kind: StepKind,
    /// Message template.
    pub template: Option<String>,
    /// Work queue.
    pub queue: Option<String>,
    /// Agency and days.
    pub placement: Option<Placement>,
    /// The trigger that fired, with the value that fired it (`dpd 31 >= 31`).
    pub because: String,
}

/// Why a step whose trigger fired is not due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldBack {
    /// The case is on hold.
    OnHold(Hold),
    /// An agency holds the case.
    Placed,
    /// A recall without a placement.
    NotPlaced,
    /// Treatment ended with a terminal step.
    Ended,
    /// A placement whose recall, later in the ladder, fires on the same date: placing the
    /// case only to recall it (or, on a rerun of the date, recalling it then) makes no sense.
    RecallDue,
}

/// What the strategy decided for one case on one date.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// The case's segment; `None` when closed or no segment matched.
    pub segment: Option<String>,
    /// Its experiment arm, when an experiment runs on its segment.
    pub arm: Option<ArmChoice>,
    /// Steps due today, in ladder order.
    pub due: Vec<DueStep>,
    /// Steps whose trigger fired but which are held back, with the reason.
    pub held_back: Vec<(String, HeldBack)>,
    /// Further segments that matched although the strategy declares them exclusive.
    pub also_matched: Vec<String>,
    /// Conditions that could not be evaluated, as `segment or step: message`.
    pub errors: Vec<String>,
    /// The strategy's priority for the case's tasks, when any step is due.
    pub priority: Option<f64>,
}

/// Decides the steps due for `facts` on business date `on`, given the steps already
/// done for this case (any order; steps not in this strategy, and steps recorded after
/// `on`, are ignored).
///
/// Recording each due step as [`Done`] on `on` makes a second run of the same date
/// decide nothing new: every trigger measures from the step's last firing.
pub fn due_steps(strategy: &Strategy, facts: &CaseFacts, history: &[Done], on: NaiveDate) -> Decision {
    let mut d = Decision::default();
    if facts.case.status == CaseStatus::Closed {
        return d;
    }
    let b = facts.bindings(on);
    let mut chosen = None;
    for seg in &strategy.segments {
        match seg.when.eval_bool(&b) {
            Ok(true) if chosen.is_none() => {
                chosen = Some(seg);
                if !strategy.exclusive {
                    break;
                }
            }
            Ok(true) => d.also_matched.push(seg.name.clone()),
            Ok(false) => {}
            Err(e) => d.errors.push(format!("segment {}: {e}", seg.name)),
        }
    }
    let Some(seg) = chosen else { return d };
    d.segment = Some(seg.name.clone());
    let mut ladder: &[Step] = &seg.steps;
    if let Some(x) = strategy.experiments.iter().find(|x| x.segment == seg.name && x.runs_on(on))
        && let Some(a) = arm::assign(x, &facts.case.id)
    {
        d.arm = Some(ArmChoice { experiment: x.name.clone(), arm: a.name.clone() });
        if let Some(steps) = &a.steps {
            ladder = steps;
        }
    }
    // Steps recorded after `on` belong to a later run: a re-run of an earlier date ignores them.
    let history: Vec<&Done> = history.iter().filter(|h| h.on <= on).collect();
    let last = |name: &str| history.iter().filter(|h| h.step == name).map(|h| h.on).max();
    let mut ended = history.iter().any(|h| strategy.step(&h.step).is_some_and(|s| s.kind.is_terminal()));
    let guard = |step: &Step| step.guard.as_ref().map_or(Ok(true), |g| g.eval_bool(&b));
    for (i, step) in ladder.iter().enumerate() {
        let Some(because) = fires(step, facts, last(&step.name), on) else { continue };
        match guard(step) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                d.errors.push(format!("step {}: {e}", step.name));
                continue;
            }
        }
        let placed = facts.case.placed_with.is_some();
        let recall_due = || {
            ladder[i + 1..].iter().any(|r| {
                r.kind == StepKind::AgencyRecall
                    && fires(r, facts, last(&r.name), on).is_some()
                    && guard(r) == Ok(true)
            })
        };
        let held = match facts.case.hold {
            Some(h) if !step.kind.during_hold() => Some(HeldBack::OnHold(h)),
            _ if ended && !step.kind.during_hold() => Some(HeldBack::Ended),
            _ if placed && step.kind.internal_treatment() => Some(HeldBack::Placed),
            _ if !placed && step.kind == StepKind::AgencyRecall => Some(HeldBack::NotPlaced),
            _ if step.kind == StepKind::AgencyPlacement && recall_due() => Some(HeldBack::RecallDue),
            _ => None,
        };
        if let Some(h) = held {
            d.held_back.push((step.name.clone(), h));
            continue;
        }
        ended |= step.kind.is_terminal();
        d.due.push(DueStep {
            step: step.name.clone(),
            kind: step.kind,
            template: step.template.clone(),
            queue: step.queue.clone(),
            placement: step.placement.clone(),
            because,
        });
    }
    if !d.due.is_empty() {
        match strategy.priority.eval_number(&b) {
            Ok(p) if p.is_finite() => d.priority = Some(p),
            Ok(p) => d.errors.push(format!("priority: {p} is not a number")),
            Err(e) => d.errors.push(format!("priority: {e}")),
        }
    }
    d
}

/// Whether `step`'s trigger fires on `on`, and the reason as text.
fn fires(step: &Step, f: &CaseFacts, last: Option<NaiveDate>, on: NaiveDate) -> Option<String> {
    let c = &f.case;
    let again = |last: Option<NaiveDate>| match (last, step.repeat_every_days) {
        (None, _) => true,
        (Some(l), Some(k)) => (on - l).num_days() >= i64::from(k),
        (Some(_), None) => false,
    };
    match step.trigger {
        Trigger::Dpd(n) => (c.max_dpd >= n && again(last)).then(|| format!("dpd {} >= {n}", c.max_dpd)),
        Trigger::DaysOpen(n) => {
            let open = (on - c.opened_on).num_days();
            (open >= n && again(last)).then(|| format!("days_open {open} >= {n}"))
        }
        Trigger::BrokenPromise => {
            let b = c.last_broken_promise_on?;
            (b >= c.opened_on && b <= on && last.is_none_or(|l| l < b))
                .then(|| format!("promise broken on {b}"))
        }
        Trigger::NoContactDays(n) => {
            let contact = c.last_right_party_contact_on.unwrap_or(c.opened_on).max(c.opened_on);
            let since = last.map_or(contact, |l| l.max(contact));
            let days = (on - since).num_days();
            (days >= n).then(|| format!("no right-party contact for {days} >= {n} days"))
        }
        Trigger::Dispute => {
            let r = c.dispute_raised_on?;
            (c.hold == Some(Hold::Dispute) && r <= on && last.is_none_or(|l| l < r))
                .then(|| format!("dispute raised on {r}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::sample;
    use crate::file::{Known, check};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const LADDER: &str = r#"
name = "t"
version = 1
effective_from = "2026-01-01"

[[segment]]
name = "company"
when = 'borrower.kind == "company"'
[[segment.step]]
name = "co_call"
kind = "call"
dpd = 1
queue = "corporate"

[[segment]]
name = "all"
when = 'true'
[[segment.step]]
name = "sms_dpd3"
kind = "sms"
dpd = 3
template = "t"
repeat_every_days = 7
[[segment.step]]
name = "call_open10"
kind = "call"
days_open = 10
queue = "q"
[[segment.step]]
name = "ptp_broken_call"
kind = "call"
broken_promise = true
queue = "q"
[[segment.step]]
name = "no_rpc_visit"
kind = "visit"
no_contact_days = 14
queue = "q"
[[segment.step]]
name = "dispute_hold"
kind = "hold"
dispute = true
[[segment.step]]
name = "place"
kind = "agency_placement"
dpd = 60
agency = "A1"
days = 90
[[segment.step]]
name = "recall"
kind = "agency_recall"
dpd = 150
[[segment.step]]
name = "legal"
kind = "legal_referral"
dpd = 180
[[segment.step]]
name = "wo"
kind = "write_off_review"
dpd = 200
"#;

    fn strategy() -> Strategy {
        check("t.toml", LADDER, &Known::default()).unwrap()
    }

    fn names(dec: &Decision) -> Vec<&str> {
        dec.due.iter().map(|s| s.step.as_str()).collect()
    }

    fn done(step: &str, on: &str) -> Done {
        Done { step: step.into(), on: d(on) }
    }

    /// Each trigger just below, at and after its boundary.
    #[test]
    fn triggers_at_their_boundaries() {
        let s = strategy();
        let opened = d("2026-03-01");
        type Row = (&'static str, i64, &'static str, Vec<Done>, fn(&mut CaseFacts), bool);
        let none = |_: &mut CaseFacts| {};
        let table: Vec<Row> = vec![
            // (step, dpd, date, history, adjust facts, due?)
            ("sms_dpd3", 2, "2026-03-02", vec![], none, false),
            ("sms_dpd3", 3, "2026-03-03", vec![], none, true),
            ("sms_dpd3", 4, "2026-03-04", vec![done("sms_dpd3", "2026-03-03")], none, false),
            ("sms_dpd3", 9, "2026-03-09", vec![done("sms_dpd3", "2026-03-03")], none, false),
            ("sms_dpd3", 10, "2026-03-10", vec![done("sms_dpd3", "2026-03-03")], none, true),
            ("call_open10", 9, "2026-03-10", vec![], none, false),
            ("call_open10", 10, "2026-03-11", vec![], none, true),
            ("call_open10", 20, "2026-03-21", vec![done("call_open10", "2026-03-11")], none, false),
            ("ptp_broken_call", 5, "2026-03-05", vec![], none, false),
            (
                "ptp_broken_call",
                5,
                "2026-03-05",
                vec![],
                |f| f.case.last_broken_promise_on = Some(d("2026-03-05")),
                true,
            ),
            (
                "ptp_broken_call",
                6,
                "2026-03-06",
                vec![done("ptp_broken_call", "2026-03-05")],
                |f| f.case.last_broken_promise_on = Some(d("2026-03-05")),
                false,
            ),
            (
                "ptp_broken_call",
                9,
                "2026-03-09",
                vec![done("ptp_broken_call", "2026-03-05")],
                |f| f.case.last_broken_promise_on = Some(d("2026-03-09")),
                true,
            ),
            ("no_rpc_visit", 14, "2026-03-14", vec![], none, false),
            ("no_rpc_visit", 15, "2026-03-15", vec![], none, true),
            (
                "no_rpc_visit",
                15,
                "2026-03-15",
                vec![],
                |f| f.case.last_right_party_contact_on = Some(d("2026-03-02")),
                false,
            ),
            (
                "no_rpc_visit",
                16,
                "2026-03-16",
                vec![],
                |f| f.case.last_right_party_contact_on = Some(d("2026-03-02")),
                true,
            ),
            ("no_rpc_visit", 28, "2026-03-28", vec![done("no_rpc_visit", "2026-03-15")], none, false),
            ("no_rpc_visit", 29, "2026-03-29", vec![done("no_rpc_visit", "2026-03-15")], none, true),
            ("dispute_hold", 5, "2026-03-05", vec![], none, false),
            (
                "dispute_hold",
                5,
                "2026-03-05",
                vec![],
                |f| {
                    f.case.hold = Some(Hold::Dispute);
                    f.case.dispute_raised_on = Some(d("2026-03-05"));
                },
                true,
            ),
            (
                "dispute_hold",
                6,
                "2026-03-06",
                vec![done("dispute_hold", "2026-03-05")],
                |f| {
                    f.case.hold = Some(Hold::Dispute);
                    f.case.dispute_raised_on = Some(d("2026-03-05"));
                },
                false,
            ),
            ("place", 59, "2026-04-28", vec![], none, false),
            ("place", 60, "2026-04-29", vec![], none, true),
        ];
        for (i, (step, dpd, on, history, adjust, want)) in table.into_iter().enumerate() {
            let mut f = sample("C1", opened, dpd);
            adjust(&mut f);
            let dec = due_steps(&s, &f, &history, d(on));
            assert_eq!(dec.segment.as_deref(), Some("all"));
            assert_eq!(names(&dec).contains(&step), want, "row {i}: {step} dpd {dpd} on {on}: {dec:?}");
        }
    }

    #[test]
    fn a_second_run_of_the_same_date_adds_nothing() {
        let s = strategy();
        for dpd in [3, 10, 31, 60, 150, 185, 205] {
            let mut f = sample("C1", d("2026-01-01"), dpd);
            f.case.last_broken_promise_on = Some(d("2026-01-02"));
            let on = d("2026-01-01") + chrono::Days::new(dpd as u64 - 1);
            let first = due_steps(&s, &f, &[], on);
            let history: Vec<Done> = first.due.iter().map(|x| Done { step: x.step.clone(), on }).collect();
            assert!(!history.is_empty(), "dpd {dpd}");
            assert!(due_steps(&s, &f, &history, on).due.is_empty(), "dpd {dpd}");
            // A later run recorded in the history does not change an earlier date's decision.
            let later: Vec<Done> = first
                .due
                .iter()
                .map(|x| Done { step: x.step.clone(), on: on + chrono::Days::new(3) })
                .collect();
            assert_eq!(due_steps(&s, &f, &later, on).due, first.due, "dpd {dpd}");
        }
    }

    #[test]
    fn first_matching_segment_wins_and_others_do_not_fire() {
        let s = strategy();
        let mut f = sample("C1", d("2026-03-01"), 30);
        f.borrower.kind = arrears_core::BorrowerKind::Company;
        let dec = due_steps(&s, &f, &[], d("2026-03-30"));
        assert_eq!(dec.segment.as_deref(), Some("company"));
        assert_eq!(names(&dec), ["co_call"]);
        // Default priority: overdue amount (1,000.00) × (1 + 30/30).
        assert_eq!(dec.priority, Some(2000.0));
    }

    /// Over the shipped default and a grid of cases: every due step belongs to the ladder
    /// of the case's segment (or arm), placed cases get no internal treatment, held
    /// cases only what runs on hold.
    #[test]
    fn default_strategy_invariants_over_a_grid() {
        let text = include_str!("../../../config/strategies/default.toml");
        let s = check("default.toml", text, &Known::default()).unwrap();
        let on = d("2026-11-27");
        let mut fired = 0;
        for dpd in [1, 2, 3, 5, 7, 12, 30, 31, 45, 60, 61, 90, 91, 120, 150, 210, 240, 360, 400] {
            for variant in 0..6 {
                let opened = on - chrono::Days::new(dpd as u64 - 1);
                let mut f = sample(&format!("C{dpd}-{variant}"), opened, dpd);
                f.case.total_overdue = arrears_core::Amount::from_minor(2_000_000);
                match variant {
                    1 => f.borrower.kind = arrears_core::BorrowerKind::Company,
                    2 => f.case.placed_with = Some("default_agency".into()),
                    3 => {
                        f.case.hold = Some(Hold::Dispute);
                        f.case.dispute_raised_on = Some(on);
                    }
                    4 => f.case.hold = Some(Hold::Deceased),
                    5 => f.case.last_broken_promise_on = Some(on),
                    _ => {}
                }
                let dec = due_steps(&s, &f, &[], on);
                let seg =
                    s.segments.iter().find(|g| Some(&g.name) == dec.segment.as_ref()).expect("a segment");
                let ladder: Vec<&str> = match &dec.arm {
                    Some(a) => {
                        let x = s.experiments.iter().find(|x| x.name == a.experiment).unwrap();
                        let arm = x.arms.iter().find(|r| r.name == a.arm).unwrap();
                        arm.steps.as_ref().unwrap_or(&seg.steps).iter().map(|t| t.name.as_str()).collect()
                    }
                    None => seg.steps.iter().map(|t| t.name.as_str()).collect(),
                };
                for step in &dec.due {
                    fired += 1;
                    assert!(ladder.contains(&step.step.as_str()), "{} not in {:?}", step.step, dec.segment);
                    if f.case.placed_with.is_some() {
                        assert!(!step.kind.internal_treatment(), "placed case got {}", step.step);
                    }
                    if f.case.hold.is_some() {
                        assert!(step.kind.during_hold(), "held case got {}", step.step);
                    }
                }
                f.case.status = CaseStatus::Closed;
                assert!(due_steps(&s, &f, &[], on).due.is_empty());
            }
        }
        assert!(fired > 100, "the grid exercises the ladders: {fired}");
    }

    #[test]
    fn closed_case_gets_nothing() {
        let s = strategy();
        let mut f = sample("C1", d("2026-03-01"), 30);
        f.case.status = CaseStatus::Closed;
        let dec = due_steps(&s, &f, &[], d("2026-03-30"));
        assert_eq!(dec, Decision::default());
    }

    #[test]
    fn placed_case_gets_no_internal_treatment() {
        let s = strategy();
        let mut f = sample("C1", d("2026-01-01"), 150);
        f.case.placed_with = Some("A1".into());
        let dec = due_steps(&s, &f, &[], d("2026-05-31"));
        assert_eq!(names(&dec), ["recall"]);
        assert!(dec.held_back.contains(&("call_open10".into(), HeldBack::Placed)));
        assert!(dec.held_back.contains(&("place".into(), HeldBack::Placed)));
        f.case.placed_with = None;
        let dec = due_steps(&s, &f, &[], d("2026-05-31"));
        assert!(dec.held_back.contains(&("recall".into(), HeldBack::NotPlaced)));
    }

    #[test]
    fn no_placement_when_its_recall_is_already_due() {
        let s = strategy();
        // (DPD, placed): place fires at 60, recall at 150.
        let table: &[(i64, bool)] = &[(149, true), (150, false), (220, false)];
        for &(dpd, placed) in table {
            let f = sample("C1", d("2026-01-01"), dpd);
            let dec = due_steps(&s, &f, &[], d("2026-05-31"));
            assert_eq!(names(&dec).contains(&"place"), placed, "dpd {dpd}");
            if !placed {
                assert!(dec.held_back.contains(&("place".into(), HeldBack::RecallDue)), "dpd {dpd}");
                assert!(dec.held_back.contains(&("recall".into(), HeldBack::NotPlaced)), "dpd {dpd}");
            }
        }
        // A recall that already fired for the case does not hold a new placement back.
        let f = sample("C1", d("2026-01-01"), 220);
        let history = [Done { step: "recall".into(), on: d("2026-05-01") }];
        let dec = due_steps(&s, &f, &history, d("2026-05-31"));
        assert!(!dec.held_back.iter().any(|(_, h)| *h == HeldBack::RecallDue), "{dec:?}");
    }

    #[test]
    fn hold_lets_only_hold_steps_through() {
        let s = strategy();
        for h in [Hold::Deceased, Hold::Bankrupt, Hold::Dispute] {
            let mut f = sample("C1", d("2026-01-01"), 210);
            f.case.hold = Some(h);
            f.case.dispute_raised_on = Some(d("2026-07-01"));
            let dec = due_steps(&s, &f, &[], d("2026-07-30"));
            let want: &[&str] = if h == Hold::Dispute { &["dispute_hold", "wo"] } else { &["wo"] };
            assert_eq!(names(&dec), want, "{h:?}");
            assert!(dec.held_back.contains(&("legal".into(), HeldBack::OnHold(h))));
        }
    }

    #[test]
    fn terminal_step_ends_treatment() {
        let s = strategy();
        let f = sample("C1", d("2026-01-01"), 185);
        let history = [done("sms_dpd3", "2026-01-03"), done("legal", "2026-06-29")];
        let dec = due_steps(&s, &f, &history, d("2026-07-05"));
        assert!(names(&dec).is_empty(), "{dec:?}");
        assert!(dec.held_back.contains(&("sms_dpd3".into(), HeldBack::Ended)));
        // On the day it fires, it is due, and nothing after it in the ladder.
        let f = sample("C1", d("2026-01-01"), 205);
        let history: Vec<Done> = ["sms_dpd3", "call_open10", "no_rpc_visit", "place", "recall"]
            .iter()
            .map(|n| done(n, "2026-07-20"))
            .collect();
        let dec = due_steps(&s, &f, &history, d("2026-07-24"));
        assert_eq!(names(&dec), ["legal", "wo"], "write-off review still runs after the referral");
    }

    #[test]
    fn experiment_arm_picks_the_ladder() {
        let text = format!(
            "{LADDER}\n{}",
            r#"
[[experiment]]
name = "x"
segment = "all"
starts_on = "2026-03-01"
ends_on = "2026-03-31"
[[experiment.arm]]
name = "champion"
share = 0.5
[[experiment.arm]]
name = "challenger"
share = 0.5
[[experiment.arm.step]]
name = "bot"
kind = "voice_bot"
dpd = 1
template = "t"
"#
        );
        let s = check("t.toml", &text, &Known::default()).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..40 {
            let f = sample(&format!("C{i}"), d("2026-03-01"), 5);
            let dec = due_steps(&s, &f, &[], d("2026-03-05"));
            let arm = dec.arm.clone().expect("experiment runs in March");
            assert_eq!(arm.arm, crate::arm::assign(&s.experiments[0], &f.case.id).unwrap().name);
            let want: &[&str] = if arm.arm == "challenger" { &["bot"] } else { &["sms_dpd3"] };
            assert_eq!(names(&dec), want);
            seen.insert(arm.arm);
            let after = due_steps(&s, &f, &[], d("2026-04-01"));
            assert_eq!(after.arm, None, "the experiment is over");
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn evaluation_errors_are_reported_not_matched() {
        let text = LADDER.replacen("when = 'borrower.kind == \"company\"'", "when = 'score.pd > 0.5'", 1);
        let s = check("t.toml", &text, &Known::default()).unwrap();
        let f = sample("C1", d("2026-03-01"), 5);
        let dec = due_steps(&s, &f, &[], d("2026-03-05"));
        assert_eq!(dec.segment.as_deref(), Some("all"));
        assert_eq!(dec.errors.len(), 1, "{dec:?}");
    }
}
