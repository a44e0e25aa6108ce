//! Repayment schedules (还款计划) for the four methods, by DESIGN.md's conventions.
//!
//! Interest is `balance · annual_rate / 12`, computed as an exact fraction and
//! rounded half-up once; only the annuity payment itself needs a power and is
//! computed in 28-digit decimal arithmetic before its single rounding.

use chrono::NaiveDate;
use rust_decimal::prelude::*;
use serde::{Deserialize, Serialize};

use crate::book::{Loan, RepaymentMethod};
use crate::calendar::add_months_clamped;
use crate::money::{Amount, div_round_half_up};
use crate::rate::Rate;

/// Names the algorithm of [`generate`]; stored with every loan whose schedule is derived
/// from its terms, so that a future change of the rules cannot silently rewrite old loans.
pub const GENERATOR_VERSION: &str = "generated-v1";

/// One row of a repayment schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installment {
    /// 1-based position in the schedule.
    pub seq: u32,
    /// Due date.
    pub due_on: NaiveDate,
    /// Principal due.
    pub principal: Amount,
    /// Interest due.
    pub interest: Amount,
    /// Fee due.
    pub fee: Amount,
}

impl Installment {
    /// Principal + interest + fee.
    pub fn total(&self) -> Amount {
        self.principal + self.interest + self.fee
    }
}

/// Why a schedule could not be built or was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A term of zero months.
    #[error("term_months must be at least 1")]
    ZeroTerm,
    /// A term longer than 50 years.
    #[error("term_months {0} is longer than 600 months")]
    TermTooLong(u32),
    /// Principal zero or below.
    #[error("principal must be positive")]
    NonPositivePrincipal,
    /// A due date past the calendar's range.
    #[error("the schedule runs past the last representable date")]
    DateOutOfRange,
    /// The annuity formula overflowed 28-digit decimals (absurd rate and term).
    #[error("the annuity payment cannot be computed for this rate and term")]
    AnnuityOverflow,
    /// Installment principals do not add up to the loan's principal.
    #[error("installment principals sum to {sum_minor} minor units, not the loan's {principal_minor}")]
    PrincipalMismatch {
        /// Sum of the installments' principal.
        sum_minor: i64,
        /// The loan's principal.
        principal_minor: i64,
    },
    /// Sequence numbers are not 1, 2, 3, … without gaps.
    #[error("installment seq {found} where {expected} was expected (seq must run 1, 2, 3, …)")]
    BadSequence {
        /// What was found.
        found: u32,
        /// What was expected.
        expected: u32,
    },
    /// A due date not after the previous one.
    #[error("installment {seq} is due on {due_on}, not after the previous installment")]
    DatesNotIncreasing {
        /// The installment.
        seq: u32,
        /// Its due date.
        due_on: NaiveDate,
    },
    /// A due date on or before disbursement.
    #[error("installment {seq} is due on {due_on}, not after the disbursement on {disbursed_on}")]
    DueBeforeDisbursement {
        /// The installment.
        seq: u32,
        /// Its due date.
        due_on: NaiveDate,
        /// The loan's disbursement date.
        disbursed_on: NaiveDate,
    },
    /// A negative component.
    #[error("installment {0} has a negative amount")]
    NegativeAmount(u32),
}

/// `amount · rate / 12`, rounded half-up: one month's interest.
pub fn monthly_interest(amount: Amount, rate: Rate) -> Amount {
    let (num, den) = rate.as_fraction();
    Amount::from_minor(div_round_half_up(i128::from(amount.minor()) * num, den * 12) as i64)
}

/// Builds the contractual schedule of a loan from its terms.
pub fn generate(loan: &Loan) -> Result<Vec<Installment>, ScheduleError> {
    let n = loan.term_months;
    if n == 0 {
        return Err(ScheduleError::ZeroTerm);
    }
    if n > 600 {
        return Err(ScheduleError::TermTooLong(n));
    }
    if loan.principal.minor() <= 0 {
        return Err(ScheduleError::NonPositivePrincipal);
    }
    let due = |k: u32| add_months_clamped(loan.disbursed_on, k).ok_or(ScheduleError::DateOutOfRange);
    let p = loan.principal;
    let r = loan.annual_rate;
    let row = |seq, due_on, principal, interest| Installment {
        seq,
        due_on,
        principal,
        interest,
        fee: Amount::ZERO,
    };
    let mut out = Vec::with_capacity(n as usize);
    match loan.method {
        RepaymentMethod::Annuity => {
            let payment = annuity_payment(p, r, n)?;
            let mut balance = p;
            for k in 1..=n {
                let interest = monthly_interest(balance, r);
                let principal = if k == n {
                    balance
                } else {
                    // Guards the (absurd-rate) case where interest exceeds the payment.
                    (payment - interest).clamp_zero().min(balance)
                };
                balance -= principal;
                out.push(row(k, due(k)?, principal, interest));
            }
        }
        RepaymentMethod::EqualPrincipal => {
            let part = Amount::from_minor(div_round_half_up(i128::from(p.minor()), i128::from(n)) as i64);
            let mut balance = p;
            for k in 1..=n {
                let interest = monthly_interest(balance, r);
                let principal = if k == n { balance } else { part.min(balance) };
                balance -= principal;
                out.push(row(k, due(k)?, principal, interest));
            }
        }
        RepaymentMethod::InterestOnly => {
            let interest = monthly_interest(p, r);
            for k in 1..=n {
                let principal = if k == n { p } else { Amount::ZERO };
                out.push(row(k, due(k)?, principal, interest));
            }
        }
        RepaymentMethod::Bullet => {
            let (num, den) = r.as_fraction();
            let interest = Amount::from_minor(div_round_half_up(
                i128::from(p.minor()) * num * i128::from(n),
                den * 12,
            ) as i64);
            out.push(row(1, due(n)?, p, interest));
        }
    }
    Ok(out)
}

