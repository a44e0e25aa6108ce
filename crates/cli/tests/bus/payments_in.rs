//! `arrears consume payments` against a real JetStream stream.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::stream;

use crate::common::{ok, rows, text};
use crate::support::{TestDb, each_backend, random_u64};

/// Payments sent (each good one once, a tenth of them twice).
const PAYMENTS: usize = 100_000;
const AS_OF: &str = "2026-06-30";
const NEXT: &str = "2026-07-01";

/// One consumer process, reading the test's stream until idle or killed.
fn consumer(t: &TestDb, stream: &str, subject: &str, until_idle: Option<&str>) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arrears"));
    c.arg("--db").arg(t.url.expose()).args([
        "consume",
        "payments",
        "--nats",
        &crate::nats_url(),
        "--stream",
        stream,
        "--subject",
        subject,
        "--durable",
        "core-banking",
        "--ack-wait",
        "2",
        "--batch",
        "1000",
        "--json",
    ]);
    if let Some(s) = until_idle {
        c.args(["--until-idle", s]);
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the arrears binary starts")
}

/// Payments of the stream in the database.
async fn booked(t: &TestDb) -> usize {
    rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM payments WHERE payment_id LIKE 'NP%'").await[0][0]
        .parse()
        .unwrap()
}

/// What the test compares of a book: every payment of the stream, every loan's state and
/// every case.
async fn book(t: &TestDb) -> BTreeMap<&'static str, Vec<Vec<String>>> {
    let mut out = BTreeMap::new();
    out.insert(
        "payments",
        rows(
            &t.db,
            "SELECT payment_id, loan_id, CAST(paid_on AS TEXT), CAST(amount AS TEXT), channel \
             FROM payments WHERE payment_id LIKE 'NP%' ORDER BY payment_id",
        )
        .await,
    );
    out.insert(
        "loan_state",
        rows(
            &t.db,
            "SELECT loan_id, CAST(evaluated_on AS TEXT), CAST(review_on AS TEXT), CAST(dirty_from AS TEXT), status, \
             CAST(dpd AS TEXT), bucket, five_class, CAST(overdue_principal AS TEXT), CAST(overdue_interest AS TEXT), \
             CAST(overdue_fee AS TEXT), CAST(overdue_penalty AS TEXT), CAST(outstanding_principal AS TEXT), \
             CAST(credit AS TEXT), prev_status, prev_bucket, CAST(prev_outstanding AS TEXT), track, \
             CAST(next_due_on AS TEXT), CAST(next_due_amount AS TEXT) FROM loan_state ORDER BY loan_id",
        )
        .await,
    );
    out.insert(
        "cases",
        rows(
            &t.db,
            "SELECT case_id, borrower_id, status, CAST(opened_on AS TEXT), CAST(closed_on AS TEXT) FROM cases ORDER BY case_id",
        )
        .await,
    );
    out
}

