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
    /// Record what a borrower asks for on an open case, as USER (password on standard input):
    /// the maker of the request, who may not also approve it.
    Request {
        /// The case.
        #[arg(long)]
        case: String,
        /// extension, instalment_plan, settlement or waiver.
        #[arg(long)]
        kind: String,
        /// Months of an extension or plan; payments of a settlement.
        #[arg(long)]
        months: Option<i64>,
        /// What the borrower offers (a settlement), the down payment of a plan, or the penalty and
        /// fees to waive (major units; 0 or none: all of them for a waiver).
        #[arg(long, default_value = "0")]
        amount: String,
        /// Why, in the collector's words.
        #[arg(long, default_value = "")]
        note: String,
        /// The user asking.
        #[arg(long = "as", value_name = "USER")]
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List arrangement requests, oldest first: who asked, what, who decided, and where an
    /// approved one stands in the ledger (active, kept, broken, superseded, void).
    List {
        /// Only those with this status: requested, approved or rejected.
        #[arg(long)]
        status: Option<String>,
        /// Only those for this loan.
        #[arg(long)]
        loan: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a request as USER (password on standard input): another user than its maker,
    /// within the authority of their role (config/authority.toml) for the quote as of --date.
    Approve(DecisionArgs),
    /// Decline a request as USER (password on standard input).
    Decline(DecisionArgs),
}

/// Who decides which request, and how it is shown.
#[derive(clap::Args)]
pub struct DecisionArgs {
    /// The request id.
    pub(crate) id: String,
    /// The user deciding.
    #[arg(long = "as", value_name = "USER")]
    pub(crate) user: String,
    /// The date the quote is made for (default today).
    #[arg(long)]
    pub(crate) date: Option<NaiveDate>,
    /// Why.
    #[arg(long, default_value = "")]
    pub(crate) note: String,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs `arrears arrangement …`.
pub async fn run(url: &str, command: ArrangementCommand) -> Result<()> {
    use arrears_app::arrangements::{RequestInput, Verdict, decide, request};
    let (DecisionArgs { id, user, date, note, json }, verdict) = match command {
        ArrangementCommand::Quote { loan, kind, date, months, amount, json } => {
            return quote(url, &loan, &kind, date, months, amount.as_deref(), json).await;
        }
        ArrangementCommand::Request { case, kind, months, amount, note, user, json } => {
            let db = open(url).await?;
            let who = authenticate(&db, &user).await?;
            anyhow::ensure!(
                who.role.can(arrears_core::access::Capability::WorkCases),
                "{user} (role {}) does not work cases and may not request arrangements",
                who.role
            );
            let input = RequestInput { case_id: case, kind, amount, months, note, actor: user };
            let r = request(&db, input, &crate::now()).await?;
            if json {
                print_json(&r)?;
            } else {
                let case = r.case_id.as_ref().map_or("-", |c| c.as_str());
                println!("requested {} ({} on case {case})", r.request_id, r.kind);
            }
            return Ok(());
        }
        ArrangementCommand::List { status, loan, json } => {
            let db = open(url).await?;
            let rows = arrears_app::arrangements::list(&db, status.as_deref(), loan.as_deref()).await?;
            if json {
                return print_json(&rows);
            }
            for r in &rows {
                println!(
                    "{} {} {} {} by {} on {}: {}{}",
                    r.request_id,
                    r.loan_id.as_ref().map_or("-", |l| l.as_str()),
                    r.kind,
                    r.status.as_str(),
                    r.requested_by,
                    r.requested_at.get(..10).unwrap_or(&r.requested_at),
                    r.decided_by.as_deref().map_or(String::new(), |d| format!("decided by {d}")),
                    if r.ledger_status.is_empty() { String::new() } else { format!(", {}", r.ledger_status) },
                );
            }
            return Ok(());
        }
        ArrangementCommand::Approve(args) => (args, Verdict::Approve),
        ArrangementCommand::Decline(args) => (args, Verdict::Decline),
    };
    let db = open(url).await?;
    let who = authenticate(&db, &user).await?;
    let at = crate::now();
    let date = date.unwrap_or_else(|| at.date_naive());
    let d = decide(&db, &id, (&who.name, who.role), verdict, &note, date, &at).await?;
    if verdict == Verdict::Approve {
        // The loan's state, case and tasks follow the new schedule at once, not at tonight's close.
        arrears_app::payments::reevaluate(&db, &arrears_store::DbUrl::new(url), &crate::clock()).await?;
    }
    if json {
        print_json(&d)?;
    } else {
        println!(
            "{} {} by {}: to pay {} {}, waived {}, {} after",
            d.request_id,
            d.status,
            d.decided_by,
            d.quote.total_to_pay,
            d.quote.currency,
            d.quote.waived,
            d.quote.five_class_after
        );
    }
    Ok(())
}

/// The user named, with the password on standard input.
pub(crate) async fn authenticate(
    db: &arrears_store::Db,
    user: &str,
) -> Result<arrears_store::people::UserRow> {
    let password = crate::personal::read_password()?;
    Ok(arrears_app::personal::authenticate_user(db, user, &password).await?)
}

async fn quote(
    url: &str,
    loan: &str,
    kind: &str,
    date: NaiveDate,
    months: Option<u32>,
    amount: Option<&str>,
    json: bool,
) -> Result<()> {
    let db = open(url).await?;
    let q = arrears_app::arrangements::quote(&db, loan, date, kind, months, amount).await?;
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
