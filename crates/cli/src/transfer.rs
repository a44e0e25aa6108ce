//! `arrears transfer …`: NPL transfers (不良资产批量转让), with maker-checker.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;

use crate::arrangement::{DecisionArgs, authenticate};
use crate::{open, print_json};

/// `arrears transfer`.
#[derive(Subcommand)]
pub enum TransferCommand {
    /// Choose loans by a filter, value them at the cut-off and ask for their sale to a buyer, as
    /// USER (password on standard input): the maker, who may not also approve it.
    Create {
        /// Who buys.
        #[arg(long)]
        buyer: String,
        /// What the buyer pays for the package (major units).
        #[arg(long)]
        price: String,
        /// The package's currency.
        #[arg(long, default_value = "CNY")]
        currency: String,
        /// Balances as of this date (YYYY-MM-DD).
        #[arg(long)]
        cut_off: NaiveDate,
        /// The loans are sold at the end of this date (default: the cut-off).
        #[arg(long = "on")]
        transfer_on: Option<NaiveDate>,
        /// Loans at least this many days past due at the last close.
        #[arg(long, default_value = "90")]
        min_dpd: i64,
        /// Of this product only.
        #[arg(long)]
        product: Option<String>,
        /// At most this many loans.
        #[arg(long, default_value = "10000")]
        limit: i64,
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
    /// Approve a transfer as USER (password on standard input): the loans are sold on its
    /// transfer date, their cases' work stops, the notices are queued, and the package is
    /// written to --out.
    Approve {
        #[command(flatten)]
        decision: DecisionArgs,
        /// The folder for the package (loans.csv, summary.json, evidence/CASE.zip).
        #[arg(long)]
        out: PathBuf,
    },
    /// Decline a transfer as USER (password on standard input).
    Decline(DecisionArgs),
    /// Write an approved transfer's package again.
    Package {
        /// The transfer.
        id: String,
        /// The folder.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs `arrears transfer …`.
pub async fn run(url: &str, audit_key: Option<&std::path::Path>, command: TransferCommand) -> Result<()> {
    use arrears_app::arrangements::Verdict;
    use arrears_app::transfers::{TransferInput, create, decide, write_package};
    let db = open(url).await?;
    let (args, verdict, out) = match command {
        TransferCommand::Create {
            buyer,
            price,
            currency,
            cut_off,
            transfer_on,
            min_dpd,
            product,
            limit,
            note,
            user,
            json,
        } => {
            let who = authenticate(&db, &user).await?;
            anyhow::ensure!(
                who.role.can(arrears_core::access::Capability::WorkCases),
                "{user} (role {}) does not work cases and may not ask for transfers",
                who.role
            );
            let input = TransferInput {
                buyer,
                price,
                currency,
                cut_off,
                transfer_on: transfer_on.unwrap_or(cut_off),
                min_dpd,
                product,
                limit,
                note,
                actor: user,
            };
            let v = create(&db, input, &crate::now()).await?;
            if json {
                print_json(&v)?;
            } else {
                println!(
                    "requested {}: {} loans owing {} {} at {}, sold to {} for {} ({}‰ discount) on {}",
                    v.transfer.transfer_id,
                    v.loans,
                    v.total,
                    v.transfer.currency,
                    v.transfer.cut_off,
                    v.transfer.buyer,
                    v.price_amount,
                    v.discount_permille,
                    v.transfer.transfer_on
                );
            }
            return Ok(());
        }
        TransferCommand::Package { id, out } => {
            let (signer, _) = arrears_app::audit::load_signer(&crate::audit::key_path(url, audit_key))?;
            let p = write_package(&db, &id, &out, &signer, &crate::now()).await?;
            println!(
                "wrote {}: {} (sha256 {}), {} evidence packages",
                out.display(),
                p.loans_csv,
                p.loans_csv_sha256,
                p.evidence
            );
            return Ok(());
        }
        TransferCommand::Approve { decision, out } => (decision, Verdict::Approve, Some(out)),
        TransferCommand::Decline(args) => (args, Verdict::Decline, None),
    };
    let DecisionArgs { id, user, date, note, json } = args;
    let who = authenticate(&db, &user).await?;
    let at = crate::now();
    let date = date.unwrap_or_else(|| at.date_naive());
    let v = decide(&db, &id, (&who.name, who.role), verdict, &note, date, &at).await?;
    if let Some(out) = out {
        arrears_app::payments::reevaluate(&db, &arrears_store::DbUrl::new(url), &crate::clock()).await?;
        let (signer, _) = arrears_app::audit::load_signer(&crate::audit::key_path(url, audit_key))?;
        let p = write_package(&db, &id, &out, &signer, &crate::now()).await.with_context(|| {
            format!("{id} is approved; write its package with `arrears transfer package {id} --out DIR`")
        })?;
        if !json {
            println!(
                "package {}: {} (sha256 {}), {} evidence packages",
                out.display(),
                p.loans_csv,
                p.loans_csv_sha256,
                p.evidence
            );
        }
    }
    if json {
        print_json(&v)?;
    } else {
        println!(
            "{} {} by {}: {} loans, {} {} for {}",
            v.transfer.transfer_id,
            v.transfer.status,
            who.name,
            v.loans,
            v.total,
            v.transfer.currency,
            v.price_amount
        );
    }
    Ok(())
}
