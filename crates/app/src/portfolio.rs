//! `arrears report portfolio`: the figures the close of business stored for a
//! date — loans and balances by status, product, bucket and five-class, and the
//! roll-rate matrix from the previous business date.

use std::collections::HashMap;

use arrears_core::{Amount, Currency};
use arrears_store::figures::{self as store, FigureRow, RollRow};
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;
use serde::Serialize;

/// Why there is no report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The batch has not closed the date.
    #[error(
        "no figures for {0}: the close of business has not finished that date (run `arrears batch --date {0}`)"
    )]
    NotClosed(NaiveDate),
    /// The database failed or holds something unreadable.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One line of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotalsRow {
    /// Group label (status, product, bucket or five-class).
    pub group: String,
    /// Currency code.
    pub currency: String,
    /// Loans in the group on the date.
    pub loans: i64,
    /// Loans with DPD > 0.
    pub overdue_loans: i64,
    /// Principal outstanding.
    pub outstanding_principal: String,
    /// Everything overdue (principal, interest, fee, penalty).
    pub overdue_total: String,
}

/// One cell of the roll-rate matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollView {
    /// Currency code.
    pub currency: String,
    /// Bucket on the previous business date.
    pub from: String,
    /// Bucket on this date, or `paid_off`.
    pub to: String,
    /// Loans that moved so.
    pub loans: i64,
    /// Their principal on the previous business date.
    pub balance: String,
    /// Share of the `from` bucket's loans, in percent with two decimals.
    pub loan_rate: String,
    /// Share of the `from` bucket's balance, in percent with two decimals.
    pub balance_rate: String,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortfolioView {
    /// Business date.
    pub as_of: NaiveDate,
    /// Every loan by status.
    pub by_status: Vec<TotalsRow>,
    /// Active loans by product.
    pub by_product: Vec<TotalsRow>,
    /// Active loans by bucket.
    pub by_bucket: Vec<TotalsRow>,
    /// Active loans by five-class.
    pub by_five_class: Vec<TotalsRow>,
    /// Roll rates from the previous business date.
    pub roll_rates: Vec<RollView>,
}

fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::from_code(code).map_err(|e| StoreError::Corrupt {
        table: "portfolio_figures",
        detail: format!("currency {code:?}: {e}"),
    })
}

/// `part / whole` in percent with two decimals, rounded half up; integer arithmetic only.
fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "0.00".into();
    }
    let bp = (i128::from(part) * 20_000 + i128::from(whole)) / (2 * i128::from(whole));
    format!("{}.{:02}", bp / 100, bp % 100)
}

/// The stored figures of `date`.
pub async fn portfolio(db: &Db, date: NaiveDate) -> Result<PortfolioView, ReportError> {
    let (figures, rolls) = store::figures(db, date).await?;
    if figures.is_empty() {
        return Err(ReportError::NotClosed(date));
    }
    let row = |f: &FigureRow| -> Result<TotalsRow, StoreError> {
        let c = currency(&f.currency)?;
        Ok(TotalsRow {
            group: f.group.clone(),
            currency: f.currency.clone(),
            loans: f.loans,
            overdue_loans: f.overdue_loans,
            outstanding_principal: f.outstanding_principal.format(c),
            overdue_total: f.overdue_total.format(c),
        })
    };
    let table = |dimension: &str| -> Result<Vec<TotalsRow>, StoreError> {
        figures.iter().filter(|f| f.dimension == dimension).map(row).collect()
    };
    let mut from_totals: HashMap<(&str, &str), (i64, Amount)> = HashMap::new();
    for r in &rolls {
        let t = from_totals.entry((r.currency.as_str(), r.from_bucket.as_str())).or_default();
        t.0 += r.loans;
        t.1 += r.balance;
    }
    let roll_rates = rolls
        .iter()
        .map(|r: &RollRow| {
            let c = currency(&r.currency)?;
            let (loans, balance) = from_totals[&(r.currency.as_str(), r.from_bucket.as_str())];
            Ok(RollView {
                currency: r.currency.clone(),
                from: r.from_bucket.clone(),
                to: r.to_bucket.clone(),
                loans: r.loans,
                balance: r.balance.format(c),
                loan_rate: percent(r.loans, loans),
                balance_rate: percent(r.balance.minor(), balance.minor()),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(PortfolioView {
        as_of: date,
        by_status: table("status")?,
        by_product: table("product")?,
        by_bucket: table("bucket")?,
        by_five_class: table("five_class")?,
        roll_rates,
    })
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percent_rounds_half_up() {
        // (part, whole, text)
        for (p, w, want) in [
            (1, 3, "33.33"),
            (2, 3, "66.67"),
            (1, 8, "12.50"),
            (0, 5, "0.00"),
            (5, 5, "100.00"),
            (1, 0, "0.00"),
        ] {
            assert_eq!(percent(p, w), want, "{p}/{w}");
        }
    }
}
