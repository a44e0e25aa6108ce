//! Payments (还款): every way a payment enters the book (typed by a person, an import, and next
//! the API) books it through here, and only here are loans re-evaluated after new payments.

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
    let at = clock();
    let mut tx = db.begin().await?;
    let import_id =
        arrears_store::import::begin_import(&mut tx, "arrears payment add", &at.to_rfc3339()).await?;
    let recorded = store::record_payment(&mut tx, &payment, import_id).await?;
    let new = match recorded {
        None => return Err(PaymentError::Conflict(p.id.into())),
        Some(Recorded::AlreadyThere) => false,
        Some(Recorded::New) => {
            note_booked(&mut tx, import_id).await?;
            arrears_store::import::finish_import(&mut tx, import_id, "1 payment").await?;
            crate::audit::record_all(
                &mut tx,
                &at,
                vec![crate::audit::payment_event(&payment, loan.currency.code(), import_id)],
            )
            .await?;
            true
        }
    };
    if new {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    let refresh = reevaluate(db, url, clock).await?;
    Ok(PaymentRecorded { new, refresh })
}

/// Marks, in the booking's own transaction, the loans that the payments booked by `import_id`
/// touch on or before the last closed date, so that their evaluation is redone from the
/// payment's value date. Every booking calls it: `payment add`, the import and the API.
pub(crate) async fn note_booked(tx: &mut Tx, import_id: i64) -> Result<u64, StoreError> {
    loan_state::note_new_payments(tx, import_id).await
}

/// Re-evaluates the loans that new payments touched up to the last closed business date at
/// once, with their cases and promises, so that a borrower who paid is not chased that evening.
/// The one place that does so after a booking.
pub async fn reevaluate(db: &Db, url: &DbUrl, clock: &Clock) -> Result<Refresh, BatchError> {
    crate::batch::refresh(db, url, clock).await
}
