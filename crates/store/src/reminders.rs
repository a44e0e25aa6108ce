//! What the reminders before and on the due date (还款提醒) read: the loans with an
//! instalment falling due on given dates, or whose grace days run out on the business date.
//! Reminders are written to the outbox by [`crate::outbox`] (through the batch's treatment
//! writes); nothing here writes.

use arrears_core::id::{BorrowerId, CaseId, LoanId};
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use crate::batch_chunks::KeyRange;
use crate::rows::literal::text_list;
use crate::{Db, StoreError, on_pool};

/// One loan a reminder may be about, with its borrower and open case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderLoan {
    /// The loan.
    pub loan_id: LoanId,
    /// Its borrower.
    pub borrower_id: BorrowerId,
    /// Its product (the contact-policy pack is the product's).
    pub product: String,
    /// Currency code.
    pub currency: String,
    /// Days past due on the last evaluation.
    pub dpd: i64,
    /// The next instalment not yet overdue and what is left of it (minor units).
    pub next_due: Option<(NaiveDate, i64)>,
    /// The product's grace days.
    pub grace_days: i64,
    /// Overdue total (minor units), for the penalty notice.
    pub overdue: i64,
    /// The borrower's name ('' once purged), zone and language.
    pub name: String,
    /// IANA zone.
    pub timezone: String,
    /// `zh` or `en`.
    pub language: String,
    /// The borrower's open case, if any, with its hold and agency.
    pub case_id: Option<CaseId>,
    /// Hold code of that case.
    pub hold: Option<String>,
    /// Agency holding that case.
    pub placed_with: Option<String>,
    /// The product's contact-policy pack, when set.
    pub contact_pack: Option<String>,
    /// Whether a phone is on record that no provider has refused.
    pub phone_valid: bool,
    /// Whether an e-mail is on record that no provider has refused.
    pub email_valid: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    loan_id: String,
    borrower_id: String,
    product: String,
    currency: String,
    dpd: i64,
    next_due_on: Option<NaiveDate>,
    next_due_amount: i64,
    grace_days: i64,
    overdue: i64,
    name: String,
    timezone: String,
    language: String,
    case_id: Option<String>,
    hold: Option<String>,
    placed_with: Option<String>,
    contact_pack: Option<String>,
    phone_valid: i64,
    email_valid: i64,
}

