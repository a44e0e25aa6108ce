//! Events out (`arrears events publish`): the outbox's events, in the order of commits, to
//! NATS JetStream (subject `PREFIX.TYPE`, message id = event id, so that JetStream drops a
//! copy sent twice within its window) and to webhooks (CloudEvents structured mode, signed
//! with HMAC-SHA256, retried with backoff, then dead-lettered). Each destination has its own
//! cursor, moved only after what it covers was taken: at least once, in order, so in order
//! per case. `arrears events replay --from ID` moves cursors back.

use std::time::{Duration, Instant};

use arrears_app::audit::Clock;
use arrears_store::Db;
use arrears_store::events::{self as store, DeadLetter, StoredEvent};
use async_nats::jetstream;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{BusError, nats};

/// The events file (`config/events.toml`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// Where the NATS subjects and stream are.
    #[serde(default)]
    pub nats: NatsConfig,
    /// The webhooks.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// Extra certificate authorities for HTTPS webhooks.
    #[serde(default)]
    pub tls: TlsConfig,
}

/// `[nats]` of the events file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// An event's subject is `PREFIX.TYPE`.
    #[serde(default = "default_prefix")]
    pub subject_prefix: String,
    /// The stream made on `PREFIX.>` when none listens there.
    #[serde(default = "default_stream")]
    pub stream: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig { subject_prefix: default_prefix(), stream: default_stream() }
    }
}

fn default_prefix() -> String {
    "arrears.events".into()
}

fn default_stream() -> String {
    "ARREARS_EVENTS".into()
}

/// `[tls]` of the events file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM files of authorities to trust besides the web's roots.
    #[serde(default)]
    pub ca_files: Vec<String>,
}

/// One `[[webhooks]]` of the events file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name (its cursor is `webhook:NAME`).
    pub name: String,
    /// Where events are POSTed (http:// or https://).
    pub url: String,
    /// The variable holding the HMAC secret.
    pub secret_env: String,
    /// The types it wants; every type when empty.
    #[serde(default)]
    pub types: Vec<String>,
    /// How long one try may take.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Tries before an event is dead-lettered.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// The wait after the first failed try, doubled after each.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

fn default_timeout() -> u64 {
    5000
}

fn default_attempts() -> u32 {
    5
}

fn default_backoff() -> u64 {
    500
}

impl EventsConfig {
    /// Reads and checks the events file; errors name the file and the setting.
    pub fn load(path: &std::path::Path) -> Result<EventsConfig, BusError> {
        let bad = |detail: String| BusError::Config { path: path.display().to_string(), detail };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let c: EventsConfig = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut names = std::collections::HashSet::new();
        for w in &c.webhooks {
            if !names.insert(w.name.as_str()) {
                return Err(bad(format!("[[webhooks]] name {:?} is given twice", w.name)));
            }
            if !w.url.starts_with("http://") && !w.url.starts_with("https://") {
                return Err(bad(format!(
                    "[[webhooks]] {}: url {:?} is not http:// or https://",
                    w.name, w.url
                )));
            }
            if w.attempts == 0 {
                return Err(bad(format!("[[webhooks]] {}: attempts must be at least 1", w.name)));
            }
        }
        if c.nats.subject_prefix.is_empty() || c.nats.subject_prefix.contains(['*', '>', ' ']) {
            return Err(bad(format!("[nats] subject_prefix {:?}: plain tokens only", c.nats.subject_prefix)));
        }
        Ok(c)
    }

    /// The names of every destination: `nats` (when a server is given) and `webhook:NAME`.
    pub fn destinations(&self, with_nats: bool) -> Vec<String> {
        let mut out: Vec<String> = if with_nats { vec![NATS.to_string()] } else { Vec::new() };
        out.extend(self.webhooks.iter().map(|w| format!("webhook:{}", w.name)));
        out
    }
}

/// The NATS destination's name.
pub const NATS: &str = "nats";

