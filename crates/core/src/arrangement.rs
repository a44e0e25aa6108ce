//! Arrangements (展期, 分期, 减免结清, 减免) quoted before anyone approves them: the new
//! schedule, what the borrower pays in all, what is waived, and the five-class category after.
//! Pure: the loan's position on the quote date is a parameter.
//!
//! What is owed on the quote date D: the unpaid principal of every instalment, and the unpaid
//! interest and fee of instalments due before D (the arrears), the charged and unpaid penalty,
//! less the credit waiting. Interest not yet due is not owed: the new schedules charge their own.
//!
//! - **Extension** (展期) by N months: the outstanding principal re-amortised by the loan's own
//!   method over the instalments not yet due plus N, monthly from D; the arrears are due with
//!   the first new instalment (interest as interest, fee and penalty as fee).
//! - **Instalment plan** (分期 / re-ageing) over N months: the outstanding principal amortised by
//!   the loan's method over N months from D, the arrears spread evenly over the N instalments;
//!   a down payment, when given, is due on D and pays penalty and fees, then interest, then
//!   principal, before the rest is spread.
//! - **Settlement** (减免结清) of X in k monthly payments (one by default): X must be less than
//!   what is owed; it pays principal first, then interest, then fees and penalty, and the rest
//!   is waived only once the last payment arrives (a missed payment voids it, nothing waived).
//! - **Waiver** of penalty and fees (all of them, or X of them, penalty first): the rest of the
//!   schedule is unchanged.
//!
//! An extension or an instalment plan is a restructuring: the loan is at least special mention
//! after it, and at least substandard if it was non-performing (substandard or worse) before
//! (2023 rules). A settlement or a waiver of penalty and fees alone changes no contractual
//! term: the class stays the one its DPD gives.

use chrono::NaiveDate;

use crate::book::{Loan, RepaymentMethod};
use crate::calendar::add_months_clamped;
use crate::delinquency::{ClassThresholds, FiveClass};
use crate::ledger::LoanPosition;
use crate::money::Amount;
use crate::schedule::{Installment, ScheduleError, generate};

/// The kinds of arrangement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrangementKind {
    /// 展期: maturity moved by N months.
    Extension,
    /// 分期: arrears and outstanding re-amortised over N months.
    InstalmentPlan,
    /// 减免结清: less than the total, the rest waived once paid.
    Settlement,
    /// 减免: penalty interest and fees waived.
    Waiver,
}

impl ArrangementKind {
    /// Every kind.
    pub const ALL: [ArrangementKind; 4] = [
        ArrangementKind::Extension,
        ArrangementKind::InstalmentPlan,
        ArrangementKind::Settlement,
        ArrangementKind::Waiver,
    ];

    /// The code used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ArrangementKind::Extension => "extension",
            ArrangementKind::InstalmentPlan => "instalment_plan",
            ArrangementKind::Settlement => "settlement",
            ArrangementKind::Waiver => "waiver",
        }
    }

    /// Reads a code.
    pub fn parse(text: &str) -> Option<ArrangementKind> {
        ArrangementKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether it changes the contract's terms (a restructuring, for the five-class rules).
    pub fn restructures(self) -> bool {
        matches!(self, ArrangementKind::Extension | ArrangementKind::InstalmentPlan)
    }
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// The kind.
    pub kind: ArrangementKind,
    /// Months of an extension or plan; payments of a settlement (default one).
    pub months: Option<u32>,
    /// The settlement amount, the plan's down payment, or the amount of penalty and fees waived.
    pub amount: Option<Amount>,
    /// The product's longest extension or plan, in months.
    pub max_months: u32,
}

/// What is owed on the quote date, by component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owed {
    /// Unpaid principal, due or not.
    pub principal: Amount,
    /// Unpaid interest of instalments due before the date (and arrears carried into one not
    /// yet due by an earlier arrangement).
    pub interest: Amount,
    /// Unpaid fees of instalments due before the date (and carried ones).
    pub fee: Amount,
    /// Charged, unpaid penalty.
    pub penalty: Amount,
    /// Credit waiting to be applied.
    pub credit: Amount,
}