/// A small xorshift: the same payments for a seed.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_from_jetstream_with_kills_equal_the_same_payments_imported_once() {
    let js = crate::jetstream().await;
    let (_keep, files) = crate::common::generated_book(300, 11, AS_OF);
    each_backend(async |t| {
        let setup = |t: &TestDb| {
            ok(t, &["import", files.to_str().unwrap()]);
            ok(t, &["batch", "--date", AS_OF]);
        };
        setup(t);
        let loans = rows(&t.db, "SELECT loan_id, currency FROM loans ORDER BY loan_id").await;
        // Payments as a core banking system sends them: value dated today or the last close,
        // whole units (valid in any currency), on a random loan.
        let mut draw = Draw(0x5eed_1234_abcd_0001);
        let good: Vec<serde_json::Value> = (0..PAYMENTS)
            .map(|i| {
                let loan = &loans[(draw.next() % loans.len() as u64) as usize];
                let on = if draw.next() % 10 < 7 { AS_OF } else { NEXT };
                serde_json::json!({"payment_id": format!("NP{i:06}"), "loan_id": loan[0], "paid_on": on,
                                   "amount": (1 + draw.next() % 40).to_string(), "channel": "core"})
            })
            .collect();
        let other = if loans[0][1] == "USD" { "CNY" } else { "USD" };
        let pay = |id: &str, field: &str, value: serde_json::Value| {
            let mut p = serde_json::json!({"payment_id": id, "loan_id": loans[0][0], "paid_on": AS_OF,
                                           "amount": "5", "channel": "core"});
            p[field] = value;
            p.to_string()
        };
        // Poison: never booked, each a dead letter naming its field (none for bad JSON).
        let poison: Vec<(String, Option<&str>)> = vec![
            ("{\"payment_id\": \"BAD-1\", ".to_string(), None),
            (pay("BAD-2", "loan_id", "L-NOWHERE".into()), Some("loan_id")),
            (pay("BAD-3", "currency", other.into()), Some("currency")),
            (pay("BAD-4", "amount", "5.123".into()), Some("amount")),
            (pay("BAD-5", "amount", "-5".into()), Some("amount")),
            (pay("BAD-6", "paid_on", "2026-07-02".into()), Some("paid_on")),
            // The id of a payment of the stream with another amount.
            (
                {
                    let mut p = good[0].clone();
                    p["amount"] = "99999".into();
                    p.to_string()
                },
                Some("amount"),
            ),
        ];
        let mut sent: Vec<String> = good.iter().map(|p| p.to_string()).collect();
        for i in (0..PAYMENTS).step_by(10) {
            sent.push(good[i].to_string());
        }
        for (k, (p, _)) in poison.iter().enumerate() {
            sent.insert(1 + k * 9_999, p.clone());
        }

        let tag = format!("{}_{:08x}", t.backend, random_u64() as u32);
        let (name, subject) = (format!("PAYT_{tag}"), format!("payt.{tag}"));
        js.create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
        for chunk in sent.chunks(2000) {
            let mut acks = Vec::with_capacity(chunk.len());
            for m in chunk {
                acks.push(js.publish(subject.clone(), m.clone().into_bytes().into()).await.unwrap());
            }
            for a in acks {
                a.await.unwrap();
            }
        }

        // Two consumers killed mid-stream (the second after a restart), then one to the end.
        for stop_at in [PAYMENTS / 4, PAYMENTS * 3 / 5] {
            let mut c = consumer(t, &name, &subject, None);
            let started = Instant::now();
            while booked(t).await < stop_at {
                assert!(c.try_wait().unwrap().is_none(), "[{}] the consumer stopped by itself", t.backend);
                assert!(started.elapsed() < Duration::from_secs(600), "[{}] too slow", t.backend);
                tokio::time::sleep(Duration::from_millis(50 + draw.next() % 100)).await;
            }
            c.kill().unwrap();
            c.wait().unwrap();
        }
        // Idle longer than the acknowledgement wait: what the killed ones held comes again.
        let last = consumer(t, &name, &subject, Some("6")).wait_with_output().unwrap();
        assert!(last.status.success(), "[{}] {}", t.backend, text(&last.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&last.stdout).unwrap();
        assert!(summary["repeated"].as_u64().unwrap() >= 10_000, "[{}] duplicates: {summary}", t.backend);

        assert_eq!(booked(t).await, PAYMENTS, "[{}] every payment once", t.backend);
        let audited = rows(
            &t.db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM audit_entries e JOIN audit_entities x ON x.seq = e.seq \
             WHERE e.kind = 'payment.recorded' AND x.entity_id LIKE 'payment:NP%'",
        )
        .await;
        assert_eq!(audited[0][0], PAYMENTS.to_string(), "[{}] each audited once", t.backend);
        let bad =
            rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM payments WHERE payment_id LIKE 'BAD-%'").await;
        assert_eq!(bad[0][0], "0", "[{}] no poison booked", t.backend);

        // Each poison message is one dead letter (a redelivered one is not a second), with
        // its reason and field.
        let dead = js.get_stream(format!("{name}_DEAD")).await.unwrap();
        let mut fields = Vec::new();
        let last_seq = dead.clone().info().await.unwrap().state.last_sequence;
        for seq in 1..=last_seq {
            let m = dead.get_raw_message(seq).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            assert!(!v["reason"].as_str().unwrap().is_empty(), "{v}");
            fields.push(v["field"].as_str().map(str::to_string));
        }
        let mut want: Vec<Option<String>> = poison.iter().map(|(_, f)| f.map(str::to_string)).collect();
        fields.sort();
        want.sort();
        assert_eq!(fields, want, "[{}] dead letters", t.backend);

        // The same payments imported once into the same book.
        let other_db = TestDb::like(t).await;
        setup(&other_db);
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from("payment_id,loan_id,paid_on,amount,channel\n");
        for p in &good {
            csv.push_str(&format!(
                "{},{},{},{},{}\n",
                p["payment_id"].as_str().unwrap(),
                p["loan_id"].as_str().unwrap(),
                p["paid_on"].as_str().unwrap(),
                p["amount"].as_str().unwrap(),
                p["channel"].as_str().unwrap()
            ));
        }
        std::fs::write(dir.path().join("payments.csv"), csv).unwrap();
        ok(&other_db, &["import", dir.path().to_str().unwrap()]);
        let (a, b) = (book(t).await, book(&other_db).await);
        for (table, rows_a) in &a {
            let rows_b = &b[table];
            assert_eq!(rows_a.len(), rows_b.len(), "[{}] {table}: row count", t.backend);
            if let Some((x, y)) = rows_a.iter().zip(rows_b).find(|(x, y)| x != y) {
                panic!("[{}] {table} differs: consumed {x:?}, imported {y:?}", t.backend);
            }
        }
        other_db.db.close().await;
        let _ = js.delete_stream(&name).await;
        let _ = js.delete_stream(format!("{name}_DEAD")).await;
    })
    .await;
}
