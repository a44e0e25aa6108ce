//! Delinquency on a business date: overdue amounts, days past due (逾期天数),
//! bucket (账龄) and five-category classification (五级分类).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::days_between;
use crate::ledger::{BookStatus, LoanPosition};
use crate::money::Amount;

/// One delinquency bucket: a label and the DPD range it covers (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Label shown in reports (`M0`, `M1`, …).
    pub label: String,
    /// Smallest DPD in the bucket.
    pub min_dpd: u32,
    /// Largest DPD in the bucket; `None` for the open-ended last bucket.
    pub max_dpd: Option<u32>,
}

/// Why a written bucket or five-class specification could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A part of the text is not in the expected form.
    #[error("{part:?} is not {expected}")]
    Syntax {
        /// The offending part.
        part: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// The buckets do not form a valid scheme.
    #[error(transparent)]
    Buckets(#[from] BucketError),
    /// Five-class thresholds that do not rise strictly from at least 1.
    #[error("five-class thresholds must rise strictly from at least 1 day, got {0}")]
    Thresholds(String),
}

/// Why a bucket scheme was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    /// No buckets at all.
    #[error("a bucket scheme needs at least one bucket")]
    Empty,
    /// The first bucket does not start at DPD 0.
    #[error("the first bucket must start at 0 days past due")]
    DoesNotStartAtZero,
    /// A gap or an overlap between two buckets.
    #[error("bucket {label} starts at {min_dpd}, but the previous bucket ends at {prev_max}")]
    NotContiguous {
        /// The bucket that does not follow on.
        label: String,
        /// Its start.
        min_dpd: u32,
        /// The previous bucket's end.
        prev_max: u32,
    },
    /// Only the last bucket may be open-ended, and it must be.
    #[error("only the last bucket may be open-ended (no max_dpd), and the last one must be")]
    OpenEnd,
}

/// An ordered set of buckets covering every DPD from 0 upwards exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketScheme {
    buckets: Vec<Bucket>,
}

impl BucketScheme {
    /// Validates that the buckets cover 0.. without gaps or overlaps.
    pub fn new(buckets: Vec<Bucket>) -> Result<BucketScheme, BucketError> {
        let first = buckets.first().ok_or(BucketError::Empty)?;
        if first.min_dpd != 0 {
            return Err(BucketError::DoesNotStartAtZero);
        }
        for w in buckets.windows(2) {
            let prev_max = w[0].max_dpd.ok_or(BucketError::OpenEnd)?;
            if w[1].min_dpd != prev_max + 1 {
                return Err(BucketError::NotContiguous {
                    label: w[1].label.clone(),
                    min_dpd: w[1].min_dpd,
                    prev_max,
                });
            }
        }
        if buckets.last().is_some_and(|b| b.max_dpd.is_some()) {
            return Err(BucketError::OpenEnd);
        }
        Ok(BucketScheme { buckets })
    }

    /// The buckets, in order.
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Index of the bucket holding `dpd`.
    pub fn index_of(&self, dpd: u32) -> usize {
        self.buckets.iter().position(|b| b.max_dpd.is_none_or(|m| dpd <= m)).unwrap_or(self.buckets.len() - 1)
    }

    /// Label of the bucket holding `dpd`.
    pub fn label_of(&self, dpd: u32) -> &str {
        &self.buckets[self.index_of(dpd)].label
    }

    /// Reads a scheme written as `M0=0,M1=1-30,M2=31-60,M3+=61-` (the last bucket open-ended).
    pub fn parse(spec: &str) -> Result<BucketScheme, SpecError> {
        let syntax = |part: &str| SpecError::Syntax {
            part: part.to_string(),
            expected: "LABEL=MIN-MAX or LABEL=MIN-",
        };
        let mut buckets = Vec::new();
        for part in spec.split(',').map(str::trim) {
            let (label, range) = part.split_once('=').ok_or_else(|| syntax(part))?;
            let label = label.trim();
            if label.is_empty() {
                return Err(syntax(part));
            }
            let (min, max) = match range.trim().split_once('-') {
                Some((min, "")) => (min, None),
                Some((min, max)) => (min, Some(max)),
                None => (range.trim(), Some(range.trim())),
            };
            let num = |t: &str| t.trim().parse::<u32>().map_err(|_| syntax(part));
            buckets.push(Bucket {
                label: label.to_string(),
                min_dpd: num(min)?,
                max_dpd: max.map(num).transpose()?,
            });
        }
        Ok(BucketScheme::new(buckets)?)
    }

