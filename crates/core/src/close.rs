//! Close of business (日终批处理) for one loan: the compact snapshot kept per
//! business date, the date on which it can next change, and the walk over a
//! run of business dates that the batch and a backdated recompute share.

use chrono::NaiveDate;

use crate::behaviour::LoanTrack;
use crate::book::{Loan, Payment};
use crate::delinquency::{DelinquencyRules, FiveClass, LoanStatus, Overdue, assess};
use crate::ledger::{ArrangementState, LedgerEvent, LoanPosition, Totals, Waterfall, replay_with};
use crate::money::Amount;
use crate::schedule::Installment;

/// What arrears keeps of a loan on a business date: only what reports and cases read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Pending, active or paid off.
    pub status: LoanStatus,
    /// Days past due.
    pub dpd: u32,
    /// Bucket label under the product's scheme.
    pub bucket: String,
    /// Position of the bucket in its scheme (0 = current), for ordering.
    pub bucket_rank: u32,
    /// Five-category class.
    pub five_class: FiveClass,
    /// Overdue amounts.
    pub overdue: Overdue,
    /// Principal not yet repaid.
    pub outstanding_principal: Amount,
    /// Unapplied overpayment.
    pub credit: Amount,
    /// An arrangement is in force: its case stays open, collection paused, until it is kept
    /// or breaks.
    pub arranged: bool,
}

impl Snapshot {
    /// Builds the snapshot of an assessed position.
    pub fn of(position: &LoanPosition, loan: &Loan, rules: &DelinquencyRules) -> Snapshot {
        let q = assess(position, loan.disbursed_on, rules);
        Snapshot {
            status: q.status,
            dpd: q.dpd,
            bucket: q.bucket,
            bucket_rank: u32::try_from(q.bucket_index).unwrap_or(u32::MAX),
            five_class: q.five_class,
            overdue: q.overdue,
            outstanding_principal: q.outstanding_principal,
            credit: q.credit,
            arranged: position.active_arrangement().is_some(),
        }
    }

    /// Whether a collection case holds the loan: delinquent, or in an arrangement.
    pub fn is_delinquent(&self) -> bool {
        self.dpd > 0 || self.arranged
    }
}

/// The first date after the position's `as_of` on which its snapshot can differ
/// when no payment arrives; `None` when nothing will change any more.
///
/// DPD, penalty and classification move every day while anything is overdue; a
/// current loan changes only when credit meets an installment on its due date or
/// the installment becomes overdue the day after.
pub fn next_review(position: &LoanPosition, disbursed_on: NaiveDate) -> Option<NaiveDate> {
    let as_of = position.as_of;
    if as_of < disbursed_on {
        return Some(disbursed_on);
    }
    let tomorrow = as_of.succ_opt()?;
    let mut next: Option<NaiveDate> = None;
    for ip in &position.installments {
        let due = ip.installment.due_on;
        if due < as_of {
            if !(ip.unpaid_contractual().is_zero() && ip.unpaid_penalty().is_zero()) {
                return Some(tomorrow);
            }
            continue;
        }
        if ip.unpaid_contractual().is_zero() {
            continue;
        }
        let at = if due > as_of && position.credit > Amount::ZERO { due } else { due.succ_opt()? };
        next = Some(next.map_or(at, |n| n.min(at)));
        // Installments are in due order: the first open one decides unless credit is waiting.
        if position.credit.is_zero() {
            break;
        }
    }
    next
}

/// The terms and history of one loan, and the rules that judge it.
#[derive(Debug, Clone, Copy)]
pub struct LoanInput<'a> {
    /// The loan's contractual terms.
    pub loan: &'a Loan,
    /// Schedule, by seq.
    pub schedule: &'a [Installment],
    /// Every payment known, any order.
    pub payments: &'a [Payment],
    /// Approved arrangements, write-offs, reversals and sales, any order.
    pub events: &'a [LedgerEvent],
    /// Tolerance, buckets and classes of the loan's product.
    pub rules: &'a DelinquencyRules,
    /// Allocation order.
    pub waterfall: &'a Waterfall,
}

