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
                    let first = audit::record_all(&mut tx, vec![event(w, i), event(w, i + 100)])
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
        let cp = audit::checkpoint(&t.db, &signer).await.unwrap();
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
        audit::record(&mut tx, "u:1", "test.kept", vec!["case:A".into()], BTreeMap::new()).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let seq = audit::record(&mut tx, "u:1", "test.dropped", vec!["case:A".into()], BTreeMap::new())
            .await
            .unwrap();
        assert_eq!(seq, 1);
        tx.rollback().await.unwrap();
        assert_eq!(store::head_size(&t.db).await.unwrap(), 1, "[{}] the head rolled back too", t.backend);
        assert_eq!(store::all_entries(&t.db).await.unwrap().len(), 1);
        assert_eq!(store::entries_naming(&t.db, "case:A").await.unwrap(), vec![0]);

        // The next append takes number 1 again and the tree stays consistent.
        let mut tx = t.db.begin().await.unwrap();
        let seq = audit::record(&mut tx, "u:1", "test.kept", vec![], BTreeMap::new()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(seq, 1);

        let mut tx = t.db.begin().await.unwrap();
        let bad = audit::record_all(&mut tx, vec![Event::new("u:1", "test.bad").fact("rate", 0.05)]).await;
        let err = bad.unwrap_err().to_string();
        assert!(err.contains("test.bad") && err.contains("rate"), "{err}");
        tx.rollback().await.unwrap();

        let signer = LogSigner::generate(audit::ORIGIN).unwrap();
        audit::checkpoint(&t.db, &signer).await.unwrap();
        let report = audit::verify(&t.db, &signer.verifier()).await.unwrap();
        assert!(report.intact && report.entries == 2, "[{}] {report:?}", t.backend);
    })
    .await;
}