    /// The scheme written the way [`BucketScheme::parse`] reads it.
    pub fn spec(&self) -> String {
        let parts: Vec<String> = self
            .buckets
            .iter()
            .map(|b| match b.max_dpd {
                Some(max) if max == b.min_dpd => format!("{}={}", b.label, b.min_dpd),
                Some(max) => format!("{}={}-{max}", b.label, b.min_dpd),
                None => format!("{}={}-", b.label, b.min_dpd),
            })
            .collect();
        parts.join(",")
    }
}

impl Default for BucketScheme {
    /// DESIGN.md: M0 = 0, M1 = 1–30, …, M6 = 151–180, M7+ over 180.
    fn default() -> Self {
        let mut buckets = vec![Bucket { label: "M0".into(), min_dpd: 0, max_dpd: Some(0) }];
        for m in 1..=6u32 {
            buckets.push(Bucket { label: format!("M{m}"), min_dpd: (m - 1) * 30 + 1, max_dpd: Some(m * 30) });
        }
        buckets.push(Bucket { label: "M7+".into(), min_dpd: 181, max_dpd: None });
        BucketScheme { buckets }
    }
}

/// Five-category loan classification (五级分类).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiveClass {
    /// 正常: not overdue (0 DPD by default).
    Normal,
    /// 关注: 1–90 DPD by default; repayment expected but at risk.
    SpecialMention,
    /// 次级: 91–270 DPD by default; some loss is likely.
    Substandard,
    /// 可疑: 271–360 DPD by default; a large loss is likely.
    Doubtful,
    /// 损失: over 360 DPD by default; little or nothing will be recovered.
    Loss,
}

impl FiveClass {
    /// All five, from best to worst.
    pub const ALL: [FiveClass; 5] = [
        FiveClass::Normal,
        FiveClass::SpecialMention,
        FiveClass::Substandard,
        FiveClass::Doubtful,
        FiveClass::Loss,
    ];

    /// The name used in files, JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            FiveClass::Normal => "normal",
            FiveClass::SpecialMention => "special_mention",
            FiveClass::Substandard => "substandard",
            FiveClass::Doubtful => "doubtful",
            FiveClass::Loss => "loss",
        }
    }

    /// Parses the name used in files and the database.
    pub fn parse(text: &str) -> Option<FiveClass> {
        FiveClass::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The minimum class by DPD (2023 rules): 0 normal, 1–90 special mention,
    /// 91–270 substandard, 271–360 doubtful, over 360 loss.
    pub fn from_dpd(dpd: u32) -> FiveClass {
        ClassThresholds::default().by_dpd(dpd)
    }

    /// The class of a loan, raised to the floor a restructuring imposes.
    ///
    /// `restructured`: `None` if never restructured, otherwise whether the loan
    /// was non-performing (substandard or worse) before the restructuring.
    pub fn classify(dpd: u32, restructured: Option<bool>) -> FiveClass {
        ClassThresholds::default().classify(dpd, restructured)
    }
}

/// The DPD at which each worse five-class category starts: a product may set its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassThresholds {
    /// First DPD of special mention (关注).
    pub special_mention: u32,
    /// First DPD of substandard (次级).
    pub substandard: u32,
    /// First DPD of doubtful (可疑).
    pub doubtful: u32,
    /// First DPD of loss (损失).
    pub loss: u32,
}

impl Default for ClassThresholds {
    /// The 2023 rules: 1, 91, 271, 361.
    fn default() -> Self {
        ClassThresholds { special_mention: 1, substandard: 91, doubtful: 271, loss: 361 }
    }
}

