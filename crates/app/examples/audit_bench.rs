//! What the audit log costs in the database.
//!
//! `audit_bench [ENTRIES] [DB_URL]`: appends per second (one entry per transaction, as an
//! action would, and a hundred per transaction, as the cases phase does), then a
//! checkpoint, inclusion proofs and `verify` over the resulting log (default 20000
//! entries in a fresh SQLite file in a temp dir).
//!
//! `audit_bench log ENTRIES DB_URL [--profile]`: grows the log at DB_URL to ENTRIES entries
//! straight through the store layer (10,000 per transaction), signs a checkpoint with the
//! key beside the database, then times `verify` and 1000 inclusion proofs of random entries
//! (p50 and p99). `--profile` first times the parts of a whole-log check one by one.
//!
//! `cargo run --release -p arrears-app --example audit_bench -- …`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arrears_app::audit::{self, Event};
use arrears_audit::{Entry, LogSigner, MemoryStore, MerkleLog, leaf_hash};
use arrears_store::audit as store;
use arrears_store::{Db, DbUrl};

fn event(i: usize) -> Event {
    Event::new("system:bench", "bench.appended")
        .entity(format!("case:C-B{:07}-20261120", i % 5000))
        .fact("i", i as u64)
        .fact("business_date", "2026-11-20")
        .fact("note", "催收记录：客户承诺月底还款")
}

/// An entry shaped like the batch's case entries (about 300 bytes).
fn bulk_entry(i: u64) -> Entry {
    let borrower = format!("B{:08}", i / 3);
    Entry {
        seq: 0,
        at: "2026-11-20T18:04:11.123Z".into(),
        actor: audit::ACTOR_BATCH.into(),
        kind: if i.is_multiple_of(2) { "case.opened" } else { "ptp.kept" }.into(),
        entity_ids: vec![format!("case:C-{borrower}-20261120")],
        facts: BTreeMap::from([
            ("business_date".into(), "2026-11-20".into()),
            ("borrower".into(), borrower.into()),
            ("amount_minor".into(), (i * 7919 % 10_000_000).into()),
            ("loans".into(), serde_json::json!([{"loan_id": format!("L{i:09}"), "added_on": "2026-11-20"}])),
            ("note".into(), "催收记录：客户承诺月底还款".into()),
        ]),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("log") {
        let n: u64 = args.get(1).ok_or("log ENTRIES DB_URL")?.parse()?;
        let url = args.get(2).ok_or("log ENTRIES DB_URL")?;
        return big_log(n, url, args.iter().any(|a| a == "--profile")).await;
    }
    let n: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    let url = args.get(1).cloned().unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let db = Db::open(&DbUrl::new(url.clone())).await?;
    println!("audit bench on {} ({} backend), {n} entries", DbUrl::new(url), db.backend());

    let half = n / 2;
    let started = Instant::now();
    for i in 0..half {
        let mut tx = db.begin().await?;
        audit::record_all(&mut tx, &now(), vec![event(i)]).await?;
        tx.commit().await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "append, 1 entry per transaction:   {:>9.0} entries/s ({:.3} ms each)",
        half as f64 / secs,
        secs * 1e3 / half as f64
    );

    let started = Instant::now();
    let mut i = half;
    while i < n {
        let upto = (i + 100).min(n);
        let mut tx = db.begin().await?;
        audit::record_all(&mut tx, &now(), (i..upto).map(event).collect()).await?;
        tx.commit().await?;
        i = upto;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("append, 100 entries per transaction: {:>7.0} entries/s", (n - half) as f64 / secs);

    let signer = LogSigner::generate(audit::ORIGIN)?;
    let started = Instant::now();
    let cp = audit::checkpoint(&db, &signer, &now()).await?;
    println!(
        "checkpoint of {} entries:           {:>7.2} ms",
        cp.size,
        started.elapsed().as_secs_f64() * 1e3
    );
    proofs(&db, 1000.min(n as u64), cp.size, 0x9e37_79b9_7f4a_7c15, "just opened").await?;
    verify(&db, &signer).await?;
    db.close().await;
    Ok(())
}

/// Grows the log at `url` to `n` entries, signs a checkpoint, and times verify and proofs.
async fn big_log(n: u64, url: &str, profile: bool) -> Result<(), Box<dyn std::error::Error>> {
    let url = DbUrl::new(url);
    let db = Db::open(&url).await?;
    let (signer, _) = audit::load_signer(&audit::default_key_path(&url))?;
    let have = store::head_size(&db).await?;
    if have < n {
        let started = Instant::now();
        let mut next = have;
        while next < n {
            let upto = (next + 10_000).min(n);
            let mut entries: Vec<Entry> = (next..upto).map(bulk_entry).collect();
            let mut tx = db.begin().await?;
            store::append(&mut tx, &mut entries).await?;
            tx.commit().await?;
            next = upto;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "built the log: {} entries appended in {secs:.1} s ({:.0}/s)",
            n - have,
            (n - have) as f64 / secs
        );
    }
    let size = store::head_size(&db).await?;
    let latest = store::latest_checkpoint(&db).await?;
    let cp_size = match latest {
        Some(cp) if cp.size as u64 == size => size,
        _ => audit::checkpoint(&db, &signer, &now()).await?.size,
    };
    println!("log of {size} entries at {url} ({} backend), checkpoint of {cp_size}", db.backend());
    if profile {
        profile_parts(&db).await?;
    }
    if !args_say("--proofs-only") {
        verify(&db, &signer).await?;
    }
    // The first proofs of a process also prepare each pooled connection's statements and fill
    // its page cache; a server answering proofs all day is past that, so both are printed.
    proofs(&db, 1000, cp_size, 0x9e37_79b9_7f4a_7c15, "just opened").await?;
    proofs(&db, 1000, cp_size, 0x2545_f491_4f6c_dd1d, "warm").await?;
    db.close().await;
    Ok(())
}

fn args_say(flag: &str) -> bool {
    std::env::args().any(|a| a == flag)
}

/// Inclusion proofs of `count` entries spread pseudo-randomly (from `seed`) over the checkpoint.
async fn proofs(
    db: &Db,
    count: u64,
    size: u64,
    seed: u64,
    label: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(count as usize);
    let mut x = seed;
    for _ in 0..count {
        // xorshift: no dependency, and the same entries on every run.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let seq = x % size;
        let started = Instant::now();
        let v = audit::inclusion(db, seq).await?;
        times.push(started.elapsed());
        assert_eq!(v.seq, seq);
    }
    times.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "inclusion proof (entry, nodes, checkpoint read), {count} random entries of {size}, {label}: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        us(percentile(&times, 0.5)),
        us(percentile(&times, 0.99)),
        us(*times.last().unwrap_or(&Duration::ZERO))
    );
    Ok(())
}

/// Seconds of CPU this process has used (Linux; 0 elsewhere): on a shared machine the wall
/// time says as much about the other processes as about this one.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and stime are 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    f.get(11).zip(f.get(12)).map_or(0.0, |(u, s)| (u + s) / 100.0)
}

