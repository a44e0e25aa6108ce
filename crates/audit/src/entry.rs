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