impl Owed {
    /// What is owed on the position's date.
    pub fn of(position: &LoanPosition) -> Owed {
        Owed::on(position, position.as_of)
    }

    /// What the schedule in force owes on `date` (the position being of the end of that
    /// date): what [`crate::ledger::InstallmentPosition::owed_on`] says of each instalment.
    pub fn on(position: &LoanPosition, date: NaiveDate) -> Owed {
        let mut o = Owed { credit: position.credit, ..Owed::default() };
        for ip in &position.installments {
            let p = ip.owed_on(date);
            o.principal += p.principal;
            o.interest += p.interest;
            o.fee += p.fee;
            o.penalty += p.penalty;
        }
        o
    }

    /// Interest, fees and penalty in arrears.
    pub fn arrears_charges(&self) -> Amount {
        self.interest + self.fee + self.penalty
    }

    /// All of it, less the credit.
    pub fn total(&self) -> Amount {
        (self.principal + self.arrears_charges() - self.credit).clamp_zero()
    }
}

/// A quoted arrangement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The kind.
    pub kind: ArrangementKind,
    /// The new schedule.
    pub schedule: Vec<Installment>,
    /// What the borrower pays in all under it, beyond the credit already held.
    pub total_to_pay: Amount,
    /// What is waived (for a settlement, only once its last payment arrives).
    pub waived: Amount,
    /// The five-class category once it is approved.
    pub five_class_after: FiveClass,
    /// What was owed when quoted.
    pub owed: Owed,
}

/// Why an arrangement cannot be quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// Months missing for a kind that needs them.
    #[error("a {0} needs --months")]
    MonthsMissing(&'static str),
    /// Months outside 1..=max.
    #[error("months {months} is out of range: 1 to {max} for this product")]
    MonthsOutOfRange {
        /// Asked.
        months: u32,
        /// The product's longest.
        max: u32,
    },
    /// An amount missing for a kind that needs one.
    #[error("a {0} needs --amount")]
    AmountMissing(&'static str),
    /// A settlement of the whole balance or more.
    #[error("a settlement of {amount} is not less than the {owed} owed: that is payment in full")]
    SettlementNotLess {
        /// Offered, in major units.
        amount: String,
        /// Owed.
        owed: String,
    },
    /// A non-positive amount.
    #[error("the amount must be positive, not {0}")]
    NonPositive(String),
    /// A waiver of more penalty and fees than are owed.
    #[error("a waiver of {amount} is more than the {waivable} of penalty and fees owed")]
    WaiverTooLarge {
        /// Asked, in major units.
        amount: String,
        /// Penalty and fees owed.
        waivable: String,
    },
    /// A down payment of the whole balance or more.
    #[error("a down payment of {amount} is not less than the {owed} owed")]
    DownPaymentTooLarge {
        /// Asked, in major units.
        amount: String,
        /// Owed.
        owed: String,
    },
    /// Nothing is owed.
    #[error("nothing is owed on the loan on {0}")]
    NothingOwed(NaiveDate),
    /// The new schedule could not be built.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// One instalment of an arrangement's schedule, with what of it was already charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedRow {
    /// The instalment.
    pub installment: Installment,
    /// Of its interest, arrears carried from the schedule it replaces.
    pub carried_interest: Amount,
    /// Of its fee, fees and penalty carried from the schedule it replaces.
    pub carried_fee: Amount,
}

/// What an arrangement does to the ledger on its date: the schedule that replaces the one in
/// force, what is waived, and a settlement's remainder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The new schedule, seq from 1.
    pub rows: Vec<PlannedRow>,
    /// Waived: at once for a waiver, once kept for a settlement.
    pub waived: Amount,
    /// A settlement's remainder before credit (principal, interest, fee and penalty as fee):
    /// owed until the settlement is kept, then waived.
    pub contingent: Option<crate::ledger::Parts>,
    /// What was owed on the date.
    pub owed: Owed,
}

