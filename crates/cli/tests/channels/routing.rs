//! One channel, two providers: texts to borrowers under the us contact pack go through
//! Twilio, the others through Alibaba (`[routes.us] sms = "twilio"`); each reaches its own
//! provider once.

use super::*;
use crate::sms::start_fake;

#[tokio::test]
async fn texts_go_through_their_pack_s_provider_once() {
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 3000, &["2026-11-19"]);
        let aliyun_log = dir.path().join("route-aliyun.jsonl");
        let twilio_log = dir.path().join("route-twilio.jsonl");
        let (_aliyun, aliyun_port) = start_fake(
            "fake_aliyun.py",
            &["--log", aliyun_log.to_str().expect("utf-8"), "--access-key-id", "LTAI-test", "--access-key-secret", "secret-test"],
        );
        let (_twilio, twilio_port) = start_fake(
            "fake_twilio.py",
            &["--log", twilio_log.to_str().expect("utf-8"), "--account-sid", "ACtest", "--auth-token", "twilio-token"],
        );
        let channels = dir.path().join("channels-routes.toml");
        std::fs::write(
            &channels,
            format!(
                "[dispatcher]\nbatch = 50\n[sender]\nlender_zh = \"测试银行\"\nlender_en = \"Test Bank\"\n\
                 [channels]\nsms = \"aliyun\"\n[routes.us]\nsms = \"twilio\"\n\
                 [providers.aliyun]\nkind = \"aliyun\"\nendpoint = \"http://127.0.0.1:{aliyun_port}\"\n\
                 access_key_id_env = \"T_ALIYUN_AK\"\naccess_key_secret_env = \"T_ALIYUN_SK\"\nsign_name = \"测试银行\"\n\
                 templates = {{ reminder_soft = \"SMS_1\", reminder_firm = \"SMS_2\", promise_broken = \"SMS_3\", company_reminder = \"SMS_4\", due_reminder = \"SMS_5\", penalty_notice = \"SMS_6\" }}\n\
                 [providers.twilio]\nkind = \"twilio\"\nendpoint = \"http://127.0.0.1:{twilio_port}\"\n\
                 account_sid_env = \"T_TWILIO_SID\"\nauth_token_env = \"T_TWILIO_TOKEN\"\nfrom = \"+15005550006\"\n"
            ),
        )
        .expect("write");
        let send = |until: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
                .args(["--db", t.url.expose(), "send", "--channel", "sms", "--until", until, "--json"])
                .env("ARREARS_CHANNELS", &channels)
                .envs([("T_ALIYUN_AK", "LTAI-test"), ("T_ALIYUN_SK", "secret-test")])
                .envs([("T_TWILIO_SID", "ACtest"), ("T_TWILIO_TOKEN", "twilio-token")])
                .output()
                .expect("runs");
            assert!(out.status.success(), "[{}] {}", t.backend, text(&out.stderr));
        };
        // The evening in Beijing, then the afternoon in America.
        send("2026-11-20T20:00:00+08:00");
        send("2026-11-20T16:00:00-06:00");

        let sent = rows(&t.db, "SELECT o.message_id, o.provider, b.timezone FROM outbox o JOIN borrowers b ON b.borrower_id = o.borrower_id \
             WHERE o.channel = 'sms' AND o.sent_at IS NOT NULL").await;
        let by = |provider: &str| -> BTreeSet<String> {
            sent.iter().filter(|r| r[1] == provider).map(|r| r[0].clone()).collect()
        };
        let (via_aliyun, via_twilio) = (by("aliyun"), by("twilio"));
        assert!(!via_aliyun.is_empty() && !via_twilio.is_empty(), "[{}] {} by Alibaba, {} by Twilio", t.backend, via_aliyun.len(), via_twilio.len());
        assert_eq!(via_aliyun.len() + via_twilio.len(), sent.len(), "[{}] a text went through neither", t.backend);
        for r in &sent {
            let american = r[2].starts_with("America/");
            assert_eq!(r[1] == "twilio", american, "[{}] {} ({}) went through {}", t.backend, r[0], r[2], r[1]);
        }
        let logged = |log: &std::path::Path, action: &str, field: &str| -> Vec<String> {
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v["action"] == action)
                .map(|v| v[field].as_str().unwrap_or_default().to_string())
                .collect()
        };
        let out_ids = logged(&aliyun_log, "SendSms", "out_id");
        assert_eq!(out_ids.len(), via_aliyun.len(), "[{}] Alibaba took a text twice or missed one", t.backend);
        assert_eq!(out_ids.into_iter().collect::<BTreeSet<_>>(), via_aliyun);
        let bodies = logged(&twilio_log, "Messages.create", "body");
        assert_eq!(bodies.len(), via_twilio.len(), "[{}] Twilio took a text twice or missed one", t.backend);
        // Each text Twilio took is one the outbox holds as sent through it, word for word.
        let stored: BTreeSet<String> = rows(&t.db, "SELECT body FROM outbox WHERE channel = 'sms' AND provider = 'twilio' AND sent_at IS NOT NULL")
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert_eq!(bodies.into_iter().collect::<BTreeSet<_>>(), stored, "[{}] Twilio's texts", t.backend);
    })
    .await;
}
