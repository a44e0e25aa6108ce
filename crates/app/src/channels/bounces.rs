//! Bounces: delivery status notifications (DSN, RFC 3464) that mail servers send back for
//! e-mail they could not deliver after taking it. Every e-mail goes out with the envelope
//! sender `bounce+<id>@<domain>` and the header `X-Arrears-Message-Id`; the bank's mail server
//! delivers what comes back to those addresses into a Maildir, which `arrears channel
//! import-bounces DIR` reads: a permanent failure moves the message to `bounced`, and a
//! mailbox or domain that does not exist (5.1.x) marks the e-mail address invalid, so that
//! strategies see it (`contact.email_valid`). Each file read moves from `new/` to `cur/`.

use std::path::{Path, PathBuf};

use arrears_core::work::MessageStatus;
use arrears_store::Db;

use super::receipts::{Read, ReceiptError, apply};
use crate::audit::At;

/// A failure a DSN reports for one of our e-mails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// Our message id (from the returned headers).
    pub message_id: String,
    /// The status code, e.g. `5.1.1`.
    pub status: String,
    /// The recipient that failed, as the report gives it.
    pub recipient: String,
    /// The remote server's words, when given.
    pub diagnostic: String,
}

impl Bounce {
    /// Whether the address itself is bad (no such mailbox or domain, or not a valid address).
    pub fn bad_address(&self) -> bool {
        self.status.starts_with("5.1.") || self.status == "5.2.1"
    }
}

/// What one DSN says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A permanent failure of one of our messages.
    Failed(Bounce),
    /// A report that is not a failure (delayed, delivered, relayed): nothing to do.
    NotFailure(String),
}

/// Reads a DSN: `Err` says why the text is not one (or names none of our messages).
pub fn parse_dsn(text: &str) -> Result<Report, String> {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").ok_or("no header/body separation")?;
    let head = unfold(head);
    let content_type = header(&head, "content-type").unwrap_or_default().to_ascii_lowercase();
    if !(content_type.contains("multipart/report") && content_type.contains("delivery-status")) {
        return Err(format!("not a delivery status notification (Content-Type: {content_type:?})"));
    }
    // The machine-readable part: per-message fields, a blank line, per-recipient fields.
    let lower = body.to_ascii_lowercase();
    let start = lower.find("message/delivery-status").ok_or("no message/delivery-status part")?;
    let part = &body[start..];
    let part = part.split_once("\n\n").map_or("", |(_, rest)| rest);
    let part = part.split("\n--").next().unwrap_or_default();
    let fields = unfold(part);
    let action = header(&fields, "action").unwrap_or_default().to_ascii_lowercase();
    let status = header(&fields, "status").unwrap_or_default();
    let recipient = header(&fields, "final-recipient")
        .or_else(|| header(&fields, "original-recipient"))
        .map(|r| r.split_once(';').map_or(r.as_str(), |(_, a)| a.trim()).to_string())
        .unwrap_or_default();
    let diagnostic = header(&fields, "diagnostic-code").unwrap_or_default();
    // Our id, from the original message's headers returned after the report.
    let returned = &body[start..];
    let message_id = returned
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim().eq_ignore_ascii_case(super::smtp::MESSAGE_ID_HEADER).then(|| value.trim().to_string())
        })
        .filter(|id| !id.is_empty())
        .ok_or_else(|| format!("no {} in the returned headers", super::smtp::MESSAGE_ID_HEADER))?;
    if action != "failed" {
        return Ok(Report::NotFailure(format!("{message_id}: action {action:?}, status {status}")));
    }
    if !status.starts_with('5') {
        return Err(format!("{message_id}: action failed with a status that is not permanent ({status:?})"));
    }
    Ok(Report::Failed(Bounce { message_id, status, recipient, diagnostic }))
}

/// Header lines with their continuations joined: `(lower-case name, value)`.
fn unfold(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    out
}

fn header(fields: &[(String, String)], name: &str) -> Option<String> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// What an import of a Maildir did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BounceImport {
    /// Files read from `new/`.
    pub files: u64,
    /// Messages now bounced.
    pub bounced: u64,
    /// Of those, addresses marked invalid.
    pub invalid_addresses: u64,
    /// Reports that were not failures (delayed, delivered).
    pub not_failures: u64,
    /// Reports seen before (nothing changed).
    pub repeated: u64,
    /// Files that are not a DSN of one of our messages, or name a message not in the outbox
    /// or not sent: `file: why` (moved to `cur/` all the same, for someone to read).
    pub unreadable: Vec<String>,
}

