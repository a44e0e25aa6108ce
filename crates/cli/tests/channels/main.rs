//! The dispatcher end to end through the binary, against a real SMTP server (aiosmtpd): a
//! generated book, the batch, then `arrears send`; what the server received is compared with
//! what the outbox says was sent. SQLite always, PostgreSQL when `ARREARS_TEST_PG` is set.

mod bounces;
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
mod departments;
mod letters;
mod month;
mod reminders;
mod routing;
mod sink;
mod sms;
#[allow(dead_code)]
#[path = "../../../app/tests/import/support.rs"]
mod support;
mod tls;
mod twilio;
mod voice;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::time::Duration;

use common::{generated_book, ok, rows, text};
use sink::Sink;
use support::{TestDb, each_backend};

/// A channels file: e-mail over SMTP (the URL comes from ARREARS_SMTP_URL), with the
/// dispatcher's lease and batch given.
fn channels_file(dir: &std::path::Path, lease_seconds: u64, batch: u32, dedup: bool) -> std::path::PathBuf {
    let path = dir.join("channels.toml");
    let text = format!(
        "[dispatcher]\nlease_seconds = {lease_seconds}\nbatch = {batch}\nconcurrency = {}\n\
         [sender]\nlender_zh = \"测试银行\"\nlender_en = \"Test Bank\"\n\
         [channels]\nemail = \"smtp\"\n\
         [providers.smtp]\nkind = \"smtp\"\nurl = \"smtp://127.0.0.1:1\"\nfrom = \"催收中心 <collections@bank.example>\"\n\
         timeout_ms = 2000\nconnections = 2\nrelay_deduplicates = {dedup}\n",
        batch.min(4)
    );
    std::fs::write(&path, text).expect("write channels.toml");
    path
}

/// `arrears send` with the sink and channels file, as a command ready to run.
fn send_cmd(t: &TestDb, sink: &Sink, channels: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arrears"));
    c.arg("--db")
        .arg(t.url.expose())
        .arg("send")
        .args(args)
        .env("ARREARS_SMTP_URL", sink.url())
        .env("ARREARS_CHANNELS", channels)
        .env_remove("ARREARS_CHANNELS_CRASH");
    c
}

fn send(t: &TestDb, sink: &Sink, channels: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out: Output = send_cmd(t, sink, channels, args).arg("--json").output().expect("arrears send runs");
    assert!(out.status.success(), "[{}] arrears send {args:?}: {}", t.backend, text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON counts")
}

/// A book with its batch run for `dates`.
fn book_with_batch(t: &TestDb, loans: u32, dates: &[&str]) -> tempfile::TempDir {
    let (dir, book) = generated_book(loans, 7, "2026-11-19");
    ok(t, &["import", book.to_str().expect("utf-8 path")]);
    for d in dates {
        ok(t, &["batch", "--date", d]);
    }
    dir
}

/// Message ids in each status, from the table.
async fn by_status(t: &TestDb) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows(&t.db, "SELECT status, message_id FROM outbox WHERE channel = 'email'").await {
        out.entry(r[0].clone()).or_default().insert(r[1].clone());
    }
    out
}

#[tokio::test]
async fn every_due_email_reaches_the_server_once_with_its_text_and_id() {
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 3000, &["2026-11-19"]);
        let sink = Sink::start(false);
        let channels = channels_file(dir.path(), 60, 7, false);
        // The evening of the 20th in Beijing: every message of the 19th's batch is due.
        let counts = send(t, &sink, &channels, &["--until", "2026-11-20T21:00:00+08:00", "--channel", "email"]);
        let status = by_status(t).await;
        let sent = status.get("sent").cloned().unwrap_or_default();
        assert!(sent.len() >= 10, "[{}] too few e-mails to mean anything: {status:?}", t.backend);
        assert_eq!(counts["sent"].as_u64(), Some(sent.len() as u64), "{counts}");
        assert_eq!(counts["queued"].as_u64(), Some(status.get("queued").map_or(0, |s| s.len() as u64)), "{counts}");

        let received = sink.messages();
        let ids: Vec<&String> = received.iter().map(|(id, _)| id).collect();
        let distinct: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
        assert_eq!(ids.len(), distinct.len(), "[{}] a message arrived twice", t.backend);
        assert_eq!(distinct, sent, "[{}] received and marked sent differ", t.backend);

        // Each mail carries the text stored as sent, with the lender filled in.
        let listed = common::json(t, &["message", "list", "--status", "sent", "--json"]);
        let listed = listed.as_array().expect("a list");
        assert_eq!(listed.len(), sent.len());
        for m in listed {
            for field in ["message_id", "case_id", "channel", "template", "status", "attempts", "provider_id", "sent_at", "error"] {
                assert!(m.get(field).is_some(), "message list lacks {field}: {m}");
            }
            assert_eq!(m["attempts"], 1);
            let body = m["body"].as_str().expect("body");
            assert!(!body.contains("{lender}") && !body.is_empty(), "{body}");
            assert!(body.contains("测试银行") || body.contains("Test Bank") || m["template"] == "overdue_notice", "{body}");
        }
        // Refused ones say why, and their tasks are blocked with the reason.
        for r in rows(&t.db, "SELECT o.error, t.status, COALESCE(t.reason, '') FROM outbox o JOIN tasks t ON t.task_id = o.task_id WHERE o.status = 'refused'").await {
            assert!(!r[0].is_empty(), "a refusal without its reason");
            assert_eq!(r[1], "blocked");
            assert!(r[2].contains(&r[0]), "{r:?}");
        }
        // Every send is in the audit log.
        let logged = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM audit_entries WHERE kind = 'message.sent'").await;
        assert_eq!(logged[0][0], sent.len().to_string());

        // A second pass sends nothing again.
        let again = send(t, &sink, &channels, &["--until", "2026-11-20T21:00:00+08:00", "--channel", "email"]);
        assert_eq!(again["sent"], 0, "{again}");
        assert_eq!(sink.messages().len(), received.len());
    })
    .await;
}

