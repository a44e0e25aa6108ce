//! Borrowers in default who ask for an arrangement (展期, 分期, 减免结清, 减免), and what they
//! do once it is decided: a declined borrower goes on as before, an approved one keeps the
//! new schedule or breaks it after a few instalments, and a request made in the last week
//! before the as-of date is still waiting for a decision.
//!
//! The new schedule is core's own plan of the request on its date, so what the borrower
//! pays is what the ledger will ask for once the file is imported.

use arrears_core::arrangement::{ArrangementKind, Owed, Terms, plan};
use arrears_core::delinquency::{DelinquencyRules, FiveClass, assess};
use arrears_core::ledger::{LedgerAction, LedgerEvent, Waterfall, replay, replay_with};
use arrears_core::schedule::Installment;
use arrears_core::{Amount, Loan, Payment, PaymentId};
use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::behaviour::{Episode, Pay, on_time};

/// Per cent of defaulters who ask for an arrangement.
const ASK_PCT: u32 = 40;
/// Per cent of defaults running on the as-of date whose request came in its last week.
const RECENT_PCT: u32 = 30;
/// Per cent of requests declined.
const DECLINE_PCT: u32 = 15;
/// Per cent of approved arrangements kept.
const KEEP_PCT: u32 = 65;
/// Requests younger than this many days on the as-of date are still undecided.
const UNDECIDED_DAYS: i32 = 7;
/// Days an arrangement instalment may be late before the arrangement breaks: the ledger's
/// default, which a generated book's products do not change.
pub(crate) const GRACE_DAYS: u32 = 15;

/// Who asked: the demo's collectors.
const COLLECTORS: [&str; 10] = ["c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c10"];
/// Who decides: the demo's supervisor.
pub(crate) const APPROVER: &str = "supervisor";

/// Where a request stands on the as-of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Waiting for a decision.
    Requested,
    /// Declined on this day.
    Declined(i32),
    /// Approved on this day.
    Approved(i32),
}

impl Decision {
    /// The status written to `arrangements.csv`.
    pub(crate) fn status(self) -> &'static str {
        match self {
            Decision::Requested => "requested",
            Decision::Declined(_) => "declined",
            Decision::Approved(_) => "approved",
        }
    }
}

/// One borrower's request, as written to `arrangements.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asked {
    /// What was asked.
    pub kind: ArrangementKind,
    /// Months of a plan or extension, payments of a settlement.
    pub months: Option<u32>,
    /// A settlement's amount or a waiver's, minor units.
    pub amount: Option<i64>,
    /// The day asked.
    pub requested: i32,
    /// The collector who took the request.
    pub requested_by: &'static str,
    /// Where it stands.
    pub decision: Decision,
}

fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MIN)
}

/// The simulated payments as the ledger sees them; ids sort like the written ones.
pub(crate) fn as_payments(loan: &Loan, pays: &[Pay]) -> Vec<Payment> {
    pays.iter()
        .enumerate()
        .map(|(k, p)| Payment {
            id: PaymentId::new(format!("P{k:03}")).expect("a valid id"),
            loan_id: loan.id.clone(),
            paid_on: date_of(p.day),
            amount: Amount::from_minor(p.amount),
            channel: String::new(),
        })
        .collect()
}

/// What a borrower in `episode` asks, drawn from `rng`: its kind and terms for what is owed.
fn terms_for(rng: &mut ChaCha8Rng, owed: &Owed) -> (ArrangementKind, Option<u32>, Option<i64>) {
    let pick = |rng: &mut ChaCha8Rng, items: &[u32]| items[rng.random_range(0..items.len())];
    match rng.random_range(0..100) {
        0..50 => (ArrangementKind::InstalmentPlan, Some(pick(rng, &[6, 12, 12, 18, 24])), None),
        50..70 => (ArrangementKind::Extension, Some(pick(rng, &[3, 6, 6, 12])), None),
        70..90 => {
            // An offer of 60–85 % of what is owed, in whole major units.
            let offer = owed.total().minor() * rng.random_range(60..=85i64) / 100 / 100 * 100;
            (ArrangementKind::Settlement, Some(pick(rng, &[1, 1, 2, 3])), Some(offer.max(100)))
        }
        _ => {
            let charges = (owed.penalty + owed.fee).minor();
            if charges > 0 {
                (ArrangementKind::Waiver, None, Some(charges))
            } else {
                (ArrangementKind::InstalmentPlan, Some(12), None)
            }
        }
    }
}