/// Reads every file in `DIR/new`, applies the failures it reports, and moves each file to
/// `DIR/cur` once its report is stored (one transaction per file).
pub async fn import_maildir(db: &Db, dir: &Path, at: &At) -> Result<BounceImport, ReceiptError> {
    let new = dir.join("new");
    let cur = dir.join("cur");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
        .map_err(|e| ReceiptError::Invalid(format!("{}: {e}", new.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    std::fs::create_dir_all(&cur).map_err(|e| ReceiptError::Invalid(format!("{}: {e}", cur.display())))?;
    let mut report = BounceImport::default();
    for file in files {
        report.files += 1;
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = std::fs::read(&file).map(|b| String::from_utf8_lossy(&b).into_owned());
        let outcome = match text {
            Err(e) => Err(e.to_string()),
            Ok(text) => parse_dsn(&text).map(|r| (r, text)),
        };
        match outcome {
            Err(why) => report.unreadable.push(format!("{name}: {why}")),
            Ok((Report::NotFailure(_), _)) => report.not_failures += 1,
            Ok((Report::Failed(b), text)) => {
                let read = Read {
                    message_id: b.message_id.clone(),
                    provider_id: b.message_id.clone(),
                    event: format!("bounce:{}", b.status),
                    status: MessageStatus::Bounced,
                    bad_address: b.bad_address(),
                    error: format!("bounced {} ({}): {}", b.status, b.recipient, b.diagnostic),
                    raw: text,
                };
                match apply(db, "smtp", &[read], at).await {
                    Ok(r) => {
                        report.bounced += r.bounced;
                        report.repeated += r.repeated;
                        if r.bounced > 0 && b.bad_address() {
                            report.invalid_addresses += 1;
                        }
                    }
                    Err(e @ (ReceiptError::Unknown(_) | ReceiptError::NotYet(_))) => {
                        report.unreadable.push(format!("{name}: {e}"));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        // Read: `cur/` with the Maildir "seen" flag, so that the next import skips it.
        let target = cur.join(format!("{name}:2,S"));
        std::fs::rename(&file, &target).map_err(|e| {
            ReceiptError::Invalid(format!("moving {} to {}: {e}", file.display(), target.display()))
        })?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DSN as Postfix writes one (tests/channels/postfix_dsn.eml), for `id` with `action`
    /// and `status`.
    fn dsn(id: &str, action: &str, status: &str) -> String {
        include_str!("../../../../tests/channels/postfix_dsn.eml")
            .replace("{LEFT}", &id.replace(':', "."))
            .replace("{ID}", id)
            .replace("{ACTION}", action)
            .replace("{STATUS}", status)
    }

    #[test]
    fn reports_read_as_their_action_and_status_say() {
        // (action, status, Ok((status read, bad address)) or Err(part of the error))
        type Row<'a> = (&'a str, &'a str, Result<(&'a str, bool), &'a str>);
        let table: &[Row] = &[
            ("failed", "5.1.1", Ok(("5.1.1", true))),
            ("failed", "5.2.2", Ok(("5.2.2", false))),
            ("failed", "4.4.1", Err("not permanent")),
        ];
        for (action, status, want) in table {
            let got = parse_dsn(&dsn("T:C1:s:2026-11-19", action, status));
            match (got, want) {
                (Ok(Report::Failed(b)), Ok((s, bad))) => {
                    assert_eq!(b.message_id, "T:C1:s:2026-11-19");
                    assert_eq!(&b.status, s);
                    assert_eq!(b.bad_address(), *bad);
                    assert_eq!(b.recipient, "nobody@example.com");
                    assert!(b.diagnostic.contains("User unknown"), "{b:?}");
                }
                (Err(e), Err(w)) => assert!(e.contains(w), "{e}"),
                (got, want) => panic!("{action} {status}: {got:?}, want {want:?}"),
            }
        }
        assert!(matches!(parse_dsn(&dsn("M1", "delayed", "4.4.7")), Ok(Report::NotFailure(_))));
        // CRLF line ends, as a file written by another MTA may have.
        assert!(matches!(
            parse_dsn(&dsn("M1", "failed", "5.1.1").replace('\n', "\r\n")),
            Ok(Report::Failed(_))
        ));
    }

    #[test]
    fn other_mail_is_not_taken_for_a_report() {
        let auto = "From: someone@example.com\nSubject: Out of office\nContent-Type: text/plain\n\nAway.\n";
        assert!(parse_dsn(auto).unwrap_err().contains("not a delivery status notification"));
        let theirs = dsn("M1", "failed", "5.1.1").replace("X-Arrears-Message-Id: M1", "X-Other: M1");
        assert!(parse_dsn(&theirs).unwrap_err().contains("X-Arrears-Message-Id"));
        assert!(parse_dsn("no blank line").is_err());
    }
}
