//! Payments (还款): every way a payment enters the book (typed by a person, an import, a system
//! of the lender's through the API) books it through here, and only here are loans
//! re-evaluated after new payments.

use arrears_core::{Amount, Payment, PaymentId};
use arrears_store::loan_state;
use arrears_store::payments::{self as store, Recorded};
use arrears_store::{Db, DbUrl, StoreError, Tx};
use chrono::NaiveDate;

use crate::audit::Clock;
use crate::batch::{BatchError, Refresh};

/// Why a payment was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No such loan.
    #[error("no loan {0:?} in the book")]
    NoLoan(String),
    /// Amount not valid in the loan's currency.
    #[error("amount {amount:?}: {reason}")]
    Amount {
        /// As given.
        amount: String,
        /// Why not.
        reason: String,
    },
    /// Value date before the loan existed.
    #[error("value date {date} is before loan {loan} was disbursed ({disbursed})")]
    BeforeDisbursement {
        /// Value date.
        date: NaiveDate,
        /// The loan the payment was for.
        loan: String,
        /// Disbursement date.
        disbursed: NaiveDate,
    },
    /// Value date after today.
    #[error("value date {date} is in the future (today is {today}); record a payment once it has arrived")]
    Future {
        /// Value date.
        date: NaiveDate,
        /// Today, by the caller's clock; a value date may not be later.
        today: NaiveDate,
    },
    /// Empty or malformed id.
    #[error("payment id {0:?} is not valid: {1}")]
    BadId(String, String),
    /// Same id, other fields.
    #[error("payment {0} already exists with a different loan, date, amount or channel; nothing was changed")]
    Conflict(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Refreshing failed after the payment was stored.
    #[error("the payment was recorded, but re-evaluating the loan failed: {0}")]
    Refresh(#[from] BatchError),
    /// The payment's audit entry could not be recorded (nor was the payment).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// A payment as typed by a person.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    /// Payment id.
    pub id: &'a str,
    /// Loan id.
    pub loan_id: &'a str,
    /// Value date.
    pub paid_on: NaiveDate,
    /// Amount in major units, e.g. "1234.56".
    pub amount: &'a str,
    /// Where the payment came from (bank, counter, app, …).
    pub channel: &'a str,
}

/// What recording a payment did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentRecorded {
    /// False when the same payment was already there.
    pub new: bool,
    /// The re-evaluation that followed.
    pub refresh: Refresh,
}

/// Records one payment (`arrears payment add`) and re-evaluates its loan at once.
pub async fn add_payment(
    db: &Db,
    url: &DbUrl,
    p: &NewPayment<'_>,
    today: NaiveDate,
    clock: &Clock,
) -> Result<PaymentRecorded, PaymentError> {
    let bundle = arrears_store::loans::load_loan(db, p.loan_id)
        .await?
        .ok_or_else(|| PaymentError::NoLoan(p.loan_id.into()))?;
    let loan = &bundle.loan;
    let amount = Amount::parse(p.amount, loan.currency)
        .map_err(|e| PaymentError::Amount { amount: p.amount.into(), reason: e.to_string() })?;
    if amount <= Amount::ZERO {
        return Err(PaymentError::Amount {
            amount: p.amount.into(),
            reason: "must be more than zero".into(),
        });
    }
    if p.paid_on < loan.disbursed_on {
        return Err(PaymentError::BeforeDisbursement {
            date: p.paid_on,
            loan: p.loan_id.into(),
            disbursed: loan.disbursed_on,
        });
    }
    if p.paid_on > today {
        return Err(PaymentError::Future { date: p.paid_on, today });
    }
    let payment = Payment {
        id: PaymentId::new(p.id).map_err(|e| PaymentError::BadId(p.id.into(), e.to_string()))?,
        loan_id: loan.id.clone(),
        paid_on: p.paid_on,
        amount,
        channel: p.channel.to_string(),
    };
    let new = match record(db, &payment, loan.currency, ("arrears payment add", "system:cli"), clock).await? {
        Recorded::Differs(_) => return Err(PaymentError::Conflict(p.id.into())),
        Recorded::AlreadyThere => false,
        Recorded::New => true,
    };
    let refresh = reevaluate(db, url, clock).await?;
    Ok(PaymentRecorded { new, refresh })
}

