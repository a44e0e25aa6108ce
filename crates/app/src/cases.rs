//! Reading cases (`arrears case list`, `case show`) and setting products' collection rules.

use arrears_core::Currency;
use arrears_core::delinquency::{BucketScheme, ClassThresholds};
use arrears_core::id::{LoanId, PtpId};
use arrears_store::cases::{self as store, CaseRow};
use arrears_store::products::{self, ProductRules};
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;
use serde::Serialize;

/// Cases, newest first.
pub async fn list(
    db: &Db,
    status: Option<arrears_core::case::CaseStatus>,
    limit: i64,
) -> Result<Vec<CaseRow>, StoreError> {
    store::list_cases(db, status, limit).await
}

/// One loan of a case as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseLoanView {
    /// Loan id.
    pub loan_id: LoanId,
    /// Date it joined the case.
    pub added_on: NaiveDate,
    /// Currency code.
    pub currency: String,
    /// Date of the figures below.
    pub as_of: Option<NaiveDate>,
    /// Days past due.
    pub dpd: u32,
    /// The loan's delinquency bucket (M0…M7+ by default) on `as_of`.
    pub bucket: String,
    /// Five-class.
    pub five_class: String,
    /// Everything overdue.
    pub overdue_total: String,
    /// Principal outstanding.
    pub outstanding_principal: String,
}

/// A promise to pay as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PtpView {
    /// `PTP:{case}:{contact time in UTC}`: one promise per case and moment of contact.
    pub ptp_id: PtpId,
    /// Date promised.
    pub promised_on: NaiveDate,
    /// Date due.
    pub due_on: NaiveDate,
    /// Currency code.
    pub currency: String,
    /// Amount promised.
    pub amount: String,
    /// Paid towards it when last judged.
    pub paid: String,
    /// `pending`, `kept` or `broken`.
    pub status: &'static str,
}

/// `arrears case show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseView {
    /// The case's line.
    #[serde(flatten)]
    pub case: CaseRow,
    /// Its loans.
    pub loans: Vec<CaseLoanView>,
    /// Its promises to pay.
    pub ptps: Vec<PtpView>,
    /// Its tasks, newest first.
    pub tasks: Vec<arrears_store::tasks::TaskRow>,
    /// Its recorded contacts and refusals, oldest first.
    pub actions: Vec<arrears_store::actions::ActionRow>,
    /// Its automatic messages with where each stands (sent, delivered, refused …), the text
    /// as sent, oldest first.
    pub messages: Vec<arrears_store::outbox::MessageRow>,
    /// Arrangements asked for on the case, with their decision and, once approved, where they
    /// stand in the ledger; newest first.
    pub arrangements: Vec<arrears_store::arrangements::ArrangementRequest>,
}

impl std::ops::Deref for CaseView {
    type Target = CaseRow;
    fn deref(&self) -> &CaseRow {
        &self.case
    }
}

fn money(code: &str, a: arrears_core::Amount) -> String {
    Currency::from_code(code).map_or_else(|_| a.minor().to_string(), |c| a.format(c))
}

