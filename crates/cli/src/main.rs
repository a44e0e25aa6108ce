//! The `arrears` command line: parse, validate, then call the use cases.
//!
//! Exit codes: 0 done, 1 the input was rejected (an import with bad rows),
//! 2 any other error. Errors print one clear message, never a backtrace.
#![deny(unsafe_code)]

mod alert;
mod apikey;
mod arrangement;
mod audit;
mod behaviour;
mod channel;
mod compliance;
mod consume;
mod events;
mod legal;
#[allow(unsafe_code)] // the one place that calls the C allocator (glibc malloc tuning)
mod memory;
mod personal;
mod restrict;
mod score;
mod strategy;
mod transfer;
mod web;
mod work;
mod worker;
mod writeoff;

/// Rust's own allocations go to mimalloc (per-thread heaps): with glibc's malloc capped at
/// two arenas (see `memory`), the batch's threads spent a fifth of their time in malloc and
/// free and waiting on the arenas' locks. SQLite still allocates through glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arrears_app::import::{ImportError, Imported, Progress, import_and_reevaluate};
use arrears_core::calendar::parse_iso_date;
use arrears_store::{DEFAULT_URL, Db, DbUrl};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Parser)]
#[command(name = "arrears", version, about = "Loan collection and post-loan management (贷款催收管理系统)")]
struct Cli {
    /// Database URL: sqlite://FILE (created if missing) or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "ARREARS_DB", default_value = DEFAULT_URL)]
    db: String,
    /// Audit log signing key file, created on first use (default: beside the SQLite file).
    #[arg(long, global = true, env = "ARREARS_AUDIT_KEY")]
    audit_key: Option<PathBuf>,
    /// Keyring file of the data keys that seal ID numbers, phones and e-mails (default: beside
    /// the SQLite file, or ./arrears.keys for PostgreSQL, created on first use; or one base64
    /// key in ARREARS_DATA_KEY).
    #[arg(long, global = true, env = "ARREARS_DATA_KEY_FILE")]
    data_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or migrate the database.
    Init,
    /// Write a synthetic portfolio in the import format.
    Generate {
        /// Number of loans.
        #[arg(long)]
        loans: u64,
        /// Seed: the same seed gives the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Business date the histories run up to (YYYY-MM-DD).
        #[arg(long, value_parser = date_arg)]
        as_of: NaiveDate,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import the CSV files of a directory, all or nothing.
    Import {
        /// Directory holding borrowers.csv, loans.csv, payments.csv, ….
        dir: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the close of business for a date, or each date of a range (catch-up).
    Batch {
        /// Business date (YYYY-MM-DD).
        #[arg(long, value_parser = date_arg, conflicts_with_all = ["from", "to"], required_unless_present_all = ["from", "to"])]
        date: Option<NaiveDate>,
        /// First date of a catch-up.
        #[arg(long, value_parser = date_arg, requires = "to")]
        from: Option<NaiveDate>,
        /// Last date of a catch-up.
        #[arg(long, value_parser = date_arg, requires = "from")]
        to: Option<NaiveDate>,
        /// Run one part of the book, i/n (1 <= i <= n), so several workers can share it.
        #[arg(long)]
        shard: Option<String>,
        /// Loans per chunk (and per transaction).
        #[arg(long, default_value_t = 2000)]
        chunk: i64,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Close a business date together with other worker processes (PostgreSQL, or SQLite on
    /// one machine): each claims chunks of every phase with a lease, and whoever does the last
    /// one finishes the date.
    Worker(worker::WorkerArgs),
    /// Loans: one loan's schedule, payments and delinquency on a date.
    Loan {
        #[command(subcommand)]
        command: LoanCommand,
    },
    /// Payments: record one by hand.
    Payment {
        #[command(subcommand)]
        command: PaymentCommand,
    },
    /// Collection cases.
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// Products' collection rules.
    Product {
        #[command(subcommand)]
        command: ProductCommand,
    },
    /// Reports from the figures the batch stored.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Credit scorecards: train, apply, report.
    Score {
        #[command(subcommand)]
        command: score::ScoreCommand,
    },
    /// Content rules: scan messages, templates and notes; measure the rules on a labelled set.
    Compliance {
        #[command(subcommand)]
        command: compliance::ComplianceCommand,
    },
    /// Collection strategies: check a strategy file.
    Strategy {
        #[command(subcommand)]
        command: strategy::StrategyCommand,
    },
    /// Tasks the batch made from strategy steps.
    Task {
        #[command(subcommand)]
        command: work::TaskCommand,
    },
    /// Contact restrictions (联系限制): do-not-contact numbers, opt-outs, inconvenient times,
    /// attorney representation, cease requests.
    Contact {
        #[command(subcommand)]
        command: restrict::ContactCommand,
    },
    /// Contacts logged against cases (催收记录).
    Action {
        #[command(subcommand)]
        command: work::ActionCommand,
    },
    /// Collectors, their capacity and skills.
    Collector {
        #[command(subcommand)]
        command: work::CollectorCommand,
    },
    /// Outside collection agencies (委外).
    Agency {
        #[command(subcommand)]
        command: work::AgencyCommand,
    },
    /// The tamper-evident audit log: verify, proofs, checkpoints, evidence packages.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Early-warning alerts (预警): list, acknowledge, close; check a rule file.
    Alert {
        #[command(subcommand)]
        command: alert::AlertCommand,
    },
    /// A borrower's repayment ability (还款能力), every figure with its inputs.
    Ability {
        /// Borrower id.
        borrower: String,
        /// Business date (YYYY-MM-DD); default today.
        #[arg(long, value_parser = date_arg)]
        date: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Language of the text: zh or en.
        #[arg(long, value_enum, default_value = "zh")]
        lang: alert::Lang,
    },
    /// Read from the message bus (NATS JetStream): payments from the lender's systems.
    Consume {
        #[command(subcommand)]
        command: consume::ConsumeCommand,
    },
    /// Events for the rest of the bank (NATS JetStream, webhooks): publish, replay, list.
    Events {
        #[command(subcommand)]
        command: events::EventsCommand,
    },
    /// API keys of service accounts (systems that book payments through the API).
    Apikey {
        #[command(subcommand)]
        command: apikey::ApiKeyCommand,
    },
    /// Users and their roles.
    User {
        #[command(subcommand)]
        command: personal::UserCommand,
    },
    /// Borrowers, identity data masked unless a permitted role asks.
    Borrower {
        #[command(subcommand)]
        command: personal::BorrowerCommand,
    },
    /// Personal data: re-keying, retention purge, look-ups, access records.
    Pii {
        #[command(subcommand)]
        command: personal::PiiCommand,
    },
    /// Send the outbox's due messages through their channels' providers (one pass), checking
    /// each against the contact policy and the content rules at send time.
    Send {
        #[command(flatten)]
        args: channel::SendArgs,
    },
    /// Message templates: check them.
    Template {
        #[command(subcommand)]
        command: channel::TemplateCommand,
    },
    /// Channels: their figures (sent, delivered, responses, cost).
    Channel {
        #[command(subcommand)]
        command: channel::ChannelCommand,
    },
    /// Arrangements: quotes for extensions, instalment plans, settlements and waivers.
    Arrangement {
        #[command(subcommand)]
        command: arrangement::ArrangementCommand,
    },
    /// Write-offs (核销) and their reversals, requested by one user and approved by another.
    Writeoff {
        #[command(subcommand)]
        command: writeoff::WriteOffCommand,
    },
    /// The legal track (法律诉讼): legal cases, their stages, costs, judgment and enforcement.
    Legal {
        #[command(subcommand)]
        command: legal::LegalCommand,
    },
    /// NPL transfers (不良资产批量转让): packages of loans sold to a buyer, with maker-checker.
    Transfer {
        #[command(subcommand)]
        command: transfer::TransferCommand,
    },
    /// Outbox messages: where each stands, with the text as sent.
    Message {
        #[command(subcommand)]
        command: channel::MessageCommand,
    },
    /// The web API and the collector and manager workbench.
    Serve {
        #[command(flatten)]
        args: web::ServeArgs,
    },
    /// A fresh demo: a generated book, 90 days of history, one user per role, then the server.
    Demo {
        #[command(flatten)]
        args: web::DemoArgs,
    },
}

#[derive(Subcommand)]
enum LoanCommand {
    /// A loan's schedule, payments, allocation and delinquency on a date.
    Show {
        /// Loan id.
        id: String,
        /// Business date (default: today).
        #[arg(long, value_parser = date_arg)]
        date: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PaymentCommand {
    /// Record a payment and re-evaluate its loan at once.
    Add {
        /// Payment id (unique).
        #[arg(long)]
        id: String,
        /// Loan id.
        #[arg(long)]
        loan: String,
        /// Value date (YYYY-MM-DD).
        #[arg(long, value_parser = date_arg)]
        date: NaiveDate,
        /// Amount in major units, e.g. 1234.56.
        #[arg(long)]
        amount: String,
        /// Channel (bank, counter, app, …).
        #[arg(long, default_value = "manual")]
        channel: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CaseCommand {
    /// Cases, newest first.
    List {
        /// Only cases with this status (open, closed, void).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One case with its loans and promises to pay.
    Show {
        /// Case id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a case (and its open queue tasks) to another collector.
    Assign {
        /// Case id.
        id: String,
        /// Collector id.
        #[arg(long)]
        collector: String,
    },
    /// Take a case back from the agency it is placed with.
    Recall {
        /// Case id.
        id: String,
    },
    /// Lift a case's hold (a dispute resolved).
    ReleaseHold {
        /// Case id.
        id: String,
    },
}

#[derive(Subcommand)]
enum ProductCommand {
    /// Products and their rules.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a product's rules (used from the next batch on).
    Set {
        /// Product code.
        code: String,
        /// Arrears tolerance in minor units: an installment with no more than this left is not overdue for DPD.
        #[arg(long, default_value_t = 0)]
        tolerance_minor: i64,
        /// Bucket scheme, e.g. "M0=0,M1=1-30,M2=31-60,M3+=61-" (default: DESIGN.md's M0..M7+).
        #[arg(long)]
        buckets: Option<String>,
        /// Five-class thresholds: first DPD of special mention, substandard, doubtful, loss (default 1,91,271,361).
        #[arg(long)]
        five_class: Option<String>,
        /// Contact-policy pack for the product's cases: cn or us (default: us for borrowers in
        /// America/* time zones, cn otherwise).
        #[arg(long)]
        contact_pack: Option<String>,
        /// Months a restructured loan keeps its five-class floor (default 12).
        #[arg(long)]
        observation_months: Option<u32>,
        /// Days an arrangement instalment may be late before the arrangement breaks (default 15).
        #[arg(long)]
        arrangement_grace_days: Option<u32>,
        /// The longest extension or instalment plan, in months (default 60).
        #[arg(long)]
        max_arrangement_months: Option<u32>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Counts and balances by status, product, bucket and five-class, and roll rates, as the batch stored them.
    Portfolio {
        /// Business date (default: the last closed one).
        #[arg(long, value_parser = date_arg)]
        date: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn date_arg(s: &str) -> Result<NaiveDate, String> {
    parse_iso_date(s).ok_or_else(|| format!("{s:?} is not a date (expected YYYY-MM-DD)"))
}

/// Input rejected: exit code 1 rather than 2.
#[derive(Debug)]
struct Rejected;

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rejected")
    }
}

impl std::error::Error for Rejected {}

fn main() -> ExitCode {
    memory::tune_allocators();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Rejected>() => ExitCode::from(1),
        Err(e) => {
            // A closed pipe (`arrears … | head`) is a normal end, not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn open(url: &str) -> Result<Db> {
    let url = DbUrl::new(url);
    Db::open(&url).await.with_context(|| format!("opening {url}"))
}

/// The one place the command line reads the clock: every command hands the instant (or this
/// clock, for the batch's many commits) to the use case with its actor.
pub(crate) fn now() -> arrears_app::audit::At {
    chrono::Local::now().fixed_offset()
}

/// [`now`] as a clock for the use cases that stamp several commits.
pub(crate) fn clock() -> arrears_app::audit::Clock {
    std::sync::Arc::new(now)
}

/// Today's date where the command line runs.
fn today() -> NaiveDate {
    now().date_naive()
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(4));
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {percent:>3}% {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

struct ImportBar(ProgressBar);

impl Progress for ImportBar {
    fn bytes(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
    fn phase(&self, name: &str) {
        self.0.set_message(name.to_string());
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { args } => {
            web::serve(&cli.db, cli.audit_key.as_deref(), cli.data_key.as_deref(), &args).await?
        }
        Command::Demo { args } => web::demo(args).await?,
        Command::Send { args } => channel::send(&cli.db, cli.data_key.as_deref(), args).await?,
        Command::Message { command } => channel::message(&cli.db, command).await?,
        Command::Channel { command } => channel::channel(&cli.db, command).await?,
        Command::Arrangement { command } => arrangement::run(&cli.db, command).await?,
        Command::Writeoff { command } => writeoff::run(&cli.db, command).await?,
        Command::Consume { command } => consume::run(&cli.db, command).await?,
        Command::Worker(args) => worker::run(&cli.db, cli.audit_key.as_deref(), args).await?,
        Command::Events { command } => events::run(&cli.db, command).await?,
        Command::Legal { command } => legal::run(&cli.db, cli.audit_key.as_deref(), command).await?,
        Command::Transfer { command } => transfer::run(&cli.db, cli.audit_key.as_deref(), command).await?,
        Command::Template { command } => channel::template(command)?,
        Command::Init => {
            let db = open(&cli.db).await?;
            db.close().await;
            println!("database ready: {}", DbUrl::new(cli.db));
        }
        Command::Generate { loans, seed, as_of, out, threads, json } => {
            let cfg = arrears_sim::GenConfig { threads, ..arrears_sim::GenConfig::new(loans, seed, as_of) };
            let pb = bar(loans, "generating");
            pb.enable_steady_tick(Duration::from_millis(250));
            let started = Instant::now();
            let summary = arrears_sim::generate(&cfg, &out, &|n| pb.set_position(n))
                .with_context(|| format!("generating into {}", out.display()))?;
            pb.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            if json {
                print_json(&serde_json::json!({
                    "loans": summary.loans, "borrowers": summary.borrowers, "contacts": summary.contacts,
                    "payments": summary.payments, "financials": summary.financial_rows,
                    "seconds": secs, "loans_per_second": loans as f64 / secs,
                    "overdue_share_sampled": summary.overdue_share(),
                }))?;
            } else {
                println!(
                    "wrote {} loans, {} borrowers, {} contacts, {} payments, {} financial rows to {} in {:.1}s ({:.0} loans/s)",
                    summary.loans,
                    summary.borrowers,
                    summary.contacts,
                    summary.payments,
                    summary.financial_rows,
                    out.display(),
                    secs,
                    loans as f64 / secs
                );
                println!(
                    "sampled {} loans: {:.1}% of active loans overdue as of {as_of}",
                    summary.assessed_loans,
                    summary.overdue_share() * 100.0
                );
            }
        }
        Command::Import { dir, json } => {
            if !dir.is_dir() {
                bail!("{} is not a directory", dir.display());
            }
            let db = open(&cli.db).await?;
            let pb = ImportBar(bar(0, "importing"));
            let started = Instant::now();
            let keys = arrears_store::personal::Keyring::resolve(&db, cli.data_key.as_deref())
                .context("loading the data keys")?;
            let url = DbUrl::new(cli.db.clone());
            let result = import_and_reevaluate(&db, &url, &dir, &clock(), &pb, &keys).await;
            pb.0.finish_and_clear();
            match result {
                Ok(Imported { summary: s, refresh: refreshed }) => {
                    db.close().await;
                    let secs = started.elapsed().as_secs_f64();
                    let loans = s.rows_read.iter().find(|(f, _)| f == "loans.csv").map_or(0, |(_, n)| *n);
                    if json {
                        print_json(&serde_json::json!({
                            "import_id": s.import_id, "rows": s.rows_read.iter().map(|(f, n)| (f.clone(), *n)).collect::<std::collections::BTreeMap<_,_>>(),
                            "schedules_generated": s.schedules_generated, "arrangements": s.arrangements, "seconds": secs,
                            "loans_per_second": loans as f64 / secs, "refresh": refreshed,
                        }))?;
                    } else {
                        for (f, n) in &s.rows_read {
                            println!("{f:>18}: {n} rows");
                        }
                        println!(
                            "import {} done in {secs:.1}s ({:.0} loans/s), {} schedules generated, {} arrangement requests",
                            s.import_id,
                            loans as f64 / secs,
                            s.schedules_generated,
                            s.arrangements
                        );
                        print_refresh(&refreshed);
                    }
                }
                Err(ImportError::Rejected { errors, total }) => {
                    db.close().await;
                    let mut err = std::io::stderr().lock();
                    writeln!(err, "import rejected, nothing was written: {total} bad row(s)")?;
                    for e in &errors {
                        writeln!(err, "{e}")?;
                    }
                    if total > errors.len() {
                        writeln!(err, "… and {} more", total - errors.len())?;
                    }
                    return Err(Rejected.into());
                }
                Err(e) => {
                    db.close().await;
                    return Err(e.into());
                }
            }
        }
        Command::Loan { command: LoanCommand::Show { id, date, json } } => {
            let db = open(&cli.db).await?;
            let date = date.unwrap_or_else(today);
            let Some(v) = arrears_app::view::show_loan(&db, &id, date).await? else {
                bail!("no loan with id {id:?}");
            };
            if json {
                print_json(&v)?;
            } else {
                print_loan(&v)?;
            }
        }
        Command::Score { command: score::ScoreCommand::Behaviour { command } } => {
            behaviour::run(&cli.db, command).await?
        }
        Command::Score { command } => score::run(command)?,
        Command::Compliance { command: compliance::ComplianceCommand::Review { limit, json } } => {
            let db = open(&cli.db).await?;
            let result = compliance::review(&db, limit, json).await;
            db.close().await;
            result?
        }
        Command::Compliance { command } => compliance::run(command)?,
        Command::Strategy { command } => strategy::run(&cli.db, command).await?,
        Command::Task { command } => work::task(&open(&cli.db).await?, command).await?,
        Command::Action { command } => work::action(&open(&cli.db).await?, command).await?,
        Command::Contact { command } => restrict::run(&cli.db, cli.data_key.as_deref(), command).await?,
        Command::Collector { command } => work::collector(&open(&cli.db).await?, command).await?,
        Command::Agency { command } => work::agency(&open(&cli.db).await?, command).await?,
        Command::Case { command: CaseCommand::Assign { id, collector } } => {
            work::assign(&open(&cli.db).await?, &id, &collector).await?
        }
        Command::Case { command: CaseCommand::Recall { id } } => {
            work::recall(&open(&cli.db).await?, &id).await?
        }
        Command::Case { command: CaseCommand::ReleaseHold { id } } => {
            work::release_hold(&open(&cli.db).await?, &id).await?
        }
        Command::Audit { command } => audit::run(command, &cli.db, cli.audit_key.as_deref()).await?,
        Command::Alert { command } => alert::run(&cli.db, command).await?,
        Command::Ability { borrower, date, json, lang } => {
            alert::ability(&cli.db, &borrower, date.unwrap_or_else(today), json, lang).await?
        }
        Command::User { command } => personal::user(&cli.db, command).await?,
        Command::Apikey { command } => apikey::run(&cli.db, command).await?,
        Command::Borrower { command } => {
            personal::borrower(&cli.db, cli.data_key.as_deref(), command).await?
        }
        Command::Pii { command } => personal::pii(&cli.db, cli.data_key.as_deref(), command).await?,
        Command::Report { command: ReportCommand::Portfolio { date, json } } => {
            let db = open(&cli.db).await?;
            let date = match date {
                Some(d) => d,
                None => arrears_store::days::last_closed_day(&db)
                    .await?
                    .context("no business date has been closed yet: run `arrears batch --date D` first")?,
            };
            let v = arrears_app::portfolio::portfolio(&db, date).await?;
            if json {
                print_json(&v)?;
            } else {
                print_portfolio(&v)?;
            }
        }
        Command::Batch { date, from, to, shard, chunk, json } => {
            let (from, to) = match (date, from, to) {
                (Some(d), _, _) => (d, d),
                (None, Some(f), Some(t)) => (f, t),
                _ => bail!("give --date D, or --from D1 --to D2"),
            };
            let shard = match shard {
                Some(s) => arrears_app::batch::Shard::parse(&s)?,
                None => arrears_app::batch::Shard::ALL,
            };
            if chunk < 1 {
                bail!("--chunk must be at least 1");
            }
            let failpoint = std::env::var("ARREARS_FAILPOINT")
                .ok()
                .and_then(|f| arrears_app::batch::Failpoint::parse(&f));
            let db = open(&cli.db).await?;
            let url = DbUrl::new(cli.db.clone());
            let progress = BatchBar::new();
            let started = Instant::now();
            let opts = arrears_app::batch::BatchOptions { shard, chunk, failpoint };
            let result =
                arrears_app::batch::run_batch(&db, &url, from..=to, today(), &clock(), opts, &progress).await;
            progress.finish();
            // Every run ends with a signed checkpoint over what it committed, even a failed one.
            let signing = Instant::now();
            let signed = audit::checkpoint_after_batch(&db, &cli.db, cli.audit_key.as_deref()).await;
            let checkpoint_ms = signing.elapsed().as_millis() as u64;
            db.close().await;
            let reports = result?;
            let signed = signed?;
            let secs = started.elapsed().as_secs_f64();
            let loans: u64 = reports.iter().map(|r| r.loans_evaluated).sum();
            if json {
                print_json(&serde_json::json!({
                    "days": reports, "seconds": secs, "loans_per_second": loans as f64 / secs.max(1e-9),
                    "checkpoint": signed, "checkpoint_ms": checkpoint_ms,
                }))?;
            } else {
                for r in &reports {
                    println!("{r}");
                }
                println!(
                    "{} business date(s) in {secs:.1}s ({:.0} loans/s)",
                    reports.len(),
                    loans as f64 / secs.max(1e-9)
                );
                println!(
                    "audit checkpoint signed in {checkpoint_ms} ms: {} entries, root {}",
                    signed.size, signed.root
                );
            }
        }
        Command::Payment { command: PaymentCommand::Add { id, loan, date, amount, channel, json } } => {
            let db = open(&cli.db).await?;
            let url = DbUrl::new(cli.db.clone());
            let p = arrears_app::payments::NewPayment {
                id: &id,
                loan_id: &loan,
                paid_on: date,
                amount: &amount,
                channel: &channel,
            };
            let r = arrears_app::payments::add_payment(&db, &url, &p, today(), &clock()).await;
            db.close().await;
            let r = r?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{}",
                    if r.new {
                        format!("payment {id} recorded")
                    } else {
                        format!("payment {id} was already recorded; nothing changed")
                    }
                );
                print_refresh(&r.refresh);
            }
        }
        Command::Case { command: CaseCommand::List { status, limit, json } } => {
            let status: Option<arrears_core::case::CaseStatus> = match &status {
                Some(s) => {
                    Some(s.parse().map_err(|_| anyhow::anyhow!("--status {s:?}: use open, closed or void"))?)
                }
                None => None,
            };
            let db = open(&cli.db).await?;
            let rows = arrears_app::cases::list(&db, status, limit).await?;
            if json {
                print_json(&rows)?;
            } else {
                let mut o = std::io::stdout().lock();
                writeln!(
                    o,
                    "{:<24} {:<10} {:<16} {:<10} {:<10} {:<7} {:>5} {:>7}",
                    "case", "borrower", "name", "opened", "closed", "status", "loans", "max DPD"
                )?;
                for c in &rows {
                    writeln!(
                        o,
                        "{:<24} {:<10} {:<16} {:<10} {:<10} {:<7} {:>5} {:>7}",
                        c.case_id,
                        c.borrower_id,
                        c.borrower_name,
                        c.opened_on.to_string(),
                        c.closed_on.map_or("-".into(), |d| d.to_string()),
                        c.status,
                        c.loans,
                        c.max_dpd
                    )?;
                }
            }
        }
        Command::Case { command: CaseCommand::Show { id, json } } => {
            let db = open(&cli.db).await?;
            let Some(c) = arrears_app::cases::show(&db, &id).await? else {
                bail!("no case with id {id:?}");
            };
            if json {
                print_json(&c)?;
            } else {
                print_case(&c)?;
            }
        }
        Command::Product { command: ProductCommand::List { json } } => {
            let db = open(&cli.db).await?;
            let rows = arrears_app::cases::products(&db).await?;
            if json {
                print_json(&rows)?;
            } else {
                for p in &rows {
                    println!(
                        "{:<16} tolerance {:>6} (minor units)  buckets {}  five-class {}",
                        p.product, p.tolerance_minor, p.buckets, p.five_class
                    );
                }
            }
        }
        Command::Product {
            command:
                ProductCommand::Set {
                    code,
                    tolerance_minor,
                    buckets,
                    five_class,
                    contact_pack,
                    observation_months,
                    arrangement_grace_days,
                    max_arrangement_months,
                },
        } => {
            let db = open(&cli.db).await?;
            let settings = arrears_app::cases::ProductSettings {
                tolerance_minor,
                buckets: buckets.as_deref(),
                five_class: five_class.as_deref(),
                contact_pack: contact_pack.as_deref(),
                observation_months,
                arrangement_grace_days,
                max_arrangement_months,
            };
            let p = arrears_app::cases::set_product(&db, &code, &settings, &now(), "user:cli").await?;
            println!(
                "product {}: tolerance {}, buckets {}, five-class {}, contact pack {}, restructuring observed {} months, \
                 arrangements up to {} months broken {} days late",
                p.product,
                p.tolerance_minor,
                p.buckets,
                p.five_class,
                p.contact_pack,
                p.observation_months,
                p.max_arrangement_months,
                p.arrangement_grace_days
            );
        }
    }
    Ok(())
}

fn print_loan(v: &arrears_app::view::LoanView) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "loan {}  borrower {}  {} {} {}  {}",
        v.loan_id, v.borrower_id, v.product, v.currency, v.principal, v.method
    )?;
    writeln!(
        o,
        "as of {}: status {}  DPD {}  bucket {}  five-class {}",
        v.as_of, v.status, v.dpd, v.bucket, v.five_class
    )?;
    writeln!(
        o,
        "overdue: principal {}  interest {}  fee {}  penalty {}  total {}",
        v.overdue.principal, v.overdue.interest, v.overdue.fee, v.overdue.penalty, v.overdue.total
    )?;
    writeln!(o, "outstanding principal {}  credit {}", v.outstanding_principal, v.credit)?;
    writeln!(
        o,
        "\n{:>4} {:<10} {:>12} {:>10} {:>8} {:>12} {:>10} {:>8} {:>10} {:<10}",
        "seq",
        "due",
        "principal",
        "interest",
        "fee",
        "paid prin",
        "paid int",
        "paid fee",
        "paid pen",
        "settled"
    )?;
    for i in &v.installments {
        writeln!(
            o,
            "{:>4} {:<10} {:>12} {:>10} {:>8} {:>12} {:>10} {:>8} {:>10} {:<10}",
            i.seq,
            i.due_on.to_string(),
            i.principal,
            i.interest,
            i.fee,
            i.paid_principal,
            i.paid_interest,
            i.paid_fee,
            i.paid_penalty,
            i.settled_on.map_or("-".to_string(), |d| d.to_string())
        )?;
    }
    if !v.payments.is_empty() {
        writeln!(o, "\npayments:")?;
        for p in &v.payments {
            let parts: Vec<String> = p
                .allocation
                .iter()
                .map(|a| match a.seq {
                    Some(s) => format!("#{s} {} {}", a.component, a.amount),
                    None => format!("credit {}", a.amount),
                })
                .collect();
            writeln!(
                o,
                "  {} {} {:>12} {:<8} {}",
                p.payment_id,
                p.paid_on,
                p.amount,
                p.channel,
                parts.join(", ")
            )?;
        }
    }
    Ok(())
}

fn print_refresh(r: &arrears_app::batch::Refresh) {
    match (&r.report, &r.skipped) {
        (Some(rep), _) if rep.loans_evaluated > 0 => {
            println!("re-evaluated up to the last closed date: {rep}")
        }
        (_, Some(why)) => println!("not re-evaluated now: {why}"),
        _ => {}
    }
}

/// The batch's progress: loans evaluated with their rate, per business date.
struct BatchBar(ProgressBar);

impl BatchBar {
    fn new() -> BatchBar {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg:<24} {human_pos:>10} loans  {per_sec}  {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        BatchBar(pb)
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl arrears_app::batch::BatchProgress for BatchBar {
    fn day(&self, date: NaiveDate) {
        memory::give_back();
        self.0.reset();
        self.0.set_message(format!("{date} loans"));
    }
    fn loans(&self, n: u64) {
        self.0.inc(n);
    }
    fn phase(&self, name: &str) {
        memory::give_back();
        let msg = self.0.message();
        let date = msg.split(' ').next().unwrap_or_default().to_string();
        self.0.set_message(format!("{date} {name}"));
    }
}

fn print_case(c: &arrears_app::cases::CaseView) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "case {}  borrower {} {}  status {}", c.case_id, c.borrower_id, c.borrower_name, c.status)?;
    writeln!(o, "opened {}  closed {}", c.opened_on, c.closed_on.map_or("-".into(), |d| d.to_string()))?;
    writeln!(
        o,
        "\n{:<12} {:<10} {:<4} {:>5} {:<6} {:<16} {:>14} {:>14}",
        "loan", "added", "cur", "DPD", "bucket", "five-class", "overdue", "outstanding"
    )?;
    for l in &c.loans {
        writeln!(
            o,
            "{:<12} {:<10} {:<4} {:>5} {:<6} {:<16} {:>14} {:>14}",
            l.loan_id,
            l.added_on.to_string(),
            l.currency,
            l.dpd,
            l.bucket,
            l.five_class,
            l.overdue_total,
            l.outstanding_principal
        )?;
    }
    if !c.ptps.is_empty() {
        writeln!(o, "\npromises to pay:")?;
        for t in &c.ptps {
            writeln!(
                o,
                "  {} promised {} due {} {} {}  paid {}  {}",
                t.ptp_id, t.promised_on, t.due_on, t.currency, t.amount, t.paid, t.status
            )?;
        }
    }
    if !c.messages.is_empty() {
        writeln!(o, "\nmessages:")?;
        for m in &c.messages {
            writeln!(
                o,
                "  {} {:<6} {:<16} {:<9} {} {}",
                m.sent_at.as_deref().unwrap_or(&m.send_at),
                m.channel,
                m.template,
                m.status,
                m.delivered_at.as_deref().map(|d| format!("delivered {d}")).unwrap_or_default(),
                m.error
            )?;
        }
    }
    if !c.tasks.is_empty() {
        writeln!(o, "\ntasks:")?;
        for t in &c.tasks {
            writeln!(
                o,
                "  {} {:<18} {:<9} {} {}",
                t.created_on,
                t.kind,
                t.status,
                t.collector_id.as_deref().or(t.queue.as_deref()).unwrap_or("-"),
                t.reason.as_deref().unwrap_or(&t.because)
            )?;
        }
    }
    if !c.actions.is_empty() {
        writeln!(o, "\nactions:")?;
        for a in &c.actions {
            writeln!(
                o,
                "  {} {} {} {} {} {}",
                a.at,
                a.channel,
                a.party,
                a.outcome.as_deref().unwrap_or("refused"),
                a.note,
                a.policy.replace('\n', "; ")
            )?;
        }
    }
    Ok(())
}

fn print_portfolio(v: &arrears_app::portfolio::PortfolioView) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "portfolio as of {}", v.as_of)?;
    for (title, rows) in [
        ("status", &v.by_status),
        ("product", &v.by_product),
        ("bucket", &v.by_bucket),
        ("five-class", &v.by_five_class),
    ] {
        writeln!(
            o,
            "\n{:<16} {:<4} {:>9} {:>9} {:>20} {:>18}",
            title, "cur", "loans", "overdue", "outstanding", "overdue amount"
        )?;
        for r in rows {
            writeln!(
                o,
                "{:<16} {:<4} {:>9} {:>9} {:>20} {:>18}",
                r.group, r.currency, r.loans, r.overdue_loans, r.outstanding_principal, r.overdue_total
            )?;
        }
    }
    if !v.roll_rates.is_empty() {
        writeln!(o, "\nroll rates from the previous business date (share of loans / of balance):")?;
        writeln!(
            o,
            "{:<4} {:<8} {:<8} {:>9} {:>9} {:>9} {:>20}",
            "cur", "from", "to", "loans", "loans %", "bal. %", "balance"
        )?;
        for r in &v.roll_rates {
            writeln!(
                o,
                "{:<4} {:<8} {:<8} {:>9} {:>9} {:>9} {:>20}",
                r.currency, r.from, r.to, r.loans, r.loan_rate, r.balance_rate, r.balance
            )?;
        }
    }
    Ok(())
}
