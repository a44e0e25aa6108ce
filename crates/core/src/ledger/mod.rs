//! The loan ledger: replays payments against the schedule in date order, accruing
//! penalty interest (罚息) and allocating each payment by the waterfall (冲账顺序), and
//! applies what else changes what a loan owes: approved arrangements, write-offs and their
//! reversal, and the sale of the debt ([`events`]).
//!
//! Everything owed on a date is derived from (terms, schedule, payments, events, date), so
//! a payment that arrives late with a past value date gives exactly the position
//! it would have given on time.

pub mod events;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::book::{Loan, Payment};
use crate::calendar::days_between;
use crate::money::{Amount, div_round_half_up};
use crate::schedule::Installment;

pub use events::{ArrangementState, ArrangementStatus, BookStatus, LedgerAction, LedgerEvent};

/// A part of an installment that money can be allocated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Penalty interest.
    Penalty,
    /// Fees due with the installment.
    Fee,
    /// Contractual interest.
    Interest,
    /// The installment's share of the amount lent.
    Principal,
}

impl Component {
    /// The name used in files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Penalty => "penalty",
            Component::Fee => "fee",
            Component::Interest => "interest",
            Component::Principal => "principal",
        }
    }
}

/// The order in which a payment pays the components of one installment.
///
/// Installments are always paid oldest first; within one, this order applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waterfall(pub [Component; 4]);

impl Default for Waterfall {
    /// DESIGN.md's default: penalty, fee, interest, principal.
    fn default() -> Self {
        Waterfall([Component::Penalty, Component::Fee, Component::Interest, Component::Principal])
    }
}

/// Amounts by component, taken off an installment other than by payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Parts {
    /// Principal.
    pub principal: Amount,
    /// Interest.
    pub interest: Amount,
    /// Fee.
    pub fee: Amount,
    /// Penalty.
    pub penalty: Amount,
}

impl Parts {
    /// All four.
    pub fn total(&self) -> Amount {
        self.principal + self.interest + self.fee + self.penalty
    }

    /// Interest, fee and penalty.
    pub fn charges(&self) -> Amount {
        self.interest + self.fee + self.penalty
    }

    /// What is left once `credit` has met the charges (penalty, fee, interest) and then the
    /// principal, with what is left of the credit.
    pub fn less_credit(mut self, mut credit: Amount) -> (Parts, Amount) {
        for part in [&mut self.penalty, &mut self.fee, &mut self.interest, &mut self.principal] {
            let take = credit.min(*part);
            *part -= take;
            credit -= take;
        }
        (self, credit)
    }
}

impl std::ops::AddAssign for Parts {
    fn add_assign(&mut self, o: Parts) {
        self.principal += o.principal;
        self.interest += o.interest;
        self.fee += o.fee;
        self.penalty += o.penalty;
    }
}

/// One installment's state on the position date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallmentPosition {
    /// The contractual installment.
    pub installment: Installment,
    /// Principal paid so far.
    pub paid_principal: Amount,
    /// Interest paid so far.
    pub paid_interest: Amount,
    /// Fee paid so far.
    pub paid_fee: Amount,
    /// Penalty paid so far.
    pub paid_penalty: Amount,
    /// Penalty charged so far (paid or not); zero inside the grace period.
    pub penalty_charged: Amount,
    /// Date on which principal, interest and fee were all paid, if they were.
    pub settled_on: Option<NaiveDate>,
    /// Of the interest, what an earlier schedule version had already charged and carried here
    /// (arrears moved into an arrangement): owed from the start, not charged again when due.
    pub carried_interest: Amount,
    /// Of the fee, what was carried from an earlier version (its fees and penalty).
    pub carried_fee: Amount,
    /// Taken off the instalment other than by payment: moved to a later schedule version,
    /// waived, written off or sold.
    pub relieved: Parts,
    /// Exact accrued penalty as `rate numerator × principal × days`; divide by the loan's denominator.
    penalty_num: i128,
    /// No more penalty: paid in full within the grace days, or the instalment was ended.
    penalty_frozen: bool,
}

