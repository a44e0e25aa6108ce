//! Payments in from a JetStream stream (`arrears consume payments`): a durable pull consumer
//! takes the lender's payment messages (the JSON of `POST /api/v1/payments`) in batches,
//! books each batch in one transaction, and acknowledges a message only once its payment is
//! committed, so that a consumer killed at any point loses nothing: the stream delivers what
//! was not acknowledged again, and a payment booked already is the same payment again.
//! The paid loans are re-evaluated at most every `reevaluate_every` while payments keep
//! coming (a loan paid twice in that time is evaluated once) and at once when they stop.
//! A message that can never be booked (not JSON, an unknown loan, the wrong currency, a bad
//! amount or date, an id taken by another payment) goes to the dead-letter subject with its
//! reason and is acknowledged, so that it never blocks the stream.

use std::time::{Duration, Instant};

use arrears_app::audit::Clock;
use arrears_app::payments::{self, BookError, PaymentIn, Taking};
use arrears_store::{Db, DbUrl};
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, stream};
use futures_util::StreamExt as _;

use crate::{BusError, nats};

/// Where to read payments from, and how.
#[derive(Debug, Clone)]
pub struct Consume {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub nats: String,
    /// The JetStream stream holding the payments (made, on `subject`, if there is none).
    pub stream: String,
    /// The subject the payments are sent on.
    pub subject: String,
    /// The durable consumer's name: the stream remembers what it acknowledged.
    pub durable: String,
    /// Where messages that can never be booked go, with their reason.
    pub dead_letter: String,
    /// Stop after this long with nothing to read (for scripts); `None` reads for ever.
    pub until_idle: Option<Duration>,
    /// Messages per batch (and per transaction).
    pub batch: usize,
    /// How long the stream waits for an acknowledgement before it delivers a message again
    /// (set when the durable consumer is made).
    pub ack_wait: Duration,
    /// The paid loans are re-evaluated at most this often while payments keep coming, and at
    /// once when the stream goes quiet; zero: after every batch.
    pub reevaluate_every: Duration,
}

/// What a run of the consumer did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Consumed {
    /// Messages read (a message delivered again counts again).
    pub messages: u64,
    /// Payments booked new.
    pub booked: u64,
    /// Payments that were booked already (a duplicate or a redelivery).
    pub repeated: u64,
    /// Messages sent to the dead-letter subject.
    pub dead_letters: u64,
    /// Batches committed.
    pub batches: u64,
    /// Seconds from the first message read to the last batch done (what a rate is taken
    /// over: waits on an empty stream are not counted).
    pub seconds: f64,
    /// Of those, seconds spent booking (checks, the transaction, the audit entries).
    pub booking_seconds: f64,
    /// Of those, seconds spent re-evaluating the paid loans.
    pub reevaluating_seconds: f64,
    /// The re-evaluations' milliseconds by phase (loans, promises, cases).
    pub reevaluating_ms: std::collections::BTreeMap<String, u64>,
}

/// A message that can never be booked: the field at fault (if one is) and why.
struct Dead {
    index: usize,
    field: Option<&'static str>,
    reason: String,
}

/// Reads payments until the stream has been idle for `until_idle` (or for ever); the actor of
/// the audit entries is the durable consumer.
pub async fn consume(db: &Db, url: &DbUrl, c: &Consume, clock: &Clock) -> Result<Consumed, BusError> {
    let client = async_nats::connect(&c.nats).await.map_err(nats(format!("connecting to {}", c.nats)))?;
    let js = jetstream::new(client.clone());
    let stream = js
        .get_or_create_stream(stream::Config {
            name: c.stream.clone(),
            subjects: vec![c.subject.clone()],
            ..Default::default()
        })
        .await
        .map_err(nats(format!("stream {}", c.stream)))?;
    crate::keep(&js, &c.dead_letter, &format!("{}_DEAD", c.stream)).await?;
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            &c.durable,
            pull::Config {
                durable_name: Some(c.durable.clone()),
                filter_subject: c.subject.clone(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: c.ack_wait,
                max_ack_pending: i64::try_from(c.batch.saturating_mul(4)).unwrap_or(i64::MAX).max(1000),
                ..Default::default()
            },
        )
        .await
        .map_err(nats(format!("durable consumer {} on stream {}", c.durable, c.stream)))?;
    let actor = format!("system:consumer:{}", c.durable);
    // A pull waits at most this long for a full batch; the idle time is counted in such waits.
    let wait = c
        .until_idle
        .map_or(Duration::from_secs(1), |d| d.clamp(Duration::from_millis(100), Duration::from_secs(1)));
    let mut done = Consumed::default();
    let mut idle = Duration::ZERO;
    let mut first: Option<Instant> = None;
    // Payments booked since the last re-evaluation (their loans are marked in the database,
    // so a consumer killed before it re-evaluates leaves them to the next one or the batch).
    let mut unevaluated = false;
    let mut evaluated_at = Instant::now();
    loop {
        let started = Instant::now();
        let mut pulled = consumer
            .batch()
            .max_messages(c.batch)
            .expires(wait)
            .messages()
            .await
            .map_err(nats("pulling a batch"))?;
        let mut messages = Vec::with_capacity(c.batch);
        while let Some(m) = pulled.next().await {
            messages.push(m.map_err(nats("reading a batch"))?);
        }
        if messages.is_empty() {
            if unevaluated {
                reevaluate(db, url, clock, &mut done).await?;
                unevaluated = false;
                evaluated_at = Instant::now();
                if let Some(first) = first {
                    done.seconds = first.elapsed().as_secs_f64();
                }
            }
            idle += started.elapsed();
            if c.until_idle.is_some_and(|limit| idle >= limit) {
                break;
            }
            continue;
        }
        idle = Duration::ZERO;
        let first = *first.get_or_insert(started);
        unevaluated |= take_batch(db, &js, c, &actor, &messages, clock, &mut done).await? > 0;
        if unevaluated && evaluated_at.elapsed() >= c.reevaluate_every {
            reevaluate(db, url, clock, &mut done).await?;
            unevaluated = false;
            evaluated_at = Instant::now();
        }
        done.seconds = first.elapsed().as_secs_f64();
    }
    if unevaluated {
        reevaluate(db, url, clock, &mut done).await?;
    }
    client.flush().await.map_err(nats("sending the last acknowledgements"))?;
    Ok(done)
}