/// Books one checked payment with its audit entry (by `actor`) in one transaction, as an
/// import of one row from `source`; nothing is written when it is there already or its id is
/// taken.
async fn record(
    db: &Db,
    payment: &Payment,
    currency: arrears_core::Currency,
    (source, actor): (&str, &str),
    clock: &Clock,
) -> Result<Recorded, PaymentError> {
    let at = clock();
    let mut tx = db.begin().await?;
    let import_id = arrears_store::import::begin_import(&mut tx, source, &at.to_rfc3339()).await?;
    let recorded = store::record_payments(&mut tx, std::slice::from_ref(payment), import_id)
        .await?
        .pop()
        .unwrap_or(Recorded::AlreadyThere);
    if recorded != Recorded::New {
        tx.rollback().await?;
        return Ok(recorded);
    }
    loan_state::note_new_payments(&mut tx, import_id, Some(&[payment.loan_id.as_str()])).await?;
    arrears_store::import::finish_import(&mut tx, import_id, "1 payment").await?;
    let e = crate::audit::payment_event(payment, currency.code(), import_id, actor);
    crate::audit::record_all(&mut tx, &at, vec![e]).await?;
    tx.commit().await?;
    Ok(Recorded::New)
}

/// A payment as the API receives it (`POST /api/v1/payments`), and as it answers it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentIn {
    /// The lender's id of the payment: the same id is the same payment.
    pub payment_id: String,
    /// The loan paid.
    pub loan_id: String,
    /// Value date, YYYY-MM-DD.
    pub paid_on: String,
    /// Major units as a decimal string, in the loan's currency.
    pub amount: String,
    /// Where it came from (bank transfer, counter, app, …).
    pub channel: String,
    /// The currency, when the sender says it (it must be the loan's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// Why the API did not book a payment.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// A field is wrong (HTTP 422; a dead letter on the stream): nothing was written.
    #[error("{field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it, for the person who fixes the sender.
        reason: String,
    },
    /// The id is taken by a payment with another value of `field` (HTTP 409): nothing written.
    #[error("payment {id} exists with another {field}; nothing was changed")]
    Conflict {
        /// The payment id.
        id: String,
        /// The first field that differs.
        field: &'static str,
    },
    /// Recording or re-evaluating failed.
    #[error(transparent)]
    Payment(#[from] PaymentError),
}

impl From<StoreError> for BookError {
    fn from(e: StoreError) -> BookError {
        BookError::Payment(e.into())
    }
}

/// How a batch of payments is taken when some of them are wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taking {
    /// All or nothing (the API's batch: the sender fixes the batch and sends it again).
    Whole,
    /// Each on its own (the stream: a wrong message goes to the dead letters, the rest are booked).
    EachAlone,
}

/// What became of one payment of a batch: new (true) or the same again (false) with the
/// payment as booked, or why not.
pub type Outcome = Result<(bool, PaymentIn), BookError>;

/// Books many payments from `source` (an API key or a stream consumer, as an actor) in one
/// transaction, one import and one audit entry per new payment; the outcomes are in the order
/// of `ps`. With [`Taking::Whole`] nothing is written unless every payment is good. The loans
/// are marked for re-evaluation in the same transaction; the caller then calls [`reevaluate`].
/// `Err` only when the database fails (nothing written).
pub async fn book_many(
    db: &Db,
    ps: &[PaymentIn],
    latest: NaiveDate,
    taking: Taking,
    source: &str,
    clock: &Clock,
) -> Result<Vec<Outcome>, PaymentError> {
    if ps.is_empty() {
        return Ok(Vec::new());
    }
    let at = clock();
    let mut tx = db.begin().await?;
    let loan_ids: Vec<&str> = ps.iter().map(|p| p.loan_id.trim()).collect();
    let mut meta = std::collections::HashMap::new();
    for chunk in loan_ids.chunks(arrears_store::rows::keyed::ROWS_PER_STATEMENT) {
        meta.extend(arrears_store::import::loan_meta(&mut tx, chunk).await?);
    }
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(ps.len());
    // The good payments, and for each its place in `ps` and its loan's currency.
    let mut payments: Vec<Payment> = Vec::with_capacity(ps.len());
    let mut good: Vec<(usize, arrears_core::Currency)> = Vec::with_capacity(ps.len());
    for (i, p) in ps.iter().enumerate() {
        match check(p, meta.get(p.loan_id.trim()), latest) {
            Ok((payment, booked, currency)) => {
                outcomes.push(Ok((false, booked)));
                payments.push(payment);
                good.push((i, currency));
            }
            Err(e) => outcomes.push(Err(e)),
        }
    }
    let wrong = outcomes.iter().any(Result::is_err);
    if good.is_empty() || (wrong && taking == Taking::Whole) {
        tx.rollback().await?;
        return Ok(outcomes);
    }
    let import_id =
        arrears_store::import::begin_import(&mut tx, source_kind(source), &at.to_rfc3339()).await?;
    let recorded = store::record_payments(&mut tx, &payments, import_id).await?;
    let mut events = Vec::new();
    let mut touched: Vec<&str> = Vec::new();
    for (((i, currency), payment), r) in good.iter().zip(&payments).zip(recorded) {
        let outcome = &mut outcomes[*i];
        match r {
            Recorded::New => {
                if let Ok((new, _)) = outcome {
                    *new = true;
                }
                events.push(crate::audit::payment_event(payment, currency.code(), import_id, source));
                touched.push(payment.loan_id.as_str());
            }
            Recorded::AlreadyThere => {}
            Recorded::Differs(field) => {
                *outcome = Err(BookError::Conflict { id: payment.id.as_str().to_string(), field });
            }
        }
    }
    if events.is_empty() || (taking == Taking::Whole && outcomes.iter().any(Result::is_err)) {
        tx.rollback().await?;
        return Ok(outcomes);
    }
    touched.sort_unstable();
    touched.dedup();
    loan_state::note_new_payments(&mut tx, import_id, Some(&touched)).await?;
    arrears_store::import::finish_import(&mut tx, import_id, &format!("{} payments", events.len())).await?;
    crate::audit::record_all(&mut tx, &at, events).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// What the import log names as the source of a booking by `actor`.
fn source_kind(actor: &str) -> &'static str {
    if actor.starts_with("system:consumer") { "stream" } else { "api" }
}

