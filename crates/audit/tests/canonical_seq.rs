//! `Entry::canonical_seq` and `Entry::canonical_head`, the quick checks `audit verify` runs on
//! every entry, must give exactly `Entry::decode`'s answer: on entries as written, and on every one-byte change,
//! deletion or insertion of them (most of which decode refuses, some of which it accepts).

use std::collections::BTreeMap;

use arrears_audit::{Entry, EntryError};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Strings with the characters the encoding treats specially.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just('a'),
            Just('Z'),
            Just('"'),
            Just('\\'),
            Just('/'),
            Just('\n'),
            Just('\u{0}'),
            Just('\u{1f}'),
            Just('\u{7f}'),
            Just('é'),
            Just('催'),
            Just('😀'),
            Just(':'),
        ],
        0..8,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        any::<u64>(),
        prop_oneof![Just("2026-11-05T09:30:00.123Z"), Just("2026-11-05T09:30:00+08:00")],
        text(),
        text(),
        prop::collection::vec(text(), 0..3),
        prop::collection::btree_map(text(), value(), 0..5),
    )
        .prop_map(|(seq, at, actor, kind, entity_ids, facts)| Entry {
            seq,
            at: at.into(),
            actor,
            kind,
            entity_ids,
            facts: facts.into_iter().collect::<BTreeMap<_, _>>(),
        })
}

/// The two answers, compared as far as errors can be: the same seq, or both refused.
fn same(bytes: &[u8]) -> Result<(), TestCaseError> {
    let quick = Entry::canonical_head(bytes).map(|h| {
        let ids: Vec<String> = h.entity_ids.iter().map(|c| c.to_string()).collect();
        (h.seq, h.at.into_owned(), h.kind.into_owned(), ids)
    });
    let full = Entry::decode(bytes).map(|e| (e.seq, e.at, e.kind, e.entity_ids));
    match (&quick, &full) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => {
            prop_assert!(false, "{:?}: quick {:?}, decode {:?}", String::from_utf8_lossy(bytes), quick, full)
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn agrees_with_decode_on_entries_and_their_one_byte_variants(
        e in entry(),
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![
            Just(b'"'), Just(b'\\'), Just(b','), Just(b':'), Just(b'0'), Just(b'9'), Just(b'-'),
            Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b' '), Just(b'u'), Just(0xff),
            any::<u8>(),
        ],
    ) {
        let bytes = e.encode().unwrap();
        prop_assert_eq!(Entry::canonical_seq(&bytes).unwrap(), e.seq);
        same(&bytes)?;
        let i = at.index(bytes.len());
        let mut changed = bytes.clone();
        changed[i] = byte;
        same(&changed)?;
        let mut deleted = bytes.clone();
        deleted.remove(i);
        same(&deleted)?;
        let mut inserted = bytes.clone();
        inserted.insert(i, byte);
        same(&inserted)?;
    }
}

#[test]
fn the_usual_other_spellings_are_refused() {
    let e = Entry {
        seq: 7,
        at: "2026-11-05T09:30:00Z".into(),
        actor: "u:1".into(),
        kind: "case.opened".into(),
        entity_ids: vec!["case:C1".into()],
        facts: BTreeMap::from([("a".into(), json!(-3)), ("b".into(), json!({"x": [1, "y"]}))]),
    };
    let good = String::from_utf8(e.encode().unwrap()).unwrap();
    assert_eq!(Entry::canonical_seq(good.as_bytes()).unwrap(), 7);
    for bad in [
        good.replace("\"a\":-3", "\"a\":-03"),
        good.replace("\"a\":-3", "\"a\":-0"),
        good.replace("\"a\":-3", "\"a\":3.0"),
        good.replace("\"a\":-3,\"b\"", "\"b\":1,\"a\":-3,\"b\""),
        good.replace("\"seq\":7", "\"seq\":07"),
        good.replace("u:1", "u\\u003a1"),
        good.replace("\"x\"", "\"x\" "),
        format!("{good}\n"),
        good.replace("09:30:00Z", "09:30:00"),
    ] {
        assert!(Entry::canonical_seq(bad.as_bytes()).is_err(), "accepted {bad}");
    }
    assert!(matches!(
        Entry::canonical_seq(&good.as_bytes()[..good.len() - 1]),
        Err(EntryError::Malformed(_))
    ));
    // Nesting deeper than the quick scan follows still gets decode's answer.
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let e = Entry { facts: BTreeMap::from([("d".into(), serde_json::from_str(&deep).unwrap())]), ..e };
    assert_eq!(Entry::canonical_seq(&e.encode().unwrap()).unwrap(), 7);
}
