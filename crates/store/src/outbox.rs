//! The outbox (table `outbox`): automatic messages the strategy queues for the channels to
//! send, and the compliance review of their rendered text. The only module that writes
//! `outbox`.

use arrears_core::id::{BorrowerId, CaseId, LoanId, MessageId, TaskId};
use arrears_core::work::MessageStatus;
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use crate::rows::literal::text_list;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// An automatic message for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Task it came from (also the message id); a reminder's key when no task made it.
    pub task_id: TaskId,
    /// The case the message is about; `None` for a reminder to a borrower without a case.
    pub case_id: Option<CaseId>,
    /// The loan a reminder is about; `None` for a case's message.
    pub loan_id: Option<LoanId>,
    /// The borrower it is sent to (messages go to the debtor only).
    pub borrower_id: BorrowerId,
    /// Channel code.
    pub channel: &'static str,
    /// Template name.
    pub template: String,
    /// `zh` or `en`, the borrower's language: the template is rendered in it.
    pub language: String,
    /// The template rendered with the case's values ('' when it has no text in the language);
    /// the sender's placeholders (`{lender}`) are filled when it is sent.
    pub body: String,
    /// The values the template was filled with, as a JSON object of strings.
    pub params: String,
    /// When to send (UTC, RFC 3339).
    pub send_at: String,
    /// The content check of the rendered message: `ok`, or `warn` (queued for compliance review).
    pub content: &'static str,
    /// The content rules that warned, comma-separated.
    pub content_rules: String,
}

/// A queued message the content rules warned about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlaggedMessage {
    /// Message id (its task's id).
    pub message_id: MessageId,
    /// The case the message is about (`None`: a reminder before the due date).
    pub case_id: Option<CaseId>,
    /// Channel code.
    pub channel: String,
    /// Template name.
    pub template: String,
    /// When it is to be sent (UTC, RFC 3339).
    pub send_at: String,
    /// Where it stands.
    pub status: MessageStatus,
    /// The content rules that warned, comma-separated.
    pub content_rules: String,
}

/// Outbox messages whose rendered text the content rules warned about, by send time: the
/// compliance review queue of automatic messages (notes have theirs in `actions`).
pub async fn for_review(db: &Db, limit: i64) -> Result<Vec<FlaggedMessage>, StoreError> {
    type Row = (String, Option<String>, String, String, String, String, String);
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(
        "SELECT message_id, case_id, channel, template, send_at, status, content_rules FROM outbox \
         WHERE content = 'warn' ORDER BY send_at, message_id LIMIT $1",
    ).bind(limit).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            Ok(FlaggedMessage {
                message_id: crate::stored_id("outbox", r.0)?,
                case_id: crate::stored_opt_id("outbox", r.1)?,
                channel: r.2,
                template: r.3,
                send_at: r.4,
                status: crate::stored_enum("outbox", &r.5)?,
                content_rules: r.6,
            })
        })
        .collect()
}

/// Queues the messages a run of `date` made; a message id is its task's, so a second run of
/// the date queues nothing.
pub(crate) async fn add(tx: &mut Tx, date: NaiveDate, messages: &[NewMessage]) -> Result<(), StoreError> {
    crate::rows::insert_all(
        tx,
        "INSERT INTO outbox (message_id, task_id, case_id, loan_id, borrower_id, channel, template, language, \
         send_at, status, created_on, content, content_rules, body, params)",
        " ON CONFLICT DO NOTHING",
        messages,
        |r, m| {
            r.text(&m.task_id)
                .text(&m.task_id)
                .opt_text(m.case_id.as_ref().map(|c| c.as_str()))
                .opt_text(m.loan_id.as_ref().map(|l| l.as_str()))
                .text(&m.borrower_id)
                .text(m.channel)
                .text(&m.template)
                .text(&m.language)
                .text(&m.send_at)
                .text(MessageStatus::Queued.as_str())
                .date(date)
                .text(m.content)
                .text(&m.content_rules)
                .text(&m.body)
                .text(&m.params);
        },
    )
    .await
}

/// Cancels the queued messages of cases no longer open.
pub(crate) async fn cancel_of_closed_cases(tx: &mut Tx) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE outbox SET status = 'cancelled' WHERE status = 'queued' \
         AND case_id IN (SELECT case_id FROM cases WHERE status <> 'open')",
    ).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Cancels the queued messages of these cases (placed with an agency, or put on hold).
