//! SMS through the Twilio fake (`tests/channels/fake_twilio.py`): Basic auth and form bodies
//! as documented, status callbacks signed with `X-Twilio-Signature` into `arrears serve`,
//! lost answers settled by listing the number's messages.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{generated_book, ok, rows, text};
use crate::sms::{post, start_fake, start_server};
use crate::support::{TestDb, each_backend};

#[tokio::test]
async fn us_texts_reach_twilio_once_and_signed_callbacks_deliver_them() {
    each_backend(async |t: &TestDb| {
        let (dir, book) = generated_book(3000, 7, "2026-11-19");
        ok(t, &["import", book.to_str().expect("utf-8")]);
        ok(t, &["batch", "--date", "2026-11-19"]);
        let log = dir.path().join("twilio.jsonl");
        let write_channels = |server_port: u16, fake_port: u16| {
            let path = dir.path().join("channels-twilio.toml");
            std::fs::write(
                &path,
                format!(
                    "[dispatcher]\nlease_seconds = 1\nbatch = 20\n[sender]\nlender_en = \"Test Bank\"\nlender_zh = \"测试银行\"\n\
                     [channels]\nsms = \"twilio\"\n[providers.twilio]\nkind = \"twilio\"\nendpoint = \"http://127.0.0.1:{fake_port}\"\n\
                     account_sid_env = \"T_TWILIO_SID\"\nauth_token_env = \"T_TWILIO_TOKEN\"\nfrom = \"+15005550006\"\ntimeout_ms = 3000\n\
                     status_callback = \"http://127.0.0.1:{server_port}/api/v1/channels/twilio/receipts\"\n"
                ),
            )
            .expect("write");
            path
        };
        let env = |channels: &std::path::Path| {
            vec![
                ("ARREARS_CHANNELS", channels.display().to_string()),
                ("T_TWILIO_SID", "ACtest".to_string()),
                ("T_TWILIO_TOKEN", "twilio-token".to_string()),
            ]
        };
        // The server reads the file per receipt: its port first, the fake's once it runs.
        let server_port = crate::sink::free_port();
        let channels = write_channels(server_port, 1);
        let (_server, server_port) = start_server_on(t, &env(&channels), server_port);
        let (_fake, fake_port) = start_fake(
            "fake_twilio.py",
            &["--log", log.to_str().expect("utf-8"), "--account-sid", "ACtest", "--auth-token", "twilio-token", "--callbacks", "--lossy-every", "4"],
        );
        let channels = write_channels(server_port, fake_port);
        let send = || {
            let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
                .args(["--db", t.url.expose(), "send", "--channel", "sms", "--until", "2026-11-20T13:30:00Z", "--json"])
                .envs(env(&channels).iter().map(|(k, v)| (*k, v.as_str())))
                .output()
                .expect("runs");
            assert!(out.status.success(), "{}", text(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
        };
        let first = send();
        std::thread::sleep(Duration::from_millis(1300));
        let second = send();
        assert!(first["unsettled"].as_u64().unwrap_or(0) > 0, "the lossy fake lost no answer: {first}");
        assert!(second.get("unsettled").is_none(), "{second}");

        // Each text reached Twilio once, ending with its reference.
        let creates: Vec<serde_json::Value> = std::fs::read_to_string(&log)
            .expect("log")
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["action"] == "Messages.create")
            .collect();
        let bodies: Vec<String> = creates.iter().map(|v| v["body"].as_str().expect("body").to_string()).collect();
        assert_eq!(bodies.len(), bodies.iter().collect::<BTreeSet<_>>().len(), "[{}] a text went twice", t.backend);
        let sent = rows(&t.db, "SELECT message_id, body, provider_id FROM outbox WHERE channel = 'sms' AND sent_at IS NOT NULL").await;
        assert!(sent.len() >= 2, "[{}] too few texts: {}", t.backend, sent.len());
        assert_eq!(sent.len(), creates.len());
        let sids: BTreeMap<String, String> =
            creates.iter().map(|v| (v["body"].as_str().unwrap_or("").to_string(), v["sid"].as_str().unwrap_or("").to_string())).collect();
        for r in &sent {
            assert!(r[1].contains("(ref "), "{r:?}");
            assert_eq!(sids.get(&r[1]), Some(&r[2]), "[{}] {} sent as another text", t.backend, r[0]);
        }
        // Numbers that are not E.164 are refused by Twilio (21211) and marked invalid.
        let refused = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE channel = 'sms' AND status = 'failed' AND error LIKE '%21211%'").await;
        assert_ne!(refused[0][0], "0", "no Chinese number went to Twilio");
        assert_ne!(rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM invalid_contact_points").await[0][0], "0");

        // The callbacks, signed, deliver every text.
        let started = Instant::now();
        loop {
            let waiting = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE channel = 'sms' AND status = 'sent'").await;
            if waiting[0][0] == "0" {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "[{}] {} texts never delivered", t.backend, waiting[0][0]);
            std::thread::sleep(Duration::from_millis(200));
        }
        let delivered = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE channel = 'sms' AND status = 'delivered'").await;
        assert_eq!(delivered[0][0], sent.len().to_string());
        // A callback without Twilio's signature is refused and changes nothing.
        let forged = post(server_port, "/api/v1/channels/twilio/receipts?mid=x", "MessageSid=SM1&MessageStatus=failed");
        assert_eq!(forged, 401);
    })
    .await;
}

/// [`start_server`] on a port chosen before.
fn start_server_on(t: &TestDb, env: &[(&str, String)], port: u16) -> (crate::sms::Running, u16) {
    start_server(t, env, Some(port))
}