impl InstallmentPosition {
    /// A fresh instalment, nothing paid; `carried` is (interest, fee) brought from an earlier version.
    pub fn new(installment: Installment, carried: (Amount, Amount)) -> InstallmentPosition {
        InstallmentPosition {
            installment,
            paid_principal: Amount::ZERO,
            paid_interest: Amount::ZERO,
            paid_fee: Amount::ZERO,
            paid_penalty: Amount::ZERO,
            penalty_charged: Amount::ZERO,
            settled_on: None,
            carried_interest: carried.0,
            carried_fee: carried.1,
            relieved: Parts::default(),
            penalty_num: 0,
            penalty_frozen: false,
        }
    }

    /// Unpaid principal.
    pub fn unpaid_principal(&self) -> Amount {
        self.installment.principal - self.paid_principal - self.relieved.principal
    }

    /// Unpaid interest.
    pub fn unpaid_interest(&self) -> Amount {
        self.installment.interest - self.paid_interest - self.relieved.interest
    }

    /// Unpaid fee.
    pub fn unpaid_fee(&self) -> Amount {
        self.installment.fee - self.paid_fee - self.relieved.fee
    }

    /// Charged and unpaid penalty.
    pub fn unpaid_penalty(&self) -> Amount {
        self.penalty_charged - self.paid_penalty - self.relieved.penalty
    }

    /// Unpaid principal + interest + fee: what decides DPD.
    pub fn unpaid_contractual(&self) -> Amount {
        self.unpaid_principal() + self.unpaid_interest() + self.unpaid_fee()
    }

    /// Of the unpaid interest and fee, what was already charged (carried from an earlier
    /// version); paid before the rest of the component.
    pub fn unpaid_carried(&self) -> (Amount, Amount) {
        let left = |carried: Amount, unpaid: Amount, whole: Amount| {
            let paid_or_relieved = whole - unpaid;
            (carried - paid_or_relieved).clamp_zero().min(unpaid)
        };
        (
            left(self.carried_interest, self.unpaid_interest(), self.installment.interest),
            left(self.carried_fee, self.unpaid_fee(), self.installment.fee),
        )
    }

    /// What is owed on the instalment on `date` and would move if its schedule ended then:
    /// the unpaid principal and penalty, the unpaid interest and fee if it fell due before
    /// `date`, else only the part of them carried from an earlier version (the rest is not yet
    /// charged).
    pub fn owed_on(&self, date: NaiveDate) -> Parts {
        let (interest, fee) = if self.installment.due_on < date {
            (self.unpaid_interest(), self.unpaid_fee())
        } else {
            self.unpaid_carried()
        };
        Parts { principal: self.unpaid_principal(), interest, fee, penalty: self.unpaid_penalty() }
    }

    /// Ends the instalment on `date`: what [`InstallmentPosition::owed_on`] says is owed is
    /// taken off it (and returned), interest and fee not yet charged are no longer due.
    fn close(&mut self, date: NaiveDate) -> Parts {
        let owed = self.owed_on(date);
        self.relieved += owed;
        // Penalty accrued within the grace days and not yet charged never will be.
        self.penalty_frozen = true;
        self.penalty_charged = self.paid_penalty + self.relieved.penalty;
        // What is left unpaid was never charged: the instalment no longer asks for it.
        self.installment.interest -= self.unpaid_interest();
        self.installment.fee -= self.unpaid_fee();
        owed
    }

    fn owed(&self, c: Component) -> Amount {
        match c {
            Component::Penalty => self.unpaid_penalty(),
            Component::Fee => self.unpaid_fee(),
            Component::Interest => self.unpaid_interest(),
            Component::Principal => self.unpaid_principal(),
        }
    }

