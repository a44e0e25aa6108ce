//! Channels: the dispatcher that sends what the batch queued in the outbox, through each
//! channel's provider, exactly once, and lawfully at the moment of sending.
//!
//! One pass claims due messages with a lease, checks each again (the case still open, the
//! text in the borrower's language and clean, a valid contact point, the contact policy at
//! the borrower's local time now, counting contacts made since the batch), sends the rest
//! concurrently, and records every result with its audit entry in one transaction per batch.
//! A message whose lease ran out (a dispatcher died mid-send) is settled before any resend:
//! sent again only to a relay that drops repeats, else failed as "outcome unknown".

pub mod aliyun;
pub mod bounces;
pub mod config;
mod departments;
mod letters;
pub mod receipts;
pub mod report;
pub mod robots;
pub mod smtp;
pub mod tls;
pub mod twilio;
pub mod voice;

use std::collections::HashMap;
use std::sync::Arc;

use arrears_content::Verdict;
use arrears_core::case::CaseStatus;
use arrears_core::contact_policy::{
    Channel, Party, Proposal, Purpose, Source, allowed_until, check, first_allowed,
};
use arrears_core::delivery::{Attempted, Backoff, Next, after_attempt};
use arrears_core::id::{BorrowerId, CaseId, LoanId};
use arrears_core::work::MessageStatus;
use arrears_store::actions::CaseForAction;
use arrears_store::batch_chunks::KeyRange;
use arrears_store::outbox::{self, Claimed, Finish, Finished, Lease};
use arrears_store::people::SealedContactPoints;
use arrears_store::personal::{Field, Keyring};
use arrears_store::reminders::LoanContext;
use arrears_store::treatment::AttemptRow;
use arrears_store::{Db, StoreError};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::audit::{At, Event};
use crate::contact_policy::{Packs, PolicySetupError, attempt, profile};
use crate::restrictions::{InForce, Target, bidx_for};
use crate::templates::{MessageScanner, shipped_scanner};
use aliyun::{Aliyun, Sms};
use config::{ChannelsConfig, ConfigError, ProviderConfig};
use letters::LetterSpool;
use robots::Robot;
use smtp::{Email, Smtp};
use twilio::Twilio;
use voice::{CallLine, VoiceExport};

/// Environment variable that makes the dispatcher abort at a named point, for the crash
/// tests: `POINT:N` aborts the N-th time it reaches `after_claim`, `before_send`,
/// `after_send` (the provider has the message, nothing recorded) or `after_record`.
pub const CRASH_ENV: &str = "ARREARS_CHANNELS_CRASH";