pub(crate) async fn cancel_queued(tx: &mut Tx, cases: &[&str]) -> Result<(), StoreError> {
    if cases.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE outbox SET status = 'cancelled' WHERE status = 'queued' AND case_id IN ({})",
        text_list(cases)
    );
    on_tx!(tx, conn => sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// A dispatcher's hold on the messages it claims.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    /// Who holds it (a dispatcher's id: host, process and start time).
    pub owner: &'a str,
    /// The dispatcher's clock (real time, or the time a catch-up pass stands for), in epoch
    /// milliseconds: messages whose next attempt is due by it are claimed.
    pub now_ms: i64,
    /// The same, as RFC 3339 UTC (`+00:00`, whole seconds), to compare with `send_at`.
    pub now: &'a str,
    /// Real time in epoch milliseconds: leases that ran out by it are taken over.
    pub real_ms: i64,
    /// When this lease runs out (real time, epoch milliseconds): past it, another dispatcher
    /// may take the message over.
    pub until_ms: i64,
}

/// A message a dispatcher holds the lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// Message id.
    pub message_id: MessageId,
    /// The case it is about (`None`: a reminder to a borrower without a case).
    pub case_id: Option<CaseId>,
    /// The loan a reminder is about.
    pub loan_id: Option<LoanId>,
    /// The borrower it goes to.
    pub borrower_id: BorrowerId,
    /// Channel code.
    pub channel: String,
    /// Template name.
    pub template: String,
    /// The borrower's language.
    pub language: String,
    /// When it was due (RFC 3339 UTC).
    pub send_at: String,
    /// The text rendered by the batch ('' when the template has no text in the language).
    pub body: String,
    /// The values the template was filled with (JSON object of strings).
    pub params: String,
    /// This claim's attempt number: the fencing token its finish must name.
    pub attempts: i32,
    /// The provider of an earlier attempt ('' for none).
    pub provider: String,
    /// Whether an earlier attempt's lease ran out with its outcome unknown (the dispatcher
    /// died or lost its answer): it must be settled before any resend.
    pub reclaimed: bool,
}

type ClaimedTuple = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i32,
    String,
);

const CLAIMED_COLS: &str = "message_id, case_id, loan_id, borrower_id, channel, template, language, send_at, body, params, \
     CAST(attempts AS INTEGER), provider";

fn claimed(r: ClaimedTuple, reclaimed: bool) -> Result<Claimed, StoreError> {
    Ok(Claimed {
        message_id: crate::stored_id("outbox", r.0)?,
        case_id: crate::stored_opt_id("outbox", r.1)?,
        loan_id: crate::stored_opt_id("outbox", r.2)?,
        borrower_id: crate::stored_id("outbox", r.3)?,
        channel: r.4,
        template: r.5,
        language: r.6,
        send_at: r.7,
        body: r.8,
        params: r.9,
        attempts: r.10,
        provider: r.11,
        reclaimed,
    })
}