    fn pay(&mut self, c: Component, amount: Amount) {
        match c {
            Component::Penalty => self.paid_penalty += amount,
            Component::Fee => self.paid_fee += amount,
            Component::Interest => self.paid_interest += amount,
            Component::Principal => self.paid_principal += amount,
        }
    }
}

/// Where an allocated amount came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The payment at this index of the `payments` slice given to [`replay`].
    Payment(usize),
    /// The loan's credit balance from earlier overpayments.
    Credit,
}

/// Where an allocated amount went besides an instalment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A component of the instalment `seq` of the schedule in force.
    Installment(u32, Component),
    /// The loan's credit balance (for a sold loan: held for the buyer).
    Credit,
    /// A recovery on written-off debt (核销后收回).
    Recovery,
}

/// One allocated amount: from a source to one component of one installment (or to credit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// Value date of the allocation.
    pub on: NaiveDate,
    /// Where the money came from.
    pub source: Source,
    /// Where it went.
    pub target: Target,
    /// Amount allocated; always positive.
    pub amount: Amount,
}

/// A loan's ledger on a date: what was paid against what, and the credit left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanPosition {
    /// The date the position is for (end of day).
    pub as_of: NaiveDate,
    /// The schedule in force, one entry per installment in due order.
    pub installments: Vec<InstallmentPosition>,
    /// Instalments of earlier schedule versions, ended by an arrangement.
    pub closed: Vec<InstallmentPosition>,
    /// A settlement's remainder: waived when its last payment arrives, due when it breaks.
    pub contingent: Option<InstallmentPosition>,
    /// Overpaid money waiting for the next installment.
    pub credit: Amount,
    /// Every allocation, in the order it was made.
    pub postings: Vec<Posting>,
    /// Every arrangement applied, oldest first.
    pub arrangements: Vec<ArrangementState>,
    /// Waived by waivers and kept settlements.
    pub waived: Amount,
    /// Written off, before recoveries and reversals.
    pub written_off: Parts,
    /// Recovered on written-off debt.
    pub recovered: Amount,
    /// Put back on the book by write-off reversals.
    pub reinstated: Amount,
    /// Sold in an NPL transfer.
    pub sold: Amount,
    /// On the book, written off or sold.
    pub book: BookStatus,
}

impl LoanPosition {
    fn new(as_of: NaiveDate, schedule: &[Installment]) -> LoanPosition {
        LoanPosition {
            as_of,
            installments: schedule
                .iter()
                .map(|i| InstallmentPosition::new(*i, (Amount::ZERO, Amount::ZERO)))
                .collect(),
            closed: Vec::new(),
            contingent: None,
            credit: Amount::ZERO,
            postings: Vec::new(),
            arrangements: Vec::new(),
            waived: Amount::ZERO,
            written_off: Parts::default(),
            recovered: Amount::ZERO,
            reinstated: Amount::ZERO,
            sold: Amount::ZERO,
            book: BookStatus::OnBook,
        }
    }

    /// Principal not yet repaid.
    pub fn outstanding_principal(&self) -> Amount {
        self.installments.iter().chain(&self.contingent).map(|i| i.unpaid_principal()).sum()
    }

    /// True when nothing is owed any more, charged penalty included.
    pub fn is_settled(&self) -> bool {
        self.installments
            .iter()
            .chain(&self.contingent)
            .all(|i| i.unpaid_contractual().is_zero() && i.unpaid_penalty().is_zero())
    }

    /// What the schedule in force owes at the end of `date`: what fell due by it in full, and
    /// the principal not yet due (a settlement's remainder not counted).
    pub fn owed_through(&self, date: NaiveDate) -> Parts {
        let mut p = Parts::default();
        for ip in &self.installments {
            p += ip.owed_on(date.succ_opt().unwrap_or(date));
        }
        p
    }

    /// Written off and neither recovered nor put back on the book since.
    pub fn unrecovered_written_off(&self) -> Amount {
        self.written_off.total() - self.recovered - self.reinstated
    }

