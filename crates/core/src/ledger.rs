//! The loan ledger: replays payments against the schedule in date order, accruing
//! penalty interest (罚息) and allocating each payment by the waterfall (冲账顺序).
//!
//! Everything owed on a date is derived from (terms, schedule, payments, date), so
//! a payment that arrives late with a past value date gives exactly the position
//! it would have given on time.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::book::{Loan, Payment};
use crate::calendar::days_between;
use crate::money::{Amount, div_round_half_up};
use crate::schedule::Installment;

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
    /// Exact accrued penalty as `rate numerator × principal × days`; divide by the loan's denominator.
    penalty_num: i128,
    /// Paid in full within the grace days: no penalty ever.
    penalty_waived: bool,
}

impl InstallmentPosition {
    /// Unpaid principal.
    pub fn unpaid_principal(&self) -> Amount {
        self.installment.principal - self.paid_principal
    }

    /// Unpaid interest.
    pub fn unpaid_interest(&self) -> Amount {
        self.installment.interest - self.paid_interest
    }

    /// Unpaid fee.
    pub fn unpaid_fee(&self) -> Amount {
        self.installment.fee - self.paid_fee
    }

    /// Charged and unpaid penalty.
    pub fn unpaid_penalty(&self) -> Amount {
        self.penalty_charged - self.paid_penalty
    }

    /// Unpaid principal + interest + fee: what decides DPD.
    pub fn unpaid_contractual(&self) -> Amount {
        self.unpaid_principal() + self.unpaid_interest() + self.unpaid_fee()
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

/// One allocated amount: from a source to one component of one installment (or to credit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// Value date of the allocation.
    pub on: NaiveDate,
    /// Where the money came from.
    pub source: Source,
    /// The installment paid, or `None` when the money went to the credit balance.
    pub seq: Option<u32>,
    /// The component paid; `None` together with `seq == None`.
    pub component: Option<Component>,
    /// Amount allocated; always positive.
    pub amount: Amount,
}

/// A loan's ledger on a date: what was paid against what, and the credit left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanPosition {
    /// The date the position is for (end of day).
    pub as_of: NaiveDate,
    /// One entry per installment, in schedule order.
    pub installments: Vec<InstallmentPosition>,
    /// Overpaid money waiting for the next installment.
    pub credit: Amount,
    /// Every allocation, in the order it was made.
    pub postings: Vec<Posting>,
}

impl LoanPosition {
    /// Principal not yet repaid.
    pub fn outstanding_principal(&self) -> Amount {
        self.installments.iter().map(|i| i.unpaid_principal()).sum()
    }

    /// True when nothing is owed any more, charged penalty included.
    pub fn is_settled(&self) -> bool {
        self.installments.iter().all(|i| i.unpaid_contractual().is_zero() && i.unpaid_penalty().is_zero())
    }
}

