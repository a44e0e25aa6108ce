//! `arrears events`: the events the rest of the bank hears, sent to NATS JetStream and to
//! webhooks; replayed from an event on; listed; their dead letters.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use arrears_bus::events_out::{self, EventsConfig, Publish};
use clap::Subcommand;

use crate::{open, print_json};

/// Who the audit log records as replaying events from the command line.
const ACTOR: &str = "user:cli";

/// The events.
#[derive(Subcommand)]
pub enum EventsCommand {
    /// Send the outbox's events to NATS (with --nats) and to the webhooks of the events file,
    /// each destination from where it stopped.
    Publish {
        /// The NATS server, e.g. nats://127.0.0.1:4222; without it, only webhooks.
        #[arg(long)]
        nats: Option<String>,
        /// The events file.
        #[arg(long, env = "ARREARS_EVENTS", default_value = "config/events.toml")]
        config: PathBuf,
        /// Stop after this many seconds with nothing new (for scripts).
        #[arg(long)]
        until_idle: Option<f64>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send again from an event on (its id, e.g. arrears-1234): the destination's cursor goes
    /// back to just before it; the next `events publish` sends it and every later one.
    Replay {
        /// The first event to send again.
        #[arg(long)]
        from: String,
        /// One destination (nats or webhook:NAME); every one sent to so far when left out.
        #[arg(long)]
        destination: Option<String>,
    },
    /// Events in the outbox, oldest first.
    List {
        /// Only events after this place (`pos`).
        #[arg(long, default_value_t = -1)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Events a webhook would not take after every retry, and each destination's cursor.
    Dead {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `arrears events …`.
pub async fn run(url: &str, command: EventsCommand) -> Result<()> {
    let db = open(url).await?;
    let done = run_on(&db, command).await;
    db.close().await;
    done
}

async fn run_on(db: &arrears_store::Db, command: EventsCommand) -> Result<()> {
    match command {
        EventsCommand::Publish { nats, config, until_idle, json } => {
            let config = if config.exists() || std::env::var_os("ARREARS_EVENTS").is_some() {
                EventsConfig::load(&config)?
            } else {
                EventsConfig::default()
            };
            let until_idle = until_idle
                .map(|s| {
                    Duration::try_from_secs_f64(s)
                        .map_err(|_| anyhow::anyhow!("--until-idle {s}: give a number of seconds, 0 or more"))
                })
                .transpose()?;
            if nats.is_none() && config.webhooks.is_empty() {
                anyhow::bail!("nowhere to send: give --nats URL or a [[webhooks]] in the events file");
            }
            let p = Publish { nats, until_idle, poll: Duration::from_millis(200), batch: 1000 };
            let done = events_out::publish(db, &config, &p, &crate::clock()).await?;
            if json {
                print_json(&done)?;
            } else {
                for (dest, n) in &done.sent {
                    let dead = done.dead_letters.get(dest).copied().unwrap_or(0);
                    println!("{dest}: 已发送 {n} 个事件，死信 {dead} / {n} events sent, {dead} dead letters");
                }
            }
        }
        EventsCommand::Replay { from, destination } => {
            let moved =
                arrears_app::events::replay(db, &from, destination.as_deref(), &crate::now(), ACTOR).await?;
            for (dest, was) in moved {
                println!("{dest}: 将从 {from} 重新发送 / sends again from {from} (its cursor was at {was})");
            }
        }
        EventsCommand::List { after, limit, json } => {
            let events = arrears_store::events::after(db, after, limit).await?;
            if json {
                let list: Vec<serde_json::Value> = events
                    .iter()
                    .map(|e| serde_json::json!({ "pos": e.pos, "event": serde_json::from_str::<serde_json::Value>(&e.body).unwrap_or_default() }))
                    .collect();
                print_json(&list)?;
            } else {
                for e in events {
                    println!(
                        "{:>10}  {:<16}  {:<24} {}",
                        e.pos,
                        e.event_id,
                        e.r#type,
                        e.case_id.unwrap_or_default()
                    );
                }
            }
        }
        EventsCommand::Dead { json } => {
            let dead = arrears_store::events::dead_letters(db).await?;
            let cursors = arrears_store::events::cursors(db).await?;
            if json {
                let cursors: Vec<_> = cursors
                    .iter()
                    .map(|(d, pos, at)| serde_json::json!({"destination": d, "pos": pos, "updated_at": at}))
                    .collect();
                print_json(&serde_json::json!({ "dead_letters": dead, "cursors": cursors }))?;
            } else {
                for (d, pos, at) in &cursors {
                    println!("{d}: 已发送至 / sent up to {pos} ({at})");
                }
                for d in dead {
                    println!(
                        "{} {} {}: {} 次失败 / {} tries, {}",
                        d.destination, d.event_id, d.at, d.attempts, d.attempts, d.last_error
                    );
                }
            }
        }
    }
    Ok(())
}
