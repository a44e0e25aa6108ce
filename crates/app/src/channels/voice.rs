//! The voice robot (语音机器人) and outside dialers: the day's call list written as files per
//! queue, CSV and JSON (case, number reference, script, the window the contact policy allows
//! in the borrower's local time), and the dialer's results read back as actions through the
//! checks of `action log`.
//!
//! A list file is written whole (temporary name, synced, renamed) before its messages are
//! recorded as sent, and named by its first message: a dispatcher that dies between the two
//! finds the file when it takes the messages over, and records them sent without writing
//! them again.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use arrears_core::delivery::Attempted;
use chrono::{DateTime, Utc};

/// One call to make.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallLine {
    /// The outbox message (results name it).
    pub message_id: String,
    /// The case.
    pub case_id: String,
    /// The queue (the script's template).
    pub queue: String,
    /// The number's reference: its blind index, which the dialer's authorised look-up
    /// resolves (the list itself carries no number).
    pub number_ref: String,
    /// The number masked, for the operator's eye.
    pub number_masked: String,
    /// The script, rendered in the borrower's language.
    pub script: String,
    /// The borrower's language.
    pub language: String,
    /// The borrower's zone.
    pub timezone: String,
    /// First minute the call is allowed, local `HH:MM`.
    pub window_from: String,
    /// End of the allowed window, local `HH:MM`.
    pub window_until: String,
    /// The same window in UTC, RFC 3339.
    pub window_from_utc: String,
    /// End of the window in UTC.
    pub window_until_utc: String,
}

/// Where the lists go: `DIR/YYYY-MM-DD/QUEUE/FIRST_MESSAGE.{csv,json}`.
pub struct VoiceExport {
    dir: PathBuf,
}

fn file_stem(message_id: &str) -> String {
    message_id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

impl VoiceExport {
    /// Lists under `dir`.
    pub fn new(dir: &Path) -> VoiceExport {
        VoiceExport { dir: dir.to_path_buf() }
    }

    /// The folder of a day's queue.
    fn folder(&self, day: &str, queue: &str) -> PathBuf {
        self.dir.join(day).join(file_stem(queue))
    }

    /// Writes one queue's lines as a list (CSV and JSON); the JSON file's path is every
    /// line's provider reference.
    pub fn write(&self, day: &str, queue: &str, lines: &[CallLine]) -> Attempted {
        let Some(first) = lines.first() else { return Attempted::Accepted { provider_id: String::new() } };
        let folder = self.folder(day, queue);
        let stem = file_stem(&first.message_id);
        let json_path = folder.join(format!("{stem}.json"));
        let written = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&folder)?;
            let mut csv = csv::Writer::from_writer(Vec::new());
            for l in lines {
                csv.serialize(l).map_err(std::io::Error::other)?;
            }
            let csv = csv.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
            atomic_write(&folder.join(format!("{stem}.csv")), &csv)?;
            // The JSON file last: its presence says the list is whole.
            atomic_write(&json_path, &serde_json::to_vec_pretty(lines).map_err(std::io::Error::other)?)
        })();
        match written {
            Ok(()) => Attempted::Accepted { provider_id: json_path.display().to_string() },
            // Nothing the dialer reads was left behind (a temporary file at most).
            Err(e) => Attempted::Transient {
                error: format!("writing {}: {e}", json_path.display()),
                retry_after_ms: None,
            },
        }
    }

    /// The list a message is already in, if a dispatcher wrote it before it died.
    pub fn find(&self, day: &str, queue: &str, message_id: &str) -> Option<String> {
        let folder = self.folder(day, queue);
        for entry in std::fs::read_dir(&folder).ok()?.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let lines: Vec<CallLine> =
                std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok())?;
            if lines.iter().any(|l| l.message_id == message_id) {
                return Some(path.display().to_string());
            }
        }
        None
    }
}

/// Writes a file whole: a temporary name, synced, then renamed over the final one.
fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The local `HH:MM` of an instant in a zone.
pub fn local_hm(at: DateTime<Utc>, zone: &str) -> String {
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => at.with_timezone(&tz).format("%H:%M").to_string(),
        Err(_) => at.format("%H:%M").to_string(),
    }
}