/// What stopped a dispatcher.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The channels file or a provider's secret.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The policy packs.
    #[error(transparent)]
    Policy(#[from] PolicySetupError),
    /// The contact restrictions could not be read.
    #[error(transparent)]
    Restrictions(#[from] crate::restrictions::RestrictionError),
    /// The personal-data keys.
    #[error(transparent)]
    Personal(#[from] arrears_store::personal::PersonalError),
    /// The people tables.
    #[error(transparent)]
    People(#[from] arrears_store::people::PeopleError),
    /// The bounce Maildir could not be read.
    #[error("bounces: {0}")]
    Bounces(String),
    /// An unknown channel was asked for.
    #[error("unknown channel {0:?}: use sms, email, voice_bot or letter")]
    Channel(String),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entries could not be recorded (nothing of that batch was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// What one pass did: messages sent, failed, refused and expired by it; receipts that said
/// delivered during it; and messages still queued after it (not yet due, waiting for a retry
/// or a lawful hour, or of a channel with no provider).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SendReport {
    /// Taken by their provider.
    pub sent: u64,
    /// Reported delivered.
    pub delivered: u64,
    /// Failed for good.
    pub failed: u64,
    /// Refused at send time by the contact policy, the content rules or a missing template or
    /// contact point.
    pub refused: u64,
    /// Not sent before their deadline.
    pub expired: u64,
    /// Still queued after the pass.
    pub queued: u64,
    /// Left being sent: the provider must be asked whether it has them once their lease runs
    /// out (a later pass does).
    #[serde(skip_serializing_if = "is_zero")]
    pub unsettled: u64,
    /// Early-warning alerts delivered to a department's robot or address (one per target).
    #[serde(skip_serializing_if = "is_zero")]
    pub alerts_pushed: u64,
    /// Alert deliveries that failed.
    #[serde(skip_serializing_if = "is_zero")]
    pub alert_push_failures: u64,
    /// Withdrawn at send time (the case closed or was placed since it was queued).
    #[serde(skip_serializing_if = "is_zero")]
    pub cancelled: u64,
    /// E-mails a bounce (delivery status notification) came back for in this pass.
    #[serde(skip_serializing_if = "is_zero")]
    pub bounced: u64,
    /// Channels whose messages wait because no provider is configured for them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrouted: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A provider, ready to send.
enum Route {
    Email { provider: String, smtp: Arc<Smtp> },
    Sms { provider: String, aliyun: Arc<Aliyun> },
    Twilio { provider: String, twilio: Arc<Twilio> },
    Voice { provider: String, export: VoiceExport },
    Letter { provider: String, spool: Arc<LetterSpool> },
}

/// How an attempt whose outcome is unknown is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// Send again: the receiver drops repeats of a message id.
    Resend,
    /// Ask the provider whether it has the message id; send only if it has not.
    Lookup,
    /// Neither: end it failed ("outcome unknown") rather than risk a second copy.
    GiveUp,
}

impl Route {
    fn provider(&self) -> &str {
        match self {
            Route::Email { provider, .. }
            | Route::Sms { provider, .. }
            | Route::Twilio { provider, .. }
            | Route::Voice { provider, .. }
            | Route::Letter { provider, .. } => provider,
        }
    }

    fn settle(&self) -> Settle {
        match self {
            Route::Email { smtp, .. } if smtp.deduplicates => Settle::Resend,
            Route::Email { .. } => Settle::GiveUp,
            // The folder keeps one file per message id: printing again keeps the first.
            Route::Letter { .. } => Settle::Resend,
            Route::Sms { .. } | Route::Twilio { .. } | Route::Voice { .. } => Settle::Lookup,
        }
    }
}

/// A dispatcher: the providers of the configured channels, the policy packs, the keys that
/// open contact points, and its own name for the leases it takes.
pub struct Dispatcher {
    db: Db,
    config: ChannelsConfig,
    routes: HashMap<String, Route>,
    /// (pack, channel) → the route that replaces the channel's for that pack's borrowers.
    by_pack: HashMap<(String, String), Route>,
    /// Department robots and relays, by provider name (none when only one channel is sent).
    robots: HashMap<String, Robot>,
    relays: HashMap<String, Smtp>,
    keys: Keyring,
    packs: Packs,
    owner: String,
    crash: Option<(String, u64)>,
    reached: HashMap<&'static str, u64>,
}

/// What the checks of a claimed batch need, read at once.
struct BatchFacts {
    cases: HashMap<CaseId, CaseForAction>,
    points: HashMap<BorrowerId, SealedContactPoints>,
    invalid: HashMap<BorrowerId, Vec<(String, String)>>,
    restrictions: HashMap<BorrowerId, Vec<InForce>>,
    history: HashMap<CaseId, Vec<AttemptRow>>,
    /// Loans of reminders to borrowers without a case.
    loans: HashMap<LoanId, LoanContext>,
    /// Earlier reminders to borrowers without a case: when, and by which channel.
    reminded: HashMap<BorrowerId, Vec<(String, String)>>,
    /// What the cases of letters owe at the latest close, by currency.
    owed: HashMap<String, Vec<arrears_store::loan_state::CaseOwed>>,
}

/// A call on its way into a list: the message, its line, and its result so far.
type Listed = (Claimed, CallLine, Finished);

/// One claimed message after its checks.
enum Prepared {
    /// To send to `to`.
    Send {
        m: Claimed,
        to: String,
        subject: String,
        body: String,
        field: &'static str,
        bidx: String,
        /// For a call: the stretch the contact policy allows from now.
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
        /// The borrower's zone.
        timezone: String,
        /// For a letter: the letter as it is printed.
        letter: Option<Box<arrears_letters::Letter>>,
        /// The pack whose route sends it (`None`: the channel's own).
        pack: Option<String>,
    },
    /// Decided without sending.
    Decided { m: Claimed, finished: Finished },
}

impl Dispatcher {
    /// A dispatcher for the channels of `config` (only `only` when given); `owner` names its
    /// leases. A provider's missing secret is an error here, before anything is claimed.
    pub fn new(
        db: &Db,
        config: ChannelsConfig,
        keys: Keyring,
        only: Option<&str>,
        owner: String,
    ) -> Result<Dispatcher, DispatchError> {
        if let Some(c) = only
            && c.parse::<Channel>().is_err()
        {
            return Err(DispatchError::Channel(c.to_string()));
        }
        let mut routes = HashMap::new();
        for (channel, provider) in &config.channels {
            if only.is_some_and(|c| c != channel) {
                continue;
            }
            if let Some(route) = route_to(provider, &config)? {
                routes.insert(channel.clone(), route);
            }
        }
        let mut by_pack = HashMap::new();
        for (pack, channels) in &config.routes {
            for (channel, provider) in channels {
                if only.is_some_and(|c| c != channel) {
                    continue;
                }
                if let Some(route) = route_to(provider, &config)? {
                    by_pack.insert((pack.clone(), channel.clone()), route);
                }
            }
        }
        let mut robots = HashMap::new();
        let mut relays = HashMap::new();
        if only.is_none() {
            for d in config.departments.values() {
                for r in &d.robots {
                    if let Some(rc) = config.providers.get(r).and_then(ProviderConfig::robot)
                        && !robots.contains_key(r)
                    {
                        robots.insert(r.clone(), Robot::new(r, &rc, &config)?);
                    }
                }
                if let Some(p) = &d.email_provider
                    && let Some(ProviderConfig::Smtp(s)) = config.providers.get(p)
                    && !relays.contains_key(p)
                {
                    relays.insert(p.clone(), Smtp::new(p, s, &config)?);
                }
            }
        }
        let crash = std::env::var(CRASH_ENV).ok().and_then(|v| {
            let (point, n) = v.split_once(':')?;
            Some((point.to_string(), n.parse().ok()?))
        });
        Ok(Dispatcher {
            db: db.clone(),
            config,
            routes,
            by_pack,
            robots,
            relays,
            keys,
            packs: Packs::load()?,
            owner,
            crash,
            reached: HashMap::new(),
        })
    }

    /// Aborts the process at a crash point when `ARREARS_CHANNELS_CRASH` names it (no
    /// destructors, no flush: as a kill would).
    fn crash_point(&mut self, point: &'static str) {
        let Some((name, n)) = &self.crash else { return };
        if name != point {
            return;
        }
        let seen = self.reached.entry(point).or_default();
        *seen += 1;
        if *seen == *n {
            std::process::abort();
        }
    }

    /// One pass over the messages due by `until` (now when `None`), until none is left to
    /// claim. `clock` is the edge's wall clock: leases run on it; `until` also stands for the
    /// time of the checks and records, moving on with the clock from the start of the pass.
    pub async fn pass(
        &mut self,
        until: Option<DateTime<Utc>>,
        only: Option<&str>,
        clock: &crate::audit::Clock,
    ) -> Result<SendReport, DispatchError> {
        let real = || clock().with_timezone(&Utc);
        let started = real();
        let base = until.unwrap_or(started);
        let clock = move || base + (real() - started);
        let mut report = SendReport::default();
        for channel in ["sms", "email", "voice_bot", "letter"] {
            if only.is_none_or(|c| c == channel) && !self.routes.contains_key(channel) {
                report.unrouted.push(channel.to_string());
            }
        }
        // Bounces first: an address that bounced is not written to again in this pass.
        let maildirs: std::collections::BTreeSet<&std::path::PathBuf> = self
            .routes
            .values()
            .chain(self.by_pack.values())
            .filter_map(|r| match r {
                Route::Email { smtp, .. } => smtp.bounce_maildir.as_ref(),
                _ => None,
            })
            .collect();
        for dir in maildirs {
            let at = clock().fixed_offset();
            match bounces::import_maildir(&self.db, dir, &at).await {
                Ok(b) => report.bounced += b.bounced,
                Err(receipts::ReceiptError::Invalid(e)) => return Err(DispatchError::Bounces(e)),
                Err(receipts::ReceiptError::Store(e)) => return Err(e.into()),
                Err(receipts::ReceiptError::Audit(e)) => return Err(e.into()),
                Err(e) => return Err(DispatchError::Bounces(e.to_string())),
            }
        }
        let channels: Vec<String> = self.routes.keys().cloned().collect();
        let channel_refs: Vec<&str> = channels.iter().map(String::as_str).collect();
        loop {
            let now = clock();
            let now_text = now.to_rfc3339_opts(SecondsFormat::Secs, false);
            let real_ms = real().timestamp_millis();
            let lease = Lease {
                owner: &self.owner,
                now_ms: now.timestamp_millis(),
                now: &now_text,
                real_ms,
                until_ms: real_ms + (self.config.dispatcher.lease_seconds * 1000) as i64,
            };
            let claimed =
                outbox::claim(&self.db, &lease, &channel_refs, i64::from(self.config.dispatcher.batch))
                    .await?;
            if claimed.is_empty() {
                break;
            }
            self.crash_point("after_claim");
            let facts = self.facts(&claimed, now).await?;
            let mut prepared = Vec::with_capacity(claimed.len());
            for m in claimed {
                prepared.push(self.prepare(m, now, &facts)?);
            }
            let results = self.send_all(prepared, now).await;
            self.record(&results, &clock, &mut report).await?;
        }
        report.queued = outbox::count_waiting(&self.db, only).await?;
        self.push_alerts(clock(), &mut report).await?;
        Ok(report)
    }

    /// Every department's waiting alerts to its robots and addresses.
    async fn push_alerts(&self, now: DateTime<Utc>, report: &mut SendReport) -> Result<(), DispatchError> {
        let lease = Duration::seconds(self.config.dispatcher.lease_seconds as i64);
        for (department, d) in &self.config.departments {
            let mut targets = Vec::new();
            for r in &d.robots {
                if let Some(robot) = self.robots.get(r) {
                    targets.push(departments::Target::Robot(r, robot));
                }
            }
            if let Some(relay) = d.email_provider.as_ref().and_then(|p| self.relays.get(p)) {
                for to in &d.emails {
                    targets.push(departments::Target::Email(to, relay));
                }
            }
            for target in &targets {
                let c = departments::push(&self.db, department, target, now, lease).await?;
                report.alerts_pushed += c.pushed;
                report.alert_push_failures += c.failed;
            }
        }
        Ok(())
    }

    /// What the checks of a claimed batch read, in one query per table.
    async fn facts(&self, claimed: &[Claimed], now: DateTime<Utc>) -> Result<BatchFacts, DispatchError> {
        let mut cases: Vec<&str> =
            claimed.iter().filter_map(|m| Some(m.case_id.as_ref()?.as_str())).collect();
        cases.sort_unstable();
        cases.dedup();
        let mut loans: Vec<&str> = claimed
            .iter()
            .filter(|m| m.case_id.is_none())
            .filter_map(|m| Some(m.loan_id.as_ref()?.as_str()))
            .collect();
        loans.sort_unstable();
        loans.dedup();
        let mut uncased: Vec<&str> =
            claimed.iter().filter(|m| m.case_id.is_none()).map(|m| m.borrower_id.as_str()).collect();
        uncased.sort_unstable();
        uncased.dedup();
        let mut borrowers: Vec<&str> = claimed.iter().map(|m| m.borrower_id.as_str()).collect();
        borrowers.sort_unstable();
        borrowers.dedup();
        let since = (now - Duration::days(30)).to_rfc3339();
        let mut history: HashMap<CaseId, Vec<AttemptRow>> = HashMap::new();
        for a in
            arrears_store::treatment::recent_attempts(&self.db, &since, &cases, &[], &KeyRange::ALL).await?
        {
            history.entry(a.case_id.clone()).or_default().push(a);
        }
        Ok(BatchFacts {
            cases: arrears_store::actions::cases_for_action(&self.db, &cases)
                .await?
                .into_iter()
                .map(|c| (c.case_id.clone(), c))
                .collect(),
            points: arrears_store::people::contact_points(&self.db, &borrowers).await?,
            invalid: arrears_store::contact_points::invalid_of(&self.db, &borrowers).await?,
            restrictions: crate::restrictions::of_borrowers(&self.db, &borrowers).await?,
            history,
            loans: arrears_store::reminders::contexts(&self.db, &loans)
                .await?
                .into_iter()
                .map(|l| (l.loan_id.clone(), l))
                .collect(),
            owed: {
                let mut letters: Vec<&str> = claimed
                    .iter()
                    .filter(|m| m.channel == "letter")
                    .filter_map(|m| Some(m.case_id.as_ref()?.as_str()))
                    .collect();
                letters.sort_unstable();
                letters.dedup();
                arrears_store::loan_state::owed_by_cases(&self.db, &letters).await?
            },
            reminded: {
                let mut by: HashMap<BorrowerId, Vec<(String, String)>> = HashMap::new();
                for (b, at, channel) in
                    arrears_store::reminders::recent_of_borrowers(&self.db, &since, &uncased).await?
                {
                    by.entry(b).or_default().push((at, channel));
                }
                by
            },
        })
    }

    /// The checks of one claimed message at `now`.
    fn prepare(&self, m: Claimed, now: DateTime<Utc>, facts: &BatchFacts) -> Result<Prepared, DispatchError> {
        let routed = self.pack_route(&m, facts);
        let route = self.route(&m.channel, routed.as_deref());
        let decided = |m: Claimed, finish: Finish, error: String| {
            let finished = Finished {
                message_id: m.message_id.clone(),
                attempts: m.attempts,
                finish,
                subject: String::new(),
                body: m.body.clone(),
                address_field: "",
                address_bidx: String::new(),
                error,
                invalid_address: false,
            };
            Ok(Prepared::Decided { m, finished })
        };
        if m.reclaimed && route.settle() == Settle::GiveUp {
            // The earlier attempt may have reached the provider: never risk a second copy.
            let error = format!(
                "outcome unknown: a dispatcher's lease ran out mid-send and {} does not drop repeats; check with the provider before sending again",
                route.provider()
            );
            return decided(m, Finish::End(MessageStatus::Failed), error);
        }
        // Whom the message is about: its case, or for a reminder without one, its loan.
        let (timezone, hold, contact_pack) = match (&m.case_id, &m.loan_id) {
            (Some(case_id), _) => {
                let Some(case) = facts.cases.get(case_id) else {
                    return decided(
                        m,
                        Finish::End(MessageStatus::Cancelled),
                        "the case no longer exists".into(),
                    );
                };
                if case.status != CaseStatus::Open {
                    let error = format!("case {} is {} since it was queued", case.case_id, case.status);
                    return decided(m, Finish::End(MessageStatus::Cancelled), error);
                }
                if let Some(agency) = &case.placed_with {
                    return decided(
                        m,
                        Finish::End(MessageStatus::Cancelled),
                        format!("case placed with agency {agency}"),
                    );
                }
                (case.timezone.clone(), case.hold.clone(), case.contact_pack.clone())
            }
            (None, Some(loan_id)) => {
                let Some(loan) = facts.loans.get(loan_id) else {
                    return decided(
                        m,
                        Finish::End(MessageStatus::Cancelled),
                        "the loan no longer exists".into(),
                    );
                };
                // The notice of a sale is owed to the borrower of a sold loan (民法典 §546).
                let notice = m.template == crate::transfers::NOTICE_TEMPLATE && loan.status == "sold";
                if loan.status != "active" && !notice {
                    let error =
                        format!("loan {} is {} since the reminder was queued", loan.loan_id, loan.status);
                    return decided(m, Finish::End(MessageStatus::Cancelled), error);
                }
                (loan.timezone.clone(), None, loan.contact_pack.clone())
            }
            (None, None) => {
                return decided(
                    m,
                    Finish::End(MessageStatus::Cancelled),
                    "the message names no case or loan".into(),
                );
            }
        };
        if m.body.is_empty() {
            let error = format!(
                "模板 {} 没有 {} 文本，不以借款人未选的语言发送 / template {} has no {} text: not sent in another language",
                m.template, m.language, m.template, m.language
            );
            return decided(m, Finish::End(MessageStatus::Refused), error);
        }
        let lender = self.lender(&m.language);
        let body = arrears_content::render(&m.body, |k| match k {
            "lender" => Some(lender.into()),
            _ => None,
        });
        // A placeholder left unfilled (a broken-promise message for a case without one)
        // would reach the borrower as braces.
        if let Some(p) = crate::templates::PLACEHOLDERS.iter().find(|p| body.contains(&format!("{{{p}}}"))) {
            let error =
                format!("占位符 {{{p}}} 在此案件中没有值 / placeholder {{{p}}} has no value for this case");
            return decided(m, Finish::End(MessageStatus::Refused), error);
        }
        let subject = subject_of(&m.template, &m.language, lender);
        // Twilio's texts carry their reference, so that a lost answer can be looked up.
        let body =
            if matches!(route, Route::Twilio { .. }) { Twilio::text(&body, &m.message_id) } else { body };
        let scan = MessageScanner::new(shipped_scanner()).check(&body);
        if scan.verdict == Verdict::Block {
            return decided(m, Finish::End(MessageStatus::Refused), scan.reason);
        }
        let channel: Channel = m.channel.parse().map_err(|_| DispatchError::Channel(m.channel.clone()))?;
        let (to, bidx, label, letter, body) = if let Route::Letter { spool, .. } = route {
            // A letter goes by post: it needs no phone or e-mail, and carries what the case owes now.
            let day = match timezone.parse::<chrono_tz::Tz>() {
                Ok(tz) => now.with_timezone(&tz).date_naive(),
                Err(_) => now.date_naive(),
            };
            let name = serde_json::from_str::<HashMap<String, String>>(&m.params)
                .ok()
                .and_then(|p| p.get("name").cloned())
                .unwrap_or_default();
            let zh = m.language != "en";
            let borrower = if zh {
                format!("借款人编号：{}", m.borrower_id)
            } else {
                format!("Borrower: {}", m.borrower_id)
            };
            let owed = m.case_id.as_ref().and_then(|c| facts.owed.get(c.as_str())).and_then(|o| o.first());
            // A letter begun by a dispatcher that died is recorded as it was, not composed anew.
            let begun = if m.attempts > 1 { spool.printed(&m.message_id) } else { None };
            let letter = begun.unwrap_or_else(|| {
                spool.compose(
                    &m.message_id,
                    day,
                    zh,
                    lender,
                    vec![name, borrower],
                    subject.clone(),
                    &body,
                    owed,
                )
            });
            let text = LetterSpool::text_of(&letter);
            (String::new(), String::new(), "", Some(Box::new(letter)), text)
        } else {
            let Some(sealed) = facts.points.get(&m.borrower_id) else {
                return decided(
                    m,
                    Finish::End(MessageStatus::Refused),
                    "the borrower is not on record".into(),
                );
            };
            let (field, stored, label) = match channel {
                Channel::Email => (Field::Email, &sealed.email, "email"),
                _ => (Field::Phone, &sealed.phone, "phone"),
            };
            let to = self.keys.open(field, stored, &|| format!("borrowers {} {label}", m.borrower_id))?;
            let bidx = self.keys.blind(field, &to);
            let known_bad = facts
                .invalid
                .get(&m.borrower_id)
                .is_some_and(|v| v.iter().any(|(f, b)| f == label && *b == bidx));
            if to.trim().is_empty() || known_bad {
                let error = if known_bad {
                    format!(
                        "没有有效的{label}：此前被服务商拒收 / no valid {label}: the provider refused it before"
                    )
                } else {
                    format!("没有{label}记录 / no {label} on record")
                };
                return decided(m, Finish::End(MessageStatus::Refused), error);
            }
            (to, bidx, label, None, body)
        };

        // The contact policy at the borrower's local time now, with every contact since but
        // this message itself (queued, it counts at its send time).
        let about = m.case_id.as_ref().map_or_else(|| m.borrower_id.to_string(), ToString::to_string);
        let history: Vec<_> = match &m.case_id {
            Some(case_id) => {
                let mut rows: Vec<&AttemptRow> =
                    facts.history.get(case_id).map(|h| h.iter().collect()).unwrap_or_default();
                if let Some(own) = rows
                    .iter()
                    .position(|a| a.actor == "outbox" && a.channel == m.channel && a.at_utc == m.send_at)
                {
                    rows.remove(own);
                }
                rows.into_iter().filter_map(attempt).filter(|a| a.at <= now).collect()
            }
            None => {
                let mut rows: Vec<&(String, String)> =
                    facts.reminded.get(&m.borrower_id).map(|h| h.iter().collect()).unwrap_or_default();
                if let Some(own) =
                    rows.iter().position(|(at, channel)| *channel == m.channel && *at == m.send_at)
                {
                    rows.remove(own);
                }
                rows.into_iter()
                    .filter_map(|(at, channel)| reminded(&about, at, channel))
                    .filter(|a| a.at <= now)
                    .collect()
            }
        };
        let proposal = Proposal {
            party: Party::Debtor,
            channel,
            address: format!("{about}:{}", channel.as_str()),
            at: now,
            by: Vec::new(),
            source: Source::Lender,
            purpose: Purpose::Collect,
            debt: None,
            carries_opt_out: true,
        };
        let mut profile = profile(&timezone, hold.as_deref());
        let (phone_bidx, email_bidx) = match channel {
            Channel::Email => (String::new(), bidx.clone()),
            _ => (bidx.clone(), String::new()),
        };
        let target =
            Target { channel, address: &proposal.address, bidx: bidx_for(channel, &phone_bidx, &email_bidx) };
        let local_day = match timezone.parse::<chrono_tz::Tz>() {
            Ok(tz) => now.with_timezone(&tz).date_naive(),
            Err(_) => now.date_naive(),
        };
        let restrictions = facts.restrictions.get(&m.borrower_id).map(Vec::as_slice).unwrap_or_default();
        crate::restrictions::apply(&mut profile, restrictions, Some(local_day), target);
        let pack = self.packs.for_case(contact_pack.as_deref(), &timezone);
        let holidays = self.packs.holidays_for(pack);
        let decision = check(pack, &proposal, &profile, &history, holidays);
        if !decision.allowed {
            let reasons: Vec<String> = decision.refusals.iter().map(|r| r.message_zh()).collect();
            let deadline = self.deadline(&m);
            // A lawful hour later the same message may go (quiet hours, a holiday, a daily
            // limit): wait for it; otherwise it is refused now.
            return match first_allowed(pack, &proposal, &profile, &history, holidays, deadline) {
                Some(at) if at > now => decided(
                    m,
                    Finish::Retry { next_attempt_at: at.timestamp_millis() },
                    format!("deferred to {}: {}", at.to_rfc3339(), reasons.join("; ")),
                ),
                _ => decided(m, Finish::End(MessageStatus::Refused), reasons.join("; ")),
            };
        }
        let window = (channel == Channel::VoiceBot).then(|| {
            let end = (now + Duration::hours(24)).min(self.deadline(&m).max(now));
            (now, allowed_until(pack, &proposal, &profile, &history, holidays, Duration::minutes(15), end))
        });
        Ok(Prepared::Send {
            m,
            to,
            subject,
            body,
            field: label,
            bidx,
            window,
            timezone,
            letter,
            pack: routed,
        })
    }

    /// When the message must have gone: its send time plus `give_up_after_hours`.
    fn deadline(&self, m: &Claimed) -> DateTime<Utc> {
        let due = DateTime::parse_from_rfc3339(&m.send_at)
            .map(|d| d.with_timezone(&Utc))
            // A send time that does not read (never written so) gives no time at all.
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        due + Duration::hours(i64::from(self.config.dispatcher.give_up_after_hours))
    }

    /// The route of a channel, or the one a pack has instead.
    fn route(&self, channel: &str, pack: Option<&str>) -> &Route {
        pack.and_then(|p| self.by_pack.get(&(p.to_string(), channel.to_string())))
            .unwrap_or_else(|| &self.routes[channel])
    }

    /// The pack whose own route takes the message, if any: the route that took an earlier
    /// attempt keeps it (its outcome is settled there), else the borrower's pack's.
    fn pack_route(&self, m: &Claimed, facts: &BatchFacts) -> Option<String> {
        if self.by_pack.is_empty() {
            return None;
        }
        if !m.provider.is_empty() {
            return self
                .by_pack
                .iter()
                .find(|((_, channel), r)| *channel == m.channel && r.provider() == m.provider)
                .map(|((pack, _), _)| pack.clone());
        }
        let (contact_pack, timezone) = match (&m.case_id, &m.loan_id) {
            (Some(c), _) => facts.cases.get(c).map(|c| (c.contact_pack.as_deref(), c.timezone.as_str()))?,
            (None, Some(l)) => {
                facts.loans.get(l).map(|l| (l.contact_pack.as_deref(), l.timezone.as_str()))?
            }
            (None, None) => return None,
        };
        let pack = &self.packs.for_case(contact_pack, timezone).id;
        self.by_pack.contains_key(&(pack.clone(), m.channel.clone())).then(|| pack.clone())
    }

    /// Sends the prepared messages, `concurrency` at a time.
    async fn send_all(&mut self, prepared: Vec<Prepared>, now: DateTime<Utc>) -> Vec<(Claimed, Finished)> {
        let mut out = Vec::with_capacity(prepared.len());
        let mut to_send = Vec::new();
        let mut calls = Vec::new();
        for p in prepared {
            match p {
                Prepared::Decided { m, finished } => out.push((m, finished)),
                Prepared::Send { ref m, .. } if matches!(self.routes[&m.channel], Route::Voice { .. }) => {
                    calls.push(p)
                }
                Prepared::Send { .. } => to_send.push(p),
            }
        }
        if !calls.is_empty() {
            self.crash_point("before_send");
            out.extend(self.export_calls(calls, now));
        }
        if !to_send.is_empty() {
            self.crash_point("before_send");
        }
        let backoff = Backoff {
            base_ms: self.config.dispatcher.backoff_base_ms,
            cap_ms: self.config.dispatcher.backoff_cap_ms,
        };
        let this = &*self;
        let sends = futures_util::stream::iter(to_send.into_iter().map(|p| async move {
            let Prepared::Send { m, to, subject, body, field, bidx, letter, pack, .. } = p else {
                unreachable!("only sends")
            };
            let route = this.route(&m.channel, pack.as_deref());
            let attempted = match (route, letter) {
                (Route::Letter { spool, .. }, Some(letter)) => {
                    let day = letter.date.clone();
                    spool.print(&m.message_id, &day, *letter).await
                }
                _ => this.attempt(route, &m, &to, &subject, &body).await,
            };
            let invalid = matches!(attempted, Attempted::Permanent { bad_address: true, .. });
            let after = after_attempt(
                attempted,
                u32::try_from(m.attempts).unwrap_or(1),
                now.timestamp_millis(),
                this.deadline(&m).timestamp_millis(),
                &backoff,
                jitter(&m.message_id, m.attempts),
            );
            let (finish, error) = match after {
                Next::Sent { provider_id } => (
                    Finish::Sent {
                        provider: route.provider().to_string(),
                        provider_id,
                        sent_at: now.to_rfc3339_opts(SecondsFormat::Secs, false),
                    },
                    String::new(),
                ),
                Next::Retry { at_ms, error } => (Finish::Retry { next_attempt_at: at_ms }, error),
                Next::Expired { error } => (Finish::End(MessageStatus::Expired), error),
                Next::Failed { error, .. } => (Finish::End(MessageStatus::Failed), error),
                // This process knows its own attempt is over: settle it now as the lease's
                // expiry would, or leave it to the lease where the provider must be asked
                // (by then the lost request has landed or never will).
                Next::Unsettled { error } => match route.settle() {
                    Settle::Resend => {
                        let wait = backoff.delay_ms(1, jitter(&m.message_id, m.attempts)) as i64;
                        (Finish::Retry { next_attempt_at: now.timestamp_millis() + wait }, error)
                    }
                    Settle::Lookup => (Finish::Unsettled, error),
                    Settle::GiveUp => (
                        Finish::End(MessageStatus::Failed),
                        format!("outcome unknown, not sent again: {error}"),
                    ),
                },
            };
            let finished = Finished {
                message_id: m.message_id.clone(),
                attempts: m.attempts,
                finish,
                subject,
                body,
                address_field: field,
                address_bidx: bidx,
                error,
                invalid_address: invalid,
            };
            (m, finished)
        }))
        .buffer_unordered(self.config.dispatcher.concurrency as usize)
        .collect::<Vec<_>>()
        .await;
        if !sends.is_empty() {
            self.crash_point("after_send");
        }
        out.extend(sends);
        out
    }

    /// One attempt through the message's provider.
    async fn attempt(&self, route: &Route, m: &Claimed, to: &str, subject: &str, body: &str) -> Attempted {
        match route {
            Route::Email { smtp, .. } => {
                smtp.send(&Email { message_id: &m.message_id, to, subject, text: body }).await
            }
            Route::Sms { aliyun, .. } => {
                // A lease that ran out may have left the message at Alibaba: ask first.
                let known = if m.reclaimed { aliyun.lookup(&m.message_id, to).await } else { Ok(None) };
                match known {
                    Ok(Some(provider_id)) => Attempted::Accepted { provider_id },
                    Ok(None) => {
                        let params = with_lender(&m.params, self.lender(&m.language));
                        let sms = Sms {
                            message_id: &m.message_id,
                            phone: to,
                            template: &m.template,
                            params: &params,
                        };
                        aliyun.send(&sms).await
                    }
                    Err(error) => Attempted::Unknown { error: format!("could not ask Alibaba: {error}") },
                }
            }
            Route::Twilio { twilio, .. } => {
                // A lease that ran out may have left the message at Twilio: look first, among
                // the number's messages since the day before it was due.
                let since = self.deadline(m)
                    - Duration::hours(i64::from(self.config.dispatcher.give_up_after_hours) + 24);
                let known =
                    if m.reclaimed { twilio.lookup(&m.message_id, to, since).await } else { Ok(None) };
                match known {
                    Ok(Some(provider_id)) => Attempted::Accepted { provider_id },
                    Ok(None) => twilio.send(&m.message_id, to, body).await,
                    Err(error) => Attempted::Unknown { error: format!("could not ask Twilio: {error}") },
                }
            }
            Route::Voice { .. } => {
                Attempted::Permanent { error: "calls go out as lists".into(), bad_address: false }
            }
            Route::Letter { .. } => Attempted::Permanent {
                error: "a letter is printed from its composed text".into(),
                bad_address: false,
            },
        }
    }

    /// Writes the claimed calls as lists, one per day and queue (the script's template); a
    /// call a dead dispatcher already listed is recorded from its list, not listed again.
    fn export_calls(&self, calls: Vec<Prepared>, now: DateTime<Utc>) -> Vec<(Claimed, Finished)> {
        // By (day, queue): one list each.
        let mut groups: std::collections::BTreeMap<(String, String), Vec<Listed>> =
            std::collections::BTreeMap::new();
        let mut out = Vec::new();
        for p in calls {
            let Prepared::Send { m, to, subject, body, field, bidx, window, timezone, .. } = p else {
                continue;
            };
            let Route::Voice { .. } = &self.routes[&m.channel] else { continue };
            let (from, until) = window.unwrap_or((now, now));
            let day = m.send_at.get(..10).unwrap_or_default().to_string();
            let line = CallLine {
                message_id: m.message_id.to_string(),
                case_id: m.case_id.as_ref().map(ToString::to_string).unwrap_or_default(),
                queue: m.template.clone(),
                number_ref: format!("bidx:{bidx}"),
                number_masked: arrears_core::personal::mask_phone(&to),
                script: body.clone(),
                language: m.language.clone(),
                timezone: timezone.clone(),
                window_from: voice::local_hm(from, &timezone),
                window_until: voice::local_hm(until, &timezone),
                window_from_utc: from.to_rfc3339_opts(SecondsFormat::Secs, false),
                window_until_utc: until.to_rfc3339_opts(SecondsFormat::Secs, false),
            };
            let finished = Finished {
                message_id: m.message_id.clone(),
                attempts: m.attempts,
                finish: Finish::Retry { next_attempt_at: 0 },
                subject,
                body,
                address_field: field,
                address_bidx: bidx,
                error: String::new(),
                invalid_address: false,
            };
            groups.entry((day, m.template.clone())).or_default().push((m, line, finished));
        }
        for ((day, queue), members) in groups {
            let Some((first, _, _)) = members.first() else { continue };
            let Route::Voice { export, provider } = &self.routes[&first.channel] else { continue };
            let provider = provider.clone();
            // Those a dead dispatcher listed already.
            let mut fresh = Vec::new();
            for (m, line, mut f) in members {
                match m.reclaimed.then(|| export.find(&day, &queue, &m.message_id)).flatten() {
                    Some(list) => {
                        f.finish = Finish::Sent {
                            provider: provider.clone(),
                            provider_id: list,
                            sent_at: now.to_rfc3339_opts(SecondsFormat::Secs, false),
                        };
                        out.push((m, f));
                    }
                    None => fresh.push((m, line, f)),
                }
            }
            let lines: Vec<CallLine> = fresh.iter().map(|(_, l, _)| l.clone()).collect();
            let attempted = export.write(&day, &queue, &lines);
            for (m, _, mut f) in fresh {
                f.finish = match &attempted {
                    Attempted::Accepted { provider_id } => Finish::Sent {
                        provider: provider.clone(),
                        provider_id: provider_id.clone(),
                        sent_at: now.to_rfc3339_opts(SecondsFormat::Secs, false),
                    },
                    _ => {
                        f.error = format!("{attempted:?}");
                        Finish::Retry { next_attempt_at: now.timestamp_millis() + 60_000 }
                    }
                };
                out.push((m, f));
            }
        }
        out
    }

    /// The lender's name in a language.
    fn lender(&self, language: &str) -> &str {
        if language == "zh" { &self.config.sender.lender_zh } else { &self.config.sender.lender_en }
    }

    /// Records a batch's results and their audit entries in one transaction.
    async fn record(
        &mut self,
        results: &[(Claimed, Finished)],
        clock: &impl Fn() -> DateTime<Utc>,
        report: &mut SendReport,
    ) -> Result<(), DispatchError> {
        let now = clock();
        let at: At = now.fixed_offset();
        let at_text = now.to_rfc3339_opts(SecondsFormat::Secs, false);
        let on = now.date_naive();
        let mut tx = self.db.begin().await?;
        let mut events = Vec::new();
        let all: Vec<(&str, &Finished)> = results.iter().map(|(m, f)| (m.borrower_id.as_str(), f)).collect();
        let written = arrears_store::delivery::record_all(&mut tx, &self.owner, &all, on, &at_text).await?;
        for (m, f) in results {
            if f.finish == Finish::Unsettled {
                report.unsettled += 1;
                continue;
            }
            // Another dispatcher took it over: its result is that one's to record.
            if !written.contains(m.message_id.as_str()) {
                continue;
            }
            let kind = match &f.finish {
                Finish::Sent { .. } => {
                    report.sent += 1;
                    "message.sent"
                }
                // Back in the queue, or left to its lease: not an outcome yet.
                Finish::Retry { .. } | Finish::Unsettled => continue,
                Finish::End(MessageStatus::Refused) => {
                    report.refused += 1;
                    "message.refused"
                }
                Finish::End(MessageStatus::Expired) => {
                    report.expired += 1;
                    "message.expired"
                }
                Finish::End(MessageStatus::Cancelled) => {
                    report.cancelled += 1;
                    "message.cancelled"
                }
                Finish::End(_) => {
                    report.failed += 1;
                    "message.failed"
                }
            };
            let subject = match (&m.case_id, &m.loan_id) {
                (Some(c), _) => format!("case:{c}"),
                (None, Some(l)) => format!("loan:{l}"),
                (None, None) => format!("borrower:{}", m.borrower_id),
            };
            let mut e = Event::new("system:dispatcher", kind)
                .entity(subject)
                .entity(format!("message:{}", m.message_id))
                .fact("channel", m.channel.as_str())
                .fact("template", m.template.as_str())
                .fact("language", m.language.as_str())
                .fact("attempt", i64::from(m.attempts))
                .fact("body_sha256", crate::audit::sha256_hex(&f.body));
            if let Finish::Sent { provider, provider_id, .. } = &f.finish {
                e = e.fact("provider", provider.as_str()).fact("provider_id", provider_id.as_str());
            }
            if !f.address_field.is_empty() {
                e = e.fact("address_field", f.address_field).fact("address_bidx", f.address_bidx.as_str());
            }
            if !f.error.is_empty() {
                e = e.fact("reason", f.error.as_str());
            }
            events.push(e);
        }
        // Receipts that outran this record: applied now that the sends are on record.
        let sent: Vec<&str> = results
            .iter()
            .filter(|(m, f)| {
                matches!(f.finish, Finish::Sent { .. }) && written.contains(m.message_id.as_str())
            })
            .map(|(m, _)| m.message_id.as_str())
            .collect();
        for (id, outcome, error) in arrears_store::receipts::release_held(&mut tx, &sent).await? {
            let status: MessageStatus =
                if outcome == "delivered" { MessageStatus::Delivered } else { MessageStatus::Failed };
            if arrears_store::outbox::delivery(&mut tx, &id, status, &at_text, &error).await? {
                report.delivered += u64::from(status == MessageStatus::Delivered);
                let kind = if status == MessageStatus::Delivered {
                    "message.delivered"
                } else {
                    "message.undelivered"
                };
                let mut e =
                    Event::new("system:dispatcher", kind).entity(format!("message:{id}")).fact("held", 1i64);
                if !error.is_empty() {
                    e = e.fact("reason", error.as_str());
                }
                events.push(e);
            }
        }
        crate::audit::record_all(&mut tx, &at, events).await?;
        tx.commit().await?;
        self.crash_point("after_record");
        Ok(())
    }
}

/// The owner name of this process's leases: host, process id and start time.
pub fn owner_name(started: &At) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}:{}", std::process::id(), started.timestamp_millis())
}

/// A template's values with the lender's name added (`{lender}`), as a JSON object.
fn with_lender(params: &str, lender: &str) -> String {
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(params).unwrap_or_default();
    map.insert("lender".into(), serde_json::Value::String(lender.to_string()));
    serde_json::Value::Object(map).to_string()
}

/// The route through one configured provider (`None` for the robots, which send no channel).
fn route_to(provider: &str, config: &ChannelsConfig) -> Result<Option<Route>, DispatchError> {
    let name = provider.to_string();
    Ok(Some(match &config.providers[provider] {
        ProviderConfig::Smtp(s) => {
            Route::Email { provider: name, smtp: Arc::new(Smtp::new(provider, s, config)?) }
        }
        ProviderConfig::Aliyun(a) => {
            Route::Sms { provider: name, aliyun: Arc::new(Aliyun::new(provider, a, config)?) }
        }
        ProviderConfig::Twilio(t) => {
            Route::Twilio { provider: name, twilio: Arc::new(Twilio::new(provider, t, config)?) }
        }
        ProviderConfig::VoiceFiles { dir } => {
            Route::Voice { provider: name, export: VoiceExport::new(std::path::Path::new(dir)) }
        }
        ProviderConfig::Letters(l) => {
            Route::Letter { provider: name, spool: Arc::new(LetterSpool::new(provider, l, &config.path)?) }
        }
        // The file's check keeps robots out of [channels] and [routes].
        ProviderConfig::Wecom { .. } | ProviderConfig::Dingtalk { .. } => return Ok(None),
    }))
}

/// An earlier reminder as the contact policy counts it (delivered to the debtor at `at`).
fn reminded(about: &str, at: &str, channel: &str) -> Option<arrears_core::contact_policy::Attempt> {
    Some(arrears_core::contact_policy::Attempt {
        at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        party: Party::Debtor,
        channel: channel.parse().ok()?,
        address: format!("{about}:{channel}"),
        outcome: arrears_core::contact_policy::Outcome::Delivered,
        by: Vec::new(),
        source: Source::Lender,
        debt: None,
    })
}

/// The e-mail subject of a template.
fn subject_of(template: &str, language: &str, lender: &str) -> String {
    let zh = language == "zh";
    let what = match (template, zh) {
        ("overdue_notice", true) => "逾期还款通知",
        ("overdue_notice", false) => "Overdue payment notice",
        ("demand_letter", true) => "催收函",
        ("demand_letter", false) => "Demand for payment",
        ("lawyer_letter", true) => "律师函",
        ("lawyer_letter", false) => "Letter from our lawyers",
        ("promise_broken", true) => "还款承诺未履行",
        ("promise_broken", false) => "Your promised payment",
        (_, true) => "还款提醒",
        (_, false) => "Payment reminder",
    };
    if lender.is_empty() {
        what.to_string()
    } else if zh {
        format!("{lender}：{what}")
    } else {
        format!("{lender}: {what}")
    }
}

/// A random-looking number for the retry jitter, the same for a message's attempt wherever
/// it is computed (so that a test can repeat it) and different across messages.
fn jitter(message_id: &str, attempt: i32) -> u64 {
    let d = Sha256::new().chain_update(message_id.as_bytes()).chain_update(attempt.to_be_bytes()).finalize();
    u64::from_be_bytes(d[..8].try_into().unwrap_or([0; 8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_in_the_borrowers_language() {
        assert_eq!(subject_of("overdue_notice", "zh", "示例金融"), "示例金融：逾期还款通知");
        assert_eq!(subject_of("reminder_soft", "en", "Example"), "Example: Payment reminder");
        assert_eq!(subject_of("reminder_soft", "en", ""), "Payment reminder");
    }

    #[test]
    fn jitter_differs_by_message_and_attempt() {
        assert_eq!(jitter("T1", 1), jitter("T1", 1));
        assert_ne!(jitter("T1", 1), jitter("T1", 2));
        assert_ne!(jitter("T1", 1), jitter("T2", 1));
    }
}
