//! `arrears loan show`: one loan's schedule, payments, allocation and delinquency on a date.

use arrears_core::delinquency::{DelinquencyRules, assess};
use arrears_core::id::{BorrowerId, LoanId, PaymentId};
use arrears_core::ledger::{LoanPosition, Source, Target, Waterfall, replay_with};
use arrears_core::{Amount, Currency};
use arrears_store::loans::{LoanBundle, load_loan};
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;
use serde::Serialize;

/// Amounts by component, as decimal strings in major units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueView {
    /// Overdue principal.
    pub principal: String,
    /// Overdue interest.
    pub interest: String,
    /// Overdue fee.
    pub fee: String,
    /// Charged unpaid penalty.
    pub penalty: String,
    /// Sum of the four.
    pub total: String,
}

/// One installment with what has been paid against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallmentView {
    /// The installment's number in the schedule, from 1.
    pub seq: u32,
    /// Due date.
    pub due_on: NaiveDate,
    /// Principal due.
    pub principal: String,
    /// Interest due.
    pub interest: String,
    /// Fee due.
    pub fee: String,
    /// Principal paid.
    pub paid_principal: String,
    /// Interest paid.
    pub paid_interest: String,
    /// Fee paid.
    pub paid_fee: String,
    /// Penalty paid.
    pub paid_penalty: String,
    /// Penalty charged so far.
    pub penalty_charged: String,
    /// Date principal, interest and fee were all paid.
    pub settled_on: Option<NaiveDate>,
}

/// One allocated part of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationView {
    /// Installment paid, or none for credit.
    pub seq: Option<u32>,
    /// `penalty`, `fee`, `interest`, `principal` or `credit`.
    pub component: &'static str,
    /// The part of the payment allocated here, in major units.
    pub amount: String,
}

/// A payment and how the waterfall allocated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentView {
    /// The payment's id; recording the same payment again changes nothing.
    pub payment_id: PaymentId,
    /// Value date.
    pub paid_on: NaiveDate,
    /// The amount received, in major units.
    pub amount: String,
    /// Where the payment came from (bank, counter, app, …), as recorded.
    pub channel: String,
    /// Allocation; empty for payments after the date.
    pub allocation: Vec<AllocationView>,
}

/// Everything `loan show` prints; field names are DESIGN.md's contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoanView {
    /// Loan id.
    pub loan_id: LoanId,
    /// Borrower id.
    pub borrower_id: BorrowerId,
    /// The loan's product code, whose rules give the tolerance, buckets and five-class thresholds.
    pub product: String,
    /// Currency code.
    pub currency: String,
    /// Repayment method: `annuity`, `equal_principal`, `interest_only` or `bullet`.
    pub method: &'static str,
    /// Original principal.
    pub principal: String,
    /// Business date of the figures.
    pub as_of: NaiveDate,
    /// Days past due.
    pub dpd: u32,
    /// Bucket label.
    pub bucket: String,
    /// Five-category class.
    pub five_class: &'static str,
    /// Overdue amounts.
    pub overdue: OverdueView,
    /// Principal not yet repaid.
    pub outstanding_principal: String,
    /// Credit from overpayments.
    pub credit: String,
    /// `pending`, `active` or `paid_off`.
    pub status: &'static str,
    /// Schedule with payments against it.
    pub installments: Vec<InstallmentView>,
    /// Payments with their allocation.
    pub payments: Vec<PaymentView>,
    /// Charged to date and where it stands: principal + interest + fee + penalty =
    /// paid − credit + waived + written_off + sold + outstanding.
    pub totals: std::collections::BTreeMap<&'static str, String>,
    /// `on_book`, `written_off` (in full) or `sold`.
    pub book: &'static str,
    /// Approved arrangements as the ledger applied them, oldest first; the schedule above is
    /// the one the last of them put in force.
    pub arrangements: Vec<ArrangementView>,
}

/// An approved arrangement on the date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArrangementView {
    /// The request that was approved.
    pub request_id: String,
    /// extension, instalment_plan, settlement or waiver.
    pub kind: &'static str,
    /// The date it took effect.
    pub on: NaiveDate,
    /// active, kept, broken, superseded or void.
    pub status: &'static str,
    /// When it was kept, broke or was replaced.
    pub ended_on: Option<NaiveDate>,
    /// Waived by it so far (a settlement's only once kept).
    pub waived: String,
    /// Whether the loan was non-performing (substandard or worse) when it took effect: a
    /// restructuring's five-class floor is then substandard rather than special mention.
    pub was_non_performing: bool,
}

