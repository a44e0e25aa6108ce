//! What a strategy knows about one case on one business date: the typed record the
//! batch fills per case, and the catalogue of the fields CEL conditions may read.
//!
//! Amounts are offered twice: `x` as a double in major units (`case.total_overdue >
//! 5000` means 5,000 yuan) and `x_minor` as an exact int of minor units. The double is
//! the minor amount divided by 10^exponent, which IEEE rounds correctly, so a literal
//! written with at most the currency's decimals compares exactly (5000.01 is 500001
//! fen); it is only ever compared, never stored or added up.
//!
//! Dates are ISO text (`"2026-03-01"`), which order correctly as strings; most
//! conditions want the day counts (`case.days_open`) instead.

use arrears_core::{Amount, BorrowerKind, Currency, Language};
use chrono::NaiveDate;

use crate::expr::{Bindings, Catalogue, Field, Type, Val};

/// Why a case is out of normal treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The borrower disputes the debt; treatment waits until it is resolved.
    Dispute,
    /// The borrower has died.
    Deceased,
    /// The borrower is bankrupt.
    Bankrupt,
    /// Every loan of the case is in an approved arrangement: collection waits while it is kept.
    Arrangement,
    /// The case's loans are being sold in an approved NPL transfer: no more contact.
    Sold,
}

impl Hold {
    /// The code used in conditions and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::Dispute => "dispute",
            Hold::Deceased => "deceased",
            Hold::Bankrupt => "bankrupt",
            Hold::Arrangement => "arrangement",
            Hold::Sold => "sold",
        }
    }
}

/// Whether the case is being worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    /// Delinquent and worked.
    Open,
    /// Cured or otherwise closed: no more steps.
    Closed,
}

/// The case, as the batch sees it on the business date.
#[derive(Debug, Clone)]
pub struct CaseInfo {
    /// Case id (also the key of champion/challenger assignment).
    pub id: String,
    /// Open or closed.
    pub status: CaseStatus,
    /// First delinquent date.
    pub opened_on: NaiveDate,
    /// Worst DPD among its loans.
    pub max_dpd: i64,
    /// Overdue total over its loans, in `currency`.
    pub total_overdue: Amount,
    /// Currency of the amounts (a case of loans in several currencies reports its worst loan's).
    pub currency: Currency,
    /// Number of delinquent loans in the case.
    pub loans: i64,
    /// Worst bucket label (`M2`).
    pub bucket: String,
    /// Worst five-class code (`special_mention`).
    pub five_class: String,
    /// Why the case is on hold, if it is.
    pub hold: Option<Hold>,
    /// When the open dispute was raised (fires `dispute` steps once per dispute).
    pub dispute_raised_on: Option<NaiveDate>,
    /// Promises to pay broken during this case.
    pub broken_promises: i64,
    /// When the latest promise was judged broken.
    pub last_broken_promise_on: Option<NaiveDate>,
    /// Last right-party contact (the borrower reached in person).
    pub last_right_party_contact_on: Option<NaiveDate>,
    /// Agency the case is placed with, if any.
    pub placed_with: Option<String>,
    /// Collection stage the case was last worked in (for continuity), if any.
    pub stage: Option<String>,
}

/// The case's worst loan.
#[derive(Debug, Clone)]
pub struct LoanInfo {
    /// Loan id.
    pub id: String,
    /// Product code.
    pub product: String,
    /// Its DPD.
    pub dpd: i64,
    /// Its bucket label.
    pub bucket: String,
    /// Principal still owed.
    pub outstanding_principal: Amount,
    /// Everything overdue on it.
    pub overdue_total: Amount,
    /// Its currency.
    pub currency: Currency,
}

/// The borrower.
#[derive(Debug, Clone)]
pub struct BorrowerInfo {
    /// Borrower id.
    pub id: String,
    /// Person or company.
    pub kind: BorrowerKind,
    /// Language they are addressed in.
    pub language: Language,
    /// Province or state, when known.
    pub province: Option<String>,
    /// IANA time zone.
    pub timezone: String,
}