#[tokio::test]
async fn quiet_hours_restrictions_and_languages_hold_at_send_time() {
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 3000, &["2026-11-19"]);
        let sink = Sink::start(false);
        let channels = channels_file(dir.path(), 60, 50, false);
        let queued = rows(&t.db, "SELECT o.message_id, o.borrower_id FROM outbox o JOIN borrowers b ON b.borrower_id = o.borrower_id \
             WHERE o.channel = 'email' AND o.status = 'queued' AND o.case_id IS NOT NULL AND b.timezone = 'Asia/Shanghai' ORDER BY o.message_id").await;
        assert!(queued.len() >= 4, "need four e-mails: {queued:?}");
        let exec = async |sql: String| {
            arrears_store::on_pool!(&t.db, p => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await.expect("update").rows_affected());
        };
        // One queued at 21:55 Beijing time, for a 22:00 quiet hour.
        exec(format!("UPDATE outbox SET send_at = '2026-11-20T13:55:00+00:00' WHERE message_id = '{}'", queued[0][0])).await;
        // One whose borrower opts out of e-mail after it was queued.
        ok(t, &["contact", "restrict", &queued[1][1], "--kind", "opt-out", "--channel", "email", "--note", "after queueing"]);
        // Recorded today; the pass below stands for the 20th, so date it then (after the batch).
        exec(format!("UPDATE contact_restrictions SET recorded_on = '2026-11-20' WHERE borrower_id = '{}'", queued[1][1])).await;
        // One whose case closed since (the borrower paid).
        exec(format!(
            "UPDATE cases SET status = 'closed', closed_on = '2026-11-20' WHERE case_id = \
             (SELECT case_id FROM outbox WHERE message_id = '{}')",
            queued[3][0]
        ))
        .await;
        // One in a language with no template.
        exec(format!("UPDATE outbox SET language = 'fr', body = '' WHERE message_id = '{}'", queued[2][0])).await;

        let first = send(t, &sink, &channels, &["--until", "2026-11-20T22:01:00+08:00", "--channel", "email"]);
        let status = |id: &str| {
            let id = id.to_string();
            async move { rows(&t.db, &format!("SELECT status, error, CAST(next_attempt_at AS TEXT) FROM outbox WHERE message_id = '{id}'")).await.remove(0) }
        };
        let late = status(&queued[0][0]).await;
        assert_eq!(late[0], "queued", "[{}] sent in quiet hours: {late:?} {first}", t.backend);
        assert!(late[1].contains("CN-TIME-01"), "{late:?}");
        // Deferred to 08:00 Beijing the next morning.
        let at = chrono::DateTime::from_timestamp_millis(late[2].parse().expect("ms")).expect("time");
        assert_eq!(at.to_rfc3339(), "2026-11-21T00:00:00+00:00");
        let opted = status(&queued[1][0]).await;
        assert_eq!(opted[0], "refused", "{opted:?}");
        let french = status(&queued[2][0]).await;
        assert_eq!(french[0], "refused");
        assert!(french[1].contains("fr"), "{french:?}");
        let closed = rows(
            &t.db,
            &format!(
                "SELECT o.status, t.status, COALESCE(t.reason, '') FROM outbox o JOIN tasks t ON t.task_id = o.task_id \
                 WHERE o.message_id = '{}'",
                queued[3][0]
            ),
        )
        .await;
        assert_eq!((closed[0][0].as_str(), closed[0][1].as_str()), ("cancelled", "cancelled"), "{closed:?}");
        assert!(closed[0][2].contains("closed"), "{closed:?}");
        let ids: BTreeSet<String> = sink.messages().into_iter().map(|(id, _)| id).collect();
        for q in &queued[..4] {
            assert!(!ids.contains(&q[0]), "{} reached the server", q[0]);
        }
        // At 08:01 it goes.
        send(t, &sink, &channels, &["--until", "2026-11-21T08:01:00+08:00", "--channel", "email"]);
        assert_eq!(status(&queued[0][0]).await[0], "sent");
        assert!(sink.messages().iter().any(|(id, _)| *id == queued[0][0]));
    })
    .await;
}

