//! Property: whatever single change is made to a signed log (one entry altered, deleted,
//! inserted, or two entries swapped), the full-log check reports the first changed index,
//! exactly when given the tree store, and within a range that contains it without.

use std::collections::BTreeMap;

use arrears_audit::{Checkpoint, Entry, Location, LogReport, MemoryStore, MerkleLog, verify_log};
use proptest::prelude::*;

fn entry(seq: u64, note: &str) -> Vec<u8> {
    Entry {
        seq,
        at: "2026-11-05T09:30:00Z".into(),
        actor: format!("u:{}", seq % 7),
        kind: "contact.logged".into(),
        entity_ids: vec![format!("case:{}", seq / 3)],
        facts: BTreeMap::from([("note".into(), serde_json::json!(note))]),
    }
    .encode()
    .unwrap()
}

#[derive(Debug, Clone)]
enum Tamper {
    Alter(usize),
    Delete(usize),
    Insert(usize),
    Swap(usize, usize),
}

impl Tamper {
    /// Applies the change and returns the first index that differs.
    fn apply(&self, log: &mut Vec<Vec<u8>>) -> usize {
        match *self {
            Tamper::Alter(i) => {
                log[i] = entry(i as u64, "amended after the fact");
                i
            }
            Tamper::Delete(i) => {
                log.remove(i);
                i
            }
            Tamper::Insert(i) => {
                log.insert(i, entry(i as u64, "backdated"));
                i
            }
            Tamper::Swap(i, j) => {
                log.swap(i, j);
                i.min(j)
            }
        }
    }
}

fn setup(n: usize, every: usize) -> (Vec<Vec<u8>>, MemoryStore, Vec<Checkpoint>) {
    let entries: Vec<Vec<u8>> = (0..n).map(|i| entry(i as u64, "ok")).collect();
    let mut log = MerkleLog::new(MemoryStore::new());
    let mut cps = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        log.append(arrears_audit::leaf_hash(e)).unwrap();
        let size = i + 1;
        if size % every == 0 || size == n {
            cps.push(Checkpoint {
                origin: "arrears.test/audit".into(),
                size: size as u64,
                root: log.root(),
                time: "2026-11-05T10:00:00Z".into(),
            });
        }
    }
    (entries, log.into_store(), cps)
}

fn tamper_strategy(n: usize) -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (0..n).prop_map(Tamper::Alter),
        (0..n).prop_map(Tamper::Delete),
        (0..n).prop_map(Tamper::Insert),
        (0..n, 0..n)
            .prop_filter("two different entries", |(i, j)| i != j)
            .prop_map(|(i, j)| Tamper::Swap(i, j)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_single_tampering_is_found_at_its_index(
        (n, every, tamper) in (2usize..200, 1usize..50)
            .prop_flat_map(|(n, every)| (Just(n), Just(every), tamper_strategy(n)))
    ) {
        let (mut entries, store, cps) = setup(n, every);
        let first = tamper.apply(&mut entries) as u64;

        let report = verify_log(&entries, &cps, Some(&store));
        let LogReport::Diverged(d) = &report else {
            return Err(TestCaseError::fail(format!("{tamper:?} not detected: {report}")));
        };
        prop_assert_eq!(&d.location, &Location::Exact(first), "{:?}: {}", tamper, d);
        // The checkpoint that catches it is the first one covering the change.
        let catching = cps.iter().map(|c| c.size).find(|&s| s > first).unwrap();
        prop_assert_eq!(d.checkpoint_size, catching);

        let report = verify_log(&entries, &cps, None::<&MemoryStore>);
        let LogReport::Diverged(d) = &report else {
            return Err(TestCaseError::fail(format!("{tamper:?} not detected without store")));
        };
        match &d.location {
            Location::Exact(i) => prop_assert_eq!(*i, first),
            Location::Within { from, to, .. } => prop_assert!(*from <= first && first < *to, "{}", d),
        }
    }

    #[test]
    fn an_untouched_log_is_intact(n in 0usize..200, every in 1usize..50) {
        let (entries, store, cps) = setup(n, every);
        let report = verify_log(&entries, &cps, Some(&store));
        prop_assert!(report.is_intact(), "{}", report);
    }
}