/// `P·r / (1 − (1+r)^−n)` with `r = annual_rate / 12`, rounded half-up to the minor unit.
pub fn annuity_payment(principal: Amount, rate: Rate, n: u32) -> Result<Amount, ScheduleError> {
    if rate.is_zero() {
        let q = div_round_half_up(i128::from(principal.minor()), i128::from(n));
        return Ok(Amount::from_minor(q as i64));
    }
    let r = rate.value() / Decimal::from(12);
    let growth = (Decimal::ONE + r).checked_powu(u64::from(n)).ok_or(ScheduleError::AnnuityOverflow)?;
    // P·r·g/(g−1) is the same quantity and avoids the tiny (1+r)^−n for long terms.
    let p = Decimal::from(principal.minor());
    let value = p
        .checked_mul(r)
        .and_then(|x| x.checked_mul(growth))
        .and_then(|x| x.checked_div(growth - Decimal::ONE))
        .ok_or(ScheduleError::AnnuityOverflow)?;
    let rounded = value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    rounded.to_i64().map(Amount::from_minor).ok_or(ScheduleError::AnnuityOverflow)
}

/// Checks a schedule that came from outside (`installments.csv`) against its loan.
pub fn validate(loan: &Loan, installments: &[Installment]) -> Result<(), ScheduleError> {
    let mut sum = 0i64;
    let mut prev: Option<NaiveDate> = None;
    for (i, inst) in installments.iter().enumerate() {
        let expected = i as u32 + 1;
        if inst.seq != expected {
            return Err(ScheduleError::BadSequence { found: inst.seq, expected });
        }
        if inst.principal.is_negative() || inst.interest.is_negative() || inst.fee.is_negative() {
            return Err(ScheduleError::NegativeAmount(inst.seq));
        }
        if inst.due_on <= loan.disbursed_on {
            return Err(ScheduleError::DueBeforeDisbursement {
                seq: inst.seq,
                due_on: inst.due_on,
                disbursed_on: loan.disbursed_on,
            });
        }
        if prev.is_some_and(|p| inst.due_on <= p) {
            return Err(ScheduleError::DatesNotIncreasing { seq: inst.seq, due_on: inst.due_on });
        }
        prev = Some(inst.due_on);
        sum += inst.principal.minor();
    }
    if sum != loan.principal.minor() {
        return Err(ScheduleError::PrincipalMismatch {
            sum_minor: sum,
            principal_minor: loan.principal.minor(),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::book::{BorrowerId, LoanId};
    use crate::money::Currency;
    use proptest::prelude::*;

    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    pub(crate) fn loan(method: RepaymentMethod, principal: i64, rate: &str, n: u32, on: &str) -> Loan {
        Loan {
            id: LoanId::new("L1").unwrap(),
            borrower_id: BorrowerId::new("B1").unwrap(),
            product: "consumer".into(),
            currency: Currency::CNY,
            principal: Amount::from_minor(principal),
            annual_rate: rate.parse().unwrap(),
            term_months: n,
            disbursed_on: d(on),
            method,
            penalty_rate: "0.18".parse().unwrap(),
            grace_days: 0,
        }
    }

    fn rows(s: &[Installment]) -> Vec<(u32, String, i64, i64)> {
        s.iter().map(|i| (i.seq, i.due_on.to_string(), i.principal.minor(), i.interest.minor())).collect()
    }

    #[test]
    fn annuity_12000_at_12_percent_over_12_months() {
        // Hand check: r = 0.01, payment = 1200000·0.01/(1−1.01^−12) = 106618.55 → 106619.
        let s = generate(&loan(RepaymentMethod::Annuity, 1_200_000, "0.12", 12, "2024-01-31")).unwrap();
        assert_eq!(
            annuity_payment(Amount::from_minor(1_200_000), "0.12".parse().unwrap(), 12),
            Ok(Amount::from_minor(106_619))
        );
        assert_eq!(s[0].interest, Amount::from_minor(12_000));
        assert_eq!(s[0].principal, Amount::from_minor(94_619));
        assert_eq!(s[1].interest, Amount::from_minor(11_054)); // 1105381 · 0.01 = 11053.81
        assert_eq!(s[0].due_on, d("2024-02-29"));
        assert_eq!(s[1].due_on, d("2024-03-31"));
        assert_eq!(s[2].due_on, d("2024-04-30"));
        assert_eq!(s.iter().map(|i| i.principal).sum::<Amount>(), Amount::from_minor(1_200_000));
        // The last installment takes what is left, within a few minor units of the payment.
        assert!((s[11].total().minor() - 106_619).abs() < 12);
    }

    #[test]
    fn equal_principal_table() {
        let s = generate(&loan(RepaymentMethod::EqualPrincipal, 100_000, "0.12", 3, "2024-03-15")).unwrap();
        assert_eq!(
            rows(&s),
            vec![
                (1, "2024-04-15".into(), 33_333, 1_000),
                (2, "2024-05-15".into(), 33_333, 667), // 66667 · 0.01 = 666.67
                (3, "2024-06-15".into(), 33_334, 333), // 33334 · 0.01 = 333.34
            ]
        );
    }

    #[test]
    fn interest_only_and_bullet() {
        let s = generate(&loan(RepaymentMethod::InterestOnly, 500_000, "0.06", 3, "2023-11-30")).unwrap();
        assert_eq!(
            rows(&s),
            vec![
                (1, "2023-12-30".into(), 0, 2_500),
                (2, "2024-01-30".into(), 0, 2_500),
                (3, "2024-02-29".into(), 500_000, 2_500),
            ]
        );
        let b = generate(&loan(RepaymentMethod::Bullet, 500_000, "0.06", 6, "2024-08-31")).unwrap();
        assert_eq!(rows(&b), vec![(1, "2025-02-28".into(), 500_000, 15_000)]);
    }

    #[test]
    fn exact_half_rounds_up() {
        // 60 · 0.10/12 = 0.5 exactly: a 28-digit decimal of 0.1/12 would give 0.4999… and round down.
        assert_eq!(monthly_interest(Amount::from_minor(60), "0.1".parse().unwrap()), Amount::from_minor(1));
        assert_eq!(monthly_interest(Amount::from_minor(59), "0.1".parse().unwrap()), Amount::from_minor(0));
    }

    #[test]
    fn zero_rate_annuity_is_equal_parts() {
        let s = generate(&loan(RepaymentMethod::Annuity, 1_000, "0", 3, "2024-01-01")).unwrap();
        assert_eq!(s.iter().map(|i| i.principal.minor()).collect::<Vec<_>>(), vec![333, 333, 334]);
        assert!(s.iter().all(|i| i.interest.is_zero()));
    }

    #[test]
    fn bad_terms_are_errors() {
        let mut l = loan(RepaymentMethod::Annuity, 1_000, "0.1", 0, "2024-01-01");
        assert_eq!(generate(&l), Err(ScheduleError::ZeroTerm));
        l.term_months = 12;
        l.principal = Amount::from_minor(0);
        assert_eq!(generate(&l), Err(ScheduleError::NonPositivePrincipal));
    }

    #[test]
    fn validate_external_schedule() {
        let l = loan(RepaymentMethod::EqualPrincipal, 100_000, "0.12", 3, "2024-03-15");
        let mut s = generate(&l).unwrap();
        assert_eq!(validate(&l, &s), Ok(()));
        s[2].principal = Amount::from_minor(33_333);
        assert!(matches!(validate(&l, &s), Err(ScheduleError::PrincipalMismatch { sum_minor: 99_999, .. })));
        s[2].principal = Amount::from_minor(33_334);
        s[1].due_on = d("2024-04-15");
        assert!(matches!(validate(&l, &s), Err(ScheduleError::DatesNotIncreasing { seq: 2, .. })));
        s[1].due_on = d("2024-05-15");
        s[2].seq = 4;
        assert!(matches!(validate(&l, &s), Err(ScheduleError::BadSequence { found: 4, expected: 3 })));
    }

    fn any_method() -> impl Strategy<Value = RepaymentMethod> {
        prop::sample::select(RepaymentMethod::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn principal_sums_and_nothing_negative(
            method in any_method(),
            principal in 1i64..=10_000_000_000,
            rate_bp in 0u32..=10_000,
            n in 1u32..=360,
            day in 0u32..=3000,
        ) {
            let on = d("2015-01-01") + chrono::Days::new(u64::from(day));
            let rate = Rate::new(Decimal::new(i64::from(rate_bp), 4)).unwrap();
            let mut l = loan(method, principal, "0", n, &on.to_string());
            l.annual_rate = rate;
            let s = generate(&l).unwrap();
            prop_assert_eq!(s.iter().map(|i| i.principal).sum::<Amount>(), Amount::from_minor(principal));
            prop_assert!(s.iter().all(|i| !i.principal.is_negative() && !i.interest.is_negative()));
            prop_assert!(s.windows(2).all(|w| w[0].due_on < w[1].due_on));
            prop_assert_eq!(validate(&l, &s), Ok(()));
        }
    }
}