/// Active loans whose next instalment falls due on one of `due_on` with something left to pay,
/// and, when `penalty` is set, those whose oldest unpaid instalment's grace days end on `date`
/// (overdue for exactly the grace days, or due today without grace); of `range`'s borrowers.
pub async fn loans_for(
    db: &Db,
    date: NaiveDate,
    due_on: &[NaiveDate],
    penalty: bool,
    range: &KeyRange,
) -> Result<Vec<ReminderLoan>, StoreError> {
    let mut clauses = Vec::new();
    if !due_on.is_empty() {
        let days: Vec<String> = due_on.iter().map(NaiveDate::to_string).collect();
        clauses.push(format!("(s.next_due_on IN ({}) AND s.next_due_amount > 0)", text_list(&days)));
    }
    if penalty {
        clauses.push(
            "(s.dpd > 0 AND s.dpd = l.grace_days AND s.evaluated_on = $1) \
             OR (l.grace_days = 0 AND s.dpd = 0 AND s.next_due_on = $1 AND s.next_due_amount > 0)"
                .to_string(),
        );
    }
    if clauses.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT s.loan_id, s.borrower_id, s.product, s.currency, CAST(s.dpd AS BIGINT) AS dpd, s.next_due_on, \
         CAST(s.next_due_amount AS BIGINT) AS next_due_amount, CAST(l.grace_days AS BIGINT) AS grace_days, \
         CAST(s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty AS BIGINT) AS overdue, \
         COALESCE(b.name, '') AS name, COALESCE(b.timezone, 'Asia/Shanghai') AS timezone, \
         COALESCE(b.language, 'zh') AS language, c.case_id, t.hold, t.placed_with, p.contact_pack, \
         CAST(CASE WHEN b.phone <> '' AND NOT EXISTS (SELECT 1 FROM invalid_contact_points i WHERE i.borrower_id = b.borrower_id \
              AND i.field = 'phone' AND i.address_bidx = b.phone_bidx) THEN 1 ELSE 0 END AS BIGINT) AS phone_valid, \
         CAST(CASE WHEN b.email <> '' AND NOT EXISTS (SELECT 1 FROM invalid_contact_points i WHERE i.borrower_id = b.borrower_id \
              AND i.field = 'email' AND i.address_bidx = b.email_bidx) THEN 1 ELSE 0 END AS BIGINT) AS email_valid \
         FROM loan_state s JOIN loans l ON l.loan_id = s.loan_id AND l.borrower_id = s.borrower_id \
         LEFT JOIN borrowers b ON b.borrower_id = s.borrower_id \
         LEFT JOIN cases c ON c.case_id = (SELECT o.case_id FROM cases o WHERE o.borrower_id = s.borrower_id \
                                           AND o.status = 'open' ORDER BY o.opened_on DESC LIMIT 1) \
         LEFT JOIN case_treatment t ON t.case_id = c.case_id AND t.borrower_id = c.borrower_id \
         LEFT JOIN products p ON p.product = s.product \
         WHERE s.status = 'active' AND ({}){} ORDER BY s.loan_id",
        clauses.join(" OR "),
        range.sql("s.borrower_id")
    );
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).bind(date).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            Ok(ReminderLoan {
                loan_id: crate::stored_id("loan_state", r.loan_id)?,
                borrower_id: crate::stored_id("loan_state", r.borrower_id)?,
                product: r.product,
                currency: r.currency,
                dpd: r.dpd,
                next_due: r.next_due_on.map(|on| (on, r.next_due_amount)),
                grace_days: r.grace_days,
                overdue: r.overdue,
                name: r.name,
                timezone: r.timezone,
                language: r.language,
                case_id: crate::stored_opt_id("cases", r.case_id)?,
                hold: r.hold,
                placed_with: r.placed_with,
                contact_pack: r.contact_pack,
                phone_valid: r.phone_valid == 1,
                email_valid: r.email_valid == 1,
            })
        })
        .collect()
}

/// Messages queued or sent to these borrowers since `since_utc` that no case holds (earlier
/// reminders): `(borrower, when, channel)`, for the frequency limits of the next.
pub async fn recent_of_borrowers(
    db: &Db,
    since_utc: &str,
    borrowers: &[&str],
) -> Result<Vec<(BorrowerId, String, String)>, StoreError> {
    if borrowers.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT borrower_id, COALESCE(sent_at, send_at), channel FROM outbox \
         WHERE case_id IS NULL AND borrower_id IN ({}) \
         AND status IN ('queued', 'sending', 'sent', 'delivered', 'bounced') \
         AND COALESCE(sent_at, send_at) >= $1 ORDER BY 1, 2",
        text_list(borrowers)
    );
    let rows: Vec<(String, String, String)> =
        on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).bind(since_utc).fetch_all(p).await?);
    rows.into_iter().map(|r| Ok((crate::stored_id("outbox", r.0)?, r.1, r.2))).collect()
}

/// What the dispatcher checks of a reminder's loan at send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanContext {
    /// The loan.
    pub loan_id: LoanId,
    /// `active`, `paid_off` or `pending` at its last evaluation.
    pub status: String,
    /// The borrower's IANA zone.
    pub timezone: String,
    /// The product's contact-policy pack, when set.
    pub contact_pack: Option<String>,
}

/// These loans (those that exist), in no set order.
pub async fn contexts(db: &Db, loans: &[&str]) -> Result<Vec<LoanContext>, StoreError> {
    let mut out = Vec::with_capacity(loans.len());
    for chunk in loans.chunks(500) {
        let sql = format!(
            "SELECT s.loan_id, s.status, COALESCE(b.timezone, 'Asia/Shanghai'), p.contact_pack \
             FROM loan_state s LEFT JOIN borrowers b ON b.borrower_id = s.borrower_id \
             LEFT JOIN products p ON p.product = s.product WHERE s.loan_id IN ({})",
            text_list(chunk)
        );
        let rows: Vec<(String, String, String, Option<String>)> =
            on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(p).await?);
        for r in rows {
            out.push(LoanContext {
                loan_id: crate::stored_id("loan_state", r.0)?,
                status: r.1,
                timezone: r.2,
                contact_pack: r.3,
            });
        }
    }
    Ok(out)
}
