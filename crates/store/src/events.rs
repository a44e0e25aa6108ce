//! Events for the rest of the bank (tables `events`, `event_cursors`, `event_dead_letters`):
//! the transactional outbox, how far each destination has been sent, and what a destination
//! would not take. The only module that writes them.

use sqlx::QueryBuilder;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// An event as stored: its place in the order of commits, its id and type, the case and
/// borrower it is about, and its CloudEvents JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredEvent {
    /// Audit entry number × 4 + part: the order of commits.
    pub pos: i64,
    /// The CloudEvents id, stable across publications and replays.
    pub event_id: String,
    /// The CloudEvents type, e.g. `case.opened`.
    pub r#type: String,
    /// The case it is about, if any.
    pub case_id: Option<String>,
    /// The borrower it is about, if known.
    pub borrower_id: Option<String>,
    /// The CloudEvents JSON.
    pub body: String,
}

/// Stores events in the transaction of their change, a thousand rows per statement.
pub async fn stage(tx: &mut Tx, events: &[StoredEvent]) -> Result<(), StoreError> {
    for chunk in events.chunks(1000) {
        on_tx!(tx, conn => {
            let mut qb = QueryBuilder::new("INSERT INTO events (pos, event_id, type, case_id, borrower_id, body) ");
            qb.push_values(chunk, |mut b, e| {
                b.push_bind(e.pos)
                    .push_bind(e.event_id.as_str())
                    .push_bind(e.r#type.as_str())
                    .push_bind(e.case_id.as_deref())
                    .push_bind(e.borrower_id.as_deref())
                    .push_bind(e.body.as_str());
            });
            qb.build().execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// An `events` row: pos, event_id, type, case_id, borrower_id, body.
type EventRow = (i64, String, String, Option<String>, Option<String>, String);

/// Up to `limit` events after `pos`, in order.
pub async fn after(db: &Db, pos: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
    let rows: Vec<EventRow> = on_pool!(db, p => sqlx::query_as(
        "SELECT pos, event_id, type, case_id, borrower_id, body FROM events WHERE pos > $1 ORDER BY pos LIMIT $2",
    ).bind(pos).bind(limit).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(pos, event_id, r#type, case_id, borrower_id, body)| StoredEvent {
            pos,
            event_id,
            r#type,
            case_id,
            borrower_id,
            body,
        })
        .collect())
}

/// The place of the event `event_id`.
pub async fn pos_of(db: &Db, event_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(on_pool!(db, p => sqlx::query_scalar("SELECT pos FROM events WHERE event_id = $1")
        .bind(event_id).fetch_optional(p).await?))
}

/// How far `destination` has been sent (-1: nothing yet).
pub async fn cursor(db: &Db, destination: &str) -> Result<i64, StoreError> {
    let pos: Option<i64> = on_pool!(db, p => sqlx::query_scalar("SELECT pos FROM event_cursors WHERE destination = $1")
        .bind(destination).fetch_optional(p).await?);
    Ok(pos.unwrap_or(-1))
}

/// Every destination with its cursor, by name.
pub async fn cursors(db: &Db) -> Result<Vec<(String, i64, String)>, StoreError> {
    Ok(
        on_pool!(db, p => sqlx::query_as("SELECT destination, pos, updated_at FROM event_cursors ORDER BY destination")
        .fetch_all(p).await?),
    )
}

/// Records that `destination` has everything up to `pos`.
pub async fn set_cursor(tx: &mut Tx, destination: &str, pos: i64, at: &str) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO event_cursors (destination, pos, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (destination) DO UPDATE SET pos = excluded.pos, updated_at = excluded.updated_at",
    ).bind(destination).bind(pos).bind(at).execute(c).await?.rows_affected());
    Ok(())
}

/// An event a destination would not take.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    /// The destination.
    pub destination: String,
    /// The event's place.
    pub pos: i64,
    /// The event's id.
    pub event_id: String,
    /// Tries made.
    pub attempts: i64,
    /// What the last try got.
    pub last_error: String,
    /// When it was given up (RFC 3339).
    pub at: String,
}

/// Lists an event as not taken by its destination (again, if it was before: the latest try).
pub async fn add_dead_letter(tx: &mut Tx, d: &DeadLetter) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO event_dead_letters (destination, pos, event_id, attempts, last_error, at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (destination, pos) DO UPDATE SET \
         attempts = excluded.attempts, last_error = excluded.last_error, at = excluded.at",
    ).bind(&d.destination).bind(d.pos).bind(&d.event_id).bind(d.attempts).bind(&d.last_error).bind(&d.at)
        .execute(c).await?.rows_affected());
    Ok(())
}

/// Every dead letter, oldest event first.
pub async fn dead_letters(db: &Db) -> Result<Vec<DeadLetter>, StoreError> {
    let rows: Vec<(String, i64, String, i64, String, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT destination, pos, event_id, CAST(attempts AS BIGINT), last_error, at FROM event_dead_letters \
         ORDER BY pos, destination",
    ).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(destination, pos, event_id, attempts, last_error, at)| DeadLetter {
            destination,
            pos,
            event_id,
            attempts,
            last_error,
            at,
        })
        .collect())
}