/// Plans `terms` for `loan` on `date`, `position` being the end of that date.
pub fn plan(
    loan: &Loan,
    position: &LoanPosition,
    date: NaiveDate,
    terms: &Terms,
) -> Result<Plan, QuoteError> {
    let owed = Owed::on(position, date);
    let money = |a: Amount| a.format(loan.currency);
    if owed.total().is_zero() {
        return Err(QuoteError::NothingOwed(date));
    }
    if let Some(a) = terms.amount
        && a.minor() <= 0
    {
        return Err(QuoteError::NonPositive(money(a)));
    }
    let kind = terms.kind;
    let months = |default: Option<u32>| -> Result<u32, QuoteError> {
        let m = terms.months.or(default).ok_or(QuoteError::MonthsMissing(kind.as_str()))?;
        if m == 0 || m > terms.max_months {
            return Err(QuoteError::MonthsOutOfRange { months: m, max: terms.max_months });
        }
        Ok(m)
    };
    let fresh = |installment: Installment| PlannedRow {
        installment,
        carried_interest: Amount::ZERO,
        carried_fee: Amount::ZERO,
    };
    let all_carried = |installment: Installment| PlannedRow {
        installment,
        carried_interest: installment.interest,
        carried_fee: installment.fee,
    };
    let mut contingent = None;
    let (mut rows, waived): (Vec<PlannedRow>, Amount) = match kind {
        ArrangementKind::Extension => {
            let not_yet_due = position
                .installments
                .iter()
                .filter(|ip| ip.installment.due_on >= date && !ip.unpaid_contractual().is_zero())
                .count() as u32;
            let mut s: Vec<PlannedRow> = amortise(loan, owed.principal, not_yet_due + months(None)?, date)?
                .into_iter()
                .map(fresh)
                .collect();
            if let Some(first) = s.first_mut() {
                first.installment.interest += owed.interest;
                first.installment.fee += owed.fee + owed.penalty;
                first.carried_interest = owed.interest;
                first.carried_fee = owed.fee + owed.penalty;
            }
            (s, Amount::ZERO)
        }
        ArrangementKind::InstalmentPlan => {
            let n = months(None)?;
            let mut charges = [owed.penalty + owed.fee, owed.interest];
            let mut principal = owed.principal;
            let mut out = Vec::new();
            if let Some(down) = terms.amount {
                let before = owed.principal + owed.arrears_charges();
                if down >= before {
                    return Err(QuoteError::DownPaymentTooLarge { amount: money(down), owed: money(before) });
                }
                // Penalty and fees first, then interest, then principal.
                let mut left = down;
                let mut paid = [Amount::ZERO; 3];
                for (i, part) in charges.iter_mut().chain(std::iter::once(&mut principal)).enumerate() {
                    let take = left.min(*part);
                    *part -= take;
                    left -= take;
                    paid[i] = take;
                }
                out.push(all_carried(Installment {
                    seq: 0,
                    due_on: date,
                    principal: paid[2],
                    interest: paid[1],
                    fee: paid[0],
                }));
            }
            let mut plan: Vec<PlannedRow> =
                amortise(loan, principal, n, date)?.into_iter().map(fresh).collect();
            spread(&mut plan, charges[1], |r| [&mut r.installment.interest, &mut r.carried_interest]);
            spread(&mut plan, charges[0], |r| [&mut r.installment.fee, &mut r.carried_fee]);
            out.extend(plan);
            (out, Amount::ZERO)
        }
        ArrangementKind::Settlement => {
            let k = months(Some(1))?;
            let amount = terms.amount.ok_or(QuoteError::AmountMissing("settlement"))?;
            let total = owed.total();
            if amount >= total {
                return Err(QuoteError::SettlementNotLess { amount: money(amount), owed: money(total) });
            }
            let mut out = Vec::with_capacity(k as usize);
            // Principal first, then interest, then fees and penalty: the waiver falls on the charges.
            let mut parts = [owed.principal, owed.interest, owed.fee + owed.penalty];
            let per = Amount::from_minor(amount.minor() / i64::from(k));
            let mut left = amount;
            for seq in 1..=k {
                let pay = if seq == k { left } else { per };
                left -= pay;
                let mut rest = pay;
                let mut row = [Amount::ZERO; 3];
                for (i, part) in parts.iter_mut().enumerate() {
                    let take = rest.min(*part);
                    *part -= take;
                    rest -= take;
                    row[i] = take;
                }
                let due_on = add_months_clamped(date, seq).ok_or(ScheduleError::DateOutOfRange)?;
                out.push(all_carried(Installment {
                    seq,
                    due_on,
                    principal: row[0],
                    interest: row[1],
                    fee: row[2],
                }));
            }
            contingent = Some(crate::ledger::Parts {
                principal: parts[0],
                interest: parts[1],
                fee: parts[2],
                penalty: Amount::ZERO,
            });
            (out, total - amount)
        }
        ArrangementKind::Waiver => {
            // What fell due before the date, and the penalty: the arrears, waived from.
            let mut arrears = crate::ledger::Parts::default();
            for ip in position.installments.iter().filter(|ip| ip.installment.due_on < date) {
                arrears += ip.owed_on(date);
            }
            let waivable = arrears.penalty + arrears.fee;
            let amount = terms.amount.unwrap_or(waivable);
            if waivable.is_zero() || amount > waivable {
                return Err(QuoteError::WaiverTooLarge { amount: money(amount), waivable: money(waivable) });
            }
            // The arrears as one instalment due now, less the waiver; the rest as scheduled.
            let mut out = vec![all_carried(Installment {
                seq: 0,
                due_on: date,
                principal: arrears.principal,
                interest: arrears.interest,
                fee: arrears.fee + arrears.penalty - amount,
            })];
            out.extend(
                position
                    .installments
                    .iter()
                    .filter(|ip| ip.installment.due_on >= date && !ip.unpaid_contractual().is_zero())
                    .map(|ip| {
                        let (carried_interest, carried_fee) = ip.unpaid_carried();
                        PlannedRow {
                            installment: Installment {
                                seq: 0,
                                due_on: ip.installment.due_on,
                                principal: ip.unpaid_principal(),
                                interest: ip.unpaid_interest(),
                                fee: ip.unpaid_fee(),
                            },
                            carried_interest,
                            carried_fee,
                        }
                    }),
            );
            (out, amount)
        }
    };
    for (i, row) in rows.iter_mut().enumerate() {
        row.installment.seq = i as u32 + 1;
    }
    Ok(Plan { rows, waived, contingent, owed })
}

