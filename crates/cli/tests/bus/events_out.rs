//! `arrears events publish` to a webhook receiver and to JetStream while the batch runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};

use crate::common::{ok, rows, text};
use crate::support::{TestDb, each_backend, random_u64};

const SECRET: &str = "webhook-s3cret";

/// The receiver (tests/bus/webhook_receiver.py) on `port` (0: any), logging to `log`; its port.
fn receiver(log: &std::path::Path, port: u16, fail_first: u32) -> (Child, u16) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/bus/webhook_receiver.py");
    let mut c = Command::new("python3")
        .args([script, "--secret", SECRET, "--log"])
        .arg(log)
        .args(["--port", &port.to_string(), "--fail-first", &fail_first.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the webhook receiver");
    let mut line = String::new();
    std::io::BufReader::new(c.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("ready ").and_then(|p| p.parse().ok()).expect("ready PORT");
    (c, port)
}

/// A port nothing listens on (bound, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The publisher, running until killed (or, with `until_idle`, until idle).
fn publisher(t: &TestDb, config: &std::path::Path, nats: bool, until_idle: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arrears"));
    c.arg("--db").arg(t.url.expose()).args(["events", "publish", "--json"]);
    if nats {
        c.args(["--nats", &crate::nats_url()]);
    }
    if let Some(s) = until_idle {
        c.args(["--until-idle", s]);
    }
    c.env("ARREARS_EVENTS", config).env("ARREARS_TEST_WEBHOOK_SECRET", SECRET);
    c
}

/// The receiver's log: one JSON object per request.
fn requests(log: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_thirty_dates_reach_a_webhook_and_jetstream_none_missing() {
    let js = crate::jetstream().await;
    // The book's history runs to the end of July: the month's payments cure some cases.
    let (_keep, files) = crate::common::generated_book(300, 5, "2026-07-31");
    each_backend(async |t| {
        ok(t, &["import", files.to_str().unwrap()]);
        ok(t, &["batch", "--date", "2026-06-30"]);
        let dir = tempfile::tempdir().unwrap();
        let crm_log = dir.path().join("crm.jsonl");
        let (mut crm, port) = receiver(&crm_log, 0, 3);
        let down = free_port();
        let tag = format!("{}{:08x}", t.backend, random_u64() as u32);
        let config = dir.path().join("events.toml");
        std::fs::write(
            &config,
            format!(
                "[nats]\nsubject_prefix = \"t{tag}.events\"\nstream = \"EVT_{tag}\"\n\n\
                 [[webhooks]]\nname = \"crm\"\nurl = \"http://127.0.0.1:{port}/hooks\"\n\
                 secret_env = \"ARREARS_TEST_WEBHOOK_SECRET\"\nattempts = 4\nbackoff_ms = 20\n\n\
                 [[webhooks]]\nname = \"down\"\nurl = \"http://127.0.0.1:{down}/hooks\"\n\
                 secret_env = \"ARREARS_TEST_WEBHOOK_SECRET\"\ntypes = [\"case.closed\"]\n\
                 attempts = 2\nbackoff_ms = 10\ntimeout_ms = 500\n"
            ),
        )
        .unwrap();

        // Thirty business dates with the publisher running beside the batch, killed and
        // started again half-way.
        let mut p = publisher(t, &config, true, None).stdout(Stdio::null()).spawn().unwrap();
        let start = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        for day in 0..30 {
            let date = (start + chrono::Days::new(day)).to_string();
            ok(t, &["batch", "--date", &date]);
            if day == 14 {
                p.kill().unwrap();
                p.wait().unwrap();
                p = publisher(t, &config, true, None).stdout(Stdio::null()).spawn().unwrap();
            }
        }
        p.kill().unwrap();
        p.wait().unwrap();
        let last = publisher(t, &config, true, Some("2")).output().unwrap();
        assert!(last.status.success(), "[{}] {}", t.backend, text(&last.stderr));

        let events =
            rows(&t.db, "SELECT event_id, type, COALESCE(case_id, '') FROM events ORDER BY pos").await;
        let ids: BTreeSet<String> = events.iter().map(|e| e[0].clone()).collect();
        let count = |ty: &str| events.iter().filter(|e| e[1] == ty).count();
        assert!(
            count("case.opened") > 10 && count("case.closed") > 0,
            "[{}] a month of a book: {} events, {} cases opened, {} closed",
            t.backend,
            events.len(),
            count("case.opened"),
            count("case.closed")
        );

        // The webhook: every event at least once, each signed; the three refused tries retried;
        // per case, in the order of commits.
        let got = requests(&crm_log);
        assert!(got.iter().all(|r| r["signature_ok"] == true), "[{}] every request signed", t.backend);
        assert_eq!(got.iter().filter(|r| r["status"] == 500).count(), 3, "[{}]", t.backend);
        let taken: Vec<&serde_json::Value> = got.iter().filter(|r| r["status"] == 204).collect();
        let received: BTreeSet<String> =
            taken.iter().map(|r| r["event_id"].as_str().unwrap().to_string()).collect();
        assert_eq!(received, ids, "[{}] the webhook got every event", t.backend);
        assert!(taken.iter().all(|r| r["header_id"] == r["event_id"]));
        assert!(
            taken
                .iter()
                .all(|r| r["content_type"].as_str().unwrap().starts_with("application/cloudevents+json"))
        );
        let mut seen = BTreeSet::new();
        let mut last_per_case: HashMap<String, u64> = HashMap::new();
        for r in &taken {
            let id = r["event_id"].as_str().unwrap();
            let (Some(case), Some(seq)) = (r["caseid"].as_str(), r["auditseq"].as_u64()) else { continue };
            if seen.insert(id.to_string()) {
                let before = last_per_case.insert(case.to_string(), seq);
                assert!(
                    before.is_none_or(|b| b <= seq),
                    "[{}] case {case}: {id} after a later event",
                    t.backend
                );
            }
        }

        // JetStream: every event, its id as the message id.
        let stream = js.get_stream(format!("EVT_{tag}")).await.unwrap();
        let last_seq = stream.clone().info().await.unwrap().state.last_sequence;
        let mut on_nats = BTreeMap::new();
        for seq in 1..=last_seq {
            let m = stream.get_raw_message(seq).await.unwrap();
            let id = m.headers.get("Nats-Msg-Id").unwrap().as_str().to_string();
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(v["id"].as_str(), Some(id.as_str()));
            assert_eq!(m.subject.as_str(), format!("t{tag}.events.{}", v["type"].as_str().unwrap()));
            *on_nats.entry(id).or_insert(0) += 1;
        }
        assert_eq!(
            on_nats.keys().cloned().collect::<BTreeSet<_>>(),
            ids,
            "[{}] JetStream got every event",
            t.backend
        );

        // The webhook that was down: each case.closed dead-lettered, audited; the rest went on.
        let dead = rows(
            &t.db,
            "SELECT event_id FROM event_dead_letters WHERE destination = 'webhook:down' ORDER BY pos",
        )
        .await;
        assert_eq!(dead.len(), count("case.closed"), "[{}]", t.backend);
        let audited = rows(
            &t.db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM audit_entries WHERE kind = 'event.dead_lettered'",
        )
        .await;
        assert_eq!(audited[0][0], dead.len().to_string());
        // It is back: a replay from the first of them sends them all again.
        let down_log = dir.path().join("down.jsonl");
        let (mut back, _) = receiver(&down_log, down, 0);
        ok(t, &["events", "replay", "--from", &dead[0][0], "--destination", "webhook:down"]);
        let again = publisher(t, &config, false, Some("1")).output().unwrap();
        assert!(again.status.success(), "[{}] {}", t.backend, text(&again.stderr));
        let closed: BTreeSet<String> =
            events.iter().filter(|e| e[1] == "case.closed").map(|e| e[0].clone()).collect();
        let replayed: BTreeSet<String> = requests(&down_log)
            .iter()
            .filter(|r| r["status"] == 204)
            .map(|r| r["event_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(replayed, closed, "[{}] the replay sent every case.closed", t.backend);
        let refused = crate::common::arrears(t, &["events", "replay", "--from", "arrears-999999999"]);
        assert!(!refused.status.success() && text(&refused.stderr).contains("no event"));

        for c in [&mut crm, &mut back] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        let _ = js.delete_stream(format!("EVT_{tag}")).await;
    })
    .await;
}