/// Decides whether the borrower of `loan` asks for an arrangement in its first default and
/// what follows; rewrites `pays` after the request to match, and returns the request and
/// the ledger event an approval puts in force (its id being `id`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn arrange(
    rng: &mut ChaCha8Rng,
    loan: &Loan,
    schedule: &[Installment],
    rules: &DelinquencyRules,
    episode: Episode,
    as_of: i32,
    id: &str,
    pays: &mut Vec<Pay>,
) -> Option<(Asked, Option<LedgerEvent>)> {
    if rng.random_range(0..100) >= ASK_PCT {
        return None;
    }
    // A default still running on the as-of date may have just brought its request: the
    // approval desk's queue.
    let lately =
        episode.resolved.is_none() && as_of - episode.start > 30 && rng.random_range(0..100) < RECENT_PCT;
    let asked = if lately {
        as_of - rng.random_range(0..UNDECIDED_DAYS)
    } else {
        episode.start + rng.random_range(25..=75)
    };
    if asked > as_of || episode.resolved.is_some_and(|r| asked >= r) {
        return None;
    }
    let requested_by = COLLECTORS[rng.random_range(0..COLLECTORS.len())];
    let decided = asked + rng.random_range(1..=5);
    let undecided = as_of - asked < UNDECIDED_DAYS;
    let on = if undecided { asked } else { decided };
    let before: Vec<Pay> = pays.iter().copied().filter(|p| p.day <= on).collect();
    let position = replay(loan, schedule, &as_payments(loan, &before), date_of(on), &Waterfall::default());
    let (kind, months, amount) = terms_for(rng, &Owed::on(&position, date_of(on)));
    let mut request =
        Asked { kind, months, amount, requested: asked, requested_by, decision: Decision::Requested };
    if undecided {
        // Waiting for an answer, the borrower pays nothing more.
        *pays = before;
        return Some((request, None));
    }
    let terms = Terms { kind, months, amount: amount.map(Amount::from_minor), max_months: u32::MAX };
    let declined = rng.random_range(0..100) < DECLINE_PCT;
    if declined || plan(loan, &position, date_of(decided), &terms).is_err() {
        // Declined (or not one core would plan): the default runs its course as simulated.
        request.decision = Decision::Declined(decided);
        return Some((request, None));
    }
    request.decision = Decision::Approved(decided);
    let class = assess(&position, loan.disbursed_on, rules).five_class;
    let event = LedgerEvent {
        on: date_of(decided),
        id: id.to_string(),
        action: LedgerAction::Arrange {
            terms,
            tolerance_days: GRACE_DAYS,
            tolerance: Amount::ZERO,
            was_non_performing: class >= FiveClass::Substandard,
        },
    };
    *pays = before;
    follow(rng, loan, schedule, &event, decided, as_of, pays);
    Some((request, Some(event)))
}

/// The payments after an approval on `decided`: a keeper clears what is due at once and
/// pays every instalment in force on time; a breaker pays at most two, stops, and is
/// brought back by collections some months later (arrears paid, then on time again).
fn follow(
    rng: &mut ChaCha8Rng,
    loan: &Loan,
    schedule: &[Installment],
    event: &LedgerEvent,
    decided: i32,
    as_of: i32,
    pays: &mut Vec<Pay>,
) {
    let keeps = rng.random_range(0..100) < KEEP_PCT;
    let left = if keeps { usize::MAX } else { rng.random_range(0..=2) };
    let events = std::slice::from_ref(event);
    let stopped = catch_up(rng, loan, schedule, events, decided + 1, as_of, pays, left);
    let Some(mut t) = stopped else { return };
    loop {
        t += rng.random_range(20..=40);
        if t > as_of {
            return;
        }
        if rng.random_range(0..100) < RESOLVE_PCT {
            break;
        }
    }
    catch_up(rng, loan, schedule, events, t, as_of, pays, usize::MAX);
}

/// Per cent chance per month that collections bring a broken arrangement's borrower back.
const RESOLVE_PCT: u32 = 55;

/// Pays on `day` what has fallen due by then (with a day's penalty to spare), then up to
/// `left` payments in all, each instalment in force on time; returns the day of the last
/// payment (or `day`) if the borrower stopped before the as-of date.
#[allow(clippy::too_many_arguments)]
fn catch_up(
    rng: &mut ChaCha8Rng,
    loan: &Loan,
    schedule: &[Installment],
    events: &[LedgerEvent],
    day: i32,
    as_of: i32,
    pays: &mut Vec<Pay>,
    mut left: usize,
) -> Option<i32> {
    if day > as_of {
        return None;
    }
    let p =
        replay_with(loan, schedule, &as_payments(loan, pays), events, date_of(day), &Waterfall::default());
    let fallen_due = p.installments.iter().filter(|i| i.installment.due_on <= date_of(day));
    let due_now = fallen_due.map(|i| (i.unpaid_contractual() + i.unpaid_penalty()).minor()).sum::<i64>()
        - p.credit.minor();
    let mut last = day;
    if due_now > 0 {
        if left == 0 {
            return Some(last);
        }
        let margin = p.installments.iter().map(|i| i.unpaid_principal().minor()).sum::<i64>() / 1000;
        pays.push(Pay { day, amount: due_now + margin + 1, collected: false });
        left -= 1;
    }
    for ip in p.installments.iter().filter(|i| i.installment.due_on > date_of(day)) {
        if left == 0 {
            return Some(last);
        }
        let pay_on = on_time(rng, ip.installment.due_on.num_days_from_ce()).max(day + 1);
        if pay_on > as_of {
            return None;
        }
        let owed = ip.unpaid_contractual().minor();
        if owed > 0 {
            pays.push(Pay { day: pay_on, amount: owed, collected: false });
            last = pay_on;
            left -= 1;
        }
    }
    None
}
