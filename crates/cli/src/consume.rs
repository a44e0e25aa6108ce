//! `arrears consume payments`: payments from the lender's systems on a NATS JetStream stream.

use std::time::Duration;

use anyhow::Result;
use arrears_bus::payments_in::{self, Consume};
use arrears_store::DbUrl;
use clap::Subcommand;

use crate::{open, print_json};

/// What to consume.
#[derive(Subcommand)]
pub enum ConsumeCommand {
    /// Book the payments sent on a JetStream subject (the JSON of POST /api/v1/payments), each
    /// acknowledged once committed; those that can never be booked go to the dead-letter
    /// subject with their reason.
    Payments {
        /// The NATS server, e.g. nats://127.0.0.1:4222.
        #[arg(long)]
        nats: String,
        /// The JetStream stream (made on --subject if there is none).
        #[arg(long)]
        stream: String,
        /// The subject the payments are sent on.
        #[arg(long)]
        subject: String,
        /// The durable consumer's name: a restart goes on where the last run stopped.
        #[arg(long)]
        durable: String,
        /// Stop after this many seconds with nothing to read (for scripts).
        #[arg(long)]
        until_idle: Option<f64>,
        /// The dead-letter subject; default SUBJECT.dead-letter.
        #[arg(long)]
        dead_letter: Option<String>,
        /// Messages per batch (and per transaction).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Seconds the stream waits for an acknowledgement before it delivers a message again
        /// (set when the durable consumer is made).
        #[arg(long, default_value_t = 30.0)]
        ack_wait: f64,
        /// Re-evaluate the paid loans at most every this many seconds while payments keep
        /// coming, and at once when they stop (0: after every batch).
        #[arg(long, default_value_t = 1.0)]
        reevaluate_every: f64,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `arrears consume …`.
pub async fn run(url: &str, command: ConsumeCommand) -> Result<()> {
    let ConsumeCommand::Payments {
        nats,
        stream,
        subject,
        durable,
        until_idle,
        dead_letter,
        batch,
        ack_wait,
        reevaluate_every,
        json,
    } = command;
    let seconds = |what: &str, s: f64| {
        Duration::try_from_secs_f64(s)
            .map_err(|_| anyhow::anyhow!("--{what} {s}: give a number of seconds, 0 or more"))
    };
    if batch == 0 {
        anyhow::bail!("--batch 0: give at least 1 message per batch");
    }
    let c = Consume {
        dead_letter: dead_letter.unwrap_or_else(|| format!("{subject}.dead-letter")),
        nats,
        stream,
        subject,
        durable,
        until_idle: until_idle.map(|s| seconds("until-idle", s)).transpose()?,
        batch,
        ack_wait: seconds("ack-wait", ack_wait)?,
        reevaluate_every: seconds("reevaluate-every", reevaluate_every)?,
    };
    let db = open(url).await?;
    let done = payments_in::consume(&db, &DbUrl::new(url), &c, &crate::clock()).await;
    db.close().await;
    let done = done?;
    if json {
        print_json(&done)?;
    } else {
        println!(
            "读取 {m} 条消息：新入账 {b}，重复 {r}，死信 {d} / {m} messages: {b} booked, {r} repeated, {d} dead letters ({s:.1} s: booking {bs:.1} s, re-evaluating {rs:.1} s)",
            m = done.messages,
            b = done.booked,
            r = done.repeated,
            d = done.dead_letters,
            s = done.seconds,
            bs = done.booking_seconds,
            rs = done.reevaluating_seconds,
        );
        if !done.reevaluating_ms.is_empty() {
            let phases: Vec<String> =
                done.reevaluating_ms.iter().map(|(p, ms)| format!("{p} {ms} ms")).collect();
            println!("  re-evaluating by phase: {}", phases.join(", "));
        }
    }
    Ok(())
}
