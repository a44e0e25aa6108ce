//! Events for the rest of the bank (the transactional outbox). Every change that the bank's
//! other systems hear about is already an audit entry written in the change's transaction;
//! the events are made from those entries as they are appended, in the same transaction, so
//! that an event exists exactly when its change does and carries the entry's number (its
//! `auditseq`): an auditor can hold any event against the tamper-evident log. They are sent
//! out by `arrears events publish` (crates/bus), in the order of commits.

use arrears_audit::Entry;
use arrears_store::Tx;
use arrears_store::events::StoredEvent;
use serde_json::json;

/// The CloudEvents `source` of every event.
pub const SOURCE: &str = "/arrears";

/// The event types an audit entry gives, each with its part (0, or 1 for the second event of
/// an entry that gives two): none for the entries the bank does not hear about.
pub fn types_of(entry: &Entry) -> Vec<(u8, String)> {
    let kind = entry.kind.as_str();
    let one = |t: &str| vec![(0, t.to_string())];
    match kind {
        "case.opened" | "case.closed" | "case.reopened" | "case.voided" => one(kind),
        // Opened and cured within one run: both happened.
        "case.opened_closed" => vec![(0, "case.opened".into()), (1, "case.closed".into())],
        "action.logged" if entry.entity_ids.iter().any(|e| e.starts_with("ptp:")) => one("ptp.made"),
        "ptp.kept" | "ptp.broken" | "alert.raised" | "message.delivered" => one(kind),
        _ if kind.starts_with("arrangement.") => one(kind),
        _ => Vec::new(),
    }
}

/// The id of part `part` of the events of audit entry `seq`: stable, whoever sends it when.
pub fn event_id(seq: u64, part: u8) -> String {
    if part == 0 { format!("arrears-{seq}") } else { format!("arrears-{seq}-{part}") }
}

/// The events of `entries` (appended already: their numbers are set), as CloudEvents 1.0
/// JSON in structured mode.
pub fn from_entries(entries: &[Entry]) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    for e in entries {
        let types = types_of(e);
        if types.is_empty() {
            continue;
        }
        let id_of =
            |prefix: &str| e.entity_ids.iter().find_map(|x| x.strip_prefix(prefix)).map(str::to_string);
        let case_id = id_of("case:");
        let borrower_id = id_of("borrower:");
        let subject = e.entity_ids.first().cloned().unwrap_or_default();
        for (part, r#type) in types {
            let id = event_id(e.seq, part);
            let mut body = json!({
                "specversion": "1.0",
                "id": id,
                "source": SOURCE,
                "type": r#type,
                "subject": subject,
                "time": e.at,
                "datacontenttype": "application/json",
                "auditseq": e.seq,
                "data": { "actor": e.actor, "audit_kind": e.kind, "entities": e.entity_ids, "facts": e.facts },
            });
            if let Some(c) = &case_id {
                body["caseid"] = json!(c);
            }
            out.push(StoredEvent {
                pos: i64::try_from(e.seq).unwrap_or(i64::MAX / 4) * 4 + i64::from(part),
                event_id: id,
                r#type,
                case_id: case_id.clone(),
                borrower_id: borrower_id.clone(),
                body: body.to_string(),
            });
        }
    }
    out
}

/// Stores the events of `entries` in their transaction.
pub(crate) async fn stage(tx: &mut Tx, entries: &[Entry]) -> Result<(), arrears_store::StoreError> {
    let events = from_entries(entries);
    if events.is_empty() {
        return Ok(());
    }
    arrears_store::events::stage(tx, &events).await
}

/// Why a replay was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No such event in the outbox.
    #[error("no event {0:?} in the outbox (ids look like arrears-1234; `arrears events list` shows them)")]
    NoEvent(String),
    /// The destination has never been sent to.
    #[error("no destination {0:?} has been sent to yet (destinations: nats, webhook:NAME)")]
    NoDestination(String),
    /// The database or the audit log failed.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

impl From<arrears_store::StoreError> for ReplayError {
    fn from(e: arrears_store::StoreError) -> ReplayError {
        ReplayError::Audit(e.into())
    }
}