/// Claims up to `limit` messages of these channels for the lease: first those whose earlier
/// lease ran out (`reclaimed`), then queued messages due by `lease.now`, oldest first. Each
/// claim adds one to the message's attempts. Two dispatchers never hold one message: SQLite
/// has one writer at a time, and on PostgreSQL a competing claim waits for the row lock, then
/// sees the row no longer queued (and `SKIP LOCKED` spares it the wait).
pub async fn claim(
    db: &Db,
    lease: &Lease<'_>,
    channels: &[&str],
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    if channels.is_empty() || limit <= 0 {
        return Ok(Vec::new());
    }
    let lock = if db.backend() == "postgres" { "FOR UPDATE SKIP LOCKED" } else { "" };
    let list = text_list(channels);
    // The picked ids are MATERIALIZED: PostgreSQL may otherwise run a LIMIT … SKIP LOCKED
    // sub-select once per outer row, each run skipping the rows the last one locked, and
    // claim far more than the limit (a test caught 55 claimed for a limit of 1).
    let reclaim = format!(
        "WITH picked AS MATERIALIZED (SELECT message_id FROM outbox \
         WHERE status = 'sending' AND lease_until < $3 AND channel IN ({list}) \
         ORDER BY lease_until, message_id LIMIT $4 {lock}) \
         UPDATE outbox SET attempts = attempts + 1, lease_owner = $1, lease_until = $2 \
         WHERE status = 'sending' AND lease_until < $3 AND message_id IN (SELECT message_id FROM picked) \
         RETURNING {CLAIMED_COLS}"
    );
    let rows: Vec<ClaimedTuple> = on_pool!(db, p => sqlx::query_as(AssertSqlSafe(reclaim))
        .bind(lease.owner).bind(lease.until_ms).bind(lease.real_ms).bind(limit).fetch_all(p).await?);
    let mut out = rows.into_iter().map(|r| claimed(r, true)).collect::<Result<Vec<_>, _>>()?;
    let left = limit - out.len() as i64;
    if left > 0 {
        let fresh = format!(
            "WITH picked AS MATERIALIZED (SELECT message_id FROM outbox \
             WHERE status = 'queued' AND send_at <= $3 AND next_attempt_at <= $4 AND channel IN ({list}) \
             ORDER BY send_at, message_id LIMIT $5 {lock}) \
             UPDATE outbox SET status = 'sending', attempts = attempts + 1, lease_owner = $1, lease_until = $2 \
             WHERE status = 'queued' AND message_id IN (SELECT message_id FROM picked) RETURNING {CLAIMED_COLS}"
        );
        let rows: Vec<ClaimedTuple> = on_pool!(db, p => sqlx::query_as(AssertSqlSafe(fresh))
            .bind(lease.owner).bind(lease.until_ms).bind(lease.now).bind(lease.now_ms).bind(left)
            .fetch_all(p).await?);
        for r in rows {
            out.push(claimed(r, false)?);
        }
    }
    // RETURNING gives no order: send oldest first.
    out.sort_by(|a, b| (&a.send_at, &a.message_id).cmp(&(&b.send_at, &b.message_id)));
    Ok(out)
}

/// How one attempt ended, as the outbox records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The provider took it.
    Sent {
        /// Provider code.
        provider: String,
        /// The provider's reference.
        provider_id: String,
        /// When (RFC 3339 UTC).
        sent_at: String,
    },
    /// Back to the queue until `next_attempt_at` (epoch ms).
    Retry {
        /// When to try again.
        next_attempt_at: i64,
    },
    /// Ends in this status (failed, expired or refused).
    End(MessageStatus),
    /// Left as it is (`sending`): the outcome is unknown and the provider must be asked once
    /// the lease runs out. Nothing is written.
    Unsettled,
}

/// One claimed message's result, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Message id.
    pub message_id: MessageId,
    /// The attempt it ends (the claim's).
    pub attempts: i32,
    /// What happened.
    pub finish: Finish,
    /// Subject as sent or as it would have been ('' for none).
    pub subject: String,
    /// Text as sent or as it would have been.
    pub body: String,
    /// `phone` or `email` ('' when no contact point was chosen).
    pub address_field: &'static str,
    /// Blind index of the contact point.
    pub address_bidx: String,
    /// Why it failed or was refused ('' when sent).
    pub error: String,
    /// Whether the provider refused the contact point itself (no such number, the address
    /// rejected).
    pub invalid_address: bool,
}

/// Records an attempt's result if the lease is still this dispatcher's (`owner`, and the
/// attempt it claimed); `false` when another dispatcher has taken the message over, and
/// nothing was written.
pub(crate) async fn finish(tx: &mut Tx, owner: &str, f: &Finished) -> Result<bool, StoreError> {
    if f.finish == Finish::Unsettled {
        return Ok(true);
    }
    let (status, provider, provider_id, sent_at, next_at) = columns(&f.finish);
    let n = on_tx!(tx, conn => sqlx::query(
        "UPDATE outbox SET status = $1, provider = COALESCE($2, provider), provider_id = COALESCE($3, provider_id), \
         sent_at = COALESCE($4, sent_at), next_attempt_at = $5, subject = $6, body = $7, address_field = $8, \
         address_bidx = $9, error = $10, lease_owner = NULL, lease_until = NULL \
         WHERE message_id = $11 AND status = 'sending' AND attempts = $12 AND lease_owner = $13",
    )
    .bind(status.as_str()).bind(provider).bind(provider_id).bind(sent_at).bind(next_at)
    .bind(&f.subject).bind(&f.body).bind(f.address_field).bind(&f.address_bidx).bind(&f.error)
    .bind(f.message_id.as_str()).bind(f.attempts).bind(owner)
    .execute(&mut *conn).await?.rows_affected());
    Ok(n == 1)
}

