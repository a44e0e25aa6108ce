//! `arrears arrangement …`: quotes for extensions, instalment plans, settlements and waivers.

use anyhow::Result;
use chrono::NaiveDate;
use clap::Subcommand;

use crate::{open, print_json};

/// `arrears arrangement`.
#[derive(Subcommand)]
pub enum ArrangementCommand {
    /// Quote an arrangement for a loan on a date, before anyone asks or approves: the new
    /// schedule, what the borrower pays in all, what is waived, the five-class category after.
    /// Nothing is stored.
    Quote {
        /// The loan.
        #[arg(long)]
        loan: String,
        /// extension, instalment_plan, settlement or waiver.
        #[arg(long)]
        kind: String,
        /// The quote date (YYYY-MM-DD).
        #[arg(long)]
        date: NaiveDate,
        /// Months of an extension or plan; payments of a settlement (default one).
        #[arg(long)]
        months: Option<u32>,
        /// The settlement amount, the plan's down payment, or the penalty and fees waived
        /// (major units, e.g. 1200.00).
        #[arg(long)]
        amount: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `arrears arrangement …`.
pub async fn run(url: &str, command: ArrangementCommand) -> Result<()> {
    let ArrangementCommand::Quote { loan, kind, date, months, amount, json } = command;
    let db = open(url).await?;
    let q = arrears_app::arrangements::quote(&db, &loan, date, &kind, months, amount.as_deref()).await?;
    if json {
        print_json(&q)?;
        return Ok(());
    }
    println!(
        "{} for loan {} on {} ({} DPD, {} now, {} after)",
        q.kind, q.loan_id, q.date, q.dpd, q.five_class_before, q.five_class_after
    );
    println!(
        "owed: principal {} interest {} fee {} penalty {} credit {} total {} {}",
        q.owed["principal"],
        q.owed["interest"],
        q.owed["fee"],
        q.owed["penalty"],
        q.owed["credit"],
        q.owed["total"],
        q.currency
    );
    println!("{:>4}  {:<10}  {:>14}  {:>12}  {:>12}", "seq", "due", "principal", "interest", "fee");
    for r in &q.schedule {
        println!("{:>4}  {:<10}  {:>14}  {:>12}  {:>12}", r.seq, r.due_on, r.principal, r.interest, r.fee);
    }
    println!("to pay {} {}, waived {} {}", q.total_to_pay, q.currency, q.waived, q.currency);
    Ok(())
}