impl ClassThresholds {
    /// Reads `1,91,271,361`: the first DPD of special mention, substandard, doubtful and loss.
    pub fn parse(spec: &str) -> Result<ClassThresholds, SpecError> {
        let nums: Vec<u32> = spec
            .split(',')
            .map(|p| {
                p.trim().parse::<u32>().map_err(|_| SpecError::Syntax {
                    part: p.trim().to_string(),
                    expected: "a whole number of days",
                })
            })
            .collect::<Result<_, _>>()?;
        let [special_mention, substandard, doubtful, loss] = nums[..] else {
            return Err(SpecError::Thresholds(spec.to_string()));
        };
        if special_mention == 0
            || !(special_mention < substandard && substandard < doubtful && doubtful < loss)
        {
            return Err(SpecError::Thresholds(spec.to_string()));
        }
        Ok(ClassThresholds { special_mention, substandard, doubtful, loss })
    }

    /// The thresholds written the way [`ClassThresholds::parse`] reads them.
    pub fn spec(&self) -> String {
        format!("{},{},{},{}", self.special_mention, self.substandard, self.doubtful, self.loss)
    }

    /// The class by DPD alone.
    pub fn by_dpd(&self, dpd: u32) -> FiveClass {
        if dpd >= self.loss {
            FiveClass::Loss
        } else if dpd >= self.doubtful {
            FiveClass::Doubtful
        } else if dpd >= self.substandard {
            FiveClass::Substandard
        } else if dpd >= self.special_mention {
            FiveClass::SpecialMention
        } else {
            FiveClass::Normal
        }
    }

    /// The class raised to the floor a restructuring imposes (see [`FiveClass::classify`]).
    pub fn classify(&self, dpd: u32, restructured: Option<bool>) -> FiveClass {
        let floor = match restructured {
            None => FiveClass::Normal,
            Some(false) => FiveClass::SpecialMention,
            Some(true) => FiveClass::Substandard,
        };
        self.by_dpd(dpd).max(floor)
    }
}

/// Overdue amounts by component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overdue {
    /// Overdue principal.
    pub principal: Amount,
    /// Overdue interest.
    pub interest: Amount,
    /// Overdue fees.
    pub fee: Amount,
    /// Charged, unpaid penalty interest.
    pub penalty: Amount,
}

impl Overdue {
    /// Sum of the four components.
    pub fn total(&self) -> Amount {
        self.principal + self.interest + self.fee + self.penalty
    }
}

/// One overdue installment and its own days past due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallmentArrears {
    /// Installment number.
    pub seq: u32,
    /// Its due date.
    pub due_on: NaiveDate,
    /// Days since it fell due.
    pub dpd: u32,
    /// What is overdue on it.
    pub overdue: Overdue,
}

/// Where the loan stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoanStatus {
    /// Not yet disbursed on the date.
    Pending,
    /// Money still owed.
    Active,
    /// Everything repaid.
    PaidOff,
    /// Written off in full (核销): off the book, payments are recoveries.
    WrittenOff,
    /// Sold in an NPL transfer.
    Sold,
}

impl LoanStatus {
    /// The name used in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            LoanStatus::Pending => "pending",
            LoanStatus::Active => "active",
            LoanStatus::PaidOff => "paid_off",
            LoanStatus::WrittenOff => "written_off",
            LoanStatus::Sold => "sold",
        }
    }

    /// Parses the name used in the database.
    pub fn parse(text: &str) -> Option<LoanStatus> {
        [
            LoanStatus::Pending,
            LoanStatus::Active,
            LoanStatus::PaidOff,
            LoanStatus::WrittenOff,
            LoanStatus::Sold,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A loan's delinquency on a business date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delinquency {
    /// The business date.
    pub as_of: NaiveDate,
    /// Days past due of the oldest installment unpaid beyond the tolerance.
    pub dpd: u32,
    /// Index of the bucket in the scheme used.
    pub bucket_index: usize,
    /// Label of the bucket.
    pub bucket: String,
    /// Five-category class.
    pub five_class: FiveClass,
    /// Overdue amounts (installments due before the date).
    pub overdue: Overdue,
    /// Principal not yet repaid, overdue or not.
    pub outstanding_principal: Amount,
    /// Credit balance from overpayments.
    pub credit: Amount,
    /// Status of the loan.
    pub status: LoanStatus,
    /// Every installment with something overdue, oldest first.
    pub installments: Vec<InstallmentArrears>,
}

/// The observation period after a restructuring when a product sets none: one year.
pub const DEFAULT_OBSERVATION_MONTHS: u32 = 12;

/// Product-level rules for judging delinquency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelinquencyRules {
    /// An installment counts as unpaid for DPD only when more than this is left on it.
    pub tolerance: Amount,
    /// Buckets by DPD.
    pub buckets: BucketScheme,
    /// Where the five-class categories start.
    pub classes: ClassThresholds,
    /// Months after a restructuring during which its five-class floor holds (2023 rules'
    /// observation period; one year by default).
    pub observation_months: u32,
}

