//! SMS through the Alibaba fake (`tests/channels/fake_aliyun.py`), which checks each
//! request's ACS3 signature and nonce as Alibaba documents them, logs what it accepts, and
//! pushes SmsReport receipts to `arrears serve`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{generated_book, ok, rows, text};
use crate::sink::{fakes_dir, free_port};
use crate::support::{TestDb, each_backend};

/// A child process killed when dropped.
pub(crate) struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a fake and returns it with the port it printed.
pub(crate) fn start_fake(script: &str, args: &[&str]) -> (Running, u16) {
    start_fake_with(script, args, &[])
}

/// [`start_fake`] with environment variables (FAKE_TLS_CERT and FAKE_TLS_KEY: HTTPS).
pub(crate) fn start_fake_with(script: &str, args: &[&str], env: &[(&str, &str)]) -> (Running, u16) {
    let mut child = Command::new("python3")
        .arg(fakes_dir().join(script))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("a line");
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    (Running(child), port)
}

/// `arrears serve --no-send` on `port` (a free one when `None`), with the environment given.
pub(crate) fn start_server(t: &TestDb, env: &[(&str, String)], port: Option<u16>) -> (Running, u16) {
    let port = port.unwrap_or_else(free_port);
    let child = Command::new(env!("CARGO_BIN_EXE_arrears"))
        .args(["--db", t.url.expose(), "serve", "--no-send", "--addr", &format!("127.0.0.1:{port}")])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("arrears serve starts");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "arrears serve did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Running(child), port)
}

/// POSTs a body and returns the status code.
pub(crate) fn post(port: u16, path: &str, body: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{answer}"))
}

fn channels_file(dir: &Path, fake_port: u16) -> std::path::PathBuf {
    let path = dir.join("channels-sms.toml");
    let text = format!(
        "[dispatcher]\nlease_seconds = 1\nbatch = 20\nconcurrency = 4\n\
         [sender]\nlender_zh = \"测试银行\"\nlender_en = \"Test Bank\"\n\
         [channels]\nsms = \"aliyun\"\n\
         [providers.aliyun]\nkind = \"aliyun\"\nendpoint = \"http://127.0.0.1:{fake_port}\"\n\
         access_key_id_env = \"T_ALIYUN_AK\"\naccess_key_secret_env = \"T_ALIYUN_SK\"\nreceipt_token_env = \"T_ALIYUN_TOKEN\"\n\
         sign_name = \"测试银行\"\ntimeout_ms = 3000\n\
         templates = {{ reminder_soft = \"SMS_1\", reminder_firm = \"SMS_2\", promise_broken = \"SMS_3\", company_reminder = \"SMS_4\" }}\n"
    );
    std::fs::write(&path, text).expect("write channels file");
    path
}

fn env(channels: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("ARREARS_CHANNELS", channels.display().to_string()),
        ("T_ALIYUN_AK", "LTAI-test".into()),
        ("T_ALIYUN_SK", "secret-test".into()),
        ("T_ALIYUN_TOKEN", "receipt-token".into()),
    ]
}