    /// The arrangement in force (applied and neither kept, broken nor superseded), if any.
    pub fn active_arrangement(&self) -> Option<&ArrangementState> {
        self.arrangements.last().filter(|a| a.status == ArrangementStatus::Active)
    }

    /// The latest restructuring (an extension or instalment plan that took effect), with
    /// whether the loan was non-performing before it: what the five-class floor reads.
    pub fn restructured(&self) -> Option<(NaiveDate, bool)> {
        self.arrangements
            .iter()
            .rev()
            .find(|a| a.kind.restructures() && a.status != ArrangementStatus::Void)
            .map(|a| (a.on, a.was_non_performing))
    }
}

/// What a loan was charged up to the position's date and where every unit of it stands: the
/// terms of the conservation identity `principal + interest + fee + penalty = paid − credit +
/// waived + written_off + sold + outstanding` (see [`Totals::conserved`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Principal disbursed.
    pub principal: Amount,
    /// Interest of the instalments due by the date (arrears carried into an arrangement once).
    pub interest: Amount,
    /// Fees of the instalments due by the date.
    pub fee: Amount,
    /// Penalty charged.
    pub penalty: Amount,
    /// Payments received with a value date by the date.
    pub paid: Amount,
    /// Of those, held as credit.
    pub credit: Amount,
    /// Waived by waivers and kept settlements.
    pub waived: Amount,
    /// Written off and neither recovered nor put back on the book since.
    pub written_off: Amount,
    /// Sold in an NPL transfer.
    pub sold: Amount,
    /// Still owed: unpaid principal, due or not, and unpaid charges.
    pub outstanding: Amount,
    /// Of what was paid, recovered on written-off debt (reported apart).
    pub recovered: Amount,
}

impl Totals {
    /// Whether what was charged equals where it went.
    pub fn conserved(&self) -> bool {
        self.principal + self.interest + self.fee + self.penalty
            == self.paid - self.credit + self.waived + self.written_off + self.sold + self.outstanding
    }
}

impl LoanPosition {
    /// The position's totals, for `disbursed` principal and the loan's `payments` (those with
    /// a value date after the position's date are not counted).
    pub fn totals(&self, disbursed: Amount, payments: &[Payment]) -> Totals {
        let mut t = Totals {
            principal: disbursed,
            credit: self.credit,
            waived: self.waived,
            written_off: self.unrecovered_written_off(),
            sold: self.sold,
            recovered: self.recovered,
            ..Totals::default()
        };
        t.paid = payments.iter().filter(|p| p.paid_on <= self.as_of).map(|p| p.amount).sum();
        for ip in self.installments.iter().chain(&self.closed).chain(&self.contingent) {
            if ip.installment.due_on <= self.as_of {
                t.interest += ip.installment.interest - ip.carried_interest;
                t.fee += ip.installment.fee - ip.carried_fee;
                t.outstanding += ip.unpaid_interest() + ip.unpaid_fee();
            } else {
                // Carried arrears were charged before they came here: owed already.
                let (i, f) = ip.unpaid_carried();
                t.outstanding += i + f;
            }
            t.penalty += ip.penalty_charged;
            t.outstanding += ip.unpaid_principal() + ip.unpaid_penalty();
        }
        t
    }
}

/// Replays `payments` (value date ≤ `as_of`) against `schedule` and returns the position at the end of `as_of`.
///
/// Order of a day: penalty accrues on principal unpaid at the end of each day;
/// on a date, credit first meets installments falling due, then that date's
/// payments are allocated (by payment id within the day, so the result does not
/// depend on the order of the input).
pub fn replay(
    loan: &Loan,
    schedule: &[Installment],
    payments: &[Payment],
    as_of: NaiveDate,
    waterfall: &Waterfall,
) -> LoanPosition {
    replay_with(loan, schedule, payments, &[], as_of, waterfall)
}