/// Checks one payment as sent against its loan (`None` when there is no such loan): the
/// payment to book, the answer to send back, and the loan's currency.
fn check(
    p: &PaymentIn,
    loan: Option<&arrears_store::import::LoanMeta>,
    latest: NaiveDate,
) -> Result<(Payment, PaymentIn, arrears_core::Currency), BookError> {
    let bad = |field: &'static str, reason: String| BookError::Field { field, reason };
    let id = PaymentId::new(p.payment_id.trim()).map_err(|e| bad("payment_id", e.to_string()))?;
    let loan_id = p.loan_id.trim();
    let loan = loan.ok_or_else(|| bad("loan_id", format!("no loan {loan_id:?} in the book")))?;
    let paid_on = arrears_core::calendar::parse_iso_date(p.paid_on.trim())
        .ok_or_else(|| bad("paid_on", format!("{:?} is not a date (YYYY-MM-DD)", p.paid_on)))?;
    if p.channel.trim().is_empty() {
        return Err(bad("channel", "must say where the payment came from".into()));
    }
    if let Some(c) = p.currency.as_deref().map(str::trim)
        && c != loan.currency.code()
    {
        return Err(bad("currency", format!("loan {loan_id} is in {}, not {c}", loan.currency.code())));
    }
    let amount = Amount::parse(p.amount.trim(), loan.currency)
        .map_err(|e| bad("amount", format!("{:?}: {e}", p.amount)))?;
    if amount <= Amount::ZERO {
        return Err(bad("amount", format!("{:?} must be more than zero", p.amount)));
    }
    if paid_on < loan.disbursed_on {
        return Err(bad(
            "paid_on",
            format!("{paid_on} is before loan {loan_id} was disbursed on {}", loan.disbursed_on),
        ));
    }
    if paid_on > latest {
        return Err(bad(
            "paid_on",
            format!(
                "{paid_on} is after {latest}, the day after the last closed business date; send it once it has arrived"
            ),
        ));
    }
    let loan_id = arrears_core::LoanId::new(loan_id).map_err(|e| bad("loan_id", e.to_string()))?;
    let payment = Payment { id, loan_id, paid_on, amount, channel: p.channel.trim().to_string() };
    let booked = PaymentIn {
        payment_id: payment.id.as_str().to_string(),
        loan_id: payment.loan_id.as_str().to_string(),
        paid_on: paid_on.to_string(),
        amount: amount.format(loan.currency),
        channel: payment.channel.clone(),
        currency: Some(loan.currency.code().to_string()),
    };
    Ok((payment, booked, loan.currency))
}

/// The latest value date a payment sent now may carry: the day after the last closed
/// business date (a payment of today, before tonight's batch). `None` before the first batch.
pub async fn latest_value_date(db: &Db) -> Result<Option<NaiveDate>, StoreError> {
    Ok(arrears_store::days::last_closed_day(db).await?.and_then(|d| d.succ_opt()))
}

/// Marks, in the import's own transaction, the loans that the payments booked by `import_id`
/// touch on or before the last closed date, so that their evaluation is redone from the
/// payment's value date. (`payment add`, the API and the stream mark only their own loans.)
pub(crate) async fn note_booked(tx: &mut Tx, import_id: i64) -> Result<u64, StoreError> {
    loan_state::note_new_payments(tx, import_id, None).await
}

/// Re-evaluates the loans that new payments touched up to the last closed business date at
/// once, with their cases and promises, so that a borrower who paid is not chased that evening.
/// The one place that does so after a booking.
pub async fn reevaluate(db: &Db, url: &DbUrl, clock: &Clock) -> Result<Refresh, BatchError> {
    crate::batch::refresh(db, url, clock).await
}