/// One case with its loans and promises; `None` if there is no such case.
pub async fn show(db: &Db, case_id: &str) -> Result<Option<CaseView>, StoreError> {
    let Some((row, loans, ptps)) = store::case_detail(db, case_id).await? else { return Ok(None) };
    let loans = loans
        .into_iter()
        .map(|l| {
            let s = l.snapshot.as_ref();
            CaseLoanView {
                as_of: l.evaluated_on,
                dpd: s.map_or(0, |s| s.dpd),
                bucket: s.map_or_else(String::new, |s| s.bucket.clone()),
                five_class: s.map_or("", |s| s.five_class.as_str()).to_string(),
                overdue_total: money(
                    &l.currency,
                    s.map_or(arrears_core::Amount::ZERO, |s| s.overdue.total()),
                ),
                outstanding_principal: money(
                    &l.currency,
                    s.map_or(arrears_core::Amount::ZERO, |s| s.outstanding_principal),
                ),
                loan_id: l.loan_id,
                added_on: l.added_on,
                currency: l.currency,
            }
        })
        .collect();
    let ptps = ptps
        .into_iter()
        .map(|t| PtpView {
            amount: money(&t.currency, t.promise.amount),
            paid: money(&t.currency, t.paid),
            ptp_id: t.ptp_id,
            promised_on: t.promise.promised_on,
            due_on: t.promise.due_on,
            currency: t.currency,
            status: t.status.as_str(),
        })
        .collect();
    let filter =
        arrears_store::tasks::TaskFilter { case_id: Some(row.case_id.clone()), ..Default::default() };
    let tasks = arrears_store::tasks::list(db, &filter, 10_000).await?;
    let actions = arrears_store::actions::list(db, Some(case_id), 10_000).await?;
    let mut messages = arrears_store::outbox::list(
        db,
        arrears_store::outbox::MessageFilter { case_id: Some(case_id), ..Default::default() },
        10_000,
    )
    .await?;
    // The reminders before the case opened, on its loans: the history starts there.
    for l in &loans {
        let l: &CaseLoanView = l;
        let filter =
            arrears_store::outbox::MessageFilter { loan_id: Some(l.loan_id.as_str()), ..Default::default() };
        let before = arrears_store::outbox::list(db, filter, 1_000).await?;
        messages.extend(before.into_iter().filter(|m| m.case_id.is_none()));
    }
    messages.sort_by(|a, b| a.send_at.cmp(&b.send_at).then_with(|| a.message_id.cmp(&b.message_id)));
    let arrangements = arrears_store::arrangements::arrangement_requests(db, case_id).await?;
    Ok(Some(CaseView { case: row, loans, ptps, tasks, actions, messages, arrangements }))
}

/// A product's rules as shown: defaults spelled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductView {
    /// Product code.
    pub product: String,
    /// Tolerance in minor units.
    pub tolerance_minor: i64,
    /// Bucket scheme.
    pub buckets: String,
    /// Five-class thresholds.
    pub five_class: String,
    /// Contact-policy pack: `cn`, `us`, or `by time zone`.
    pub contact_pack: String,
    /// Months a restructuring's five-class floor holds.
    pub observation_months: i64,
    /// Days an arrangement instalment may be late before the arrangement breaks.
    pub arrangement_grace_days: i64,
    /// The longest extension or instalment plan, in months.
    pub max_arrangement_months: i64,
}

fn product_view(p: ProductRules) -> ProductView {
    ProductView {
        product: p.product,
        tolerance_minor: p.tolerance_minor,
        buckets: p.buckets.unwrap_or_else(|| BucketScheme::default().spec()),
        five_class: p.five_class.unwrap_or_else(|| ClassThresholds::default().spec()),
        contact_pack: p.contact_pack.unwrap_or_else(|| "by time zone".to_string()),
        observation_months: p
            .observation_months
            .unwrap_or(i64::from(arrears_core::delinquency::DEFAULT_OBSERVATION_MONTHS)),
        arrangement_grace_days: p
            .arrangement_grace_days
            .unwrap_or(i64::from(crate::arrangements::DEFAULT_GRACE_DAYS)),
        max_arrangement_months: p
            .max_arrangement_months
            .unwrap_or(i64::from(crate::arrangements::MAX_MONTHS)),
    }
}

/// A product's settings as given to `product set`; `None` for the defaults.
#[derive(Debug, Clone, Default)]
pub struct ProductSettings<'a> {
    /// Arrears tolerance in minor units.
    pub tolerance_minor: i64,
    /// Bucket scheme.
    pub buckets: Option<&'a str>,
    /// Five-class thresholds.
    pub five_class: Option<&'a str>,
    /// Contact-policy pack.
    pub contact_pack: Option<&'a str>,
    /// Months a restructuring's five-class floor holds (0 to 120).
    pub observation_months: Option<u32>,
    /// Days an arrangement instalment may be late before it breaks (0 to 365).
    pub arrangement_grace_days: Option<u32>,
    /// The longest extension or instalment plan, in months (1 to 360).
    pub max_arrangement_months: Option<u32>,
}

