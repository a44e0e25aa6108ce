//! The outbox (table `outbox`): automatic messages the strategy queues for the channels to
//! send, and the compliance review of their rendered text. The only module that writes
//! `outbox`.

use arrears_core::id::{BorrowerId, CaseId, MessageId, TaskId};
use arrears_core::work::MessageStatus;
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use crate::rows::literal::text_list;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// An automatic message for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Task it came from (also the message id).
    pub task_id: TaskId,
    /// The case the message is about.
    pub case_id: CaseId,
    /// The borrower it is sent to (messages go to the debtor only).
    pub borrower_id: BorrowerId,
    /// Channel code.
    pub channel: &'static str,
    /// Template name.
    pub template: String,
    /// `zh` or `en`, the borrower's language: the template is rendered in it.
    pub language: String,
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
    /// The case the message is about.
    pub case_id: CaseId,
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
    type Row = (String, String, String, String, String, String, String);
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(
        "SELECT message_id, case_id, channel, template, send_at, status, content_rules FROM outbox \
         WHERE content = 'warn' ORDER BY send_at, message_id LIMIT $1",
    ).bind(limit).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            Ok(FlaggedMessage {
                message_id: crate::stored_id("outbox", r.0)?,
                case_id: crate::stored_id("outbox", r.1)?,
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
        "INSERT INTO outbox (message_id, task_id, case_id, borrower_id, channel, template, language, \
         send_at, status, created_on, content, content_rules)",
        " ON CONFLICT (message_id) DO NOTHING",
        messages,
        |r, m| {
            r.text(&m.task_id)
                .text(&m.task_id)
                .text(&m.case_id)
                .text(&m.borrower_id)
                .text(m.channel)
                .text(&m.template)
                .text(&m.language)
                .text(&m.send_at)
                .text(MessageStatus::Queued.as_str())
                .date(date)
                .text(m.content)
                .text(&m.content_rules);
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