/// The columns a result writes: status, provider, provider id, sent at, next attempt.
pub(crate) fn columns(finish: &Finish) -> (MessageStatus, Option<&str>, Option<&str>, Option<&str>, i64) {
    match finish {
        Finish::Sent { provider, provider_id, sent_at } => (
            MessageStatus::Sent,
            Some(provider.as_str()),
            Some(provider_id.as_str()),
            Some(sent_at.as_str()),
            0,
        ),
        Finish::Retry { next_attempt_at } => (MessageStatus::Queued, None, None, None, *next_attempt_at),
        Finish::End(s) => (*s, None, None, None, 0),
        // Not written (finish returns before): the row stays `sending`.
        Finish::Unsettled => (MessageStatus::Sending, None, None, None, 0),
    }
}

/// Records many results at once (see [`finish`]); returns the ids written. PostgreSQL takes
/// them in one statement, SQLite one by one (local, and as fast).
pub(crate) async fn finish_all(
    tx: &mut Tx,
    owner: &str,
    results: &[&Finished],
) -> Result<Vec<String>, StoreError> {
    if let Tx::Postgres(t) = tx {
        return crate::postgres::outbox::finish_all(t, owner, results).await;
    }
    let mut out = Vec::with_capacity(results.len());
    for f in results {
        if f.finish != Finish::Unsettled && finish(tx, owner, f).await? {
            out.push(f.message_id.to_string());
        }
    }
    Ok(out)
}

/// Records what a delivery receipt says of a sent message: `delivered`, `failed` or
/// `bounced`. Only a message recorded as sent moves (a receipt can outrun the dispatcher's
/// own commit: the caller asks the provider to send it again later), and a later receipt
/// does not undo a delivery. Returns whether the message changed.
pub async fn delivery(
    tx: &mut Tx,
    message_id: &str,
    status: MessageStatus,
    at: &str,
    error: &str,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query(
        "UPDATE outbox SET status = $1, delivered_at = CASE WHEN $1 = 'delivered' THEN $2 ELSE delivered_at END, \
         error = $3 WHERE message_id = $4 AND status = 'sent'",
    )
    .bind(status.as_str()).bind(at).bind(error).bind(message_id)
    .execute(&mut *conn).await?.rows_affected());
    Ok(n == 1)
}

/// Where a message stands, read in the caller's transaction (`None`: no such message), with
/// the row locked until it ends: a receipt read this way and the dispatcher's record of the
/// send follow one another (SQLite's transactions already do: they take the write lock).
pub async fn status_in(tx: &mut Tx, message_id: &str) -> Result<Option<MessageStatus>, StoreError> {
    let lock = if matches!(tx, Tx::Postgres(_)) { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT status FROM outbox WHERE message_id = $1{lock}");
    let s: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(message_id).fetch_optional(&mut *conn).await?);
    s.map(|s| crate::stored_enum("outbox", &s)).transpose()
}

/// A message as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MessageRow {
    /// Message id.
    pub message_id: MessageId,
    /// The case it is about (`None`: a reminder to a borrower without a case).
    pub case_id: Option<CaseId>,
    /// The loan a reminder is about.
    pub loan_id: Option<LoanId>,
    /// The borrower it goes to.
    pub borrower_id: BorrowerId,
    /// Channel code.
    pub channel: String,
    /// Template name.
    pub template: String,
    /// The borrower's language.
    pub language: String,
    /// Where it stands.
    pub status: MessageStatus,
    /// Claims so far.
    pub attempts: i32,
    /// The provider that took it ('' before).
    pub provider: String,
    /// The provider's reference.
    pub provider_id: Option<String>,
    /// When it was due (RFC 3339 UTC).
    pub send_at: String,
    /// When the provider took it.
    pub sent_at: Option<String>,
    /// When the provider reported it delivered.
    pub delivered_at: Option<String>,
    /// Why it failed, was refused or expired, or the last transient error.
    pub error: String,
    /// `ok`, or `warn` when the content rules flagged it for review.
    pub content: String,
    /// The subject as sent.
    pub subject: String,
    /// The text as sent.
    pub body: String,
}