/// Kills the dispatcher at 20 points (ten named crash points, ten random instants), then lets
/// it finish: no message reaches the server twice, and the server holds exactly the messages
/// marked sent. With a relay that drops repeats, a message whose outcome a kill left unknown
/// is sent again (and dropped there); without one, it ends failed, never sent twice.
#[tokio::test]
async fn a_dispatcher_killed_at_twenty_points_sends_each_message_once() {
    each_backend(async |t: &TestDb| {
        for dedup in [true, false] {
            let t = &TestDb::like(t).await;
            let dir = book_with_batch(t, 5000, &["2026-11-19", "2026-11-20"]);
            // A relay taking 60 ms a message, one connection, two messages a claim: every run
            // below is stopped with messages left and some in flight.
            let sink = Sink::start_slow(dedup, 60);
            let channels = channels_file(dir.path(), 1, 2, dedup);
            let until = "2026-11-21T21:00:00+08:00";
            let points = ["after_claim", "before_send", "after_send", "after_record"];
            let seed: u64 = std::env::var("ARREARS_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261207);
            eprintln!("kill seed {seed} (ARREARS_KILL_SEED), dedup {dedup}");
            let mut rng = seed;
            let mut next = || {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                rng >> 33
            };
            let mut kills = 0;
            for i in 0..20 {
                let mut cmd = send_cmd(t, &sink, &channels, &["--until", until, "--channel", "email"]);
                cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
                if i % 2 == 0 {
                    let point = points[(i / 2) % points.len()];
                    cmd.env("ARREARS_CHANNELS_CRASH", format!("{point}:{}", 1 + next() % 2));
                    let st = cmd.status().expect("arrears send runs");
                    kills += usize::from(!st.success());
                } else {
                    let mut child = cmd.spawn().expect("arrears send starts");
                    std::thread::sleep(Duration::from_millis(50 + next() % 300));
                    if child.try_wait().expect("wait").is_none() {
                        child.kill().expect("kill");
                        kills += 1;
                    }
                    let _ = child.wait();
                }
                // Let some leases run out between kills, so that reclaims happen too.
                if i % 5 == 4 {
                    std::thread::sleep(Duration::from_millis(1100));
                }
            }
            assert!(kills >= 10, "only {kills} of 20 runs were killed");
            // Quiescence: passes until nothing due is queued and nothing is being sent (leases of
            // 1 s); messages deferred past the pass's time (quiet hours) stay queued.
            let until_ms = chrono::DateTime::parse_from_rfc3339(until).expect("time").timestamp_millis();
            let waiting = format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE channel = 'email' AND (status = 'sending' \
                 OR (status = 'queued' AND send_at <= '2026-11-21T13:00:00+00:00' AND next_attempt_at <= {until_ms}))"
            );
            for _ in 0..30 {
                let left = rows(&t.db, &waiting).await;
                if left[0][0] == "0" {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1100));
                send(t, &sink, &channels, &["--until", until, "--channel", "email"]);
            }
            let status = by_status(t).await;
            assert!(!status.contains_key("sending"), "[{}] still sending: {status:?}", t.backend);
            let sent = status.get("sent").cloned().unwrap_or_default();
            assert!(sent.len() >= 20, "[{}] too few e-mails: {status:?}", t.backend);
            let received: Vec<String> = sink.messages().into_iter().map(|(id, _)| id).collect();
            let distinct: BTreeSet<String> = received.iter().cloned().collect();
            assert_eq!(received.len(), distinct.len(), "[{}] a message was stored twice", t.backend);
            if dedup {
                assert_eq!(distinct, sent, "[{}] received and marked sent differ", t.backend);
                assert!(sink.repeats().len() <= kills, "more repeats than kills: {:?}", sink.repeats());
            } else {
                assert!(sink.repeats().is_empty(), "a relay without de-duplication got {:?} again", sink.repeats());
                // Received = sent, plus those whose unknown outcome was settled as failed.
                let unknown: BTreeSet<String> = rows(&t.db, "SELECT message_id FROM outbox WHERE status = 'failed' AND error LIKE 'outcome unknown%'")
                    .await
                    .into_iter()
                    .map(|r| r[0].clone())
                    .collect();
                assert!(sent.is_subset(&distinct), "[{}] marked sent but never received", t.backend);
                let extra: BTreeSet<String> = distinct.difference(&sent).cloned().collect();
                assert!(extra.is_subset(&unknown), "[{}] received but neither sent nor unknown: {extra:?}", t.backend);
            }
        }
    })
    .await;
}