impl LoanInput<'_> {
    /// The loan's snapshot on `date` and when it can next change: by itself, or
    /// when a payment already known with a later value date arrives.
    pub fn evaluate(&self, date: NaiveDate) -> (Snapshot, Option<NaiveDate>) {
        let (snapshot, review, _) = self.evaluate_position(date);
        (snapshot, review)
    }

    /// [`LoanInput::evaluate`] with the replayed position it was read from.
    pub fn evaluate_position(&self, date: NaiveDate) -> (Snapshot, Option<NaiveDate>, LoanPosition) {
        let position =
            replay_with(self.loan, self.schedule, self.payments, self.events, date, self.waterfall);
        let next_payment = self.payments.iter().map(|p| p.paid_on).filter(|&on| on > date).min();
        let next_event = self.events.iter().map(|e| e.on).filter(|&on| on > date).min();
        // The class may rise when a restructuring's observation period ends.
        let floor_ends = position.restructured().and_then(|(on, _)| {
            crate::calendar::add_months_clamped(on, self.rules.observation_months).filter(|&e| e > date)
        });
        let review = [next_review(&position, self.loan.disbursed_on), next_payment, next_event, floor_ends]
            .into_iter()
            .flatten()
            .min();
        (Snapshot::of(&position, self.loan, self.rules), review, position)
    }
}

/// The next instalment the borrower has to pay that is not yet overdue on the position's date
/// (due on it or later), and what is left to pay of it once waiting credit is counted; `None`
/// when nothing more falls due. Reminders before the due date (还款提醒) read it.
pub fn next_due(position: &LoanPosition) -> Option<(NaiveDate, Amount)> {
    let mut credit = position.credit;
    for ip in &position.installments {
        let unpaid = ip.unpaid_contractual();
        if ip.installment.due_on < position.as_of || unpaid.is_zero() {
            continue;
        }
        // Waiting credit meets instalments in due order on their due dates.
        let covered = if credit > unpaid { unpaid } else { credit };
        credit -= covered;
        let left = unpaid - covered;
        if !left.is_zero() {
            return Some((ip.installment.due_on, left));
        }
    }
    None
}

/// A loan's state as the batch carries it from one business date to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    /// Business date of the last evaluation.
    pub on: NaiveDate,
    /// The snapshot in force since then.
    pub snapshot: Snapshot,
    /// When it must next be evaluated (`None`: never, unless a payment arrives).
    pub review_on: Option<NaiveDate>,
}

/// What walking a loan over a run of business dates produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    /// Snapshots that differ from the one in force before them, with their dates.
    pub changed: Vec<(NaiveDate, Snapshot)>,
    /// The state after the last evaluation.
    pub last: Carried,
    /// The snapshot in force on the business date before the last evaluation (`None` for a new loan).
    pub before_last: Option<Snapshot>,
    /// Whether the loan became delinquent or cured on any of the dates.
    pub delinquency_changed: bool,
    /// What the behaviour features keep of the loan after the last evaluation.
    pub track: LoanTrack,
    /// The next instalment not yet overdue at the last evaluation, and what is left of it.
    pub next_due: Option<(NaiveDate, Amount)>,
    /// The first date evaluated on which what was charged did not equal where it went, with
    /// the totals: a fault the batch refuses to close the date on.
    pub unconserved: Option<(NaiveDate, Totals)>,
    /// The loan's arrangements as the last evaluation saw them.
    pub arrangements: Vec<ArrangementState>,
}