/// [`replay`] with the loan's other ledger `events` (any order; those after `as_of` are not
/// applied). On a date: an arrangement instalment unpaid past its tolerance breaks the
/// arrangement first, then credit and payments are allocated, then that date's events apply
/// (an event takes effect at the end of its date).
pub fn replay_with(
    loan: &Loan,
    schedule: &[Installment],
    payments: &[Payment],
    events: &[LedgerEvent],
    as_of: NaiveDate,
    waterfall: &Waterfall,
) -> LoanPosition {
    let (rate_num, rate_den) = loan.penalty_rate.as_fraction();
    let penalty_den = rate_den * 360;
    let mut order: Vec<usize> = (0..payments.len()).filter(|&i| payments[i].paid_on <= as_of).collect();
    order.sort_by(|&a, &b| {
        (payments[a].paid_on, payments[a].id.as_str()).cmp(&(payments[b].paid_on, payments[b].id.as_str()))
    });
    let mut happen: Vec<&LedgerEvent> = events.iter().filter(|e| e.on <= as_of).collect();
    happen.sort_by(|a, b| (a.on, a.id.as_str()).cmp(&(b.on, b.id.as_str())));

    let mut ledger = Ledger {
        loan,
        grace_days: i64::from(loan.grace_days),
        rate_num,
        penalty_den,
        accrued_through: loan.disbursed_on,
        waterfall: *waterfall,
        pos: LoanPosition::new(as_of, schedule),
    };

    let mut next_payment = 0;
    let mut next_event = 0;
    let mut last: Option<NaiveDate> = None;
    loop {
        let after = |d: NaiveDate| last.is_none_or(|l| d > l) && d <= as_of;
        let pay_date = order.get(next_payment).map(|&i| payments[i].paid_on);
        let event_date = happen.get(next_event).map(|e| e.on);
        // The schedule in force is in due order: the next due date is a binary search away.
        let next = last.map_or(0, |l| ledger.pos.installments.partition_point(|i| i.installment.due_on <= l));
        let due_date = ledger.pos.installments.get(next).map(|i| i.installment.due_on).filter(|d| after(*d));
        let check_date = ledger.next_break_check().filter(|d| after(*d));
        let Some(date) = [pay_date, event_date, due_date, check_date].into_iter().flatten().min() else {
            break;
        };
        ledger.accrue_through(date.pred_opt().unwrap_or(date));
        ledger.charge_penalties(date);
        ledger.check_break(date);
        let due_count = ledger.due_count(date);
        if ledger.pos.credit.minor() > 0 && ledger.pos.book == BookStatus::OnBook {
            let credit = ledger.pos.credit;
            ledger.pos.credit = Amount::ZERO;
            ledger.allocate(date, Source::Credit, credit, due_count);
        }
        while let Some(&i) = order.get(next_payment) {
            if payments[i].paid_on != date {
                break;
            }
            ledger.allocate(date, Source::Payment(i), payments[i].amount, due_count);
            next_payment += 1;
        }
        if happen.get(next_event).is_some_and(|e| e.on == date) {
            // An event sees the end of its day: that day's penalty accrued, as a quote does.
            ledger.accrue_through(date);
            ledger.charge_penalties(date);
        }
        while let Some(e) = happen.get(next_event).filter(|e| e.on == date) {
            ledger.apply(e);
            next_event += 1;
        }
        last = Some(date);
    }
    ledger.accrue_through(as_of);
    ledger.charge_penalties(as_of);
    ledger.pos
}

struct Ledger<'a> {
    loan: &'a Loan,
    grace_days: i64,
    rate_num: i128,
    penalty_den: i128,
    /// Last day whose end-of-day penalty has been accrued.
    accrued_through: NaiveDate,
    waterfall: Waterfall,
    pos: LoanPosition,
}