fn send(t: &TestDb, env: &[(&str, String)], until: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
        .args(["--db", t.url.expose(), "send", "--channel", "sms", "--until", until, "--json"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("ARREARS_CHANNELS_CRASH")
        .output()
        .expect("arrears send runs");
    assert!(out.status.success(), "[{}] arrears send: {}", t.backend, text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The fake's log lines of one action.
fn logged(log: &Path, action: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["action"] == action)
        .collect()
}

#[tokio::test]
async fn sms_reach_alibaba_once_signed_and_their_receipts_come_back() {
    each_backend(async |t: &TestDb| {
        let (dir, book) = generated_book(3000, 7, "2026-11-19");
        ok(t, &["import", book.to_str().expect("utf-8")]);
        ok(t, &["batch", "--date", "2026-11-19"]);
        let log = dir.path().join("aliyun.jsonl");
        // A placeholder port for the server comes first: the fake needs the receipt URL.
        let channels_probe = channels_file(dir.path(), 1);
        let (_server, server_port) = start_server(t, &env(&channels_probe), None);
        let receipts = format!("http://127.0.0.1:{server_port}/api/v1/channels/aliyun/receipts?token=receipt-token");
        let (_fake, fake_port) = start_fake(
            "fake_aliyun.py",
            &[
                "--log", log.to_str().expect("utf-8"), "--access-key-id", "LTAI-test", "--access-key-secret", "secret-test",
                "--receipts", &receipts, "--invalid-prefix", "154", "--undeliverable-prefix", "199", "--lossy-every", "5",
            ],
        );
        let channels = channels_file(dir.path(), fake_port);
        let env = env(&channels);

        // A missing secret stops the dispatcher before it claims anything.
        let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .args(["--db", t.url.expose(), "send", "--channel", "sms"])
            .env("ARREARS_CHANNELS", &channels)
            .env("T_ALIYUN_AK", "LTAI-test")
            .env_remove("T_ALIYUN_SK")
            .output()
            .expect("runs");
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("T_ALIYUN_SK"), "{}", text(&out.stderr));
        let queued_before = rows(&t.db, "SELECT message_id FROM outbox WHERE channel = 'sms' AND status <> 'queued'").await;
        assert!(queued_before.is_empty(), "{queued_before:?}");

        let until = "2026-11-20T21:00:00+08:00";
        let first = send(t, &env, until);
        // Answers the lossy fake never gave are settled after the lease by asking Alibaba.
        std::thread::sleep(Duration::from_millis(1300));
        let second = send(t, &env, until);
        assert!(first["unsettled"].as_u64().unwrap_or(0) > 0, "the lossy fake lost no answer: {first}");
        assert_eq!(second["unsettled"].as_u64().unwrap_or(0), 0, "{second}");

        // Each accepted message reached Alibaba once, with its id as OutId.
        let sends = logged(&log, "SendSms");
        let out_ids: Vec<String> = sends.iter().map(|v| v["out_id"].as_str().expect("out_id").to_string()).collect();
        let distinct: BTreeSet<String> = out_ids.iter().cloned().collect();
        assert_eq!(out_ids.len(), distinct.len(), "[{}] an SMS went twice", t.backend);
        assert!(distinct.len() >= 10, "too few SMS: {}", distinct.len());
        for v in &sends {
            let params: serde_json::Value = serde_json::from_str(v["template_param"].as_str().expect("param")).expect("JSON");
            assert_eq!(params["lender"], "测试银行");
            assert!(params["name"].as_str().is_some_and(|n| !n.is_empty()), "{params}");
        }

        // Receipts arrive: every accepted message ends delivered or failed.
        let started = Instant::now();
        let status: BTreeMap<String, (String, String)> = loop {
            let status: BTreeMap<String, (String, String)> = rows(&t.db, "SELECT message_id, status, error FROM outbox WHERE channel = 'sms'")
                .await
                .into_iter()
                .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
                .collect();
            let waiting = distinct.iter().filter(|id| status[*id].0 == "sent").count();
            if waiting == 0 || started.elapsed() > Duration::from_secs(20) {
                break status;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        for id in &distinct {
            let (s, e) = &status[id];
            assert!(s == "delivered" || (s == "failed" && e.contains("MK:")), "[{}] {id}: {s} {e}", t.backend);
        }
        // Numbers Alibaba calls illegal failed at once, and are marked invalid for strategies.
        let illegal: Vec<&String> =
            status.iter().filter(|(_, (s, e))| s == "failed" && e.contains("MOBILE_NUMBER_ILLEGAL")).map(|(id, _)| id).collect();
        assert!(!illegal.is_empty(), "no number starting 154 among the SMS");
        let marked = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM invalid_contact_points WHERE field = 'phone'").await;
        let borrowers = rows(
            &t.db,
            "SELECT CAST(COUNT(DISTINCT borrower_id) AS TEXT) FROM outbox WHERE error LIKE '%MOBILE_NUMBER_ILLEGAL%'",
        )
        .await;
        assert_eq!(marked[0][0], borrowers[0][0], "one invalid phone per borrower refused");
        let delivered: BTreeSet<&String> = status.iter().filter(|(_, (s, _))| s == "delivered").map(|(id, _)| id).collect();
        assert!(!delivered.is_empty());

        // The next batch sees those phones invalid: the strategy reads contact.phone_valid, and
        // an SMS step for them is skipped with the reason, in the queue.
        let strategy = dir.path().join("daily.toml");
        std::fs::write(
            &strategy,
            "name = \"daily\"\nversion = 2\neffective_from = \"2026-11-20\"\n\
             [[segment]]\nname = \"no_phone\"\nwhen = '!contact.phone_valid'\n\
             [[segment.step]]\nname = \"sms_anyway\"\nkind = \"sms\"\ndpd = 1\ntemplate = \"reminder_soft\"\nrepeat_every_days = 1\n\
             [[segment]]\nname = \"rest\"\nwhen = 'true'\n\
             [[segment.step]]\nname = \"sms_daily\"\nkind = \"sms\"\ndpd = 1\ntemplate = \"reminder_soft\"\nrepeat_every_days = 1\n",
        )
        .expect("write strategy");
        ok(t, &["strategy", "install", strategy.to_str().expect("utf-8"), "--config", "../../config"]);
        ok(t, &["batch", "--date", "2026-11-20"]);
        let segments = rows(
            &t.db,
            "SELECT DISTINCT s.segment FROM case_treatment s JOIN cases c ON c.case_id = s.case_id \
             JOIN invalid_contact_points i ON i.borrower_id = c.borrower_id WHERE c.status = 'open'",
        )
        .await;
        assert_eq!(segments, vec![vec!["no_phone".to_string()]]);
        let skipped = rows(
            &t.db,
            "SELECT t.status, COALESCE(t.reason, '') FROM tasks t JOIN cases c ON c.case_id = t.case_id \
             JOIN invalid_contact_points i ON i.borrower_id = c.borrower_id \
             WHERE t.created_on = '2026-11-20' AND t.kind IN ('sms', 'voice_bot')",
        )
        .await;
        assert!(!skipped.is_empty(), "no SMS step for a borrower with an invalid phone on the 20th");
        for r in &skipped {
            assert_eq!(r[0], "blocked", "{r:?}");
            assert!(r[1].contains("no valid phone"), "{r:?}");
        }

        // A receipt without the token changes nothing; one for an unknown message is a 404.
        let some = delivered.iter().next().expect("one");
        let forged = format!(r#"[{{"out_id":"{some}","biz_id":"1","success":false,"err_code":"X","err_msg":"x"}}]"#);
        assert_eq!(post(server_port, "/api/v1/channels/aliyun/receipts?token=wrong", &forged), 401);
        assert_eq!(post(server_port, "/api/v1/channels/aliyun/receipts", &forged), 401);
        let unknown = r#"[{"out_id":"T:nobody","biz_id":"2","success":true,"err_code":"DELIVERED","err_msg":""}]"#;
        assert_eq!(post(server_port, "/api/v1/channels/aliyun/receipts?token=receipt-token", unknown), 404);
        let after = rows(&t.db, &format!("SELECT status FROM outbox WHERE message_id = '{some}'")).await;
        assert_eq!(after[0][0], "delivered");
        // Every delivery is in the audit log.
        let audited = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM audit_entries WHERE kind = 'message.delivered'").await;
        assert_eq!(audited[0][0], delivered.len().to_string());
    })
    .await;
}
