//! Recording audit entries from use-case transactions, on SQLite always and on PostgreSQL
//! when `ARREARS_TEST_PG` is set: concurrent appenders get distinct, gap-free numbers and
//! one consistent tree; an entry rolls back with its transaction; bad facts are refused.

#[allow(dead_code)]
#[path = "import/support.rs"]
mod support;

use std::collections::BTreeMap;

use arrears_app::audit::{self, Event};
use arrears_audit::{LogReport, LogSigner, verify_log};
use arrears_store::audit as store;
use support::each_backend;

fn event(worker: usize, i: usize) -> Event {
    Event::new(&format!("u:{worker}"), "test.appended")
        .entity(format!("worker:{worker}"))
        .fact("i", i as u64)
        .fact("note", format!("worker {worker} entry {i}"))
}

#[tokio::test]
async fn concurrent_appenders_serialise_into_one_tree() {
    each_backend(async |t| {
        const WORKERS: usize = 6;
        const EACH: usize = 8;
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let mut tx = db.begin().await.expect("begin");
                    // Two entries per transaction, and some work between them and the commit.
                    let first = audit::record_all(&mut tx, &at(), vec![event(w, i), event(w, i + 100)])
                        .await
                        .expect("append")
                        .expect("a number");
                    tokio::task::yield_now().await;
                    tx.commit().await.expect("commit");
                    let _ = first;
                }
            }));
        }
        for task in tasks {
            task.await.expect("worker");
        }
        let rows = store::all_entries(&t.db).await.unwrap();
        assert_eq!(rows.len(), WORKERS * EACH * 2, "[{}] every entry stored once", t.backend);
        for (i, (seq, body)) in rows.iter().enumerate() {
            assert_eq!(*seq, i as i64, "[{}] numbers without gaps", t.backend);
            let e = arrears_audit::Entry::decode(body).unwrap();
            assert_eq!(e.seq, i as u64);
        }
        // The two entries of one transaction are neighbours: nothing interleaved them.
        for pair in rows.chunks(2) {
            let a = arrears_audit::Entry::decode(&pair[0].1).unwrap();
            let b = arrears_audit::Entry::decode(&pair[1].1).unwrap();
            assert_eq!(
                (a.actor.as_str(), a.facts["i"].as_u64().unwrap() + 100),
                (b.actor.as_str(), b.facts["i"].as_u64().unwrap())
            );
        }
        // The stored tree agrees with the entries: a checkpoint over it verifies.
        let signer = LogSigner::generate(audit::ORIGIN).unwrap();
        let cp = audit::checkpoint(&t.db, &signer, &at()).await.unwrap();
        assert_eq!(cp.size as usize, rows.len());
        let report = audit::verify(&t.db, &signer.verifier()).await.unwrap();
        assert!(report.intact, "[{}] {report:?}", t.backend);
        let checkpoint = signer.verifier().verify_checkpoint(&cp.note).unwrap();
        let bodies: Vec<&[u8]> = rows.iter().map(|(_, b)| b.as_slice()).collect();
        assert!(matches!(
            verify_log(&bodies, &[checkpoint], None::<&arrears_audit::MemoryStore>),
            LogReport::Intact(_)
        ));
    })
    .await;
}