impl Default for DelinquencyRules {
    fn default() -> Self {
        DelinquencyRules {
            tolerance: Amount::ZERO,
            buckets: BucketScheme::default(),
            classes: ClassThresholds::default(),
            observation_months: DEFAULT_OBSERVATION_MONTHS,
        }
    }
}

/// Whether a restructuring's five-class floor holds on the position's date: from the date it
/// took effect until `observation_months` later, with whether the loan was non-performing
/// before it (see [`FiveClass::classify`]).
pub fn restructuring_floor(position: &LoanPosition, observation_months: u32) -> Option<bool> {
    let (on, was_non_performing) = position.restructured()?;
    let ends = crate::calendar::add_months_clamped(on, observation_months).unwrap_or(NaiveDate::MAX);
    (position.as_of >= on && position.as_of < ends).then_some(was_non_performing)
}

/// Assesses a loan's position on its `as_of` date.
///
/// `disbursed_on` tells a loan not yet disbursed; a restructuring in the position raises the
/// class to its floor during the observation period ([`restructuring_floor`]).
pub fn assess(position: &LoanPosition, disbursed_on: NaiveDate, rules: &DelinquencyRules) -> Delinquency {
    let as_of = position.as_of;
    let restructured = restructuring_floor(position, rules.observation_months);
    let mut overdue = Overdue::default();
    let mut arrears = Vec::new();
    let mut dpd = 0u32;
    for ip in &position.installments {
        // Due on the date is due, not yet overdue.
        if ip.installment.due_on >= as_of {
            break;
        }
        let o = Overdue {
            principal: ip.unpaid_principal(),
            interest: ip.unpaid_interest(),
            fee: ip.unpaid_fee(),
            penalty: ip.unpaid_penalty(),
        };
        if o.total().is_zero() {
            continue;
        }
        let own_dpd = days_between(ip.installment.due_on, as_of).max(0) as u32;
        if dpd == 0 && ip.unpaid_contractual() > rules.tolerance {
            dpd = own_dpd;
        }
        overdue.principal += o.principal;
        overdue.interest += o.interest;
        overdue.fee += o.fee;
        overdue.penalty += o.penalty;
        arrears.push(InstallmentArrears {
            seq: ip.installment.seq,
            due_on: ip.installment.due_on,
            dpd: own_dpd,
            overdue: o,
        });
    }
    let outstanding_principal = position.outstanding_principal();
    let status = if as_of < disbursed_on {
        LoanStatus::Pending
    } else if position.book == BookStatus::WrittenOff {
        LoanStatus::WrittenOff
    } else if position.book == BookStatus::Sold {
        LoanStatus::Sold
    } else if position.is_settled() {
        LoanStatus::PaidOff
    } else {
        LoanStatus::Active
    };
    let bucket_index = rules.buckets.index_of(dpd);
    Delinquency {
        as_of,
        dpd,
        bucket_index,
        bucket: rules.buckets.buckets()[bucket_index].label.clone(),
        five_class: rules.classes.classify(dpd, restructured),
        overdue,
        outstanding_principal,
        credit: position.credit,
        status,
        installments: arrears,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Payment, RepaymentMethod};
    use crate::ledger::tests::pay;
    use crate::ledger::{Waterfall, replay};
    use crate::schedule::{generate, tests::d, tests::loan};

    /// DPD of a 3 × 1000.00 zero-rate loan disbursed on `on`, with `payments`, on `date`.
    fn dpd_of(on: &str, payments: &[(&str, i64)], date: &str, tolerance: i64) -> u32 {
        let mut l = loan(RepaymentMethod::EqualPrincipal, 300_000, "0", 3, on);
        // No penalty here, so that each case is about dates and tolerance alone.
        l.penalty_rate = crate::rate::Rate::ZERO;
        let s = generate(&l).unwrap();
        let ps: Vec<Payment> =
            payments.iter().enumerate().map(|(i, (day, amt))| pay(&format!("P{i}"), day, *amt)).collect();
        let pos = replay(&l, &s, &ps, d(date), &Waterfall::default());
        let rules = DelinquencyRules { tolerance: Amount::from_minor(tolerance), ..Default::default() };
        assess(&pos, l.disbursed_on, &rules).dpd
    }

    #[test]
    fn dpd_table_for_the_hard_dates() {
        /// (case, disbursed, payments, date, tolerance, expected DPD)
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, i64)], &'a str, i64, u32);
        let cases: &[Case] = &[
            ("due today is not overdue", "2024-01-31", &[], "2024-02-29", 0, 0),
            ("29 Feb due, unpaid the day after", "2024-01-31", &[], "2024-03-01", 0, 1),
            (
                "month end: 31 Jan → 29 Feb → 31 Mar",
                "2024-01-31",
                &[("2024-02-29", 100_000)],
                "2024-04-01",
                0,
                1,
            ),
            ("28 Feb in a common year", "2023-01-31", &[], "2023-03-01", 0, 1),
            ("paid on the due date", "2024-01-15", &[("2024-02-15", 100_000)], "2024-02-16", 0, 0),
            (
                "paid the day after counts that day",
                "2024-01-15",
                &[("2024-02-16", 100_000)],
                "2024-02-16",
                0,
                0,
            ),
            (
                "paid the day after, seen the day before",
                "2024-01-15",
                &[("2024-02-16", 100_000)],
                "2024-02-15",
                0,
                0,
            ),
            (
                "partial payment keeps DPD running",
                "2024-01-15",
                &[("2024-02-16", 60_000)],
                "2024-02-20",
                0,
                5,
            ),
            ("two installments overdue: oldest counts", "2024-01-15", &[], "2024-03-20", 0, 34),
            ("oldest paid, second still open", "2024-01-15", &[("2024-03-01", 100_000)], "2024-03-20", 0, 5),
            (
                "overpayment covers the next installment",
                "2024-01-15",
                &[("2024-02-15", 200_000)],
                "2024-03-20",
                0,
                0,
            ),
            ("cured then a new miss", "2024-01-15", &[("2024-02-20", 100_000)], "2024-03-16", 0, 1),
            (
                "tolerance just above what is left",
                "2024-01-15",
                &[("2024-02-15", 99_900)],
                "2024-02-20",
                100,
                0,
            ),
            (
                "tolerance just below what is left",
                "2024-01-15",
                &[("2024-02-15", 99_900)],
                "2024-02-20",
                99,
                5,
            ),
            ("before the first due date", "2024-01-15", &[], "2024-02-01", 0, 0),
        ];
        for (name, on, pays, date, tol, want) in cases {
            assert_eq!(dpd_of(on, pays, date, *tol), *want, "{name}");
        }
    }

    #[test]
    fn buckets_and_classes_table() {
        let b = BucketScheme::default();
        let cases: &[(u32, &str, FiveClass)] = &[
            (0, "M0", FiveClass::Normal),
            (1, "M1", FiveClass::SpecialMention),
            (30, "M1", FiveClass::SpecialMention),
            (31, "M2", FiveClass::SpecialMention),
            (90, "M3", FiveClass::SpecialMention),
            (91, "M4", FiveClass::Substandard),
            (180, "M6", FiveClass::Substandard),
            (181, "M7+", FiveClass::Substandard),
            (270, "M7+", FiveClass::Substandard),
            (271, "M7+", FiveClass::Doubtful),
            (360, "M7+", FiveClass::Doubtful),
            (361, "M7+", FiveClass::Loss),
        ];
        for (dpd, label, class) in cases {
            assert_eq!(b.label_of(*dpd), *label, "{dpd}");
            assert_eq!(FiveClass::from_dpd(*dpd), *class, "{dpd}");
        }
        assert_eq!(FiveClass::classify(0, Some(false)), FiveClass::SpecialMention);
        assert_eq!(FiveClass::classify(0, Some(true)), FiveClass::Substandard);
        assert_eq!(FiveClass::classify(300, Some(true)), FiveClass::Doubtful);
    }

    #[test]
    fn bucket_schemes_are_validated() {
        let bk = |l: &str, a, b| Bucket { label: l.into(), min_dpd: a, max_dpd: b };
        assert!(BucketScheme::new(vec![bk("C", 0, Some(0)), bk("X", 1, None)]).is_ok());
        assert_eq!(BucketScheme::new(vec![]), Err(BucketError::Empty));
        assert_eq!(BucketScheme::new(vec![bk("A", 1, None)]), Err(BucketError::DoesNotStartAtZero));
        assert!(matches!(
            BucketScheme::new(vec![bk("A", 0, Some(5)), bk("B", 7, None)]),
            Err(BucketError::NotContiguous { .. })
        ));
        assert_eq!(BucketScheme::new(vec![bk("A", 0, Some(5))]), Err(BucketError::OpenEnd));
    }

    #[test]
    fn overdue_amounts_and_status() {
        let l = loan(RepaymentMethod::EqualPrincipal, 300_000, "0.12", 3, "2024-01-15");
        let s = generate(&l).unwrap();
        let pos = replay(&l, &s, &[], d("2024-03-20"), &Waterfall::default());
        let q = assess(&pos, l.disbursed_on, &DelinquencyRules::default());
        assert_eq!(q.overdue.principal, Amount::from_minor(200_000));
        assert_eq!(q.overdue.interest, Amount::from_minor(3_000 + 2_000));
        // Penalty at 18%/360: 100000·0.0005·34 days + 100000·0.0005·5 days = 1700 + 250.
        assert_eq!(q.overdue.penalty, Amount::from_minor(1_950));
        assert_eq!(q.installments.iter().map(|i| i.dpd).collect::<Vec<_>>(), vec![34, 5]);
        assert_eq!(q.status, LoanStatus::Active);
        assert_eq!(q.outstanding_principal, Amount::from_minor(300_000));
        let before = replay(&l, &s, &[], d("2024-01-01"), &Waterfall::default());
        assert_eq!(assess(&before, l.disbursed_on, &DelinquencyRules::default()).status, LoanStatus::Pending);
    }
}

