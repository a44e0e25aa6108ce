//! One audit entry and its canonical bytes, which are what the Merkle tree hashes.
//!
//! # Canonical encoding, version 1
//!
//! Anyone can re-create the exact bytes of an entry from its fields with these rules, and
//! so check a leaf hash (`SHA-256(0x00 || bytes)`) without this crate:
//!
//! 1. The entry is one JSON object with exactly six members, in this order:
//!    `actor`, `at`, `entity_ids`, `facts`, `kind`, `seq` (ascending byte order of the names).
//! 2. No whitespace outside strings: no spaces after `:` or `,`, no newline at the end.
//! 3. Strings are UTF-8. Only these are escaped: `"` as `\"`, `\` as `\\`, and the control
//!    characters U+0000 to U+001F, written `\b` `\t` `\n` `\f` `\r` for U+0008, U+0009,
//!    U+000A, U+000C, U+000D and `\u00xx` with lower-case hex for the others. Every other
//!    character, including `/`, U+007F and all non-ASCII, is written as itself.
//! 4. Numbers are integers between -2^63 and 2^64-1 in plain decimal: no leading zeros,
//!    no `+`, no fraction, no exponent, no `-0`. Fractional numbers are refused, so write
//!    money as integer minor units or as a decimal string.
//! 5. Objects (inside `facts`, and `facts` itself) have their member names sorted by
//!    ascending UTF-8 byte order, without duplicates. Arrays keep their order.
//! 6. `true`, `false` and `null` as themselves.
//!
//! `at` is an RFC 3339 timestamp (`2026-11-05T09:30:00Z`, with optional fraction and
//! numeric offset); it is recorded as given and not normalised.
//! For ASCII member names and integers within ±2^53 this coincides with RFC 8785 (JCS).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::{Hash, leaf_hash};

/// Why an entry could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// A number in the facts has a fraction or an exponent, which has no single spelling.
    #[error(
        "fact `{path}` holds the number {number}, which is not an integer; write amounts as integer minor units or as a string"
    )]
    NotInteger {
        /// Where the number sits, e.g. `amount` or `lines[2].rate`.
        path: String,
        /// The number as given.
        number: String,
    },
    /// `at` is not an RFC 3339 timestamp.
    #[error("`at` must be an RFC 3339 timestamp such as 2026-11-05T09:30:00Z, not {0:?}")]
    BadTime(String),
    /// The bytes are not JSON of the entry's shape.
    #[error("the bytes are not an audit entry: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The bytes decode, but are not the canonical spelling of what they hold.
    #[error(
        "the bytes hold an entry but are not its canonical encoding (first difference at byte {at}); they were not written by this log"
    )]
    NotCanonical {
        /// Offset of the first byte that differs from the canonical encoding.
        at: usize,
    },
}

/// One fact about an action, as a JSON value (integers, strings, booleans, arrays, objects).
pub type FactValue = Value;

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the log, from 0; equals the Merkle leaf index.
    pub seq: u64,
    /// When it happened, RFC 3339.
    pub at: String,
    /// Who did it: a user id, or `system:<job>` for the batch.
    pub actor: String,
    /// What happened, e.g. `case.assigned`, `contact.logged`.
    pub kind: String,
    /// Ids of the entities concerned (cases, borrowers, arrangements).
    pub entity_ids: Vec<String>,
    /// The details, keyed by name.
    pub facts: BTreeMap<String, FactValue>,
}

