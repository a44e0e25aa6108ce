//! Demand letters and lawyer letters (律师函) as PDF, with Chinese and English text.
//!
//! The text is laid out by the glyph advances of the fonts themselves (no shaping: Chinese and
//! Latin need none for letters), each character drawn with the first font of a fallback chain
//! that has it, and every used font embedded as a subset CID font (Identity-H) with a
//! `/ToUnicode` map so that the text can be copied and searched. The output is deterministic:
//! the same letter and fonts give the same bytes, so a stored letter can be rendered again and
//! compared.
#![forbid(unsafe_code)]

mod fonts;
mod layout;
mod pdf;

use sha2::{Digest, Sha256};
use std::path::PathBuf;

pub use fonts::Fonts;

/// The content of one letter, as it is printed (the caller formats amounts and dates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Letter {
    /// The lender's name first (printed bold and larger), then address and phone lines.
    pub letterhead: Vec<String>,
    /// The letter's reference (e.g. the message id), printed top right as "编号 / Ref: …".
    pub reference: String,
    /// The letter's date as printed, e.g. "2026-12-07".
    pub date: String,
    /// The recipient's name and address lines.
    pub recipient: Vec<String>,
    /// The title, e.g. "律师函" or "Demand for payment" (centred, larger).
    pub title: String,
    /// The body paragraphs; Chinese and Latin may be mixed, '\n' forces a line break.
    pub paragraphs: Vec<String>,
    /// The amounts table: a label and the amount as printed ("逾期本金", "1,234.56 CNY").
    pub amounts: Vec<(String, String)>,
    /// The signature lines, printed in the right half under the body.
    pub closing: Vec<String>,
    /// Printed small at the bottom of every page (usually the content digest line).
    pub footer: String,
}

/// What can go wrong when loading fonts or rendering a letter.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    /// No font path was given.
    #[error("no font files were given: pass at least one TTF, OTF or TTC file")]
    NoFonts,
    /// A font file could not be read.
    #[error("cannot read font file {path}: {source}")]
    ReadFont {
        /// The file that could not be read.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text after '#' in a font path is not a face index.
    #[error(
        "font path {spec:?}: the part after '#' must be a face index (a whole number), \
         as in \"NotoSansCJK-Regular.ttc#2\""
    )]
    BadFaceIndex {
        /// The path as given.
        spec: String,
    },
    /// A font file is not a font this crate can use.
    #[error("{path} (face {index}) cannot be used as a letter font: {reason}")]
    BadFont {
        /// The font file.
        path: PathBuf,
        /// The face index within the file (0 for a single font).
        index: u32,
        /// Why it cannot be used.
        reason: String,
    },
    /// The default fonts are not installed on this machine.
    #[error(
        "the letter fonts are not installed (missing {missing}): run scripts/install-fonts.sh \
         (Debian packages fonts-noto-cjk and fonts-hanazono), or set ARREARS_LETTER_FONTS to \
         font paths separated by ':'"
    )]
    SystemFontsMissing {
        /// The missing files, separated by ", ".
        missing: String,
    },
    /// A character of the letter is in none of the fonts.
    #[error(
        "character {ch:?} (U+{code:04X}) in the {field} is in none of the fonts ({fonts}): \
         correct the text or add a font that covers it (ARREARS_LETTER_FONTS)"
    )]
    MissingGlyph {
        /// The character.
        ch: char,
        /// Its code point.
        code: u32,
        /// Where in the letter it is, e.g. "paragraph 2".
        field: String,
        /// The fonts that were tried, in order.
        fonts: String,
    },
    /// A font could not be subset for embedding.
    #[error("cannot embed font {font} (subsetting failed: {source}); try another font file")]
    Subset {
        /// The font, as path#index.
        font: String,
        /// The subsetter's error.
        #[source]
        source: subsetter::Error,
    },
}

/// Renders the letter as a PDF (A4, deterministic: same input and fonts give byte-identical output — no timestamps, no random ids).
pub fn render(letter: &Letter, fonts: &Fonts) -> Result<Vec<u8>, LetterError> {
    let faces = fonts.parse_all()?;
    let pages = layout::lay_out(letter, fonts, &faces)?;
    pdf::write(letter, fonts, &faces, &pages)
}

