//! Repayment ability (还款能力): a borrower's statement ratios and behaviour figures, each with
//! its formula, inputs and period.

use arrears_core::Currency;
use arrears_core::ability::{self, Behaviour, Figure, InputValue, InstallmentRecord};
use arrears_core::id::BorrowerId;
use arrears_store::alerts as store;
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;

/// A borrower's repayment ability on a date.
#[derive(Debug, Clone)]
pub struct Ability {
    /// The borrower whose figures these are.
    pub borrower_id: BorrowerId,
    /// `individual` or `company`.
    pub kind: String,
    /// Currency of amounts in the inputs.
    pub currency: Currency,
    /// The date.
    pub date: NaiveDate,
    /// Ratios from statements (companies only).
    pub company: Vec<Figure>,
    /// Figures from behaviour over the loan book.
    pub behaviour: Vec<Figure>,
}

/// Computes a borrower's figures on `date`; `None` when there is no such borrower.
pub async fn ability(db: &Db, borrower: &str, date: NaiveDate) -> Result<Option<Ability>, StoreError> {
    let Some(kind) = store::borrower_kind(db, borrower).await? else { return Ok(None) };
    let mut b = Behaviour::default();
    let mut currency = None;
    for id in store::loans_of(db, borrower).await? {
        let Some(bundle) = arrears_store::loans::load_loan(db, &id).await? else { continue };
        currency.get_or_insert(bundle.loan.currency);
        let pos = crate::view::position(&bundle, date);
        for ip in &pos.installments {
            let i = &ip.installment;
            b.installments.push(InstallmentRecord {
                due_on: i.due_on,
                due: i.principal + i.interest + i.fee,
                paid: ip.paid_principal + ip.paid_interest + ip.paid_fee,
                settled_on: ip.settled_on,
            });
        }
    }
    for (status, _) in store::promises_of(db, borrower).await? {
        match status.as_str() {
            "kept" => b.promises_kept += 1,
            "broken" => b.promises_broken += 1,
            _ => b.promises_pending += 1,
        }
    }
    let company = if kind == "company" {
        ability::company(&store::statements_of(db, borrower).await?, date)
    } else {
        Vec::new()
    };
    let currency = currency
        .map_or_else(|| Currency::from_code("CNY"), Ok)
        .map_err(|e| StoreError::Corrupt { table: "loans", detail: e.to_string() })?;
    Ok(Some(Ability {
        borrower_id: BorrowerId::new(borrower)
            .map_err(|e| StoreError::Corrupt { table: "borrowers", detail: e.to_string() })?,
        kind,
        currency,
        date,
        company,
        behaviour: ability::individual(&b, date),
    }))
}

/// An input's value as text: money in major units of `c`.
pub fn input_text(v: &InputValue, c: Currency) -> String {
    match v {
        InputValue::Money(a) => a.format(c),
        InputValue::Count(n) | InputValue::Days(n) => n.to_string(),
        InputValue::Ratio(r) => r.normalize().to_string(),
    }
}