#[derive(sqlx::FromRow)]
struct MessageTuple {
    message_id: String,
    case_id: Option<String>,
    loan_id: Option<String>,
    borrower_id: String,
    channel: String,
    template: String,
    language: String,
    status: String,
    attempts: i32,
    provider: String,
    provider_id: Option<String>,
    send_at: String,
    sent_at: Option<String>,
    delivered_at: Option<String>,
    error: String,
    content: String,
    subject: String,
    body: String,
}

/// Which messages [`list`] gives: of one case, of one loan (its reminders), in one status.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageFilter<'a> {
    /// The case's messages.
    pub case_id: Option<&'a str>,
    /// The loan's reminders.
    pub loan_id: Option<&'a str>,
    /// In this status.
    pub status: Option<MessageStatus>,
}

/// Messages, oldest first, as the filter asks.
pub async fn list(db: &Db, filter: MessageFilter<'_>, limit: i64) -> Result<Vec<MessageRow>, StoreError> {
    let MessageFilter { case_id, loan_id, status } = filter;
    let rows: Vec<MessageTuple> = on_pool!(db, p => sqlx::query_as(
        "SELECT message_id, case_id, loan_id, borrower_id, channel, template, language, status, CAST(attempts AS INTEGER) AS attempts, \
         provider, provider_id, send_at, sent_at, delivered_at, error, content, subject, body FROM outbox \
         WHERE ($1 = '' OR case_id = $1) AND ($2 = '' OR status = $2) AND ($4 = '' OR loan_id = $4) \
         ORDER BY send_at, message_id LIMIT $3",
    ).bind(case_id.unwrap_or("")).bind(status.map_or("", MessageStatus::as_str)).bind(limit)
        .bind(loan_id.unwrap_or("")).fetch_all(p).await?);
    rows.into_iter().map(message_row).collect()
}

fn message_row(r: MessageTuple) -> Result<MessageRow, StoreError> {
    Ok(MessageRow {
        message_id: crate::stored_id("outbox", r.message_id)?,
        case_id: crate::stored_opt_id("outbox", r.case_id)?,
        loan_id: crate::stored_opt_id("outbox", r.loan_id)?,
        borrower_id: crate::stored_id("outbox", r.borrower_id)?,
        channel: r.channel,
        template: r.template,
        language: r.language,
        status: crate::stored_enum("outbox", &r.status)?,
        attempts: r.attempts,
        provider: r.provider,
        provider_id: r.provider_id,
        send_at: r.send_at,
        sent_at: r.sent_at,
        delivered_at: r.delivered_at,
        error: r.error,
        content: r.content,
        subject: r.subject,
        body: r.body,
    })
}

/// One message, if there is one with that id.
pub async fn list_one(db: &Db, message_id: &str) -> Result<Option<MessageRow>, StoreError> {
    let rows: Vec<MessageTuple> = on_pool!(db, p => sqlx::query_as(
        "SELECT message_id, case_id, loan_id, borrower_id, channel, template, language, status, CAST(attempts AS INTEGER) AS attempts, \
         provider, provider_id, send_at, sent_at, delivered_at, error, content, subject, body FROM outbox WHERE message_id = $1",
    ).bind(message_id).fetch_all(p).await?);
    Ok(rows.into_iter().map(message_row).collect::<Result<Vec<_>, _>>()?.pop())
}

/// How many messages stand in each status, for these channels (all when empty).
pub async fn counts(db: &Db, channels: &[&str]) -> Result<Vec<(MessageStatus, i64)>, StoreError> {
    let filter = if channels.is_empty() {
        String::new()
    } else {
        format!("WHERE channel IN ({})", text_list(channels))
    };
    let sql = format!(
        "SELECT status, CAST(COUNT(*) AS BIGINT) FROM outbox {filter} GROUP BY status ORDER BY status"
    );
    let rows: Vec<(String, i64)> = on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(p).await?);
    rows.into_iter().map(|(s, n)| Ok((crate::stored_enum("outbox", &s)?, n))).collect()
}

/// The message a provider's reference names, if any.
pub async fn by_provider_id(
    db: &Db,
    provider: &str,
    provider_id: &str,
) -> Result<Option<MessageId>, StoreError> {
    let id: Option<String> = on_pool!(db, p => sqlx::query_scalar(
        "SELECT message_id FROM outbox WHERE provider = $1 AND provider_id = $2",
    ).bind(provider).bind(provider_id).fetch_optional(p).await?);
    id.map(|i| crate::stored_id("outbox", i)).transpose()
}