/// The scores of the business date; each may be missing (no model installed, or the borrower
/// outside the model's population: `roll` only in M1, `ptp` only with an open case).
#[derive(Debug, Clone, Default)]
pub struct ScoreInfo {
    /// Probability of default, 0–1.
    pub pd: Option<f64>,
    /// Propensity to pay, 0–1 (the same as `ptp`).
    pub propensity_to_pay: Option<f64>,
    /// Behaviour score in points (the same as `points`).
    pub behaviour: Option<i64>,
    /// Probability of rolling from M1 to M2 within 30 days, 0–1.
    pub roll: Option<f64>,
    /// Probability of a payment within 14 days, 0–1.
    pub ptp: Option<f64>,
    /// Behaviour score points of the roll model (higher is safer).
    pub points: Option<i64>,
}

impl ScoreInfo {
    /// The scores from stored parts per million and points.
    pub fn from_stored(roll_ppm: Option<i64>, ptp_ppm: Option<i64>, points: Option<i64>) -> ScoreInfo {
        let p = |ppm: Option<i64>| ppm.map(|v| v as f64 / 1_000_000.0);
        ScoreInfo {
            pd: None,
            propensity_to_pay: p(ptp_ppm),
            behaviour: points,
            roll: p(roll_ppm),
            ptp: p(ptp_ppm),
            points,
        }
    }
}

/// The borrower's contact points as the channels know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactInfo {
    /// A phone on record that no provider has refused.
    pub phone_valid: bool,
    /// An e-mail on record that no provider has refused.
    pub email_valid: bool,
}

impl Default for ContactInfo {
    /// Both valid: what is assumed of a borrower the channels know nothing bad of.
    fn default() -> Self {
        ContactInfo { phone_valid: true, email_valid: true }
    }
}

/// Everything a strategy may look at for one case.
#[derive(Debug, Clone)]
pub struct CaseFacts {
    /// The case.
    pub case: CaseInfo,
    /// Its worst loan.
    pub loan: LoanInfo,
    /// Its borrower.
    pub borrower: BorrowerInfo,
    /// Its scores.
    pub score: ScoreInfo,
    /// Its borrower's contact points.
    pub contact: ContactInfo,
}

const FIVE_CLASS: &[&str] = &["normal", "special_mention", "substandard", "doubtful", "loss"];

fn field(name: &'static str, ty: Type, doc: &'static str) -> Field {
    Field { name, ty, nullable: false, values: &[], doc }
}

fn nullable(name: &'static str, ty: Type, doc: &'static str) -> Field {
    Field { name, ty, nullable: true, values: &[], doc }
}