/// Books one batch, sends its dead letters, then acknowledges every message of it; returns
/// how many payments were new.
async fn take_batch(
    db: &Db,
    js: &jetstream::Context,
    c: &Consume,
    actor: &str,
    messages: &[jetstream::Message],
    clock: &Clock,
    done: &mut Consumed,
) -> Result<u64, BusError> {
    done.messages += messages.len() as u64;
    let mut dead = Vec::new();
    let mut sent = Vec::with_capacity(messages.len());
    let mut at = Vec::with_capacity(messages.len());
    for (index, m) in messages.iter().enumerate() {
        match serde_json::from_slice::<PaymentIn>(&m.payload) {
            Ok(p) => {
                sent.push(p);
                at.push(index);
            }
            Err(e) => dead.push(Dead { index, field: None, reason: format!("not a payment's JSON: {e}") }),
        }
    }
    let latest = match payments::latest_value_date(db).await? {
        Some(d) => d,
        None => clock().date_naive(),
    };
    let booking = Instant::now();
    let outcomes = payments::book_many(db, &sent, latest, Taking::EachAlone, actor, clock).await?;
    done.booking_seconds += booking.elapsed().as_secs_f64();
    let mut booked = 0;
    for (index, outcome) in at.into_iter().zip(outcomes) {
        match outcome {
            Ok((true, _)) => booked += 1,
            Ok((false, _)) => done.repeated += 1,
            Err(BookError::Payment(e)) => return Err(e.into()),
            Err(e @ (BookError::Field { field, .. } | BookError::Conflict { field, .. })) => {
                dead.push(Dead { index, field: Some(field), reason: e.to_string() })
            }
        }
    }
    done.booked += booked;
    // Each dead letter is kept by JetStream before its message is acknowledged.
    let mut kept = Vec::with_capacity(dead.len());
    for d in &dead {
        let (headers, body) = dead_letter(&messages[d.index], c, d);
        let ack = js
            .publish_with_headers(c.dead_letter.clone(), headers, body.into())
            .await
            .map_err(nats(format!("sending a dead letter to {}", c.dead_letter)))?;
        kept.push(ack);
    }
    for ack in kept {
        ack.await.map_err(nats(format!("keeping a dead letter on {}", c.dead_letter)))?;
    }
    done.dead_letters += dead.len() as u64;
    for m in messages {
        m.ack().await.map_err(nats("acknowledging a message"))?;
    }
    done.batches += 1;
    Ok(booked)
}

/// Re-evaluates the loans that payments marked, counting the time by phase.
async fn reevaluate(db: &Db, url: &DbUrl, clock: &Clock, done: &mut Consumed) -> Result<(), BusError> {
    let started = Instant::now();
    let refresh = payments::reevaluate(db, url, clock).await?;
    done.reevaluating_seconds += started.elapsed().as_secs_f64();
    for (phase, ms) in refresh.report.map(|r| r.phase_ms).unwrap_or_default() {
        *done.reevaluating_ms.entry(phase.to_string()).or_default() += ms;
    }
    Ok(())
}

/// The dead letter of a message: its payload as sent and where it was, the reason, and the
/// field at fault; the message id makes a redelivered poison message one dead letter.
fn dead_letter(m: &jetstream::Message, c: &Consume, d: &Dead) -> (async_nats::HeaderMap, Vec<u8>) {
    let (sequence, delivered) = m.info().map(|i| (i.stream_sequence, i.delivered)).unwrap_or((0, 0));
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("{}-{sequence}", c.stream).as_str());
    if let Some(field) = d.field {
        headers.insert("Arrears-Field", field);
    }
    let body = serde_json::json!({
        "reason": d.reason,
        "field": d.field,
        "stream": c.stream,
        "subject": m.subject.as_str(),
        "stream_sequence": sequence,
        "delivered": delivered,
        "payload": String::from_utf8_lossy(&m.payload),
    });
    (headers, body.to_string().into_bytes())
}
