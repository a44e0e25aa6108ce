//! Letters (催收函, 律师函): printed as PDF into a folder that the print room or a mail house
//! collects (`DIR/YYYY-MM-DD/MESSAGE_ID.pdf`), with the lender's letterhead, the amounts owed
//! at the latest close, and a digest of the letter's content printed on every page.
//!
//! Evidence: the message's stored text is the letter's canonical content, so the audit entry
//! of the send (`body_sha256`) carries the digest printed on the letter, and the provider
//! reference is the SHA-256 of the PDF file itself (`sha256:…`). `arrears audit proof` on that
//! entry proves the letter existed, unaltered, when it was printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrears_core::delivery::Attempted;
use arrears_core::{Amount, Currency};
use arrears_letters::{Fonts, Letter, canonical_text, content_digest, from_canonical, render};
use arrears_store::loan_state::CaseOwed;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::config::{ConfigError, LettersConfig};

/// A folder letters are printed into, with the fonts and the letterhead.
pub(super) struct LetterSpool {
    dir: PathBuf,
    fonts: Arc<Fonts>,
    letterhead_zh: Vec<String>,
    letterhead_en: Vec<String>,
}

impl LetterSpool {
    /// The spool of one `letters` provider; the fonts load now, so a missing font stops the
    /// dispatcher at start (naming the script that installs them) and the letters stay queued.
    pub(super) fn new(name: &str, c: &LettersConfig, path: &str) -> Result<LetterSpool, ConfigError> {
        let fonts = if c.fonts.is_empty() {
            Fonts::system()
        } else {
            Fonts::load(&c.fonts.iter().map(PathBuf::from).collect::<Vec<_>>())
        }
        .map_err(|e| ConfigError::Invalid {
            path: path.to_string(),
            detail: format!("[providers.{name}] {e}"),
        })?;
        Ok(LetterSpool {
            dir: PathBuf::from(&c.dir),
            fonts: Arc::new(fonts),
            letterhead_zh: c.letterhead_zh.clone(),
            letterhead_en: c.letterhead_en.clone(),
        })
    }

    /// The letter as it will be printed: `text` is the rendered template (its first line the
    /// title when it names one), `owed` what the case owes at the latest close.
    // Each is a part of the letter; bundling them would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn compose(
        &self,
        reference: &str,
        date: NaiveDate,
        zh: bool,
        lender: &str,
        recipient: Vec<String>,
        title: String,
        text: &str,
        owed: Option<&CaseOwed>,
    ) -> Letter {
        let mut lines = text.lines().map(str::trim).skip_while(|l| l.is_empty()).peekable();
        // The shipped letter templates start with their title: print it once, as the title.
        if lines.peek().is_some_and(|l| *l == title) {
            lines.next();
        }
        let mut paragraphs = Vec::new();
        let mut current = String::new();
        for line in lines {
            if line.is_empty() {
                if !current.is_empty() {
                    paragraphs.push(std::mem::take(&mut current));
                }
            } else {
                if !current.is_empty() {
                    current.push('\n');
                }
                current.push_str(line);
            }
        }
        if !current.is_empty() {
            paragraphs.push(current);
        }
        let mut letterhead = vec![lender.to_string()];
        letterhead.extend(if zh { self.letterhead_zh.clone() } else { self.letterhead_en.clone() });
        let amounts = owed.map(|o| amounts(o, zh)).unwrap_or_default();
        let closing = vec![lender.to_string(), date.to_string()];
        let mut letter = Letter {
            letterhead,
            reference: reference.to_string(),
            date: date.to_string(),
            recipient,
            title,
            paragraphs,
            amounts,
            closing,
            footer: String::new(),
        };
        let digest = content_digest(&letter);
        letter.footer = if zh {
            format!("内容摘要 SHA-256：{digest}（与审计日志核对）")
        } else {
            format!("Content SHA-256: {digest} (check it against the audit log)")
        };
        letter
    }

    /// The text stored as the letter's body: its canonical content, whose SHA-256 is printed on it.
    pub(super) fn text_of(letter: &Letter) -> String {
        canonical_text(letter)
    }

    /// The letter a dispatcher already began printing for this message (it died before the
    /// send was recorded): that letter, not a new one of another date, is the one to record.
    pub(super) fn printed(&self, message_id: &str) -> Option<Letter> {
        let text = std::fs::read_to_string(self.dir.join(PRINTED).join(format!("{message_id}.txt"))).ok()?;
        let (footer, content) = text.split_once('\n')?;
        let mut letter = from_canonical(content)?;
        letter.footer = footer.to_string();
        Some(letter)
    }

    /// Prints the letter to `DIR/DAY/MESSAGE_ID.pdf`. A file already there (a dispatcher that
    /// died after printing) is the letter: it is kept, not printed twice.
    pub(super) async fn print(&self, message_id: &str, day: &str, letter: Letter) -> Attempted {
        let dir = self.dir.join(day);
        let file = dir.join(format!("{message_id}.pdf"));
        let note = self.dir.join(PRINTED).join(format!("{message_id}.txt"));
        let fonts = Arc::clone(&self.fonts);
        let done = tokio::task::spawn_blocking(move || {
            // The letter is noted before it is printed, so that a retry finds this one.
            note_letter(&note, &letter)?;
            print_file(&dir, &file, &letter, &fonts)
        })
        .await;
        match done {
            Ok(Ok(sha)) => Attempted::Accepted { provider_id: format!("sha256:{sha}") },
            Ok(Err(PrintError::Render(e))) => Attempted::Permanent { error: e, bad_address: false },
            Ok(Err(PrintError::Io(e))) => Attempted::Transient { error: e, retry_after_ms: None },
            Err(e) => {
                Attempted::Transient { error: format!("the printing task failed: {e}"), retry_after_ms: None }
            }
        }
    }
}