/// What a loan was charged up to the position's date and where every unit of it stands: the
/// terms of the conservation identity `principal + interest + fee + penalty = paid − credit +
/// waived + written_off + sold + outstanding` (see [`Totals::conserved`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Principal disbursed.
    pub principal: Amount,
    /// Interest of the instalments due by the date.
    pub interest: Amount,
    /// Fees of the instalments due by the date.
    pub fee: Amount,
    /// Penalty charged.
    pub penalty: Amount,
    /// Payments received with a value date by the date.
    pub paid: Amount,
    /// Of those, held as credit.
    pub credit: Amount,
    /// Waived by arrangements (none until arrangements change a loan's ledger).
    pub waived: Amount,
    /// Written off (none until write-off is built).
    pub written_off: Amount,
    /// Sold in an NPL transfer (none until transfers are built).
    pub sold: Amount,
    /// Still owed: unpaid principal, due or not, and unpaid charges.
    pub outstanding: Amount,
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
        let mut t = Totals { principal: disbursed, credit: self.credit, ..Totals::default() };
        t.paid = payments.iter().filter(|p| p.paid_on <= self.as_of).map(|p| p.amount).sum();
        for ip in &self.installments {
            let due = ip.installment.due_on <= self.as_of;
            if due {
                t.interest += ip.installment.interest;
                t.fee += ip.installment.fee;
                t.outstanding += ip.unpaid_interest() + ip.unpaid_fee();
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
    let (rate_num, rate_den) = loan.penalty_rate.as_fraction();
    let penalty_den = rate_den * 360;
    let mut order: Vec<usize> = (0..payments.len()).filter(|&i| payments[i].paid_on <= as_of).collect();
    order.sort_by(|&a, &b| {
        (payments[a].paid_on, payments[a].id.as_str()).cmp(&(payments[b].paid_on, payments[b].id.as_str()))
    });

    let mut ledger = Ledger {
        grace_days: i64::from(loan.grace_days),
        rate_num,
        penalty_den,
        accrued_through: loan.disbursed_on,
        waterfall: *waterfall,
        pos: LoanPosition {
            as_of,
            installments: schedule
                .iter()
                .map(|inst| InstallmentPosition {
                    installment: *inst,
                    paid_principal: Amount::ZERO,
                    paid_interest: Amount::ZERO,
                    paid_fee: Amount::ZERO,
                    paid_penalty: Amount::ZERO,
                    penalty_charged: Amount::ZERO,
                    settled_on: None,
                    penalty_num: 0,
                    penalty_waived: false,
                })
                .collect(),
            credit: Amount::ZERO,
            postings: Vec::new(),
        },
    };

    let mut next_payment = 0;
    let mut next_due = 0;
    loop {
        let pay_date = order.get(next_payment).map(|&i| payments[i].paid_on);
        let due_date = schedule.get(next_due).map(|i| i.due_on).filter(|d| *d <= as_of);
        let date = match (pay_date, due_date) {
            (None, None) => break,
            (Some(p), None) => p,
            (None, Some(d)) => d,
            (Some(p), Some(d)) => p.min(d),
        };
        ledger.accrue_through(date.pred_opt().unwrap_or(date));
        ledger.charge_penalties(date);
        while schedule.get(next_due).is_some_and(|i| i.due_on <= date) {
            next_due += 1;
        }
        if ledger.pos.credit.minor() > 0 {
            let credit = ledger.pos.credit;
            ledger.pos.credit = Amount::ZERO;
            ledger.allocate(date, Source::Credit, credit, next_due);
        }
        while let Some(&i) = order.get(next_payment) {
            if payments[i].paid_on != date {
                break;
            }
            ledger.allocate(date, Source::Payment(i), payments[i].amount, next_due);
            next_payment += 1;
        }
    }
    ledger.accrue_through(as_of);
    ledger.charge_penalties(as_of);
    ledger.pos
}

struct Ledger {
    grace_days: i64,
    rate_num: i128,
    penalty_den: i128,
    /// Last day whose end-of-day penalty has been accrued.
    accrued_through: NaiveDate,
    waterfall: Waterfall,
    pos: LoanPosition,
}

impl Ledger {
    /// Accrues penalty for the days after `accrued_through` up to and including `end`.
    fn accrue_through(&mut self, end: NaiveDate) {
        if end <= self.accrued_through {
            return;
        }
        for ip in &mut self.pos.installments {
            let due = ip.installment.due_on;
            if due >= end {
                // Installments are in date order: none later is overdue either.
                break;
            }
            let unpaid = ip.unpaid_principal().minor();
            if unpaid <= 0 || ip.penalty_waived {
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
            if ip.penalty_waived || days_between(ip.installment.due_on, date) <= self.grace_days {
                continue;
            }
            ip.penalty_charged =
                Amount::from_minor(div_round_half_up(ip.penalty_num, self.penalty_den) as i64);
        }
    }

    /// Allocates `amount` to the first `due_count` installments, oldest first; the rest becomes credit.
    fn allocate(&mut self, on: NaiveDate, source: Source, amount: Amount, due_count: usize) {
        let mut left = amount;
        for ip in self.pos.installments.iter_mut().take(due_count) {
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
                        seq: Some(ip.installment.seq),
                        component: Some(c),
                        amount: take,
                    });
                }
            }
            if ip.settled_on.is_none() && ip.unpaid_contractual().is_zero() {
                ip.settled_on = Some(on);
                if days_between(ip.installment.due_on, on) <= self.grace_days {
                    // Paid in full within the grace days: the penalty is forgiven.
                    ip.penalty_waived = true;
                    ip.penalty_num = 0;
                    ip.penalty_charged = ip.paid_penalty;
                }
            }
        }
        if left.minor() > 0 {
            self.pos.credit += left;
            self.pos.postings.push(Posting { on, source, seq: None, component: None, amount: left });
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
        let kinds: Vec<_> = pos.postings.iter().map(|p| p.component.unwrap()).collect();
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
        assert!(later.postings.iter().any(|p| p.source == Source::Credit && p.seq == Some(2)));
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