fn one_of(name: &'static str, nullable: bool, values: &'static [&'static str], doc: &'static str) -> Field {
    Field { name, ty: Type::String, nullable, values, doc }
}

/// The fields of `case`, `loan`, `borrower` and `score` that conditions may read.
pub fn catalogue() -> Catalogue {
    use Type::{Double, Int, String};
    Catalogue::new()
        .with_root(
            "case",
            vec![
                field("id", String, "case id"),
                one_of("status", false, &["open", "closed"], "open or closed"),
                field("opened_on", String, "first delinquent date, ISO"),
                field("days_open", Int, "days from opened_on to the business date"),
                field("max_dpd", Int, "worst DPD among the case's loans"),
                field("total_overdue", Double, "overdue total, major units"),
                field("total_overdue_minor", Int, "overdue total, minor units"),
                field("currency", String, "ISO 4217 code"),
                field("loans", Int, "delinquent loans in the case"),
                field("bucket", String, "worst bucket label, e.g. M2"),
                one_of("five_class", false, FIVE_CLASS, "worst five-class code"),
                one_of(
                    "hold",
                    true,
                    &["dispute", "deceased", "bankrupt", "arrangement", "sold"],
                    "why the case is on hold, or null",
                ),
                field("broken_promises", Int, "promises to pay broken during the case"),
                nullable("days_since_broken_promise", Int, "days since the latest broken promise, or null"),
                nullable(
                    "days_since_right_party_contact",
                    Int,
                    "days since the borrower was last reached, or null if never",
                ),
                nullable("placed_with", String, "agency the case is placed with, or null"),
                nullable("stage", String, "collection stage last worked in, or null"),
            ],
        )
        .with_root(
            "loan",
            vec![
                field("id", String, "worst loan's id"),
                field("product", String, "product code"),
                field("dpd", Int, "its DPD"),
                field("bucket", String, "its bucket label"),
                field("outstanding_principal", Double, "principal still owed, major units"),
                field("outstanding_principal_minor", Int, "principal still owed, minor units"),
                field("overdue_total", Double, "everything overdue on it, major units"),
                field("overdue_total_minor", Int, "everything overdue on it, minor units"),
                field("currency", String, "ISO 4217 code"),
            ],
        )
        .with_root(
            "borrower",
            vec![
                field("id", String, "borrower id"),
                one_of("kind", false, BORROWER_KINDS, "individual or company"),
                one_of("language", false, LANGUAGES, "zh or en"),
                nullable("province", String, "province or state, or null"),
                field("timezone", String, "IANA time zone"),
            ],
        )
        .with_root(
            "contact",
            vec![
                field(
                    "phone_valid",
                    Type::Bool,
                    "a phone on record that no SMS or call provider has refused",
                ),
                field("email_valid", Type::Bool, "an e-mail on record that no mail server has refused"),
            ],
        )
        .with_root(
            "score",
            vec![
                nullable("pd", Double, "probability of default 0–1, or null"),
                nullable("propensity_to_pay", Double, "propensity to pay 0–1, or null"),
                nullable("behaviour", Int, "behaviour score in points, or null"),
                nullable("roll", Double, "probability of rolling from M1 to M2 within 30 days 0–1, or null"),
                nullable("ptp", Double, "probability of a payment within 14 days 0–1, or null"),
                nullable("points", Int, "behaviour score points (higher is safer), or null"),
            ],
        )
}

const BORROWER_KINDS: &[&str] = &["individual", "company"];
const LANGUAGES: &[&str] = &["zh", "en"];

fn major(amount: Amount, currency: Currency) -> f64 {
    // One correctly rounded division: equal to the double nearest the decimal amount.
    amount.minor() as f64 / 10f64.powi(i32::from(currency.exponent()))
}

fn date(d: NaiveDate) -> Val {
    Val::Str(d.format("%Y-%m-%d").to_string())
}

fn days(from: Option<NaiveDate>, to: NaiveDate) -> Val {
    from.map(|d| Val::Int((to - d).num_days())).into()
}

fn text(s: &Option<String>) -> Val {
    s.clone().map(Val::Str).into()
}

impl CaseFacts {
    /// Binds every catalogue field for evaluation on business date `on`.
    pub fn bindings(&self, on: NaiveDate) -> Bindings {
        let (c, l, b, s) = (&self.case, &self.loan, &self.borrower, &self.score);
        let mut out = Bindings::new();
        out.set_root(
            "case",
            vec![
                ("id", Val::Str(c.id.clone())),
                ("status", Val::Str(if c.status == CaseStatus::Open { "open" } else { "closed" }.into())),
                ("opened_on", date(c.opened_on)),
                ("days_open", Val::Int((on - c.opened_on).num_days())),
                ("max_dpd", Val::Int(c.max_dpd)),
                ("total_overdue", Val::Double(major(c.total_overdue, c.currency))),
                ("total_overdue_minor", Val::Int(c.total_overdue.minor())),
                ("currency", Val::Str(c.currency.code().into())),
                ("loans", Val::Int(c.loans)),
                ("bucket", Val::Str(c.bucket.clone())),
                ("five_class", Val::Str(c.five_class.clone())),
                ("hold", c.hold.map(|h| Val::Str(h.as_str().into())).into()),
                ("broken_promises", Val::Int(c.broken_promises)),
                ("days_since_broken_promise", days(c.last_broken_promise_on, on)),
                ("days_since_right_party_contact", days(c.last_right_party_contact_on, on)),
                ("placed_with", text(&c.placed_with)),
                ("stage", text(&c.stage)),
            ],
        );
        out.set_root(
            "loan",
            vec![
                ("id", Val::Str(l.id.clone())),
                ("product", Val::Str(l.product.clone())),
                ("dpd", Val::Int(l.dpd)),
                ("bucket", Val::Str(l.bucket.clone())),
                ("outstanding_principal", Val::Double(major(l.outstanding_principal, l.currency))),
                ("outstanding_principal_minor", Val::Int(l.outstanding_principal.minor())),
                ("overdue_total", Val::Double(major(l.overdue_total, l.currency))),
                ("overdue_total_minor", Val::Int(l.overdue_total.minor())),
                ("currency", Val::Str(l.currency.code().into())),
            ],
        );
        out.set_root(
            "borrower",
            vec![
                ("id", Val::Str(b.id.clone())),
                ("kind", Val::Str(b.kind.as_str().into())),
                ("language", Val::Str(b.language.as_str().into())),
                ("province", text(&b.province)),
                ("timezone", Val::Str(b.timezone.clone())),
            ],
        );
        out.set_root(
            "contact",
            vec![
                ("phone_valid", Val::Bool(self.contact.phone_valid)),
                ("email_valid", Val::Bool(self.contact.email_valid)),
            ],
        );
        out.set_root(
            "score",
            vec![
                ("pd", s.pd.map(Val::Double).into()),
                ("propensity_to_pay", s.propensity_to_pay.map(Val::Double).into()),
                ("behaviour", s.behaviour.map(Val::Int).into()),
                ("roll", s.roll.map(Val::Double).into()),
                ("ptp", s.ptp.map(Val::Double).into()),
                ("points", s.points.map(Val::Int).into()),
            ],
        );
        out
    }
}

/// A plain case for tests here and in callers' tests: open, M1, an individual.
#[doc(hidden)]
pub fn sample(id: &str, opened_on: NaiveDate, max_dpd: i64) -> CaseFacts {
    let cny = Currency::from_code("CNY").expect("CNY is a known currency");
    CaseFacts {
        case: CaseInfo {
            id: id.into(),
            status: CaseStatus::Open,
            opened_on,
            max_dpd,
            total_overdue: Amount::from_minor(100_000),
            currency: cny,
            loans: 1,
            bucket: "M1".into(),
            five_class: "special_mention".into(),
            hold: None,
            dispute_raised_on: None,
            broken_promises: 0,
            last_broken_promise_on: None,
            last_right_party_contact_on: None,
            placed_with: None,
            stage: None,
        },
        loan: LoanInfo {
            id: format!("L-{id}"),
            product: "consumer".into(),
            dpd: max_dpd,
            bucket: "M1".into(),
            outstanding_principal: Amount::from_minor(1_000_000),
            overdue_total: Amount::from_minor(100_000),
            currency: cny,
        },
        borrower: BorrowerInfo {
            id: format!("B-{id}"),
            kind: BorrowerKind::Individual,
            language: Language::Zh,
            province: None,
            timezone: "Asia/Shanghai".into(),
        },
        score: ScoreInfo::default(),
        contact: ContactInfo::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::compile;

    #[test]
    fn every_catalogue_field_is_bound_with_its_type() {
        let on = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let mut f = sample("C1", NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(), 9);
        f.score =
            ScoreInfo { pd: Some(0.2), ..ScoreInfo::from_stored(Some(250_000), Some(500_000), Some(600)) };
        assert_eq!(f.score.roll, Some(0.25));
        f.case.placed_with = Some("A1".into());
        f.case.stage = Some("early".into());
        f.case.hold = Some(Hold::Dispute);
        f.case.last_broken_promise_on = Some(on);
        f.case.last_right_party_contact_on = Some(on);
        f.borrower.province = Some("GD".into());
        let b = f.bindings(on);
        let cat = catalogue();
        for (root, fields) in cat.roots() {
            for fd in fields {
                let src = format!("{root}.{}", fd.name);
                let e = compile(&src, &cat, &Type::Dyn).unwrap();
                let v = e.eval(&b).unwrap_or_else(|err| panic!("{src}: {err}"));
                let ok = matches!(
                    (&fd.ty, &v),
                    (Type::Int, Val::Int(_))
                        | (Type::Double, Val::Double(_))
                        | (Type::String, Val::Str(_))
                        | (Type::Bool, Val::Bool(_))
                );
                assert!(ok, "{src} is {v:?}, declared {:?}", fd.ty);
                if let Val::Str(s) = &v
                    && !fd.values.is_empty()
                {
                    assert!(fd.values.contains(&s.as_str()), "{src} = {s}");
                }
            }
        }
    }

    #[test]
    fn amounts_in_major_units_compare_exactly() {
        let on = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let mut f = sample("C1", on, 1);
        f.case.total_overdue = Amount::from_minor(500_001);
        let b = f.bindings(on);
        let cat = catalogue();
        let eq =
            compile("case.total_overdue == 5000.01 && case.total_overdue_minor == 500001", &cat, &Type::Bool);
        assert!(eq.unwrap().eval_bool(&b).unwrap());
        let gt = compile("case.total_overdue > 5000", &cat, &Type::Bool).unwrap();
        assert!(gt.eval_bool(&b).unwrap());
    }
}