#[cfg(test)]
mod spec_tests {
    use super::*;

    #[test]
    fn bucket_specs_table() {
        let default = BucketScheme::default();
        assert_eq!(BucketScheme::parse(&default.spec()).unwrap(), default);
        let three = BucketScheme::parse("C=0, X1=1-29, X2+=30-").unwrap();
        assert_eq!(three.label_of(29), "X1");
        assert_eq!(three.label_of(30), "X2+");
        // (spec, the error's text)
        let bad = [
            ("M0=0,M1=2-30,M2=31-", "bucket M1 starts at 2, but the previous bucket ends at 0"),
            ("M0=1-3,M1=4-", "the first bucket must start at 0 days past due"),
            ("M0=0,M1=1-30", "only the last bucket may be open-ended"),
            ("M0=0,M1", "\"M1\" is not LABEL=MIN-MAX or LABEL=MIN-"),
            ("M0=0,M1=a-", "\"M1=a-\" is not LABEL=MIN-MAX or LABEL=MIN-"),
        ];
        for (spec, want) in bad {
            let err = BucketScheme::parse(spec).unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
        }
    }

    #[test]
    fn class_thresholds_table() {
        let t = ClassThresholds::parse("1,31,61,91").unwrap();
        // (dpd, class)
        for (dpd, want) in [
            (0, FiveClass::Normal),
            (30, FiveClass::SpecialMention),
            (31, FiveClass::Substandard),
            (61, FiveClass::Doubtful),
            (91, FiveClass::Loss),
        ] {
            assert_eq!(t.by_dpd(dpd), want, "dpd {dpd}");
        }
        assert_eq!(
            ClassThresholds::parse(&ClassThresholds::default().spec()).unwrap(),
            ClassThresholds::default()
        );
        for spec in ["0,91,271,361", "1,91,91,361", "1,91,271", "1,x,271,361"] {
            assert!(ClassThresholds::parse(spec).is_err(), "{spec}");
        }
    }
}
