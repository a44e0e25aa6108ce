//! The `arrears` command line: parse, validate, then call the use cases.
//!
//! Exit codes: 0 done, 1 the input was rejected (an import with bad rows),
//! 2 any other error. Errors print one clear message, never a backtrace.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arrears_app::import::{ImportError, Progress, import_dir};
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
    /// Loans.
    Loan {
        #[command(subcommand)]
        command: LoanCommand,
    },
    /// Reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
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
enum ReportCommand {
    /// Counts and balances by product, bucket and five-class.
    Portfolio {
        /// Business date (default: today).
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

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
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
            let now = chrono::Local::now().to_rfc3339();
            let result = import_dir(&db, &dir, &now, &pb).await;
            pb.0.finish_and_clear();
            db.close().await;
            match result {
                Ok(s) => {
                    let secs = started.elapsed().as_secs_f64();
                    let loans = s.rows_read.iter().find(|(f, _)| f == "loans.csv").map_or(0, |(_, n)| *n);
                    if json {
                        print_json(&serde_json::json!({
                            "import_id": s.import_id, "rows": s.rows_read.iter().map(|(f, n)| (f.clone(), *n)).collect::<std::collections::BTreeMap<_,_>>(),
                            "schedules_generated": s.schedules_generated, "seconds": secs,
                            "loans_per_second": loans as f64 / secs,
                        }))?;
                    } else {
                        for (f, n) in &s.rows_read {
                            println!("{f:>18}: {n} rows");
                        }
                        println!(
                            "import {} done in {secs:.1}s ({:.0} loans/s), {} schedules generated",
                            s.import_id,
                            loans as f64 / secs,
                            s.schedules_generated
                        );
                    }
                }
                Err(ImportError::Rejected { errors, total }) => {
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
                Err(e) => return Err(e.into()),
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
        Command::Report { command: ReportCommand::Portfolio { date, json } } => {
            let db = open(&cli.db).await?;
            let date = date.unwrap_or_else(today);
            let total = db.count("loans").await? as u64;
            let pb = bar(total, "loans");
            let p = arrears_app::portfolio::portfolio(&db, date, &|n| pb.set_position(n)).await?;
            pb.finish_and_clear();
            let v = p.view();
            if json {
                print_json(&v)?;
            } else {
                print_portfolio(&v)?;
            }
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

fn print_portfolio(v: &arrears_app::portfolio::PortfolioView) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "portfolio as of {}", v.as_of.map_or("-".into(), |d| d.to_string()))?;
    for s in &v.status {
        writeln!(
            o,
            "  {} {}: {}",
            s["currency"].as_str().unwrap_or(""),
            s["status"].as_str().unwrap_or(""),
            s["loans"]
        )?;
    }
    for (title, rows) in
        [("product", &v.by_product), ("bucket", &v.by_bucket), ("five-class", &v.by_five_class)]
    {
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
    Ok(())
}
