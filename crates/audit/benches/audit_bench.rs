//! Throughput of the audit log: `cargo bench --bench audit_bench` (release profile).
//!
//! Prints the append rate into the in-memory store, inclusion proof latency on a
//! 10,000,000-entry log (every proof checked against the root), and the time of a full
//! check of 1,000,000 canonical entries against signed-size checkpoints.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arrears_audit::{
    Checkpoint, Entry, Hash, Location, LogReport, MemoryStore, MerkleLog, leaf_hash, verify_inclusion,
    verify_log,
};

const BIG: u64 = 10_000_000;
const PROOFS: usize = 20_000;
const VERIFY: u64 = 1_000_000;

fn entry(seq: u64) -> Vec<u8> {
    Entry {
        seq,
        at: "2026-11-05T09:30:00.123Z".into(),
        actor: format!("u:{}", seq % 97),
        kind: "contact.logged".into(),
        entity_ids: vec![format!("case:{}", seq / 4), format!("borrower:{}", seq / 9)],
        facts: BTreeMap::from([
            ("channel".into(), serde_json::json!("phone")),
            ("outcome".into(), serde_json::json!("promise_to_pay")),
            ("amount_minor".into(), serde_json::json!(seq * 100 % 1_000_000)),
            ("due".into(), serde_json::json!("2026-11-30")),
        ]),
    }
    .encode()
    .expect("bench entries are valid")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // 1. Append rate, tree work only (leaf hashes ready), into the in-memory store.
    let leaves: Vec<Hash> = (0..BIG).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut log = MerkleLog::new(MemoryStore::new());
    let t = Instant::now();
    for leaf in &leaves {
        log.append(*leaf).expect("memory store accepts appends");
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "append (tree only):       {:>12.0} entries/s  ({} entries in {:.2} s, {} hashes stored)",
        BIG as f64 / secs,
        BIG,
        secs,
        log.store().len()
    );
    drop(leaves);

    // 2. Inclusion proofs on the 10M log, each verified (verification not timed).
    let root = log.root();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut times = Vec::with_capacity(PROOFS);
    for _ in 0..PROOFS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = state % BIG;
        let t = Instant::now();
        let proof = log.inclusion_proof(index, BIG).expect("index in range");
        times.push(t.elapsed());
        verify_inclusion(index, BIG, &leaf_hash(&index.to_be_bytes()), &proof, &root)
            .expect("proof verifies");
    }
    times.sort();
    println!(
        "inclusion proof @ 10M:    p50 {:.2} us, p99 {:.2} us, max {:.2} us  ({} proofs, all verified)",
        percentile(&times, 0.50).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        times.last().unwrap().as_secs_f64() * 1e6,
        PROOFS
    );
    let t = Instant::now();
    let old = BIG / 3;
    let cproof = log.consistency_proof(old, BIG).expect("sizes in range");
    let ctime = t.elapsed();
    arrears_audit::verify_consistency(old, BIG, &log.root_at(old).unwrap(), &root, &cproof)
        .expect("consistency verifies");
    println!(
        "consistency proof @ 10M:  {:.2} us ({} hashes, verified)",
        ctime.as_secs_f64() * 1e6,
        cproof.len()
    );
    drop(log);

    // 3. Full verification of 1M canonical entries against a checkpoint every 10,000.
    let t = Instant::now();
    let entries: Vec<Vec<u8>> = (0..VERIFY).map(entry).collect();
    let encode = t.elapsed().as_secs_f64();
    let bytes: usize = entries.iter().map(Vec::len).sum();
    let t = Instant::now();
    let mut log = MerkleLog::new(MemoryStore::new());
    let mut checkpoints = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        log.append(leaf_hash(e)).expect("append");
        if (i + 1) % 10_000 == 0 {
            checkpoints.push(Checkpoint {
                origin: "bench.example/audit".into(),
                size: i as u64 + 1,
                root: log.root(),
                time: "2026-11-05T10:00:00Z".into(),
            });
        }
    }
    let build = t.elapsed().as_secs_f64();
    println!(
        "append (hash + tree):     {:>12.0} entries/s  ({} canonical entries, {:.0} bytes avg; encoding took {:.2} s more)",
        VERIFY as f64 / build,
        VERIFY,
        bytes as f64 / VERIFY as f64,
        encode
    );

    let t = Instant::now();
    let report = verify_log(&entries, &checkpoints, Some(log.store()));
    let secs = t.elapsed().as_secs_f64();
    assert!(report.is_intact(), "{report}");
    println!("full verify 1M entries:   {secs:.3} s  ({} checkpoints)", checkpoints.len());

    let mut tampered = entries;
    tampered[765_432] = entry(765_433);
    let t = Instant::now();
    let report = verify_log(&tampered, &checkpoints, Some(log.store()));
    let secs = t.elapsed().as_secs_f64();
    match &report {
        LogReport::Diverged(d) if d.location == Location::Exact(765_432) => {}
        other => panic!("tampering not located: {other}"),
    }
    println!("full verify, tampered:    {secs:.3} s  (found entry 765432 exactly)");
}