async fn verify(db: &Db, signer: &LogSigner) -> Result<(), Box<dyn std::error::Error>> {
    let (started, cpu) = (Instant::now(), cpu_secs());
    let report = audit::verify(db, &signer.verifier()).await?;
    assert!(report.intact, "{report:?}");
    println!(
        "verify of {} entries: {:.2} s ({:.2} s of CPU in this process, both cores together)",
        report.entries,
        started.elapsed().as_secs_f64(),
        cpu_secs() - cpu
    );
    Ok(())
}

/// Times the parts of a whole-log check one by one: the reads as `verify` did them before
/// (a row at a time) and does them now (packed pages), decoding, hashing, the tree.
async fn profile_parts(db: &Db) -> Result<(), Box<dyn std::error::Error>> {
    let lap = |what: &str, t: Instant| println!("  {what:<52} {:>7.2} s", t.elapsed().as_secs_f64());
    println!("profile:");
    let t = Instant::now();
    let rows = store::all_entries(db).await?;
    lap("read entries row by row", t);
    let t = Instant::now();
    for (_, body) in &rows {
        Entry::decode(body)?;
    }
    lap("decode and re-encode every entry", t);
    let t = Instant::now();
    for (_, body) in &rows {
        Entry::canonical_seq(body)?;
    }
    lap("canonical scan of every entry (one thread)", t);
    let t = Instant::now();
    let leaves: Vec<_> = rows.iter().map(|(_, b)| leaf_hash(b)).collect();
    lap("leaf hashes (one thread)", t);
    let t = Instant::now();
    let mut log = MerkleLog::new(MemoryStore::new());
    log.append_many(&leaves)?;
    lap("whole tree rebuilt in memory (one thread)", t);
    drop(rows);
    let t = Instant::now();
    let nodes = store::all_nodes(db).await?;
    lap(&format!("read {} tree nodes row by row into a map", nodes.len()), t);
    drop(nodes);
    let t = Instant::now();
    let (mut from, mut read) = (i64::MIN, 0usize);
    loop {
        let page = store::entry_page(db, from, 1 << 16).await?;
        if page.is_empty() {
            break;
        }
        read += page.len();
        from = page.row(page.len() - 1).0 + 1;
    }
    lap(&format!("read {read} entries in packed pages of 65536"), t);
    let t = Instant::now();
    let size = leaves.len() as u64;
    let mut level = 0u8;
    while size >> level > 0 {
        let width = size >> level;
        let mut first = 0;
        while first < width {
            let count = (width - first).min(1 << 16);
            store::node_run(db, level, first, count).await?;
            first += count;
        }
        level += 1;
    }
    lap("read every tree node in packed runs", t);
    Ok(())
}

/// This program is an edge: it reads the clock and hands the time in.
fn now() -> audit::At {
    chrono::Utc::now().fixed_offset()
}
