//! `arrears legal …`: the legal track of collection cases.

use std::path::PathBuf;

use anyhow::Result;
use arrears_core::legal::Stage;
use chrono::NaiveDate;
use clap::Subcommand;

use crate::arrangement::authenticate;
use crate::{open, print_json};

/// `arrears legal`.
#[derive(Subcommand)]
pub enum LegalCommand {
    /// Open a legal case on an open collection case, at the lawyer-letter stage, claiming what
    /// the loan owes on --date; as USER (legal or supervisor; password on standard input).
    Open {
        /// The collection case.
        #[arg(long)]
        case: String,
        /// The loan sued on (default: the case's worst).
        #[arg(long)]
        loan: Option<String>,
        /// The law firm.
        #[arg(long)]
        firm: String,
        /// The lawyer.
        #[arg(long)]
        lawyer: String,
        /// The lawyer letter's deadline (default 15 days on).
        #[arg(long)]
        deadline: Option<NaiveDate>,
        #[command(flatten)]
        common: Common,
    },
    /// Move a legal case to a later stage: mediation, filing, hearing, judgment, enforcement,
    /// closed (forward only; a stage may be skipped).
    Stage {
        /// The legal case.
        id: String,
        /// The stage.
        #[arg(long)]
        to: Stage,
        /// Its deadline (default: the stage's days).
        #[arg(long)]
        deadline: Option<NaiveDate>,
        #[command(flatten)]
        common: Common,
    },
    /// Record a cost: court_fee, lawyer_fee or other, --recoverable when the borrower may be
    /// made to bear it.
    Cost {
        /// The legal case.
        id: String,
        /// court_fee, lawyer_fee or other.
        #[arg(long)]
        kind: String,
        /// Major units.
        #[arg(long)]
        amount: String,
        /// The borrower may be made to bear it.
        #[arg(long)]
        recoverable: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Record the amount the court awarded (the case moves to judgment if it was before it).
    Judgment {
        /// The legal case.
        id: String,
        /// Major units.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        common: Common,
    },
    /// Record money recovered by enforcement, booked as a payment of the loan on --date.
    Recover {
        /// The legal case.
        id: String,
        /// Major units.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        common: Common,
    },
    /// Record the borrower's listing as 失信被执行人 (or --removed: taken off the list).
    Dishonest {
        /// The legal case.
        id: String,
        /// Taken off the list.
        #[arg(long)]
        removed: bool,
        #[command(flatten)]
        common: Common,
    },
    /// One legal case with its history.
    Show {
        /// The legal case.
        id: String,
        /// Judge the deadline on this date (default today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The legal board: every legal case, soonest deadline first.
    List {
        /// Only this stage.
        #[arg(long)]
        stage: Option<Stage>,
        /// Judge deadlines on this date (default today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a legal case's filing bundle (summary.json, claim.json, evidence.zip) to --out.
    Bundle {
        /// The legal case.
        id: String,
        /// The folder.
        #[arg(long)]
        out: PathBuf,
        /// Amounts as of this date (default today).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
}

/// Who acts, when, and how it is shown.
#[derive(clap::Args)]
pub struct Common {
    /// The user acting (legal or supervisor).
    #[arg(long = "as", value_name = "USER")]
    user: String,
    /// The business date (default today).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Words for the history.
    #[arg(long, default_value = "")]
    note: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `arrears legal …`.
pub async fn run(url: &str, audit_key: Option<&std::path::Path>, command: LegalCommand) -> Result<()> {
    use arrears_app::legal::{OpenInput, Step, board, bundle, open as open_case, recover, show, step};
    let db = open(url).await?;
    let today = crate::now().date_naive();
    let (id, st, common) = match command {
        LegalCommand::Show { id, date, json } => {
            let v = show(&db, &id, date.unwrap_or(today)).await?;
            return print(&v, json);
        }
        LegalCommand::List { stage, date, json } => {
            let rows = board(&db, stage, date.unwrap_or(today)).await?;
            if json {
                return print_json(&rows);
            }
            for v in &rows {
                println!(
                    "{:<36} {:<12} {:<8} deadline {:<10}{}  claim {} {}  {} / {}",
                    v.case.legal_id,
                    v.case.stage,
                    v.stage_zh,
                    v.case.deadline.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                    if v.overdue { " OVERDUE" } else { "" },
                    v.case.claim_amount,
                    v.case.currency,
                    v.case.firm,
                    v.case.lawyer
                );
            }
            return Ok(());
        }
        LegalCommand::Bundle { id, out, date } => {
            let (signer, _) = arrears_app::audit::load_signer(&crate::audit::key_path(url, audit_key))?;
            let b = bundle(&db, &id, date.unwrap_or(today), &out, &signer, &crate::now()).await?;
            println!("wrote {}", b.files.join(", "));
            return Ok(());
        }
        LegalCommand::Open { case, loan, firm, lawyer, deadline, common } => {
            legal_role(&db, &common.user).await?;
            let date = common.date.unwrap_or(today);
            let input = OpenInput {
                case_id: case,
                loan_id: loan,
                firm,
                lawyer,
                deadline,
                actor: common.user.clone(),
            };
            let v = open_case(&db, input, date, &crate::now()).await?;
            return print(&v, common.json);
        }
        LegalCommand::Stage { id, to, deadline, common } => (id, Step::Stage(to, deadline), common),
        LegalCommand::Cost { id, kind, amount, recoverable, common } => {
            (id, Step::Cost { kind, amount, recoverable }, common)
        }
        LegalCommand::Judgment { id, amount, common } => (id, Step::Judgment(amount), common),
        LegalCommand::Recover { id, amount, common } => {
            legal_role(&db, &common.user).await?;
            let date = common.date.unwrap_or(today);
            let url = arrears_store::DbUrl::new(url);
            let clock = crate::clock();
            let v = recover(
                &db,
                &id,
                &amount,
                &common.note,
                (&common.user, date, today),
                &crate::now(),
                (&url, &clock),
            )
            .await?;
            return print(&v, common.json);
        }
        LegalCommand::Dishonest { id, removed, common } => (id, Step::Dishonest(!removed), common),
    };
    legal_role(&db, &common.user).await?;
    let date = common.date.unwrap_or(today);
    let v = step(&db, &id, st, &common.note, (&common.user, date), &crate::now()).await?;
    print(&v, common.json)
}

/// The user, checked to be legal or a supervisor (password on standard input).
async fn legal_role(db: &arrears_store::Db, user: &str) -> Result<()> {
    use arrears_core::access::Role;
    let who = authenticate(db, user).await?;
    anyhow::ensure!(
        matches!(who.role, Role::Legal | Role::Supervisor),
        "{user} (role {}) may not work the legal track: legal or supervisor only",
        who.role
    );
    Ok(())
}

fn print(v: &arrears_app::legal::LegalView, json: bool) -> Result<()> {
    if json {
        return print_json(v);
    }
    println!(
        "{} on case {} (loan {}): {} {} since {}, deadline {}{}; claim {} {}, judgment {}; costs {} recoverable, {} borne; recovered {}",
        v.case.legal_id,
        v.case.case_id,
        v.case.loan_id,
        v.case.stage,
        v.stage_zh,
        v.case.stage_since,
        v.case.deadline.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
        if v.overdue { " (passed)" } else { "" },
        v.case.claim_amount,
        v.case.currency,
        v.case.judgment_amount.map(|j| j.to_string()).unwrap_or_else(|| "-".into()),
        v.costs_recoverable,
        v.costs_borne,
        v.recovered
    );
    for e in &v.events {
        println!("  {:>3} {} {:<18} {} {}", e.seq, e.on, e.kind, e.actor, e.note);
    }
    Ok(())
}