/// Sends the events again from `event_id` on: the cursor of `destination` (of every
/// destination sent to so far when `None`) goes back to just before it, audited. The
/// publisher then sends that event and every later one again; receivers know them by id.
/// Returns the destinations moved, each with where its cursor was.
pub async fn replay(
    db: &arrears_store::Db,
    event_id: &str,
    destination: Option<&str>,
    at: &crate::audit::At,
    actor: &str,
) -> Result<Vec<(String, i64)>, ReplayError> {
    let pos = arrears_store::events::pos_of(db, event_id)
        .await?
        .ok_or_else(|| ReplayError::NoEvent(event_id.to_string()))?;
    let known = arrears_store::events::cursors(db).await?;
    let moved: Vec<(String, i64)> = known
        .into_iter()
        .filter(|(name, _, _)| destination.is_none_or(|d| d == name))
        .map(|(name, was, _)| (name, was))
        .collect();
    if moved.is_empty() {
        return Err(ReplayError::NoDestination(destination.unwrap_or("(any)").to_string()));
    }
    let mut tx = db.begin().await?;
    let mut entries = Vec::new();
    for (name, was) in &moved {
        arrears_store::events::set_cursor(&mut tx, name, pos - 1, &at.to_rfc3339()).await?;
        entries.push(
            crate::audit::Event::new(actor, "events.replayed")
                .entity(format!("event:{event_id}"))
                .fact("destination", name.as_str())
                .fact("from_pos", pos)
                .fact("cursor_was", *was),
        );
    }
    crate::audit::record_all(&mut tx, at, entries).await?;
    tx.commit().await?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, kind: &str, entities: &[&str]) -> Entry {
        Entry {
            seq,
            at: "2026-11-20T10:00:00+08:00".into(),
            actor: "system:batch".into(),
            kind: kind.into(),
            entity_ids: entities.iter().map(|s| s.to_string()).collect(),
            facts: Default::default(),
        }
    }

    #[test]
    fn which_entries_are_published_and_as_what() {
        // (audit kind, entities, event types)
        let table: &[(&str, &[&str], &[&str])] = &[
            ("case.opened", &["case:C1", "borrower:B1"], &["case.opened"]),
            ("case.opened_closed", &["case:C1"], &["case.opened", "case.closed"]),
            ("case.changed", &["case:C1"], &[]),
            ("action.logged", &["case:C1", "action:A1"], &[]),
            ("action.logged", &["case:C1", "action:A1", "ptp:P1"], &["ptp.made"]),
            ("ptp.broken", &["case:C1", "ptp:P1"], &["ptp.broken"]),
            ("alert.raised", &["borrower:B1"], &["alert.raised"]),
            ("message.delivered", &["message:M1"], &["message.delivered"]),
            ("message.sent", &["message:M1"], &[]),
            ("arrangement.broken", &["case:C1"], &["arrangement.broken"]),
            ("payment.recorded", &["loan:L1"], &[]),
            ("batch.chunk", &["day:2026-11-20"], &[]),
        ];
        for (kind, entities, want) in table {
            let got: Vec<String> = types_of(&entry(7, kind, entities)).into_iter().map(|(_, t)| t).collect();
            assert_eq!(got, *want, "{kind} {entities:?}");
        }
    }

    #[test]
    fn ids_positions_and_the_cloudevent() {
        let events = from_entries(&[entry(41, "case.opened_closed", &["case:C9", "borrower:B9"])]);
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].pos, events[1].pos), (164, 165));
        assert_eq!(
            (events[0].event_id.as_str(), events[1].event_id.as_str()),
            ("arrears-41", "arrears-41-1")
        );
        assert_eq!(events[1].case_id.as_deref(), Some("C9"));
        assert_eq!(events[1].borrower_id.as_deref(), Some("B9"));
        let v: serde_json::Value = serde_json::from_str(&events[1].body).unwrap();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], "case.closed");
        assert_eq!(v["subject"], "case:C9");
        assert_eq!(v["caseid"], "C9");
        assert_eq!(v["auditseq"], 41);
        assert_eq!(v["time"], "2026-11-20T10:00:00+08:00");
        // The same entry gives the same bytes: a replay sends what the first publication sent.
        assert_eq!(from_entries(&[entry(41, "case.opened_closed", &["case:C9", "borrower:B9"])]), events);
    }
}