/// Messages queued or being sent, of one channel or all.
pub async fn count_waiting(db: &Db, channel: Option<&str>) -> Result<u64, StoreError> {
    let n: i64 = on_pool!(db, p => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE status IN ('queued', 'sending') AND ($1 = '' OR channel = $1)",
    ).bind(channel.unwrap_or("")).fetch_one(p).await?);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One channel and template's figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChannelFigures {
    /// Channel code.
    pub channel: String,
    /// Template name.
    pub template: String,
    /// The provider that took them ('' while none has).
    pub provider: String,
    /// Taken by the provider (sent, delivered, bounced, or failed after taking them).
    pub sent: i64,
    /// Reported delivered.
    pub delivered: i64,
    /// Failed or bounced.
    pub failed: i64,
    /// Refused at send time.
    pub refused: i64,
    /// Expired before going.
    pub expired: i64,
    /// Still queued or being sent.
    pub waiting: i64,
    /// Of those sent, how many were followed within the window by a payment on one of the
    /// case's loans or a promise to pay.
    pub responded: i64,
}

/// Figures per channel, template and provider; a response is a payment or a promise within
/// `days` days of the send (the day of sending counts).
pub async fn figures(db: &Db, days: u32) -> Result<Vec<ChannelFigures>, StoreError> {
    // The window's end, per backend: dates are TEXT in SQLite and DATE in PostgreSQL.
    let (day, until) = match db.backend() {
        "postgres" => (
            "CAST(SUBSTR(o.sent_at, 1, 10) AS DATE)".to_string(),
            format!("CAST(SUBSTR(o.sent_at, 1, 10) AS DATE) + {days}"),
        ),
        _ => (
            "SUBSTR(o.sent_at, 1, 10)".to_string(),
            format!("DATE(SUBSTR(o.sent_at, 1, 10), '+{days} days')"),
        ),
    };
    let sql = format!(
        "SELECT o.channel, o.template, o.provider, \
         CAST(SUM(CASE WHEN o.sent_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN o.status = 'delivered' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN o.status IN ('failed', 'bounced') THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN o.status = 'refused' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN o.status = 'expired' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN o.status IN ('queued', 'sending') THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN o.sent_at IS NOT NULL AND (\
            EXISTS (SELECT 1 FROM case_loans cl JOIN payments p ON p.loan_id = cl.loan_id AND p.borrower_id = cl.borrower_id \
                    WHERE cl.case_id = o.case_id AND p.paid_on >= {day} AND p.paid_on < {until}) \
         OR EXISTS (SELECT 1 FROM ptps t WHERE t.case_id = o.case_id AND t.promised_on >= {day} AND t.promised_on < {until}) \
         OR EXISTS (SELECT 1 FROM payments p WHERE p.loan_id = o.loan_id AND p.paid_on >= {day} AND p.paid_on < {until})\
         ) THEN 1 ELSE 0 END) AS BIGINT) \
         FROM outbox o WHERE o.status <> 'cancelled' GROUP BY o.channel, o.template, o.provider \
         ORDER BY o.channel, o.template, o.provider"
    );
    type Row = (String, String, String, i64, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|r| ChannelFigures {
            channel: r.0,
            template: r.1,
            provider: r.2,
            sent: r.3,
            delivered: r.4,
            failed: r.5,
            refused: r.6,
            expired: r.7,
            waiting: r.8,
            responded: r.9,
        })
        .collect())
}

/// The contact point a sent message went to: `(borrower, field, blind index)`, read in the
/// caller's transaction (`None`: no such message, or it recorded none).
pub async fn address_of(
    tx: &mut Tx,
    message_id: &str,
) -> Result<Option<(String, String, String)>, StoreError> {
    let row: Option<(String, String, String)> = on_tx!(tx, conn => sqlx::query_as(
        "SELECT borrower_id, address_field, address_bidx FROM outbox WHERE message_id = $1",
    ).bind(message_id).fetch_optional(&mut *conn).await?);
    Ok(row.filter(|(_, field, bidx)| !field.is_empty() && !bidx.is_empty()))
}