/// How to publish.
#[derive(Debug, Clone)]
pub struct Publish {
    /// The NATS server, if events go there.
    pub nats: Option<String>,
    /// Stop after this long with nothing new (for scripts); `None` runs for ever.
    pub until_idle: Option<Duration>,
    /// How often the outbox is read when there was nothing new.
    pub poll: Duration,
    /// Events per read.
    pub batch: i64,
}

/// What a run of the publisher did, per destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Published {
    /// Events sent and taken, per destination.
    pub sent: std::collections::BTreeMap<String, u64>,
    /// Events dead-lettered, per destination.
    pub dead_letters: std::collections::BTreeMap<String, u64>,
}

/// A destination, ready to send.
enum Destination {
    Nats { js: jetstream::Context, prefix: String },
    Webhook { w: WebhookConfig, secret: String, client: reqwest::Client },
}

/// Sends the outbox to every destination until idle (or for ever).
pub async fn publish(
    db: &Db,
    config: &EventsConfig,
    p: &Publish,
    clock: &Clock,
) -> Result<Published, BusError> {
    let mut dests: Vec<(String, Destination)> = Vec::new();
    let mut client = None;
    if let Some(url) = &p.nats {
        let c = async_nats::connect(url).await.map_err(nats(format!("connecting to {url}")))?;
        let js = jetstream::new(c.clone());
        crate::keep(&js, &format!("{}.>", config.nats.subject_prefix), &config.nats.stream).await?;
        client = Some(c);
        dests.push((NATS.into(), Destination::Nats { js, prefix: config.nats.subject_prefix.clone() }));
    }
    if !config.webhooks.is_empty() {
        let (tls, _) = arrears_app::channels::tls::client_config(&config.tls.ca_files)
            .map_err(|detail| BusError::Config { path: "events file".into(), detail })?;
        for w in &config.webhooks {
            let secret = std::env::var(&w.secret_env).map_err(|_| BusError::Config {
                path: "events file".into(),
                detail: format!(
                    "[[webhooks]] {}: the variable {} holding its secret is not set",
                    w.name, w.secret_env
                ),
            })?;
            let client = reqwest::Client::builder()
                .timeout(Duration::from_millis(w.timeout_ms))
                .tls_backend_preconfigured((*tls).clone())
                .build()
                .map_err(|e| BusError::Config {
                    path: "events file".into(),
                    detail: format!("{}: {e}", w.name),
                })?;
            dests
                .push((format!("webhook:{}", w.name), Destination::Webhook { w: w.clone(), secret, client }));
        }
    }
    let mut done = Published::default();
    let mut idle_since = Instant::now();
    loop {
        let mut moved = false;
        for (name, d) in &dests {
            let (sent, dead) = pump(db, name, d, p.batch, clock).await?;
            moved |= sent + dead > 0;
            *done.sent.entry(name.clone()).or_default() += sent;
            *done.dead_letters.entry(name.clone()).or_default() += dead;
        }
        if moved {
            idle_since = Instant::now();
            continue;
        }
        if p.until_idle.is_some_and(|limit| idle_since.elapsed() >= limit) {
            break;
        }
        tokio::time::sleep(p.poll).await;
    }
    if let Some(c) = client {
        c.flush().await.map_err(nats("flushing"))?;
    }
    Ok(done)
}

