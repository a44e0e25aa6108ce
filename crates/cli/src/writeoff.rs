//! `arrears writeoff …`: write-offs (核销) and their reversals, with maker-checker.

use anyhow::Result;
use chrono::NaiveDate;
use clap::Subcommand;

use crate::arrangement::{DecisionArgs, authenticate};
use crate::{open, print_json};

/// `arrears writeoff`.
#[derive(Subcommand)]
pub enum WriteOffCommand {
    /// Ask for a loan to be written off, in full or by --amount, or with --reverse for its
    /// write-off to be put back, as USER (password on standard input): the maker, who may not
    /// also approve it.
    Request {
        /// The loan.
        #[arg(long)]
        loan: String,
        /// A partial write-off's amount (major units); none: everything owed.
        #[arg(long)]
        amount: Option<String>,
        /// Put back what is written off and not recovered (冲回) instead.
        #[arg(long)]
        reverse: bool,
        /// The date the loan is judged on (default today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
        /// The user asking.
        #[arg(long = "as", value_name = "USER")]
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a request as USER (password on standard input): another user than its maker,
    /// within their authority (config/authority.toml); it takes effect on --date.
    Approve(DecisionArgs),
    /// Decline a request as USER (password on standard input).
    Decline(DecisionArgs),
}

/// Runs `arrears writeoff …`.
pub async fn run(url: &str, command: WriteOffCommand) -> Result<()> {
    use arrears_app::arrangements::Verdict;
    use arrears_app::write_offs::{WriteOffInput, decide, request};
    let (args, verdict) = match command {
        WriteOffCommand::Request { loan, amount, reverse, date, note, user, json } => {
            let db = open(url).await?;
            let who = authenticate(&db, &user).await?;
            anyhow::ensure!(
                who.role.can(arrears_core::access::Capability::WorkCases),
                "{user} (role {}) does not work cases and may not request write-offs",
                who.role
            );
            let at = crate::now();
            let date = date.unwrap_or_else(|| at.date_naive());
            let input = WriteOffInput { loan_id: loan, amount, reverse, note, actor: user };
            let r = request(&db, input, date, &at).await?;
            if json {
                print_json(&r)?;
            } else {
                println!("requested {} ({} of loan {})", r.request_id, r.kind, r.loan_id);
            }
            return Ok(());
        }
        WriteOffCommand::Approve(args) => (args, Verdict::Approve),
        WriteOffCommand::Decline(args) => (args, Verdict::Decline),
    };
    let DecisionArgs { id, user, date, note, json } = args;
    let db = open(url).await?;
    let who = authenticate(&db, &user).await?;
    let at = crate::now();
    let date = date.unwrap_or_else(|| at.date_naive());
    let d = decide(&db, &id, (&who.name, who.role), verdict, &note, date, &at).await?;
    if verdict == Verdict::Approve {
        // The loan leaves the book (or comes back) in its state and figures at once.
        arrears_app::payments::reevaluate(&db, &arrears_store::DbUrl::new(url), &crate::clock()).await?;
    }
    if json {
        print_json(&d)?;
    } else {
        println!(
            "{} {} by {}: loan {} on {}, {} {} of {} owed",
            d.request_id,
            d.status,
            d.decided_by,
            d.quote.loan_id,
            d.quote.date,
            d.quote.amount,
            d.quote.currency,
            d.quote.balance
        );
    }
    Ok(())
}