/// The SHA-256 (lowercase hex) of the letter's canonical content: every field above except footer, in order, one line each, UTF-8; what the footer prints so a reader can check the text.
///
/// The canonical text has one line per value, `name<TAB>value\n`, in the order letterhead
/// (one line per entry), reference, date, recipient (per entry), title, paragraph (per entry),
/// amount (`amount<TAB>label<TAB>amount`, per row), closing (per entry); within a value `\` is
/// written `\\`, a newline `\n`, a carriage return `\r` and a tab `\t`, so that no two letters
/// share a canonical text.
pub fn content_digest(letter: &Letter) -> String {
    let digest = Sha256::digest(canonical_text(letter).as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    hex
}

/// The letter's canonical content, whose SHA-256 is [`content_digest`]: one line per value,
/// `name<TAB>value`, in field order, with backslash, newline, carriage return and tab escaped.
/// Stored as the letter's text, it lets anyone recompute the digest printed on it.
pub fn canonical_text(letter: &Letter) -> String {
    let mut out = String::new();
    let mut line = |name: &str, values: &[&str]| {
        out.push_str(name);
        for v in values {
            out.push('\t');
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
        }
        out.push('\n');
    };
    for l in &letter.letterhead {
        line("letterhead", &[l]);
    }
    line("reference", &[&letter.reference]);
    line("date", &[&letter.date]);
    for l in &letter.recipient {
        line("recipient", &[l]);
    }
    line("title", &[&letter.title]);
    for p in &letter.paragraphs {
        line("paragraph", &[p]);
    }
    for (label, amount) in &letter.amounts {
        line("amount", &[label, amount]);
    }
    for l in &letter.closing {
        line("closing", &[l]);
    }
    out
}

/// The letter a [`canonical_text`] describes (its footer empty: the footer is not part of the
/// content); `None` when the text is not one.
pub fn from_canonical(text: &str) -> Option<Letter> {
    let mut l = Letter::default();
    for line in text.lines() {
        let mut values = line.split('\t').map(unescape);
        let name = values.next()?;
        let mut value = || values.next();
        match name.as_str() {
            "letterhead" => l.letterhead.push(value()?),
            "reference" => l.reference = value()?,
            "date" => l.date = value()?,
            "recipient" => l.recipient.push(value()?),
            "title" => l.title = value()?,
            "paragraph" => l.paragraphs.push(value()?),
            "amount" => {
                let label = value()?;
                l.amounts.push((label, value()?));
            }
            "closing" => l.closing.push(value()?),
            _ => return None,
        }
    }
    Some(l)
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> Letter {
        Letter {
            letterhead: vec!["某某小额贷款有限公司".into(), "北京市朝阳区".into()],
            reference: "MSG-1".into(),
            date: "2026-12-07".into(),
            recipient: vec!["张三".into()],
            title: "律师函".into(),
            paragraphs: vec!["请于七日内还款。".into()],
            amounts: vec![("逾期本金".into(), "1,234.56 CNY".into())],
            closing: vec!["某某律师事务所".into()],
            footer: "digest".into(),
        }
    }

    #[test]
    fn canonical_text_reads_back_as_the_same_letter() {
        let mut a = letter();
        a.paragraphs.push("tab\there, back\\slash,\nnew line\r".into());
        a.amounts.push(("合计".into(), "1,234.56\tCNY".into()));
        let mut back = from_canonical(&canonical_text(&a)).expect("reads back");
        assert_eq!(back.footer, "");
        back.footer = a.footer.clone();
        assert_eq!(back, a);
        assert_eq!(from_canonical("nonsense\tx\n"), None);
    }

    #[test]
    fn digest_is_lowercase_hex_and_ignores_the_footer() {
        let a = letter();
        let d = content_digest(&a);
        assert_eq!(d.len(), 64);
        assert!(d.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let mut b = a.clone();
        b.footer = "another footer".into();
        assert_eq!(content_digest(&b), d);
    }

    #[test]
    fn digest_changes_with_any_field_and_with_field_boundaries() {
        let a = letter();
        let d = content_digest(&a);
        let mut b = a.clone();
        b.paragraphs[0].push('!');
        assert_ne!(content_digest(&b), d);
        // Moving a line from the letterhead to the recipient changes the digest too.
        let mut c = a.clone();
        let moved = c.letterhead.pop().unwrap_or_default();
        c.recipient.insert(0, moved);
        assert_ne!(content_digest(&c), d);
        // A newline inside a value is not the same as two values.
        let mut e = a.clone();
        e.paragraphs = vec!["x\ny".into()];
        let mut f = a;
        f.paragraphs = vec!["x".into(), "y".into()];
        assert_ne!(content_digest(&e), content_digest(&f));
    }

    #[test]
    fn digest_of_a_known_letter_is_stable() {
        // Recomputed by hand with: printf 'letterhead\tA\nreference\tR\ndate\tD\ntitle\tT\n' | sha256sum
        let l = Letter {
            letterhead: vec!["A".into()],
            reference: "R".into(),
            date: "D".into(),
            title: "T".into(),
            ..Letter::default()
        };
        assert_eq!(content_digest(&l), "c88595552b9f15d4e3fb2389e662b7fdd36730dbd3b4b14d04a1602d8aee1c51");
    }
}