impl Entry {
    /// The canonical bytes (see the module documentation).
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        check_time(&self.at)?;
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"{\"actor\":");
        write_str(&mut out, &self.actor);
        out.extend_from_slice(b",\"at\":");
        write_str(&mut out, &self.at);
        out.extend_from_slice(b",\"entity_ids\":[");
        for (i, id) in self.entity_ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, id);
        }
        out.extend_from_slice(b"],\"facts\":");
        let mut path = String::new();
        write_object(&mut out, self.facts.iter(), &mut path)?;
        out.extend_from_slice(b",\"kind\":");
        write_str(&mut out, &self.kind);
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        out.push(b'}');
        Ok(out)
    }

    /// The Merkle leaf hash of the canonical bytes.
    pub fn leaf_hash(&self) -> Result<Hash, EntryError> {
        Ok(leaf_hash(&self.encode()?))
    }

    /// Decodes canonical bytes, refusing any other spelling of the same entry.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        let entry: Entry = serde_json::from_slice(bytes)?;
        let again = entry.encode()?;
        if again != bytes {
            let at =
                again.iter().zip(bytes).position(|(a, b)| a != b).unwrap_or(again.len().min(bytes.len()));
            return Err(EntryError::NotCanonical { at });
        }
        Ok(entry)
    }

    /// The `seq` of an entry's bytes, with exactly the answer of
    /// `Entry::decode(bytes).map(|e| e.seq)`: for checking a whole log, where decoding
    /// every entry into maps and strings would cost more than hashing it.
    pub fn canonical_seq(bytes: &[u8]) -> Result<u64, EntryError> {
        Entry::canonical_head(bytes).map(|h| h.seq)
    }

    /// The `seq`, `at`, `kind` and `entity_ids` of an entry's bytes, with exactly the answer
    /// of [`Entry::decode`] for them, and as cheaply as [`Entry::canonical_seq`]: for
    /// checking the columns and the index that repeat them beside the hashed bytes.
    pub fn canonical_head(bytes: &[u8]) -> Result<Head<'_>, EntryError> {
        match Scan::head(bytes) {
            Some(head) => Ok(head),
            // Whatever the scan does not recognise gets the full decode, and its reasons.
            None => Entry::decode(bytes).map(|e| Head {
                seq: e.seq,
                at: Cow::Owned(e.at),
                kind: Cow::Owned(e.kind),
                entity_ids: e.entity_ids.into_iter().map(Cow::Owned).collect(),
            }),
        }
    }
}

/// The members of an entry that the store repeats outside its bytes, for look-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    /// Position in the log.
    pub seq: u64,
    /// When it happened, as written.
    pub at: Cow<'a, str>,
    /// What happened.
    pub kind: Cow<'a, str>,
    /// Ids of the entities concerned, in the entry's order.
    pub entity_ids: Vec<Cow<'a, str>>,
}

/// The text of a string the scan accepted: its raw inside, with the short escapes undone.
fn unescaped(raw: &[u8]) -> Cow<'_, str> {
    // The scan checked the whole entry is UTF-8 and that a string ends on a quote.
    let text = std::str::from_utf8(raw).unwrap_or_default();
    if !raw.contains(&b'\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('b') => '\u{8}',
            Some('t') => '\t',
            Some('n') => '\n',
            Some('f') => '\u{c}',
            Some('r') => '\r',
            // `"` and `\`, the only others the scan lets through.
            Some(other) => other,
            None => break,
        });
    }
    Cow::Owned(out)
}

/// A one-pass check that bytes are the canonical encoding of an entry, allocating nothing.
///
/// It only ever answers for bytes that [`Entry::decode`] accepts: it declines (`None`)
/// anything unusual, such as `\u` escapes, escaped member names or deep nesting, and the
/// caller then decodes in full. So it may be stricter than the rules, never looser.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
}

/// Deepest nesting the scan follows; serde_json itself stops at 128.
const SCAN_DEPTH: u32 = 64;

