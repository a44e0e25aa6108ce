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
//!    back except the kinds that run on hold.
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
/// done for this case (any order; steps not in this strategy are ignored).
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
    if let Some(x) = strategy.experiments.iter().find(|x| x.segment == seg.name && x.runs_on(on)) {
        let a = arm::assign(x, &facts.case.id);
        d.arm = Some(ArmChoice { experiment: x.name.clone(), arm: a.name.clone() });
        if let Some(steps) = &a.steps {
            ladder = steps;
        }
    }
    let last = |name: &str| history.iter().filter(|h| h.step == name).map(|h| h.on).max();
    let mut ended = history.iter().any(|h| strategy.step(&h.step).is_some_and(|s| s.kind.is_terminal()));
    for step in ladder {
        let Some(because) = fires(step, facts, last(&step.name), on) else { continue };
        if let Some(g) = &step.guard {
            match g.eval_bool(&b) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    d.errors.push(format!("step {}: {e}", step.name));
                    continue;
                }
            }
        }
        let placed = facts.case.placed_with.is_some();
        let held = match facts.case.hold {
            Some(h) if !step.kind.during_hold() => Some(HeldBack::OnHold(h)),
            _ if ended && !step.kind.during_hold() => Some(HeldBack::Ended),
            _ if placed && step.kind.internal_treatment() => Some(HeldBack::Placed),
            _ if !placed && step.kind == StepKind::AgencyRecall => Some(HeldBack::NotPlaced),
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
            assert_eq!(arm.arm, crate::arm::assign(&s.experiments[0], &f.case.id).name);
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