impl Ledger<'_> {
    /// Accrues penalty for the days after `accrued_through` up to and including `end`.
    fn accrue_through(&mut self, end: NaiveDate) {
        if end <= self.accrued_through {
            return;
        }
        // A settlement's remainder is never overdue while the settlement stands.
        for ip in &mut self.pos.installments {
            let due = ip.installment.due_on;
            if due >= end {
                // Installments are in date order: none later is overdue either.
                break;
            }
            let unpaid = ip.unpaid_principal().minor();
            if unpaid <= 0 || ip.penalty_frozen {
                continue;
            }
            let start = self.accrued_through.max(due);
            let days = days_between(start, end);
            ip.penalty_num += i128::from(unpaid) * i128::from(days) * self.rate_num;
        }
        self.accrued_through = end;
    }

    /// Makes the accrued penalty of installments past their grace days chargeable on `date`.
    fn charge_penalties(&mut self, date: NaiveDate) {
        for ip in &mut self.pos.installments {
            if ip.installment.due_on >= date {
                break;
            }
            if ip.penalty_frozen || days_between(ip.installment.due_on, date) <= self.grace_days {
                continue;
            }
            ip.penalty_charged =
                Amount::from_minor(div_round_half_up(ip.penalty_num, self.penalty_den) as i64);
        }
    }

    /// How many instalments of the schedule in force are due on `date` (they are in due order).
    fn due_count(&self, date: NaiveDate) -> usize {
        self.pos.installments.partition_point(|i| i.installment.due_on <= date)
    }

    /// Allocates `amount` to the first `due_count` installments, oldest first; the rest is a
    /// recovery on written-off debt while any is left unrecovered and nothing on the book is
    /// owed, else credit.
    fn allocate(&mut self, on: NaiveDate, source: Source, amount: Amount, due_count: usize) {
        let mut left = amount;
        let on_book = self.pos.book == BookStatus::OnBook;
        for ip in self.pos.installments.iter_mut().take(if on_book { due_count } else { 0 }) {
            if left.is_zero() {
                break;
            }
            for c in self.waterfall.0 {
                let take = ip.owed(c).min(left);
                if take.minor() > 0 {
                    ip.pay(c, take);
                    left -= take;
                    self.pos.postings.push(Posting {
                        on,
                        source,
                        target: Target::Installment(ip.installment.seq, c),
                        amount: take,
                    });
                }
            }
            if ip.settled_on.is_none() && ip.unpaid_contractual().is_zero() {
                ip.settled_on = Some(on);
                if days_between(ip.installment.due_on, on) <= self.grace_days {
                    // Paid in full within the grace days: the penalty is forgiven.
                    ip.penalty_frozen = true;
                    ip.penalty_num = 0;
                    ip.penalty_charged = ip.paid_penalty + ip.relieved.penalty;
                }
            }
        }
        self.settle_arrangement(on);
        if left.minor() > 0 && self.pos.book != BookStatus::Sold {
            let nothing_owed = self.pos.installments.iter().all(|i| i.unpaid_contractual().is_zero());
            let unrecovered = self.pos.unrecovered_written_off();
            if nothing_owed && unrecovered.minor() > 0 {
                let take = left.min(unrecovered);
                self.pos.recovered += take;
                left -= take;
                self.pos.postings.push(Posting { on, source, target: Target::Recovery, amount: take });
            }
        }
        if left.minor() > 0 {
            self.pos.credit += left;
            self.pos.postings.push(Posting { on, source, target: Target::Credit, amount: left });
        }
    }
}
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::book::{PaymentId, RepaymentMethod};
    use crate::schedule::{generate, tests::d, tests::loan};
    use proptest::prelude::*;

    pub(crate) fn pay(id: &str, on: &str, minor: i64) -> Payment {
        Payment {
            id: PaymentId::new(id).unwrap(),
            loan_id: crate::book::LoanId::new("L1").unwrap(),
            paid_on: d(on),
            amount: Amount::from_minor(minor),
            channel: "bank".into(),
        }
    }

    #[test]
    fn waterfall_pays_oldest_first_penalty_fee_interest_principal() {
        // 3 × 10000.00 at 12%, penalty 36%/yr.
        let mut l = loan(RepaymentMethod::EqualPrincipal, 3_000_000, "0.12", 3, "2024-01-10");
        l.penalty_rate = "0.36".parse().unwrap();
        let s = generate(&l).unwrap();
        // Installment 1 due 2024-02-10: 1000000 principal + 30000 interest, unpaid for 10 days.
        let pos = replay(&l, &s, &[pay("P1", "2024-02-20", 50_000)], d("2024-02-20"), &Waterfall::default());
        // Penalty through 2024-02-19: 1000000 · 0.36/360 · 9 days = 9000.
        let i1 = &pos.installments[0];
        assert_eq!(i1.paid_penalty, Amount::from_minor(9_000));
        assert_eq!(i1.paid_interest, Amount::from_minor(30_000));
        assert_eq!(i1.paid_principal, Amount::from_minor(11_000));
        assert_eq!(pos.credit, Amount::ZERO);
        let kinds: Vec<_> = pos
            .postings
            .iter()
            .map(|p| match p.target {
                Target::Installment(_, c) => c,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, vec![Component::Penalty, Component::Interest, Component::Principal]);
        // End of 2024-02-20: penalty accrues on the 989000 still unpaid for one more day.
        assert_eq!(pos.installments[0].unpaid_penalty(), Amount::from_minor(989));
        assert_eq!(pos.installments[0].penalty_charged, Amount::from_minor(9_989));
    }

    #[test]
    fn grace_days_forgive_penalty_when_paid_in_full() {
        // Due 2024-02-10: 500000 principal. Paid in full on the last grace day: no penalty.
        let mut l2 = loan(RepaymentMethod::EqualPrincipal, 1_000_000, "0", 2, "2024-01-10");
        l2.grace_days = 3;
        let s2 = generate(&l2).unwrap();
        let on_time =
            replay(&l2, &s2, &[pay("P1", "2024-02-13", 500_000)], d("2024-03-01"), &Waterfall::default());
        assert_eq!(on_time.installments[0].penalty_charged, Amount::ZERO);
        assert_eq!(on_time.installments[0].settled_on, Some(d("2024-02-13")));
        // One day later: grace exceeded, penalty for the days from the due date: 500000·0.18/360·3 = 750.
        let late =
            replay(&l2, &s2, &[pay("P1", "2024-02-14", 500_750)], d("2024-03-01"), &Waterfall::default());
        assert_eq!(late.installments[0].penalty_charged, Amount::from_minor(750));
        assert_eq!(late.installments[0].paid_penalty, Amount::from_minor(750));
        assert!(late.installments[0].unpaid_contractual().is_zero());
        // Inside the grace days, nothing is charged yet.
        let inside = replay(&l2, &s2, &[], d("2024-02-12"), &Waterfall::default());
        assert_eq!(inside.installments[0].penalty_charged, Amount::ZERO);
    }

    #[test]
    fn overpayment_becomes_credit_and_meets_the_next_installment() {
        let l = loan(RepaymentMethod::EqualPrincipal, 300_000, "0", 3, "2024-01-31");
        let s = generate(&l).unwrap();
        let pos = replay(&l, &s, &[pay("P1", "2024-02-29", 150_000)], d("2024-03-05"), &Waterfall::default());
        assert_eq!(pos.installments[0].paid_principal, Amount::from_minor(100_000));
        assert_eq!(pos.credit, Amount::from_minor(50_000));
        let later =
            replay(&l, &s, &[pay("P1", "2024-02-29", 150_000)], d("2024-03-31"), &Waterfall::default());
        assert_eq!(later.installments[1].paid_principal, Amount::from_minor(50_000));
        assert_eq!(later.credit, Amount::ZERO);
        assert!(
            later
                .postings
                .iter()
                .any(|p| p.source == Source::Credit && matches!(p.target, Target::Installment(2, _)))
        );
        // A payment before the first due date is held as credit until then.
        let early =
            replay(&l, &s, &[pay("P0", "2024-02-10", 100_000)], d("2024-02-29"), &Waterfall::default());
        assert_eq!(early.installments[0].paid_principal, Amount::from_minor(100_000));
        assert_eq!(early.installments[0].settled_on, Some(d("2024-02-29")));
    }

    #[test]
    fn payments_after_as_of_are_ignored_and_order_of_input_does_not_matter() {
        let l = loan(RepaymentMethod::Annuity, 1_200_000, "0.12", 12, "2024-01-15");
        let s = generate(&l).unwrap();
        let a = [pay("A", "2024-03-01", 50_000), pay("B", "2024-03-01", 70_000), pay("C", "2024-05-01", 1)];
        let b = [a[2].clone(), a[1].clone(), a[0].clone()];
        let pa = replay(&l, &s, &a, d("2024-04-01"), &Waterfall::default());
        let pb = replay(&l, &s, &b, d("2024-04-01"), &Waterfall::default());
        assert_eq!(pa.installments, pb.installments);
        assert_eq!(pa.postings.len(), pb.postings.len());
        let from_payments = pa.postings.iter().filter(|p| matches!(p.source, Source::Payment(_)));
        assert_eq!(from_payments.map(|p| p.amount).sum::<Amount>(), Amount::from_minor(120_000));
    }

    fn arb_payments() -> impl Strategy<Value = Vec<(u32, i64)>> {
        prop::collection::vec((0u32..900, 1i64..2_000_000), 0..25)
    }

    proptest! {
        #[test]
        fn allocation_conserves_money_and_is_deterministic(
            method in prop::sample::select(RepaymentMethod::ALL.to_vec()),
            principal in 100i64..5_000_000,
            n in 1u32..36,
            raw in arb_payments(),
            grace in 0u32..10,
            as_of_day in 0u32..1200,
        ) {
            let mut l = loan(method, principal, "0.15", n, "2022-01-31");
            l.grace_days = grace;
            let s = generate(&l).unwrap();
            let payments: Vec<Payment> = raw.iter().enumerate()
                .map(|(i, (day, amt))| {
                    let on = d("2022-01-31") + chrono::Days::new(u64::from(*day));
                    pay(&format!("P{i:03}"), &on.to_string(), *amt)
                })
                .collect();
            let as_of = d("2022-01-31") + chrono::Days::new(u64::from(as_of_day));
            let pos = replay(&l, &s, &payments, as_of, &Waterfall::default());
            let received: Amount = payments.iter().filter(|p| p.paid_on <= as_of).map(|p| p.amount).sum();
            // Every payment is fully allocated: to installments or to credit.
            for (i, p) in payments.iter().enumerate() {
                if p.paid_on > as_of { continue; }
                let out: Amount = pos.postings.iter().filter(|x| x.source == Source::Payment(i)).map(|x| x.amount).sum();
                prop_assert_eq!(out, p.amount);
            }
            let paid: Amount = pos.installments.iter()
                .map(|i| i.paid_principal + i.paid_interest + i.paid_fee + i.paid_penalty).sum();
            prop_assert_eq!(paid + pos.credit, received);
            // And every unit charged is paid or still owed (the totals' identity).
            let t = pos.totals(l.principal, &payments);
            prop_assert!(t.conserved(), "{:?}", t);
            prop_assert_eq!(t.paid, received);
            for ip in &pos.installments {
                prop_assert!(!ip.unpaid_principal().is_negative());
                prop_assert!(!ip.unpaid_interest().is_negative());
                prop_assert!(!ip.unpaid_penalty().is_negative());
            }
            prop_assert!(pos.postings.iter().all(|p| p.amount.minor() > 0));
            prop_assert!(!pos.credit.is_negative());
            let again = replay(&l, &s, &payments, as_of, &Waterfall::default());
            prop_assert_eq!(pos, again);
        }
    }
}
