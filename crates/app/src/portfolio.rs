//! `arrears report portfolio`: counts and balances of the book on a date.
//!
//! Streams the book a chunk of loans at a time and replays each loan, so the
//! report is right on any date without a batch having run.

use std::collections::BTreeMap;

use arrears_core::delinquency::{BucketScheme, DelinquencyRules, FiveClass, LoanStatus, assess};
use arrears_core::ledger::{Waterfall, replay};
use arrears_core::{Amount, Currency};
use arrears_store::loans::load_chunk;
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;
use serde::Serialize;

/// Loans read per query.
const CHUNK: i64 = 5000;

/// Totals for one group of loans; amounts in minor units of `currency`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Loans in the group.
    pub loans: u64,
    /// Of which overdue (DPD > 0).
    pub overdue_loans: u64,
    /// Outstanding principal.
    pub outstanding_principal: Amount,
    /// Overdue total (principal, interest, fee, penalty).
    pub overdue_total: Amount,
}

impl Totals {
    fn add(&mut self, dpd: u32, outstanding: Amount, overdue: Amount) {
        self.loans += 1;
        self.overdue_loans += u64::from(dpd > 0);
        self.outstanding_principal += outstanding;
        self.overdue_total += overdue;
    }
}

/// The book on a date, grouped three ways; every group is per currency (amounts never mix currencies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Portfolio {
    /// Business date.
    pub as_of: Option<NaiveDate>,
    /// Loans by status (pending, active, paid_off).
    pub by_status: BTreeMap<(String, &'static str), u64>,
    /// Active loans by (product, currency).
    pub by_product: BTreeMap<(String, Currency), Totals>,
    /// Active loans by (bucket index, currency).
    pub by_bucket: BTreeMap<(usize, Currency), Totals>,
    /// Active loans by (five-class, currency).
    pub by_five_class: BTreeMap<(FiveClass, Currency), Totals>,
}

/// Computes the portfolio on `date` over the whole book.
pub async fn portfolio(db: &Db, date: NaiveDate, progress: &dyn Fn(u64)) -> Result<Portfolio, StoreError> {
    let mut p = Portfolio { as_of: Some(date), ..Default::default() };
    let mut after: Option<String> = None;
    let mut seen = 0u64;
    let waterfall = Waterfall::default();
    loop {
        let chunk = load_chunk(db, after.as_deref(), CHUNK).await?;
        let Some(last) = chunk.last() else { break };
        after = Some(last.loan.id.to_string());
        for b in &chunk {
            let pos = replay(&b.loan, &b.schedule, &b.payments, date, &waterfall);
            let rules = DelinquencyRules { tolerance: b.tolerance, ..Default::default() };
            let q = assess(&pos, b.loan.disbursed_on, &rules, None);
            let cur = b.loan.currency;
            *p.by_status.entry((cur.code().to_string(), q.status.as_str())).or_default() += 1;
            if q.status != LoanStatus::Active {
                continue;
            }
            let (o, t) = (q.outstanding_principal, q.overdue.total());
            p.by_product.entry((b.loan.product.clone(), cur)).or_default().add(q.dpd, o, t);
            p.by_bucket.entry((q.bucket_index, cur)).or_default().add(q.dpd, o, t);
            p.by_five_class.entry((q.five_class, cur)).or_default().add(q.dpd, o, t);
        }
        seen += chunk.len() as u64;
        progress(seen);
    }
    Ok(p)
}

/// One line of a JSON table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotalsRow {
    /// Group label (product, bucket or five-class).
    pub group: String,
    /// Currency code.
    pub currency: String,
    /// Active loans.
    pub loans: u64,
    /// Overdue loans.
    pub overdue_loans: u64,
    /// Outstanding principal, decimal string.
    pub outstanding_principal: String,
    /// Overdue total, decimal string.
    pub overdue_total: String,
}

/// The report as JSON-ready rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortfolioView {
    /// Business date.
    pub as_of: Option<NaiveDate>,
    /// Loans by currency and status.
    pub status: Vec<serde_json::Value>,
    /// Active loans by product.
    pub by_product: Vec<TotalsRow>,
    /// Active loans by bucket.
    pub by_bucket: Vec<TotalsRow>,
    /// Active loans by five-class.
    pub by_five_class: Vec<TotalsRow>,
}

fn row(group: String, cur: Currency, t: &Totals) -> TotalsRow {
    TotalsRow {
        group,
        currency: cur.code().to_string(),
        loans: t.loans,
        overdue_loans: t.overdue_loans,
        outstanding_principal: t.outstanding_principal.format(cur),
        overdue_total: t.overdue_total.format(cur),
    }
}

impl Portfolio {
    /// Labels and decimal strings for printing.
    pub fn view(&self) -> PortfolioView {
        let scheme = BucketScheme::default();
        PortfolioView {
            as_of: self.as_of,
            status: self
                .by_status
                .iter()
                .map(|((c, s), n)| serde_json::json!({"currency": c, "status": s, "loans": n}))
                .collect(),
            by_product: self.by_product.iter().map(|((p, c), t)| row(p.clone(), *c, t)).collect(),
            by_bucket: self
                .by_bucket
                .iter()
                .map(|((i, c), t)| row(scheme.buckets()[*i].label.clone(), *c, t))
                .collect(),
            by_five_class: self
                .by_five_class
                .iter()
                .map(|((f, c), t)| row(f.as_str().to_string(), *c, t))
                .collect(),
        }
    }
}