/// A loaded loan's ledger at the end of `date`: its payments and events replayed by the
/// default waterfall. Every use case that reads a loan's position goes through it.
pub fn position(b: &LoanBundle, date: NaiveDate) -> LoanPosition {
    replay_with(&b.loan, &b.schedule, &b.payments, &b.events, date, &Waterfall::default())
}

/// Builds the view of a loan bundle on `date`.
pub fn loan_view(b: &LoanBundle, date: NaiveDate, rules: &DelinquencyRules) -> LoanView {
    let c: Currency = b.loan.currency;
    let s = |a: Amount| a.format(c);
    let pos = position(b, date);
    let q = assess(&pos, b.loan.disbursed_on, rules);
    let installments = pos
        .installments
        .iter()
        .map(|ip| InstallmentView {
            seq: ip.installment.seq,
            due_on: ip.installment.due_on,
            principal: s(ip.installment.principal),
            interest: s(ip.installment.interest),
            fee: s(ip.installment.fee),
            paid_principal: s(ip.paid_principal),
            paid_interest: s(ip.paid_interest),
            paid_fee: s(ip.paid_fee),
            paid_penalty: s(ip.paid_penalty),
            penalty_charged: s(ip.penalty_charged),
            settled_on: ip.settled_on,
        })
        .collect();
    let payments = b
        .payments
        .iter()
        .enumerate()
        .map(|(i, p)| PaymentView {
            payment_id: p.id.clone(),
            paid_on: p.paid_on,
            amount: s(p.amount),
            channel: p.channel.clone(),
            allocation: pos
                .postings
                .iter()
                .filter(|x| x.source == Source::Payment(i))
                .map(|x| AllocationView {
                    seq: match x.target {
                        Target::Installment(seq, _) => Some(seq),
                        _ => None,
                    },
                    component: match x.target {
                        Target::Installment(_, c) => c.as_str(),
                        Target::Credit => "credit",
                        Target::Recovery => "recovery",
                    },
                    amount: s(x.amount),
                })
                .collect(),
        })
        .collect();
    LoanView {
        loan_id: b.loan.id.clone(),
        borrower_id: b.loan.borrower_id.clone(),
        product: b.loan.product.clone(),
        currency: c.code().to_string(),
        method: b.loan.method.as_str(),
        principal: s(b.loan.principal),
        as_of: date,
        dpd: q.dpd,
        bucket: q.bucket.clone(),
        five_class: q.five_class.as_str(),
        overdue: OverdueView {
            principal: s(q.overdue.principal),
            interest: s(q.overdue.interest),
            fee: s(q.overdue.fee),
            penalty: s(q.overdue.penalty),
            total: s(q.overdue.total()),
        },
        outstanding_principal: s(q.outstanding_principal),
        credit: s(q.credit),
        status: q.status.as_str(),
        installments,
        payments,
        totals: {
            let t = pos.totals(b.loan.principal, &b.payments);
            [
                ("principal", t.principal),
                ("interest", t.interest),
                ("fee", t.fee),
                ("penalty", t.penalty),
                ("paid", t.paid),
                ("credit", t.credit),
                ("waived", t.waived),
                ("written_off", t.written_off),
                ("sold", t.sold),
                ("outstanding", t.outstanding),
                ("recovered", t.recovered),
            ]
            .into_iter()
            .map(|(k, v)| (k, s(v)))
            .collect()
        },
        book: pos.book.as_str(),
        arrangements: pos
            .arrangements
            .iter()
            .map(|a| ArrangementView {
                request_id: a.id.clone(),
                kind: a.kind.as_str(),
                on: a.on,
                status: a.status.as_str(),
                ended_on: a.ended_on,
                waived: s(a.waived),
                was_non_performing: a.was_non_performing,
            })
            .collect(),
    }
}

/// Loads a loan and builds its view; `None` when there is no such loan.
pub async fn show_loan(db: &Db, loan_id: &str, date: NaiveDate) -> Result<Option<LoanView>, StoreError> {
    let Some(b) = load_loan(db, loan_id).await? else { return Ok(None) };
    let rules = crate::batch::loans::product_rules(&b)
        .map_err(|e| StoreError::Corrupt { table: "products", detail: e.to_string() })?;
    Ok(Some(loan_view(&b, date, &rules)))
}