#[tokio::test]
async fn an_entry_rolls_back_with_its_transaction_and_bad_facts_are_refused() {
    each_backend(async |t| {
        let mut tx = t.db.begin().await.unwrap();
        audit::record(&mut tx, &at(), "u:1", "test.kept", vec!["case:A".into()], BTreeMap::new())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let seq =
            audit::record(&mut tx, &at(), "u:1", "test.dropped", vec!["case:A".into()], BTreeMap::new())
                .await
                .unwrap();
        assert_eq!(seq, 1);
        tx.rollback().await.unwrap();
        assert_eq!(store::head_size(&t.db).await.unwrap(), 1, "[{}] the head rolled back too", t.backend);
        assert_eq!(store::all_entries(&t.db).await.unwrap().len(), 1);
        assert_eq!(store::entries_naming(&t.db, "case:A").await.unwrap(), vec![0]);

        // The next append takes number 1 again and the tree stays consistent.
        let mut tx = t.db.begin().await.unwrap();
        let seq = audit::record(&mut tx, &at(), "u:1", "test.kept", vec![], BTreeMap::new()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(seq, 1);

        let mut tx = t.db.begin().await.unwrap();
        let bad =
            audit::record_all(&mut tx, &at(), vec![Event::new("u:1", "test.bad").fact("rate", 0.05)]).await;
        let err = bad.unwrap_err().to_string();
        assert!(err.contains("test.bad") && err.contains("rate"), "{err}");
        tx.rollback().await.unwrap();

        let signer = LogSigner::generate(audit::ORIGIN).unwrap();
        audit::checkpoint(&t.db, &signer, &at()).await.unwrap();
        let report = audit::verify(&t.db, &signer.verifier()).await.unwrap();
        assert!(report.intact && report.entries == 2, "[{}] {report:?}", t.backend);
    })
    .await;
}

async fn exec(db: &arrears_store::Db, sql: &str) {
    arrears_store::on_pool!(db, p => {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

async fn set_body(db: &arrears_store::Db, seq: u64, body: &[u8]) {
    arrears_store::on_pool!(db, p => {
        sqlx::query("UPDATE audit_entries SET body = $1 WHERE seq = $2")
            .bind(body.to_vec()).bind(seq as i64).execute(p).await.unwrap();
    });
}

async fn stored_node(db: &arrears_store::Db, level: i16, idx: i64) -> Vec<u8> {
    arrears_store::on_pool!(db, p => sqlx::query_scalar("SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2")
        .bind(level).bind(idx).fetch_one(p).await.unwrap())
}

async fn put_node(db: &arrears_store::Db, level: i16, idx: i64, hash: &[u8]) {
    arrears_store::on_pool!(db, p => {
        sqlx::query("INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)")
            .bind(level).bind(idx).bind(hash.to_vec()).execute(p).await.unwrap();
    });
}

#[tokio::test]
async fn a_log_of_several_pages_verifies_and_tampering_anywhere_is_found() {
    // `verify` reads and hashes 65,536 entries at a time and rebuilds the tree above the
    // pages from their top hashes: three pages, the last one partial.
    const N: u64 = 140_000;
    each_backend(async |t| {
        let db = &t.db;
        let mut next = 0;
        while next < N {
            let upto = (next + 10_000).min(N);
            let mut entries: Vec<arrears_audit::Entry> = (next..upto)
                .map(|i| arrears_audit::Entry {
                    seq: 0,
                    at: "2026-11-20T18:04:11.123Z".into(),
                    actor: "u:1".into(),
                    kind: "test.bulk".into(),
                    entity_ids: vec![format!("case:{}", i % 100)],
                    facts: BTreeMap::from([("i".into(), i.into()), ("note".into(), "说好月底还".into())]),
                })
                .collect();
            let mut tx = db.begin().await.unwrap();
            store::append(&mut tx, &mut entries).await.unwrap();
            tx.commit().await.unwrap();
            next = upto;
        }
        let signer = LogSigner::generate(audit::ORIGIN).unwrap();
        audit::checkpoint(db, &signer, &at()).await.unwrap();
        let key = signer.verifier();
        let report = audit::verify(db, &key).await.unwrap();
        assert!(report.intact && report.entries == N && report.covered == N, "[{}] {report:?}", t.backend);

        // An entry of the second page altered, still canonical.
        let seq = 70_001;
        let body = store::entry(db, seq).await.unwrap().unwrap();
        let altered = String::from_utf8(body.clone()).unwrap().replacen("\"i\":", "\"i\":1", 1);
        set_body(db, seq, altered.as_bytes()).await;
        let report = audit::verify(db, &key).await.unwrap();
        assert_eq!(report.first_bad_entry, Some(seq), "[{}] {report:?}", t.backend);
        assert!(report.problems[0].message.starts_with("entry 70001 is not the entry"), "{report:?}");
        set_body(db, seq, &body).await;

        // Stored nodes: one above the pages altered, one inside a page deleted, one added
        // past the end. Each is named by the first leaf under it.
        let node = |report: &audit::VerifyReport| {
            report.problems.iter().find(|p| p.what == "node").map(|p| (p.seq, p.message.clone()))
        };
        let saved16 = stored_node(db, 16, 1).await;
        exec(db, "UPDATE audit_nodes SET hash = (SELECT hash FROM audit_nodes WHERE level = 0 AND idx = 0) WHERE level = 16 AND idx = 1").await;
        let report = audit::verify(db, &key).await.unwrap();
        let (at, why) = node(&report).expect("a node problem");
        assert_eq!(at, Some(65_536), "[{}] {why}", t.backend);
        assert!(why.contains("holds a hash the entries do not give"), "{why}");
        assert_eq!(report.first_bad_entry, None, "the entries themselves are intact");
        exec(db, "DELETE FROM audit_nodes WHERE level = 16 AND idx = 1").await;
        put_node(db, 16, 1, &saved16).await;

        let saved3 = stored_node(db, 3, 9000).await;
        exec(db, "DELETE FROM audit_nodes WHERE level = 3 AND idx = 9000").await;
        let report = audit::verify(db, &key).await.unwrap();
        let (at, why) = node(&report).expect("a node problem");
        assert_eq!(at, Some(72_000), "[{}] {why}", t.backend);
        assert!(why.contains("is missing"), "{why}");
        put_node(db, 3, 9000, &saved3).await;

        put_node(db, 0, N as i64, &saved3).await;
        let report = audit::verify(db, &key).await.unwrap();
        let (at, why) = node(&report).expect("a node problem");
        assert_eq!(at, Some(N), "[{}] {why}", t.backend);
        assert!(why.contains("should not exist"), "{why}");
        exec(db, &format!("DELETE FROM audit_nodes WHERE level = 0 AND idx = {N}")).await;
        assert!(audit::verify(db, &key).await.unwrap().intact, "[{}] restored", t.backend);
    })
    .await;
}

/// The time these tests' entries are stamped with.
fn at() -> audit::At {
    chrono::DateTime::parse_from_rfc3339("2026-12-06T09:30:00+08:00").expect("a valid instant")
}