/// Quotes `terms` for `loan` at `position` (its date the quote date), whose DPD is `dpd` under
/// the product's `classes`.
pub fn quote(
    loan: &Loan,
    position: &LoanPosition,
    dpd: u32,
    classes: &ClassThresholds,
    terms: &Terms,
) -> Result<Quote, QuoteError> {
    let kind = terms.kind;
    let p = plan(loan, position, position.as_of, terms)?;
    let owed = p.owed;
    let schedule: Vec<Installment> = p.rows.iter().map(|r| r.installment).collect();
    let charged = schedule.iter().map(Installment::total).sum::<Amount>();
    // A settlement's amount is new money on top of the credit it already counted; the other
    // schedules are met by the credit first.
    let total_to_pay =
        if kind == ArrangementKind::Settlement { charged } else { (charged - owed.credit).clamp_zero() };
    let before = classes.by_dpd(dpd);
    let five_class_after = if kind.restructures() {
        classes.classify(0, Some(before >= FiveClass::Substandard))
    } else {
        before
    };
    Ok(Quote { kind, schedule, total_to_pay, waived: p.waived, five_class_after, owed })
}

/// `principal` amortised by the loan's method over `months` monthly instalments from `from`.
fn amortise(
    loan: &Loan,
    principal: Amount,
    months: u32,
    from: NaiveDate,
) -> Result<Vec<Installment>, QuoteError> {
    if principal.is_zero() {
        // Nothing left to amortise: instalments of charges only.
        return (1..=months)
            .map(|k| {
                let due_on = add_months_clamped(from, k).ok_or(ScheduleError::DateOutOfRange)?;
                Ok(Installment {
                    seq: k,
                    due_on,
                    principal: Amount::ZERO,
                    interest: Amount::ZERO,
                    fee: Amount::ZERO,
                })
            })
            .collect();
    }
    // A bullet loan extended stays a bullet: one instalment at the new maturity.
    let method = loan.method;
    let terms = Loan { principal, term_months: months, disbursed_on: from, method, ..loan.clone() };
    let mut s = generate(&terms)?;
    if method == RepaymentMethod::Bullet {
        s.truncate(1);
    }
    Ok(s)
}