/// One result a dialer reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
struct CallResult {
    message_id: String,
    called_at: String,
    outcome: String,
    #[serde(default)]
    note: String,
}

/// What an import of call results did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallImport {
    /// Results logged as actions.
    pub logged: u64,
    /// Results the contact policy refused: recorded as refused actions (violations).
    pub violations: u64,
    /// Results of messages already resulted (an import read twice changes nothing).
    pub repeated: u64,
}

/// Why call results were not imported (nothing was).
#[derive(Debug, thiserror::Error)]
pub enum CallImportError {
    /// The file could not be read.
    #[error("{path}: {detail}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A row is wrong.
    #[error("{path}:{line}: {detail}")]
    Row {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        detail: String,
    },
    /// The database.
    #[error(transparent)]
    Store(#[from] arrears_store::StoreError),
    /// Logging an action failed for a reason other than the policy.
    #[error("{path}:{line}: {source}")]
    Action {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// Why.
        source: crate::actions::ActionError,
    },
}

/// Reads a dialer's results (CSV: `message_id,called_at,outcome[,note]`, `called_at` RFC 3339
/// with its offset) and logs each as an action on the message's case through every check of
/// `action log`: a call the contact policy would not have allowed (outside the window, too
/// many) is recorded as a refused action, a violation, not accepted. Every row is checked
/// before anything is logged.
pub async fn import_calls(
    db: &arrears_store::Db,
    scanner: &arrears_content::Scanner,
    path: &Path,
    recorded_at: &crate::audit::At,
) -> Result<CallImport, CallImportError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CallImportError::Read { path: shown.clone(), detail: e.to_string() })?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, r) in reader.deserialize::<CallResult>().enumerate() {
        let line = i as u64 + 2;
        let bad = |detail: String| CallImportError::Row { path: shown.clone(), line, detail };
        let r = r.map_err(|e| bad(e.to_string()))?;
        let at = DateTime::parse_from_rfc3339(&r.called_at)
            .map_err(|e| bad(format!("called_at {:?} is not RFC 3339 with an offset: {e}", r.called_at)))?;
        if !crate::actions::OUTCOMES.contains(&r.outcome.as_str()) {
            return Err(bad(format!(
                "outcome {:?}: use one of {}",
                r.outcome,
                crate::actions::OUTCOMES.join(", ")
            )));
        }
        let found = arrears_store::outbox::list_one(db, &r.message_id).await?;
        let Some(m) = found.filter(|m| m.channel == "voice_bot") else {
            return Err(bad(format!("no voice-robot message {:?} in the outbox", r.message_id)));
        };
        rows.push((line, r, at, m));
    }
    let mut report = CallImport::default();
    let mut seen = std::collections::HashSet::new();
    for (line, r, at, m) in rows {
        if m.status != arrears_core::work::MessageStatus::Sent || !seen.insert(r.message_id.clone()) {
            report.repeated += 1;
            continue;
        }
        let input = crate::actions::ActionInput {
            case_id: m.case_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            at,
            actor: "voice-bot".into(),
            agency: None,
            channel: "voice_bot".into(),
            party: "borrower".into(),
            outcome: r.outcome.clone(),
            note: r.note.clone(),
            promise: None,
            purpose: None,
        };
        match crate::actions::log(db, scanner, input, recorded_at).await {
            Ok(_) => report.logged += 1,
            Err(crate::actions::ActionError::Refused { .. }) => report.violations += 1,
            Err(source) => return Err(CallImportError::Action { path: shown.clone(), line, source }),
        }
        // The call was made: the message has had its result, and a second import skips it.
        let stamp = at.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        let mut tx = db.begin().await?;
        arrears_store::outbox::delivery(
            &mut tx,
            &m.message_id,
            arrears_core::work::MessageStatus::Delivered,
            &stamp,
            "",
        )
        .await?;
        tx.commit().await?;
    }
    Ok(report)
}
