//! Early-warning alerts delivered to the departments their rule names: each department's
//! robots and e-mail addresses (`[departments.*]` in the channels file) get every alert not
//! closed, several to a message, at most once per target.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use arrears_store::Db;
use arrears_store::alert_pushes::{self, ToPush};

use super::robots::Robot;
use super::smtp::{Email, Smtp};
use crate::audit::{At, Event};

/// Alerts in one message: robots take 20 messages a minute, so alerts go in bundles.
const PER_MESSAGE: i64 = 15;

/// Where one department's alerts go.
pub(crate) enum Target<'a> {
    /// A group robot, by provider name.
    Robot(&'a str, &'a Robot),
    /// An e-mail address, through an SMTP relay.
    Email(&'a str, &'a Smtp),
}

impl Target<'_> {
    fn name(&self) -> String {
        match self {
            Target::Robot(name, _) => format!("robot:{name}"),
            Target::Email(to, _) => format!("email:{to}"),
        }
    }
}

/// What a push pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushCounts {
    /// Alert deliveries made (an alert to one target).
    pub pushed: u64,
    /// Alert deliveries that failed.
    pub failed: u64,
}

/// The markdown of a bundle of alerts, each line ending with its reference.
fn markdown(department: &str, alerts: &[ToPush]) -> String {
    let mut out = format!("### 预警 / Early-warning alerts: {department}\n");
    for a in alerts {
        out.push_str(&format!(
            "- **{}** {} · 借款人 borrower {} · 案件 case {} · {} [ref alert:{}]\n",
            a.severity,
            a.rule_id,
            a.borrower_id,
            a.case_id.as_deref().unwrap_or("-"),
            a.raised_on,
            a.alert_id
        ));
    }
    out
}

/// Pushes the waiting alerts of `department` to `target`, a bundle at a time; each bundle is
/// marked before it goes and recorded with its audit entry after.
pub(crate) async fn push(
    db: &Db,
    department: &str,
    target: &Target<'_>,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<PushCounts, super::DispatchError> {
    let name = target.name();
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, false);
    let mut tx = db.begin().await?;
    alert_pushes::settle_stale(&mut tx, &stamp(now - lease)).await?;
    tx.commit().await?;
    let mut counts = PushCounts::default();
    loop {
        let alerts = alert_pushes::waiting(db, department, &name, PER_MESSAGE).await?;
        if alerts.is_empty() {
            return Ok(counts);
        }
        let ids: Vec<i64> = alerts.iter().map(|a| a.alert_id).collect();
        let mut tx = db.begin().await?;
        alert_pushes::begin(&mut tx, &ids, department, &name, &stamp(now)).await?;
        tx.commit().await?;
        let text = markdown(department, &alerts);
        let result = match target {
            Target::Robot(_, robot) => robot.post("预警 / Alerts", &text).await,
            Target::Email(to, smtp) => {
                let id = format!("alerts-{department}-{}", ids[0]);
                let subject = format!("预警 / Early-warning alerts: {department} ({})", ids.len());
                match smtp.send(&Email { message_id: &id, to, subject: &subject, text: &text }).await {
                    arrears_core::delivery::Attempted::Accepted { .. } => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        };
        let mut tx = db.begin().await?;
        alert_pushes::end(
            &mut tx,
            &ids,
            department,
            &name,
            result.as_ref().err().map(String::as_str),
            &stamp(now),
        )
        .await?;
        let mut e = Event::new(
            "system:dispatcher",
            if result.is_ok() { "alert.pushed" } else { "alert.push_failed" },
        )
        .fact("department", department)
        .fact("target", name.as_str())
        .fact("alerts", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",").as_str());
        for id in &ids {
            e = e.entity(format!("alert:{id}"));
        }
        if let Err(why) = &result {
            e = e.fact("reason", why.as_str());
        }
        let at: At = now.fixed_offset();
        crate::audit::record_all(&mut tx, &at, vec![e]).await?;
        tx.commit().await?;
        match result {
            Ok(()) => counts.pushed += ids.len() as u64,
            Err(_) => counts.failed += ids.len() as u64,
        }
    }
}