/// Where the letters begun are noted (`MESSAGE_ID.txt`: the footer, then the content).
const PRINTED: &str = ".printed";

fn note_letter(note: &Path, letter: &Letter) -> Result<(), PrintError> {
    if note.exists() {
        return Ok(());
    }
    let io = |e: std::io::Error| PrintError::Io(format!("cannot note the letter in {}: {e}", note.display()));
    if let Some(parent) = note.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let part = note.with_extension("txt.part");
    std::fs::write(&part, format!("{}\n{}", letter.footer, canonical_text(letter))).map_err(io)?;
    std::fs::rename(&part, note).map_err(io)
}

enum PrintError {
    /// The letter cannot be rendered (a character no font has): the same text never will be.
    Render(String),
    /// The folder could not be written: may pass.
    Io(String),
}

fn print_file(dir: &Path, file: &Path, letter: &Letter, fonts: &Fonts) -> Result<String, PrintError> {
    let io = |what: &str, p: &Path, e: std::io::Error| PrintError::Io(format!("{what} {}: {e}", p.display()));
    if let Ok(existing) = std::fs::read(file) {
        return Ok(hex::encode(Sha256::digest(&existing)));
    }
    let pdf = render(letter, fonts).map_err(|e| PrintError::Render(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    // Written whole, then renamed: a reader never sees half a letter.
    let part = file.with_extension("pdf.part");
    std::fs::write(&part, &pdf).map_err(|e| io("cannot write", &part, e))?;
    std::fs::rename(&part, file).map_err(|e| io("cannot rename into", file, e))?;
    Ok(hex::encode(Sha256::digest(&pdf)))
}

/// The amounts a letter itemises, in the currency the case owes most in.
fn amounts(o: &CaseOwed, zh: bool) -> Vec<(String, String)> {
    let Ok(currency) = Currency::from_code(&o.currency) else { return Vec::new() };
    let f = |a: Amount| format!("{} {}", a.format(currency), o.currency);
    let rows: [(&str, &str, Amount); 5] = [
        ("逾期本金", "Overdue principal", o.overdue.principal),
        ("逾期利息", "Overdue interest", o.overdue.interest),
        ("费用", "Fees", o.overdue.fee),
        ("罚息", "Penalty interest", o.overdue.penalty),
        ("逾期合计", "Total overdue", o.overdue.total()),
    ];
    let mut out: Vec<(String, String)> = rows
        .iter()
        .map(|(zh_label, en, a)| ((if zh { *zh_label } else { *en }).to_string(), f(*a)))
        .collect();
    let as_of = if zh { format!("截至 {}", o.as_of) } else { format!("as of {}", o.as_of) };
    out.push((as_of, String::new()));
    out
}