impl<'a> Scan<'a> {
    fn head(b: &'a [u8]) -> Option<Head<'a>> {
        std::str::from_utf8(b).ok()?;
        let mut s = Scan { b, i: 0, depth: 0 };
        s.lit(b"{\"actor\":")?;
        s.string()?;
        s.lit(b",\"at\":")?;
        // A time has no escapes, so the raw text is the value.
        let at = std::str::from_utf8(s.string()?).ok()?;
        check_time(at).ok()?;
        s.lit(b",\"entity_ids\":[")?;
        let mut entity_ids = Vec::new();
        if !s.eat(b']') {
            loop {
                entity_ids.push(unescaped(s.string()?));
                if s.eat(b']') {
                    break;
                }
                s.lit(b",")?;
            }
        }
        s.lit(b",\"facts\":")?;
        s.object()?;
        s.lit(b",\"kind\":")?;
        let kind = unescaped(s.string()?);
        s.lit(b",\"seq\":")?;
        let seq = s.digits()?;
        s.lit(b"}")?;
        (s.i == b.len()).then_some(Head { seq, at: Cow::Borrowed(at), kind, entity_ids })
    }

    fn lit(&mut self, want: &[u8]) -> Option<()> {
        let end = self.i + want.len();
        (self.b.get(self.i..end)? == want).then(|| self.i = end)
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        self.i += usize::from(hit);
        hit
    }

    /// A string as `write_str` spells it; returns its raw inside.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.lit(b"\"")?;
        let start = self.i;
        loop {
            match *self.b.get(self.i)? {
                b'"' => break,
                // Only the short escapes; `\u` and `\/` go to the full decode.
                b'\\' => match self.b.get(self.i + 1)? {
                    b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => self.i += 2,
                    _ => return None,
                },
                0x00..=0x1f => return None,
                _ => self.i += 1,
            }
        }
        let inside = &self.b[start..self.i];
        self.i += 1;
        Some(inside)
    }

    /// An unsigned integer without leading zeros that fits in a u64.
    fn digits(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n = 0u64;
        while let Some(d @ b'0'..=b'9') = self.b.get(self.i).copied() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        (len == 1 || (len > 1 && self.b[start] != b'0')).then_some(n)
    }

    fn value(&mut self) -> Option<()> {
        match *self.b.get(self.i)? {
            b'"' => self.string().map(drop),
            b'{' => self.object(),
            b'[' => {
                self.nest()?;
                self.i += 1;
                if !self.eat(b']') {
                    loop {
                        self.value()?;
                        if self.eat(b']') {
                            break;
                        }
                        self.lit(b",")?;
                    }
                }
                self.depth -= 1;
                Some(())
            }
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'-' => {
                self.i += 1;
                // -0 has no canonical spelling, and below -2^63 serde_json reads a float.
                let n = self.digits()?;
                (n != 0 && n <= 1 << 63).then_some(())
            }
            b'0'..=b'9' => self.digits().map(drop),
            _ => None,
        }
    }

    /// An object whose member names have no escapes and ascend strictly.
    fn object(&mut self) -> Option<()> {
        self.nest()?;
        self.lit(b"{")?;
        if !self.eat(b'}') {
            let mut last: Option<&[u8]> = None;
            loop {
                let key = self.string()?;
                if key.contains(&b'\\') || last.is_some_and(|l| l >= key) {
                    return None;
                }
                last = Some(key);
                self.lit(b":")?;
                self.value()?;
                if self.eat(b'}') {
                    break;
                }
                self.lit(b",")?;
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= SCAN_DEPTH).then_some(())
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_object<'a>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    path: &mut String,
) -> Result<(), EntryError> {
    // Sort here rather than trust the map: serde_json's `preserve_order`
    // feature, switched on by any crate in the build, would keep insertion order.
    let mut members: Vec<_> = members.collect();
    members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(k);
        write_value(out, v, path)?;
        path.truncate(len);
    }
    out.push(b'}');
    Ok(())
}

fn write_value(out: &mut Vec<u8>, v: &Value, path: &mut String) -> Result<(), EntryError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else {
                return Err(EntryError::NotInteger { path: path.clone(), number: n.to_string() });
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                write_value(out, item, path)?;
                path.truncate(len);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map.iter(), path)?,
    }
    Ok(())
}

/// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, the RFC 3339 `date-time`.
pub(crate) fn check_time(s: &str) -> Result<(), EntryError> {
    let bad = || EntryError::BadTime(s.to_owned());
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let shape = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return Err(bad());
    }
    let (Some(_year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) =
        (digits(0..4), digits(5..7), digits(8..10), digits(11..13), digits(14..16), digits(17..19))
    else {
        return Err(bad());
    };
    // Leap seconds (60) are allowed by RFC 3339.
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(bad());
        }
        rest = &frac[n..];
    }
    let ok = match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') < 24
                && (m1 - b'0') * 10 + (m2 - b'0') < 60
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Entry {
        let mut facts = BTreeMap::new();
        facts.insert("amount_minor".into(), json!(125_000));
        facts.insert("note".into(), json!("说好月底还 \"一半\"\n"));
        facts.insert("zz".into(), json!({"b": [1, -2, null], "a": true}));
        Entry {
            seq: 42,
            at: "2026-11-05T09:30:00+08:00".into(),
            actor: "u:17".into(),
            kind: "contact.logged".into(),
            entity_ids: vec!["case:9".into(), "borrower:3".into()],
            facts,
        }
    }

    #[test]
    fn encoding_is_exactly_as_documented() {
        let bytes = sample().encode().unwrap();
        let want = concat!(
            r#"{"actor":"u:17","at":"2026-11-05T09:30:00+08:00","entity_ids":["case:9","borrower:3"],"#,
            r#""facts":{"amount_minor":125000,"note":"说好月底还 \"一半\"\n","zz":{"a":true,"b":[1,-2,null]}},"#,
            r#""kind":"contact.logged","seq":42}"#
        );
        assert_eq!(String::from_utf8(bytes).unwrap(), want);
    }

    #[test]
    fn decode_round_trips_and_refuses_other_spellings() {
        let e = sample();
        let bytes = e.encode().unwrap();
        assert_eq!(Entry::decode(&bytes).unwrap(), e);

        let spaced = String::from_utf8(bytes.clone()).unwrap().replace(",\"kind\"", ", \"kind\"");
        assert!(matches!(Entry::decode(spaced.as_bytes()), Err(EntryError::NotCanonical { .. })));
        let reordered = serde_json::to_vec(&json!({
            "seq": 42, "at": e.at, "actor": e.actor, "kind": e.kind,
            "entity_ids": e.entity_ids, "facts": e.facts,
        }))
        .unwrap();
        // serde_json sorts keys itself unless `preserve_order` is on; either
        // way the result must be canonical or refused, never silently accepted.
        match Entry::decode(&reordered) {
            Ok(d) => assert_eq!(d.encode().unwrap(), reordered),
            Err(err) => assert!(matches!(err, EntryError::NotCanonical { .. })),
        }
        let mut extra = bytes.clone();
        extra.truncate(extra.len() - 1);
        extra.extend_from_slice(b",\"x\":1}");
        assert!(matches!(Entry::decode(&extra), Err(EntryError::Malformed(_))));
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut e = sample();
        e.actor = "a\u{0}\u{1f}\u{7f}/\t\\".into();
        let bytes = e.encode().unwrap();
        let s = String::from_utf8(bytes.clone()).unwrap();
        let want = format!(r#""actor":"a\u0000\u001f{}/\t\\""#, '\u{7f}');
        assert!(s.contains(&want), "{s}");
        assert_eq!(Entry::decode(&bytes).unwrap(), e);
    }

    #[test]
    fn fractions_are_refused_with_their_place() {
        let mut e = sample();
        e.facts.insert("lines".into(), json!([{"rate": 0.05}]));
        let err = e.encode().unwrap_err();
        assert_eq!(
            err.to_string(),
            "fact `lines[0].rate` holds the number 0.05, which is not an integer; write amounts as integer minor units or as a string"
        );
    }

    #[test]
    fn times_must_be_rfc3339() {
        for good in [
            "2026-11-05T09:30:00Z",
            "2026-11-05T09:30:00.123456Z",
            "2026-11-05T09:30:00-05:30",
            "2016-12-31T23:59:60Z",
        ] {
            check_time(good).unwrap();
        }
        for bad in [
            "",
            "2026-11-05 09:30:00Z",
            "2026-11-05T09:30:00",
            "2026-13-05T09:30:00Z",
            "2026-11-05T24:00:00Z",
            "2026-11-05T09:30:00.Z",
            "2026-11-05T09:30:00+0800",
            "２026-11-05T09:30:00Z",
        ] {
            assert!(check_time(bad).is_err(), "{bad:?} accepted");
        }
    }
}
