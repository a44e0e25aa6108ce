//! Early-warning alerts reach the departments their rules name: WeCom and DingTalk robots
//! (the fake in `tests/channels/fake_robots.py` checks the key and DingTalk's signature) and
//! e-mail, each alert once per target.

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::{generated_book, ok, rows, text};
use crate::sink::Sink;
use crate::sms::start_fake;
use crate::support::{TestDb, each_backend};

#[tokio::test]
async fn alerts_reach_their_departments_robots_and_mailboxes_once() {
    each_backend(async |t: &TestDb| {
        let (dir, book) = generated_book(2000, 3, "2026-11-19");
        ok(t, &["import", book.to_str().expect("utf-8")]);
        ok(t, &["batch", "--date", "2026-11-19"]);
        let log = dir.path().join("robots.jsonl");
        let (_fake, port) = start_fake(
            "fake_robots.py",
            &[
                "--log", log.to_str().expect("utf-8"), "--wecom-key", "wk-1", "--dingtalk-token", "dt-1",
                "--dingtalk-secret", "SECdt", "--per-minute", "200",
            ],
        );
        let sink = Sink::start(false);
        let channels = dir.path().join("channels-departments.toml");
        std::fs::write(
            &channels,
            format!(
                "[channels]\nemail = \"smtp\"\n\
                 [providers.smtp]\nkind = \"smtp\"\nurl = \"{}\"\nfrom = \"预警 <alerts@bank.example>\"\n\
                 [providers.wecom_risk]\nkind = \"wecom\"\nurl = \"http://127.0.0.1:{port}/cgi-bin/webhook/send\"\nkey_env = \"T_WECOM_KEY\"\n\
                 [providers.ding]\nkind = \"dingtalk\"\nurl = \"http://127.0.0.1:{port}/robot/send\"\ntoken_env = \"T_DING_TOKEN\"\nsecret_env = \"T_DING_SECRET\"\n\
                 [departments.risk]\nrobots = [\"wecom_risk\", \"ding\"]\nemails = [\"risk@bank.example\"]\nemail_provider = \"smtp\"\n\
                 [departments.collections]\nrobots = [\"ding\"]\n",
                sink.url()
            ),
        )
        .expect("write");
        let send = || {
            let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
                .args(["--db", t.url.expose(), "send", "--until", "2026-11-19T23:00:00+08:00", "--json"])
                .env("ARREARS_CHANNELS", &channels)
                .env("T_WECOM_KEY", "wk-1")
                .env("T_DING_TOKEN", "dt-1")
                .env("T_DING_SECRET", "SECdt")
                .output()
                .expect("runs");
            assert!(out.status.success(), "{}", text(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
        };
        let first = send();

        // What each department should hear of: every alert not closed naming it.
        let alerts = rows(&t.db, "SELECT CAST(alert_id AS TEXT), departments FROM alerts WHERE status <> 'closed'").await;
        let for_dept = |d: &str| alerts.iter().filter(|a| a[1].split(',').any(|x| x == d)).count();
        let (risk, collections) = (for_dept("risk"), for_dept("collections"));
        assert!(risk > 0 && collections > 0, "the book raised no alert for risk ({risk}) or collections ({collections})");

        let mut heard: BTreeMap<(String, String), usize> = BTreeMap::new();
        for line in std::fs::read_to_string(&log).expect("robot log").lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            for r in v["refs"].as_array().expect("refs") {
                *heard.entry((v["robot"].as_str().expect("robot").to_string(), r.as_str().expect("ref").to_string())).or_default() += 1;
            }
        }
        for a in &alerts {
            let r = format!("alert:{}", a[0]);
            let depts: Vec<&str> = a[1].split(',').collect();
            let wecom = usize::from(depts.contains(&"risk"));
            let ding = wecom + usize::from(depts.contains(&"collections"));
            assert_eq!(heard.get(&("wecom".into(), r.clone())).copied().unwrap_or(0), wecom, "[{}] {r} {depts:?} on WeCom", t.backend);
            assert_eq!(heard.get(&("dingtalk".into(), r.clone())).copied().unwrap_or(0), ding, "[{}] {r} {depts:?} on DingTalk", t.backend);
        }
        let deliveries = 2 * risk + collections + risk; // two robots and one mailbox for risk
        assert_eq!(first["alerts_pushed"].as_u64(), Some(deliveries as u64), "{first}");
        let mails = sink.messages();
        assert_eq!(mails.len(), risk.div_ceil(15), "one e-mail per bundle of 15");
        assert!(mails.iter().all(|(_, m)| m.contains("X-RcptTo: risk@bank.example")));

        // Nothing goes twice; each push is in the audit log.
        let second = send();
        assert!(second.get("alerts_pushed").is_none(), "{second}");
        assert_eq!(sink.messages().len(), mails.len());
        let pushed = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM alert_pushes WHERE status = 'sent'").await;
        assert_eq!(pushed[0][0], deliveries.to_string());
        let audited = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM audit_entries WHERE kind = 'alert.pushed'").await;
        assert!(audited[0][0] != "0");
    })
    .await;
}
