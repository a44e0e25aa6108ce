//! `arrears send` (one dispatcher pass over the outbox) and `arrears message` (where each
//! message stands).

use std::path::Path;

use anyhow::{Context, Result, bail};
use arrears_app::channels::config::ChannelsConfig;
use arrears_app::channels::{Dispatcher, owner_name};
use arrears_core::work::MessageStatus;
use arrears_store::personal::Keyring;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use crate::{Rejected, open, print_json};

/// `arrears send`.
#[derive(Args)]
pub struct SendArgs {
    /// Send what is due by this time (RFC 3339), and check and record as of it: a catch-up
    /// pass; default now.
    #[arg(long, value_parser = instant_arg)]
    until: Option<DateTime<Utc>>,
    /// Only this channel (sms, email, voice_bot, letter).
    #[arg(long)]
    channel: Option<String>,
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
}

/// `arrears channel`.
#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Per channel and template: sent, delivered, failed, refused, expired, cost, and how
    /// often a payment or a promise followed.
    Report {
        /// A response counts within this many days of sending.
        #[arg(long, default_value_t = 3)]
        days: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read a voice robot's or dialer's results (CSV: message_id,called_at,outcome[,note])
    /// and log each as an action through the checks of `action log`: a call the contact
    /// policy would not have allowed is recorded as a refused action (a violation).
    ImportCalls {
        /// The results file.
        file: std::path::PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read the bounces (delivery status notifications, RFC 3464) the mail server delivered
    /// into a Maildir: a permanent failure marks the e-mail bounced, and a mailbox or domain
    /// that does not exist marks the address invalid for strategies. Each file read moves
    /// from new/ to cur/.
    ImportBounces {
        /// The Maildir (holding new/ and cur/).
        dir: std::path::PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `arrears template`.
#[derive(Subcommand)]
pub enum TemplateCommand {
    /// Check message templates for placeholders nothing fills: the shipped ones and those of
    /// ARREARS_TEMPLATES, or the folder given. Each problem as FILE:LINE:COLUMN: message.
    Check {
        /// A folder of NAME.LANG.txt templates (default: the shipped templates and
        /// ARREARS_TEMPLATES).
        dir: Option<std::path::PathBuf>,
    },
}

/// `arrears template …`.
pub fn template(command: TemplateCommand) -> Result<()> {
    let TemplateCommand::Check { dir } = command;
    let dir = dir.or_else(|| {
        std::env::var_os(arrears_app::templates::TEMPLATES_ENV).filter(|d| !d.is_empty()).map(Into::into)
    });
    let mut problems = Vec::new();
    if let Some(d) = &dir {
        problems.extend(arrears_app::templates::check_dir(d, None)?);
    }
    if dir.is_none() {
        problems.extend(arrears_app::templates::check_builtin());
    }
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        println!("模板检查通过 / templates ok");
        Ok(())
    } else {
        eprintln!("{} 个错误 / {} error(s)", problems.len(), problems.len());
        bail!(Rejected)
    }
}

/// `arrears message`.
#[derive(Subcommand)]
pub enum MessageCommand {
    /// Outbox messages, oldest first.
    List {
        /// Only this case's.
        #[arg(long)]
        case: Option<String>,
        /// Only this loan's reminders (before and on the due date, and penalty notices).
        #[arg(long)]
        loan: Option<String>,
        /// Only in this status (queued, sending, sent, delivered, failed, bounced, expired,
        /// refused, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Print JSON, with the text as sent.
        #[arg(long)]
        json: bool,
    },
}

fn instant_arg(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (e.g. 2026-11-21T09:00:00+08:00): {e}"))
}

/// One dispatcher pass.
pub async fn send(url: &str, data_key: Option<&Path>, args: SendArgs) -> Result<()> {
    let db = open(url).await?;
    let config = ChannelsConfig::load()?;
    let keys = Keyring::resolve(&db, data_key).context("loading the data keys")?;
    let mut dispatcher =
        Dispatcher::new(&db, config, keys, args.channel.as_deref(), owner_name(&crate::now()))?;
    let report = dispatcher.pass(args.until, args.channel.as_deref(), &crate::clock()).await?;
    for c in &report.unrouted {
        eprintln!(
            "note: no provider is configured for {c} (config/channels.toml [channels]); its messages stay queued"
        );
    }
    if args.json {
        print_json(&report)?;
    } else {
        println!(
            "sent {}, delivered {}, failed {}, refused {}, expired {}, cancelled {}; {} still queued",
            report.sent,
            report.delivered,
            report.failed,
            report.refused,
            report.expired,
            report.cancelled,
            report.queued
        );
    }
    Ok(())
}

/// `arrears message …`.
pub async fn message(url: &str, command: MessageCommand) -> Result<()> {
    match command {
        MessageCommand::List { case, loan, status, limit, json } => {
            let status = match status.as_deref() {
                Some(s) => match s.parse::<MessageStatus>() {
                    Ok(s) => Some(s),
                    Err(e) => {
                        eprintln!("error: --status {e}");
                        bail!(Rejected);
                    }
                },
                None => None,
            };
            let db = open(url).await?;
            let filter = arrears_store::outbox::MessageFilter {
                case_id: case.as_deref(),
                loan_id: loan.as_deref(),
                status,
            };
            let rows = arrears_store::outbox::list(&db, filter, limit).await?;
            if json {
                print_json(&rows)?;
            } else {
                for r in &rows {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\tattempts {}\t{}\t{}",
                        r.message_id,
                        r.case_id.as_ref().map_or_else(
                            || format!("loan {}", r.loan_id.as_ref().map_or("-", |l| l.as_str())),
                            ToString::to_string
                        ),
                        r.channel,
                        r.template,
                        r.status,
                        r.attempts,
                        r.sent_at.as_deref().unwrap_or("-"),
                        r.error
                    );
                }
            }
        }
    }
    Ok(())
}

/// `arrears channel …`.
pub async fn channel(url: &str, command: ChannelCommand) -> Result<()> {
    match command {
        ChannelCommand::ImportCalls { file, json } => {
            let db = open(url).await?;
            let scanner = arrears_content::Scanner::default();
            let r =
                match arrears_app::channels::voice::import_calls(&db, &scanner, &file, &crate::now()).await {
                    Ok(r) => r,
                    Err(e @ arrears_app::channels::voice::CallImportError::Row { .. }) => {
                        eprintln!("error: {e}; nothing was imported");
                        bail!(Rejected);
                    }
                    Err(e) => return Err(e.into()),
                };
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "logged {}, violations recorded {}, already imported {}",
                    r.logged, r.violations, r.repeated
                );
            }
        }
        ChannelCommand::ImportBounces { dir, json } => {
            let db = open(url).await?;
            let r = arrears_app::channels::bounces::import_maildir(&db, &dir, &crate::now()).await?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "files {}, bounced {} (addresses invalid {}), not failures {}, seen before {}",
                    r.files, r.bounced, r.invalid_addresses, r.not_failures, r.repeated
                );
                for u in &r.unreadable {
                    println!("  not applied: {u}");
                }
            }
        }
        ChannelCommand::Report { days, json } => {
            let db = open(url).await?;
            let config = ChannelsConfig::load()?;
            let lines = arrears_app::channels::report::report(&db, &config, days).await?;
            if json {
                print_json(&lines)?;
            } else {
                println!(
                    "{:<10} {:<18} {:<8} {:>7} {:>9} {:>6} {:>7} {:>7} {:>7} {:>9} {:>8} {:>12}",
                    "channel",
                    "template",
                    "provider",
                    "sent",
                    "delivered",
                    "failed",
                    "refused",
                    "expired",
                    "waiting",
                    "responded",
                    "resp %",
                    "cost"
                );
                for l in &lines {
                    let f = &l.figures;
                    println!(
                        "{:<10} {:<18} {:<8} {:>7} {:>9} {:>6} {:>7} {:>7} {:>7} {:>9} {:>7.1}% {:>8} {}",
                        f.channel,
                        f.template,
                        f.provider,
                        f.sent,
                        f.delivered,
                        f.failed,
                        f.refused,
                        f.expired,
                        f.waiting,
                        f.responded,
                        l.response_rate_bp as f64 / 100.0,
                        l.cost_minor,
                        l.cost_currency
                    );
                }
            }
        }
    }
    Ok(())
}