/// Every product's rules.
pub async fn products(db: &Db) -> Result<Vec<ProductView>, StoreError> {
    Ok(products::list(db).await?.into_iter().map(product_view).collect())
}

/// Why product rules were refused.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// A bucket scheme or thresholds that do not parse or do not cover every DPD.
    #[error("--{option} {spec:?}: {reason}")]
    Spec {
        /// Which option.
        option: &'static str,
        /// As given.
        spec: String,
        /// What is wrong with it, e.g. a DPD it leaves uncovered.
        reason: String,
    },
    /// Negative tolerance.
    #[error("--tolerance-minor must not be negative")]
    Tolerance,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be recorded (nothing was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// Validates and stores a product's rules, normalised to their canonical spelling, and
/// records `actor` as having set them (nothing when they are the rules stored already).
pub async fn set_product(
    db: &Db,
    code: &str,
    settings: &ProductSettings<'_>,
    at: &crate::audit::At,
    actor: &str,
) -> Result<ProductView, ProductError> {
    let ProductSettings { tolerance_minor, buckets, five_class, contact_pack, .. } = *settings;
    for (option, value, range) in [
        ("observation-months", settings.observation_months, 0..=120),
        ("arrangement-grace-days", settings.arrangement_grace_days, 0..=365),
        ("max-arrangement-months", settings.max_arrangement_months, 1..=360),
    ] {
        if let Some(v) = value
            && !range.contains(&v)
        {
            return Err(ProductError::Spec {
                option,
                spec: v.to_string(),
                reason: format!("use {} to {}", range.start(), range.end()),
            });
        }
    }
    if tolerance_minor < 0 {
        return Err(ProductError::Tolerance);
    }
    if let Some(pack) = contact_pack
        && arrears_core::contact_policy::PolicyPack::builtin(pack).is_err()
    {
        return Err(ProductError::Spec {
            option: "contact-pack",
            spec: pack.into(),
            reason: "use cn or us".into(),
        });
    }
    let buckets = buckets
        .map(|b| {
            BucketScheme::parse(b).map(|s| s.spec()).map_err(|e| ProductError::Spec {
                option: "buckets",
                spec: b.into(),
                reason: e.to_string(),
            })
        })
        .transpose()?;
    let five_class = five_class
        .map(|c| {
            ClassThresholds::parse(c).map(|t| t.spec()).map_err(|e| ProductError::Spec {
                option: "five-class",
                spec: c.into(),
                reason: e.to_string(),
            })
        })
        .transpose()?;
    let p = ProductRules {
        product: code.to_string(),
        tolerance_minor,
        buckets,
        five_class,
        contact_pack: contact_pack.map(str::to_string),
        observation_months: settings.observation_months.map(i64::from),
        arrangement_grace_days: settings.arrangement_grace_days.map(i64::from),
        max_arrangement_months: settings.max_arrangement_months.map(i64::from),
    };
    let mut tx = db.begin().await?;
    if products::get_tx(&mut tx, code).await?.as_ref() == Some(&p) {
        tx.rollback().await?;
        return Ok(product_view(p));
    }
    products::put_tx(&mut tx, &p).await?;
    let e = crate::audit::Event::new(actor, "product.set")
        .entity(format!("product:{code}"))
        .fact("tolerance_minor", tolerance_minor)
        .fact("buckets", p.buckets.as_deref())
        .fact("five_class", p.five_class.as_deref())
        .fact("contact_pack", p.contact_pack.as_deref())
        .fact("observation_months", p.observation_months)
        .fact("arrangement_grace_days", p.arrangement_grace_days)
        .fact("max_arrangement_months", p.max_arrangement_months);
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(product_view(p))
}