/// Adds `amount` over the rows evenly, the last taking what rounding leaves, to each of the
/// fields `fields` names (the instalment's and what of it is carried).
fn spread(rows: &mut [PlannedRow], amount: Amount, fields: impl Fn(&mut PlannedRow) -> [&mut Amount; 2]) {
    let n = rows.len() as i64;
    if n == 0 {
        return;
    }
    let per = Amount::from_minor(amount.minor() / n);
    let mut left = amount;
    let last = rows.len() - 1;
    for (i, row) in rows.iter_mut().enumerate() {
        let add = if i == last { left } else { per };
        for f in fields(row) {
            *f += add;
        }
        left -= add;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_iso_date;
    use crate::ledger::tests::pay;
    use crate::ledger::{Waterfall, replay};
    use crate::schedule::tests::loan;

    fn d(s: &str) -> NaiveDate {
        parse_iso_date(s).unwrap()
    }

    /// A 12 × 1,000.00 equal-principal loan at 12% from 15 Jan 2026, penalty 18%; the first
    /// three instalments paid, the fourth (due 15 May) not: on `as_of`, what it owes.
    fn position(as_of: &str) -> (Loan, LoanPosition) {
        let l = loan(RepaymentMethod::EqualPrincipal, 1_200_000, "0.12", 12, "2026-01-15");
        let s = generate(&l).unwrap();
        let paid: Vec<_> = s[..3]
            .iter()
            .enumerate()
            .map(|(i, r)| pay(&format!("P{i}"), &r.due_on.to_string(), r.total().minor()))
            .collect();
        let p = replay(&l, &s, &paid, d(as_of), &Waterfall::default());
        (l, p)
    }

    fn terms(kind: ArrangementKind, months: Option<u32>, amount: Option<i64>) -> Terms {
        Terms { kind, months, amount: amount.map(Amount::from_minor), max_months: 36 }
    }

    fn q(as_of: &str, dpd: u32, t: Terms) -> Result<Quote, QuoteError> {
        let (l, p) = position(as_of);
        quote(&l, &p, dpd, &ClassThresholds::default(), &t)
    }

    #[test]
    fn owed_counts_arrears_and_all_principal_but_no_interest_not_yet_due() {
        let (_, p) = position("2026-06-01");
        let o = Owed::of(&p);
        assert_eq!(o.principal, Amount::from_minor(900_000));
        // May's interest: 1% of the 900,000.00 left after three payments.
        assert_eq!(o.interest, Amount::from_minor(9_000));
        assert!(o.penalty.minor() > 0, "17 days of penalty on May's principal");
        assert_eq!(o.total(), o.principal + o.interest + o.penalty);
    }

    #[test]
    fn each_kind_keeps_the_principal_and_says_what_is_paid_and_waived() {
        let (_, p) = position("2026-06-01");
        let owed = Owed::of(&p);
        // (kind, months, amount, rows, first due, waived)
        type Row<'a> = (ArrangementKind, Option<u32>, Option<i64>, usize, &'a str, i64);
        let table: &[Row] = &[
            // 8 instalments not yet due (June to January) + 6: 14 monthly from 1 June.
            (ArrangementKind::Extension, Some(6), None, 14, "2026-07-01", 0),
            (ArrangementKind::InstalmentPlan, Some(10), None, 10, "2026-07-01", 0),
            // A down payment due today, then the plan.
            (ArrangementKind::InstalmentPlan, Some(10), Some(50_000), 11, "2026-06-01", 0),
            (
                ArrangementKind::Settlement,
                None,
                Some(600_000),
                1,
                "2026-07-01",
                owed.total().minor() - 600_000,
            ),
            (
                ArrangementKind::Settlement,
                Some(3),
                Some(600_000),
                3,
                "2026-07-01",
                owed.total().minor() - 600_000,
            ),
            (ArrangementKind::Waiver, None, None, 9, "2026-06-01", owed.penalty.minor()),
        ];
        for &(kind, months, amount, rows, first, waived) in table {
            let got = q("2026-06-01", 17, terms(kind, months, amount)).unwrap();
            let what = format!("{kind:?} {months:?} {amount:?}");
            assert_eq!(got.schedule.len(), rows, "{what}");
            assert_eq!(got.schedule[0].due_on, d(first), "{what}");
            assert_eq!(got.waived.minor(), waived, "{what}");
            assert!(got.schedule.iter().enumerate().all(|(i, r)| r.seq == i as u32 + 1), "{what}");
            let principal: Amount = got.schedule.iter().map(|r| r.principal).sum();
            let charged: Amount = got.schedule.iter().map(Installment::total).sum();
            let net = if kind == ArrangementKind::Settlement { charged } else { charged - owed.credit };
            assert_eq!(got.total_to_pay, net, "{what}");
            match kind {
                // Paid and waived make up exactly what is owed.
                ArrangementKind::Settlement => {
                    assert_eq!(got.total_to_pay + got.waived, owed.total(), "{what}");
                    assert_eq!(
                        principal,
                        Amount::from_minor(600_000).min(owed.principal),
                        "{what}: principal first"
                    );
                }
                // Every unit of principal is still to be paid, and the arrears' charges too.
                _ => {
                    assert_eq!(principal, owed.principal, "{what}");
                    assert!(got.total_to_pay + got.waived >= owed.total(), "{what}");
                }
            }
        }
        // The down payment pays penalty and interest before principal.
        let down =
            q("2026-06-01", 17, terms(ArrangementKind::InstalmentPlan, Some(10), Some(50_000))).unwrap();
        let first = down.schedule[0];
        assert_eq!(first.fee, owed.penalty + owed.fee);
        assert_eq!(first.interest, owed.interest);
        assert_eq!(first.total().minor(), 50_000);
    }

    #[test]
    fn restructuring_sets_a_floor_on_the_class_and_settlement_does_not() {
        let table = [
            (ArrangementKind::Extension, 0, FiveClass::SpecialMention),
            (ArrangementKind::Extension, 90, FiveClass::SpecialMention),
            (ArrangementKind::Extension, 91, FiveClass::Substandard),
            (ArrangementKind::InstalmentPlan, 400, FiveClass::Substandard),
            (ArrangementKind::Settlement, 17, FiveClass::SpecialMention),
            (ArrangementKind::Settlement, 300, FiveClass::Doubtful),
            (ArrangementKind::Waiver, 17, FiveClass::SpecialMention),
        ];
        for (kind, dpd, want) in table {
            let t =
                terms(kind, Some(6), if kind == ArrangementKind::Settlement { Some(100_000) } else { None });
            assert_eq!(q("2026-06-01", dpd, t).unwrap().five_class_after, want, "{kind:?} at {dpd} DPD");
        }
    }

    #[test]
    fn bad_terms_are_refused_saying_why() {
        let (_, p) = position("2026-06-01");
        let total = Owed::of(&p).total().minor();
        let table: &[(Terms, &str)] = &[
            (terms(ArrangementKind::Extension, None, None), "a extension needs --months"),
            (terms(ArrangementKind::Extension, Some(0), None), "months 0 is out of range: 1 to 36"),
            (terms(ArrangementKind::InstalmentPlan, Some(37), None), "months 37 is out of range"),
            (terms(ArrangementKind::Settlement, None, None), "a settlement needs --amount"),
            (terms(ArrangementKind::Settlement, None, Some(total)), "is not less than"),
            (terms(ArrangementKind::Settlement, None, Some(-5)), "must be positive"),
            (terms(ArrangementKind::Waiver, None, Some(total)), "is more than the"),
            (terms(ArrangementKind::InstalmentPlan, Some(3), Some(total)), "down payment"),
        ];
        for (t, want) in table {
            let e = q("2026-06-01", 17, *t).unwrap_err().to_string();
            assert!(e.contains(want), "{t:?}: {e}");
        }
        // A loan paid in full owes nothing to arrange.
        let l = loan(RepaymentMethod::Bullet, 100_000, "0.12", 1, "2026-01-15");
        let s = generate(&l).unwrap();
        let paid = replay(
            &l,
            &s,
            &[pay("P", "2026-01-20", s[0].total().minor())],
            d("2026-03-01"),
            &Waterfall::default(),
        );
        let e = quote(&l, &paid, 0, &ClassThresholds::default(), &terms(ArrangementKind::Waiver, None, None));
        assert_eq!(e.unwrap_err(), QuoteError::NothingOwed(d("2026-03-01")));
    }

    proptest::proptest! {
        /// On random loans, payments and terms: every quote keeps every unit of principal to
        /// be paid (a settlement: what is paid and waived make up what is owed), no amount is
        /// negative, and the instalments fall due in order from the quote date on.
        #[test]
        fn quotes_conserve_money(
            method in 0usize..4,
            term in 1u32..24,
            principal in 10_000i64..5_000_000,
            pays in proptest::collection::vec((0i64..500, 1i64..300_000), 0..6),
            offset in 0i64..800,
            kind in 0usize..4,
            months in 1u32..40,
            share in 1i64..100,
        ) {
            let methods = [RepaymentMethod::Annuity, RepaymentMethod::EqualPrincipal,
                RepaymentMethod::InterestOnly, RepaymentMethod::Bullet];
            let l = loan(methods[method], principal, "0.15", term, "2025-03-31");
            let s = generate(&l).unwrap();
            let ps: Vec<_> = pays.iter().enumerate()
                .map(|(i, (off, amt))| pay(&format!("P{i}"), &(l.disbursed_on + chrono::Days::new(*off as u64)).to_string(), *amt))
                .collect();
            let as_of = l.disbursed_on + chrono::Days::new(offset as u64);
            let p = replay(&l, &s, &ps, as_of, &Waterfall::default());
            let owed = Owed::of(&p);
            let kind = ArrangementKind::ALL[kind];
            let amount = match kind {
                ArrangementKind::Settlement => Some(Amount::from_minor((owed.total().minor() * share / 100).max(1))),
                ArrangementKind::InstalmentPlan if share % 2 == 0 => Some(Amount::from_minor((owed.principal.minor() * share / 200).max(1))),
                _ => None,
            };
            let t = Terms { kind, months: Some(months), amount, max_months: 36 };
            match quote(&l, &p, 30, &ClassThresholds::default(), &t) {
                Err(QuoteError::NothingOwed(_) | QuoteError::MonthsOutOfRange { .. } | QuoteError::SettlementNotLess { .. }
                    | QuoteError::WaiverTooLarge { .. } | QuoteError::DownPaymentTooLarge { .. }) => {}
                Err(e) => proptest::prop_assert!(false, "{e}"),
                Ok(got) => {
                    let paid_principal: Amount = got.schedule.iter().map(|r| r.principal).sum();
                    if kind == ArrangementKind::Settlement {
                        proptest::prop_assert_eq!(got.total_to_pay + got.waived, owed.total());
                    } else {
                        proptest::prop_assert_eq!(paid_principal, owed.principal);
                        proptest::prop_assert!(got.total_to_pay + got.waived + owed.credit >= owed.principal + owed.arrears_charges());
                    }
                    for w in got.schedule.windows(2) {
                        proptest::prop_assert!(w[0].due_on <= w[1].due_on);
                    }
                    for r in &got.schedule {
                        proptest::prop_assert!(r.due_on >= as_of);
                        proptest::prop_assert!(r.principal.minor() >= 0 && r.interest.minor() >= 0 && r.fee.minor() >= 0, "{:?}", r);
                    }
                }
            }
        }
    }
}