/// Evaluates the loan on each of `dates` (ascending) where it can have changed.
///
/// `prior` is the state in force before the first date. The first date is always
/// evaluated when `recompute` is set (a backdated payment invalidated what was
/// known) or when there is no prior state; afterwards a date is skipped while
/// [`next_review`] says nothing can have changed, so walking daily or skipping
/// gives the same snapshots. `track` is the loan's behaviour track as of the rows stored
/// before the first date (empty for a new loan); each changed snapshot is added to it and
/// its ledger part is taken from the last evaluation. Returns `None` when no date needed
/// an evaluation.
pub fn advance(
    input: &LoanInput<'_>,
    prior: Option<&Carried>,
    mut track: LoanTrack,
    dates: &[NaiveDate],
    recompute: bool,
) -> Option<Advance> {
    let mut state: Option<Carried> = prior.cloned();
    let mut before_last = None;
    let mut changed = Vec::new();
    let mut delinquency_changed = false;
    let mut position = None;
    let mut unconserved = None;
    for (i, &date) in dates.iter().enumerate() {
        let due = match &state {
            None => true,
            Some(_) if i == 0 && recompute => true,
            Some(s) => s.review_on.is_some_and(|r| r <= date),
        };
        if !due {
            continue;
        }
        let (snapshot, review_on, at) = input.evaluate_position(date);
        if unconserved.is_none() {
            let totals = at.totals(input.loan.principal, input.payments);
            if !totals.conserved() {
                unconserved = Some((date, totals));
            }
        }
        let previous = state.take().map(|s| s.snapshot);
        if previous.as_ref() != Some(&snapshot) {
            let was = previous.as_ref().is_some_and(Snapshot::is_delinquent);
            delinquency_changed |= was != snapshot.is_delinquent();
            track.push_row(date, snapshot.dpd);
            changed.push((date, snapshot.clone()));
        }
        before_last = previous;
        position = Some(at);
        state = Some(Carried { on: date, snapshot, review_on });
    }
    let (last, position) = (state?, position?);
    track.set_ledger(&position, input.payments, last.review_on);
    track.prune(last.on);
    let next_due = next_due(&position);
    let arrangements = position.arrangements;
    Some(Advance {
        changed,
        last,
        before_last,
        delinquency_changed,
        track,
        next_due,
        unconserved,
        arrangements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::RepaymentMethod;
    use crate::calendar::parse_iso_date;
    use crate::ledger::replay;
    use crate::ledger::tests::pay;
    use crate::schedule::{generate, tests::loan};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        parse_iso_date(s).unwrap()
    }

    #[test]
    fn next_due_is_the_first_instalment_not_yet_overdue_less_waiting_credit() {
        // Equal principal 3 × 1000.00 at 0%: instalments of 1000.00 due 02-15, 03-15, 04-15.
        let l = loan(RepaymentMethod::EqualPrincipal, 300_000, "0", 3, "2026-01-15");
        let s = generate(&l).unwrap();
        let w = Waterfall::default();
        // (as of, payments, expected next due)
        type Row<'a> = (&'a str, &'a [(&'a str, i64)], Option<(&'a str, i64)>);
        let table: &[Row] = &[
            ("2026-02-01", &[], Some(("2026-02-15", 100_000))),
            // Due today is not yet overdue.
            ("2026-02-15", &[], Some(("2026-02-15", 100_000))),
            // The day after, it is overdue: the next one is March's.
            ("2026-02-16", &[], Some(("2026-03-15", 100_000))),
            // 300.00 paid early waits as credit and meets February's on its due date.
            ("2026-02-01", &[("2026-01-20", 30_000)], Some(("2026-02-15", 70_000))),
            // 1500.00 early covers February and half of March.
            ("2026-02-01", &[("2026-01-20", 150_000)], Some(("2026-03-15", 50_000))),
            ("2026-05-01", &[], None),
        ];
        for (as_of, payments, want) in table {
            let ps: Vec<Payment> = payments
                .iter()
                .enumerate()
                .map(|(i, (on, minor))| pay(&format!("P{i}"), on, *minor))
                .collect();
            let position = replay(&l, &s, &ps, d(as_of), &w);
            let got = next_due(&position).map(|(on, left)| (on.to_string(), left.minor()));
            assert_eq!(got, want.map(|(on, left)| (on.to_string(), left)), "as of {as_of} with {payments:?}");
        }
    }

    fn walk(
        l: &Loan,
        ps: &[Payment],
        from: NaiveDate,
        tolerance: i64,
        daily: bool,
    ) -> Vec<(NaiveDate, Snapshot)> {
        let days = 300;
        let s = generate(l).unwrap();
        let rules = DelinquencyRules { tolerance: Amount::from_minor(tolerance), ..Default::default() };
        let w = Waterfall::default();
        let input =
            LoanInput { loan: l, schedule: &s, payments: ps, events: &[], rules: &rules, waterfall: &w };
        let dates: Vec<NaiveDate> = (0..days).map(|k| from + chrono::Days::new(k as u64)).collect();
        if daily {
            // Evaluate every single day, keeping only changes.
            let mut out: Vec<(NaiveDate, Snapshot)> = Vec::new();
            for &date in &dates {
                let (snap, _) = input.evaluate(date);
                if out.last().map(|(_, s)| s) != Some(&snap) {
                    out.push((date, snap));
                }
            }
            out
        } else {
            let mut carried: Option<Carried> = None;
            let mut out = Vec::new();
            for date in dates {
                if let Some(a) = advance(&input, carried.as_ref(), LoanTrack::default(), &[date], false) {
                    out.extend(a.changed);
                    carried = Some(a.last);
                }
            }
            out
        }
    }

    #[test]
    fn current_loan_is_reviewed_only_around_due_dates() {
        let l = loan(RepaymentMethod::Annuity, 1_200_000, "0.12", 12, "2024-01-31");
        let s = generate(&l).unwrap();
        let w = Waterfall::default();
        let ps = vec![pay("P1", "2024-02-29", 1_000_000)];
        let rules = DelinquencyRules::default();
        let input =
            LoanInput { loan: &l, schedule: &s, payments: &ps, events: &[], rules: &rules, waterfall: &w };
        // Credit waits for the installment due on 31 March: reviewed on that date.
        assert_eq!(input.evaluate(d("2024-03-05")).1, Some(d("2024-03-31")));
        // Before disbursement: on the disbursement date.
        assert_eq!(input.evaluate(d("2024-01-01")).1, Some(d("2024-01-31")));
        // Due today and unpaid, no credit: tomorrow.
        let none: Vec<Payment> = Vec::new();
        let bare = LoanInput { payments: &none, events: &[], ..input };
        assert_eq!(bare.evaluate(d("2024-02-29")).1, Some(d("2024-03-01")));
        // Overdue: every day.
        assert_eq!(bare.evaluate(d("2024-03-10")).1, Some(d("2024-03-11")));
        // Between due dates with nothing overdue: the day after the next due date.
        let one = vec![pay("P1", "2024-02-29", s[0].principal.minor() + s[0].interest.minor())];
        let paid = LoanInput { payments: &one, events: &[], ..input };
        assert_eq!(paid.evaluate(d("2024-03-05")).1, Some(d("2024-04-01")));
    }

    #[test]
    fn paid_off_loan_needs_no_review() {
        let l = loan(RepaymentMethod::Bullet, 100_000, "0", 1, "2024-01-15");
        let s = generate(&l).unwrap();
        let w = Waterfall::default();
        let ps = vec![pay("P1", "2024-02-10", 100_000)];
        let rules = DelinquencyRules::default();
        let input =
            LoanInput { loan: &l, schedule: &s, payments: &ps, events: &[], rules: &rules, waterfall: &w };
        let (snap, review) = input.evaluate(d("2024-03-01"));
        assert_eq!(snap.status, LoanStatus::PaidOff);
        assert_eq!(review, None);
    }

    #[test]
    fn advance_reports_the_snapshot_before_the_last_evaluation() {
        let l = loan(RepaymentMethod::EqualPrincipal, 300_000, "0", 3, "2024-01-15");
        let s = generate(&l).unwrap();
        let w = Waterfall::default();
        let none: Vec<Payment> = Vec::new();
        let rules = DelinquencyRules::default();
        let input =
            LoanInput { loan: &l, schedule: &s, payments: &none, events: &[], rules: &rules, waterfall: &w };
        let dates = [d("2024-02-15"), d("2024-02-16"), d("2024-02-17")];
        let a = advance(&input, None, LoanTrack::default(), &dates, false).unwrap();
        assert_eq!(a.changed.len(), 3, "new, then DPD 1, then DPD 2");
        assert!(a.delinquency_changed);
        assert_eq!(a.before_last.unwrap().dpd, 1);
        assert_eq!(a.last.snapshot.dpd, 2);
        // Nothing due: a current state with a review date in the future is skipped.
        let later = Carried { review_on: Some(d("2024-03-16")), ..a.last.clone() };
        assert_eq!(advance(&input, Some(&later), LoanTrack::default(), &[d("2024-02-18")], false), None);
        // ...unless a recompute forces it.
        assert!(advance(&input, Some(&later), LoanTrack::default(), &[d("2024-02-18")], true).is_some());
    }

    proptest! {
        /// Skipping dates by `next_review` gives exactly the snapshots of a daily walk.
        #[test]
        fn skipping_by_review_date_equals_walking_daily(
            method in 0usize..4,
            term in 1u32..8,
            day in 1u32..=31,
            pays in proptest::collection::vec((0i64..260, 1i64..120_000), 0..8),
            tolerance in prop_oneof![Just(0i64), Just(500)],
        ) {
            let methods = [RepaymentMethod::Annuity, RepaymentMethod::EqualPrincipal,
                RepaymentMethod::InterestOnly, RepaymentMethod::Bullet];
            let on = NaiveDate::from_ymd_opt(2024, 1, day.min(29)).unwrap();
            let mut l = loan(methods[method], 300_000, "0.18", term, &on.to_string());
            l.grace_days = 3;
            let ps: Vec<Payment> = pays.iter().enumerate()
                .map(|(i, (off, amt))| pay(&format!("P{i}"), &(on + chrono::Days::new(*off as u64)).to_string(), *amt))
                .collect();
            let start = on - chrono::Days::new(3);
            prop_assert_eq!(walk(&l, &ps, start, tolerance, true), walk(&l, &ps, start, tolerance, false));
        }
    }
}