/// Sends the next events after the cursor of `name`; returns how many were taken and how
/// many dead-lettered.
async fn pump(
    db: &Db,
    name: &str,
    d: &Destination,
    batch: i64,
    clock: &Clock,
) -> Result<(u64, u64), BusError> {
    let cursor = store::cursor(db, name).await?;
    let events = store::after(db, cursor, batch).await?;
    let Some(last) = events.last().map(|e| e.pos) else { return Ok((0, 0)) };
    let (mut sent, mut dead) = (0, 0);
    match d {
        Destination::Nats { js, prefix } => {
            let mut acks = Vec::with_capacity(events.len());
            for e in &events {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", e.event_id.as_str());
                headers.insert("Content-Type", "application/cloudevents+json");
                let subject = format!("{prefix}.{}", e.r#type);
                let ack = js
                    .publish_with_headers(subject, headers, e.body.clone().into())
                    .await
                    .map_err(nats(format!("publishing event {}", e.event_id)))?;
                acks.push(ack);
            }
            for (ack, e) in acks.into_iter().zip(&events) {
                ack.await.map_err(nats(format!("JetStream keeping event {}", e.event_id)))?;
                sent += 1;
            }
        }
        Destination::Webhook { w, secret, client } => {
            for e in &events {
                if !w.types.is_empty() && !w.types.iter().any(|t| t == &e.r#type) {
                    continue;
                }
                match deliver(client, w, secret, e, clock).await {
                    Ok(()) => sent += 1,
                    Err((attempts, error)) => {
                        dead += 1;
                        give_up(db, name, e, attempts, &error, clock).await?;
                    }
                }
            }
        }
    }
    let at = clock().to_rfc3339();
    let mut tx = db.begin().await?;
    store::set_cursor(&mut tx, name, last, &at).await?;
    tx.commit().await?;
    Ok((sent, dead))
}

/// The signature header of `body` sent at `t` (Unix seconds): `t=T,v1=HEX`, HEX being
/// HMAC-SHA256 with the webhook's secret over `T.BODY`; the receiver recomputes it and may
/// refuse an old `t` (a replayed request).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The header carrying [`signature`].
pub const SIGNATURE_HEADER: &str = "X-Arrears-Signature";

/// POSTs one event until a 2xx answer or the last try; the tries made and the last error.
async fn deliver(
    client: &reqwest::Client,
    w: &WebhookConfig,
    secret: &str,
    e: &StoredEvent,
    clock: &Clock,
) -> Result<(), (u32, String)> {
    let mut wait = Duration::from_millis(w.backoff_ms);
    let mut last = String::new();
    for attempt in 1..=w.attempts {
        let t = clock().timestamp();
        let sent = client
            .post(&w.url)
            .header("Content-Type", "application/cloudevents+json; charset=utf-8")
            .header("X-Arrears-Event-Id", e.event_id.as_str())
            .header(SIGNATURE_HEADER, signature(secret, t, &e.body))
            .body(e.body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status()),
            Err(err) if err.is_timeout() => last = format!("no answer within {} ms", w.timeout_ms),
            Err(err) => last = err.to_string(),
        }
        if attempt < w.attempts {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
    Err((w.attempts, last))
}

/// Lists an event the destination would not take, with an audit entry, in one transaction.
async fn give_up(
    db: &Db,
    name: &str,
    e: &StoredEvent,
    attempts: u32,
    error: &str,
    clock: &Clock,
) -> Result<(), BusError> {
    let at = clock();
    let d = DeadLetter {
        destination: name.to_string(),
        pos: e.pos,
        event_id: e.event_id.clone(),
        attempts: i64::from(attempts),
        last_error: error.to_string(),
        at: at.to_rfc3339(),
    };
    let mut tx = db.begin().await?;
    store::add_dead_letter(&mut tx, &d).await?;
    let entry = arrears_app::audit::Event::new("system:events", "event.dead_lettered")
        .entity(format!("event:{}", e.event_id))
        .fact("destination", name)
        .fact("attempts", u64::from(attempts))
        .fact("last_error", error);
    arrears_app::audit::record_all(&mut tx, &at, vec![entry]).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_time_dot_body() {
        // The primitive against RFC 4231's test case 2, then the header's form.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let s = signature("s3cret", 1_700_000_000, "{\"id\":\"arrears-1\"}");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"s3cret").unwrap();
        mac.update(b"1700000000.{\"id\":\"arrears-1\"}");
        assert_eq!(s, format!("t=1700000000,v1={}", hex::encode(mac.finalize().into_bytes())));
    }
}
