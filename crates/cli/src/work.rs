//! Collection work: `arrears task …`, `action …`, `collector …`, `agency …` and the case
//! commands that move work (`case assign`, `case recall`, `case release-hold`).

use std::io::Write;

use anyhow::{Context, Result, bail};
use arrears_app::actions::{ActionError, ActionInput};
use arrears_core::id::{CaseId, CollectorId};
use arrears_core::work::TaskStatus;
use arrears_store::Db;
use arrears_store::staff::CollectorRow;
use arrears_store::tasks::TaskFilter;
use chrono::{DateTime, NaiveDate};
use clap::Subcommand;

use crate::{Rejected, date_arg, print_json, today};

/// `arrears task …`.
#[derive(Subcommand)]
pub enum TaskCommand {
    /// Tasks made by the batch, newest first, highest priority first.
    List {
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Only this status (pending, due, done, cancelled, blocked).
        #[arg(long)]
        status: Option<String>,
        /// Only this case.
        #[arg(long)]
        case: Option<String>,
        /// Only this collector's.
        #[arg(long)]
        collector: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `arrears action …`.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process; boxing buys nothing")]
pub enum ActionCommand {
    /// Log a contact: the contact policy and the content rules check it first.
    Log {
        /// Case id.
        #[arg(long)]
        case: String,
        /// call, sms, email, voice_bot, letter or visit.
        #[arg(long)]
        channel: String,
        /// borrower, attorney, or one of the borrower's contact ids.
        #[arg(long, default_value = "borrower")]
        party: String,
        /// right_party_contact, no_answer, wrong_number, promise_to_pay, refused, dispute, paid,
        /// callback, deceased or bankrupt.
        #[arg(long)]
        outcome: String,
        /// The collector's note.
        #[arg(long, default_value = "")]
        note: String,
        /// When (RFC 3339 with offset, e.g. 2026-11-30T10:15:00+08:00); default now.
        #[arg(long)]
        at: Option<String>,
        /// Who made the contact.
        #[arg(long, default_value = "cli")]
        by: String,
        /// The agency that made it, when not the lender.
        #[arg(long)]
        agency: Option<String>,
        /// Promised amount (major units), with outcome promise_to_pay.
        #[arg(long)]
        ptp_amount: Option<String>,
        /// Promised date, with outcome promise_to_pay.
        #[arg(long, value_parser = date_arg)]
        ptp_date: Option<NaiveDate>,
        /// What the contact is for: collect, locate or notice. notice is a notice the law still
        /// permits after a cease request or a dispute (the us pack: that collection stops, that
        /// remedies may be or are invoked); it is stored with the action. Default: collect with
        /// the borrower, a guarantor or the attorney, locate with other contacts.
        #[arg(long)]
        purpose: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recorded actions, oldest first.
    List {
        /// Only this case.
        #[arg(long)]
        case: Option<String>,
        /// Only notes the content rules warned about (the compliance review queue).
        #[arg(long, conflicts_with = "case")]
        review: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `arrears collector …`.
#[derive(Subcommand)]
pub enum CollectorCommand {
    /// Add a collector, or change one.
    Add {
        /// Collector id.
        id: String,
        /// The collector's name as people see it.
        #[arg(long)]
        name: String,
        /// The collector's team; its collectors and supervisor see the cases allocated to the collector.
        #[arg(long, default_value = "default")]
        team: String,
        /// Call, visit and guarantor tasks a day.
        #[arg(long, default_value_t = 60)]
        capacity: i64,
        /// Queues worked, comma-separated (default: every queue).
        #[arg(long, default_value = "")]
        queues: String,
        /// Languages spoken, comma-separated (default: any).
        #[arg(long, default_value = "")]
        languages: String,
        /// Buckets worked, comma-separated (default: any).
        #[arg(long, default_value = "")]
        buckets: String,
        /// Products worked, comma-separated (default: any).
        #[arg(long, default_value = "")]
        products: String,
        /// Days off (YYYY-MM-DD), comma-separated.
        #[arg(long, value_delimiter = ',', value_parser = date_arg)]
        days_off: Vec<NaiveDate>,
    },
    /// Active collectors.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `arrears agency …`.
#[derive(Subcommand)]
pub enum AgencyCommand {
    /// Add an agency, or change one.
    Add {
        /// Agency id (the name strategies use in `agency = "…"`).
        id: String,
        /// The agency's name as people see it.
        #[arg(long)]
        name: String,
        /// Commission on recoveries, a decimal fraction (0.15 is 15%).
        #[arg(long)]
        commission: String,
    },
    /// Agencies with placements, recoveries during placement and commission.
    Report {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `task` subcommand.
pub async fn task(db: &Db, cmd: TaskCommand) -> Result<()> {
    let TaskCommand::List { queue, status, case, collector, limit, json } = cmd;
    let status: Option<TaskStatus> =
        match &status {
            Some(s) => Some(s.parse().map_err(|_| {
                anyhow::anyhow!("--status {s:?}: use pending, due, done, cancelled or blocked")
            })?),
            None => None,
        };
    let case_id = case.map(|c| CaseId::new(c.trim())).transpose().context("--case")?;
    let collector_id = collector.map(|c| CollectorId::new(c.trim())).transpose().context("--collector")?;
    let f = TaskFilter { queue, status, case_id, collector_id };
    let rows = arrears_store::tasks::list(db, &f, limit).await?;
    if json {
        return print_json(&rows);
    }
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "{:<44} {:<18} {:<10} {:<9} {:>9} {:<12} {:<10} reason",
        "task", "kind", "created", "status", "priority", "queue", "collector"
    )?;
    for t in &rows {
        writeln!(
            o,
            "{:<44} {:<18} {:<10} {:<9} {:>9} {:<12} {:<10} {}",
            t.task_id,
            t.kind,
            t.created_on.to_string(),
            t.status,
            t.priority,
            t.queue.as_deref().unwrap_or("-"),
            t.collector_id.as_deref().unwrap_or("-"),
            t.reason.as_deref().unwrap_or(&t.because)
        )?;
    }
    Ok(())
}

/// Runs an `action` subcommand.
pub async fn action(db: &Db, cmd: ActionCommand) -> Result<()> {
    match cmd {
        ActionCommand::Log {
            case,
            channel,
            party,
            outcome,
            note,
            at,
            by,
            agency,
            ptp_amount,
            ptp_date,
            purpose,
            json,
        } => {
            let at = match at {
                Some(text) => DateTime::parse_from_rfc3339(&text).map_err(|e| {
                    anyhow::anyhow!("--at {text:?}: {e} (use e.g. 2026-11-30T10:15:00+08:00)")
                })?,
                None => crate::now(),
            };
            let promise = match (ptp_amount, ptp_date) {
                (Some(a), Some(d)) => Some((a, d)),
                (None, None) => None,
                _ => bail!("--ptp-amount and --ptp-date go together"),
            };
            let input = ActionInput {
                case_id: case,
                at,
                actor: by,
                agency,
                channel,
                party,
                outcome,
                note,
                promise,
                purpose,
            };
            let scanner = arrears_content::Scanner::default();
            match arrears_app::actions::log(db, &scanner, input, &crate::now()).await {
                Ok(row) => {
                    if json {
                        print_json(&row)?;
                    } else {
                        println!(
                            "已记录 / logged {}{}{}",
                            row.action_id,
                            row.ptp_id.as_ref().map_or(String::new(), |p| format!(", promise {p}")),
                            if row.content == "warn" {
                                " (备注待合规复核 / note queued for compliance review)"
                            } else {
                                ""
                            }
                        );
                    }
                    Ok(())
                }
                Err(ActionError::Refused { action_id, messages }) => {
                    if json {
                        print_json(
                            &serde_json::json!({ "action_id": action_id, "allowed": false, "refusals": messages }),
                        )?;
                    }
                    for m in &messages {
                        eprintln!("{m}");
                    }
                    eprintln!("未联系，拒绝已记录为 {action_id} / contact refused, recorded as {action_id}");
                    Err(Rejected.into())
                }
                Err(e) => Err(e.into()),
            }
        }
        ActionCommand::List { case, review, limit, json } => {
            let rows = if review {
                arrears_store::actions::for_review(db, limit).await?
            } else {
                arrears_store::actions::list(db, case.as_deref(), limit).await?
            };
            if json {
                return print_json(&rows);
            }
            let mut o = std::io::stdout().lock();
            for a in &rows {
                writeln!(
                    o,
                    "{} {} {} {} {} {} {}{}",
                    a.action_id,
                    a.case_id,
                    a.at,
                    a.channel,
                    a.party,
                    a.outcome.as_deref().unwrap_or("refused by policy"),
                    a.note,
                    if a.allowed { String::new() } else { format!(" [{}]", a.policy.replace('\n', "; ")) }
                )?;
            }
            Ok(())
        }
    }
}

/// Runs a `collector` subcommand.
pub async fn collector(db: &Db, cmd: CollectorCommand) -> Result<()> {
    match cmd {
        CollectorCommand::Add {
            id,
            name,
            team,
            capacity,
            queues,
            languages,
            buckets,
            products,
            days_off,
        } => {
            let c = CollectorRow {
                collector_id: arrears_app::staff::collector_id(&id)?,
                name,
                team,
                capacity,
                queues,
                languages,
                buckets,
                products,
            };
            arrears_app::staff::save_collector(db, &c, &days_off, &crate::now(), "user:cli").await?;
            println!("collector {id} saved");
        }
        CollectorCommand::List { json } => {
            let rows = arrears_store::staff::collectors(db).await?;
            if json {
                return print_json(&rows);
            }
            for c in &rows {
                println!(
                    "{} {} team={} capacity={} queues={}",
                    c.collector_id, c.name, c.team, c.capacity, c.queues
                );
            }
        }
    }
    Ok(())
}

/// Runs an `agency` subcommand.
pub async fn agency(db: &Db, cmd: AgencyCommand) -> Result<()> {
    match cmd {
        AgencyCommand::Add { id, name, commission } => {
            arrears_app::staff::save_agency(db, &id, &name, &commission, &crate::now(), "user:cli").await?;
            println!("agency {id} saved");
        }
        AgencyCommand::Report { json } => {
            let rows = arrears_app::staff::agency_report(db).await?;
            if json {
                return print_json(&rows);
            }
            for r in &rows {
                println!(
                    "{} placements={} open={} recovered={} commission={} (rate {})",
                    r.figures.agency_id,
                    r.figures.placements,
                    r.figures.open,
                    r.recovered,
                    r.commission,
                    r.figures.commission_rate
                );
            }
        }
    }
    Ok(())
}

/// `case assign`: a supervisor moves a case to another collector.
pub async fn assign(db: &Db, case: &str, collector: &str) -> Result<()> {
    if !arrears_app::actions::assign(db, case, collector, today(), &crate::now(), "user:cli").await? {
        bail!("no collector {collector:?} (add it with `arrears collector add`)");
    }
    println!("case {case} now with {collector}");
    Ok(())
}

/// `case recall`: takes a case back from its agency.
pub async fn recall(db: &Db, case: &str) -> Result<()> {
    if !arrears_app::actions::recall(db, case, today(), &crate::now(), "user:cli").await? {
        bail!("case {case:?} is not placed with an agency");
    }
    println!("case {case} recalled");
    Ok(())
}

/// `case release-hold`: a dispute is resolved (or a hold was set in error).
pub async fn release_hold(db: &Db, case: &str) -> Result<()> {
    match arrears_app::actions::release_hold(db, case, &crate::now(), "user:cli").await? {
        Some(h) => println!("case {case}: hold {h} released"),
        None => bail!("case {case:?} has no hold"),
    }
    Ok(())
}
