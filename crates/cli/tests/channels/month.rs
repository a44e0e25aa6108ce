//! Thirty business dates end to end: the batch of each date, then the dispatcher's passes the
//! next day (the evening in Beijing, the afternoon in America), e-mail to aiosmtpd, texts to
//! the Alibaba fake (some numbers refused, some calls failing for a while), letters to a
//! folder. At the end every message of a routed channel reached its provider exactly once,
//! or ended refused, failed, expired or cancelled with its reason.

use super::*;
use crate::letters::pdfs_in;
use crate::sms::start_fake;

fn month_channels(dir: &std::path::Path, fake_port: u16, spool: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("channels-month.toml");
    let text = format!(
        "[dispatcher]\nlease_seconds = 1\nbatch = 50\nconcurrency = 4\ngive_up_after_hours = 24\nbackoff_base_ms = 1000\nbackoff_cap_ms = 60000\n\
         [sender]\nlender_zh = \"测试银行\"\nlender_en = \"Test Bank\"\n\
         [channels]\nemail = \"smtp\"\nsms = \"aliyun\"\nletter = \"print\"\n\
         [providers.smtp]\nkind = \"smtp\"\nurl = \"smtp://127.0.0.1:1\"\nfrom = \"催收中心 <collections@bank.example>\"\ntimeout_ms = 3000\nconnections = 2\n\
         [providers.aliyun]\nkind = \"aliyun\"\nendpoint = \"http://127.0.0.1:{fake_port}\"\n\
         access_key_id_env = \"T_ALIYUN_AK\"\naccess_key_secret_env = \"T_ALIYUN_SK\"\nreceipt_token_env = \"T_ALIYUN_TOKEN\"\n\
         sign_name = \"测试银行\"\ntimeout_ms = 3000\n\
         templates = {{ reminder_soft = \"SMS_1\", reminder_firm = \"SMS_2\", promise_broken = \"SMS_3\", company_reminder = \"SMS_4\", due_reminder = \"SMS_5\", penalty_notice = \"SMS_6\" }}\n\
         [providers.print]\nkind = \"letters\"\ndir = \"{}\"\n",
        spool.display()
    );
    std::fs::write(&path, text).expect("write channels file");
    path
}

#[tokio::test]
async fn thirty_business_dates_every_message_goes_once_or_ends_with_its_reason() {
    super::letters::ensure_fonts();
    each_backend(async |t: &TestDb| {
        let (dir, book) = generated_book(1000, 11, "2026-11-19");
        ok(t, &["import", book.to_str().expect("utf-8")]);
        let sink = Sink::start(false);
        let log = dir.path().join("aliyun-month.jsonl");
        let (_fake, fake_port) = start_fake(
            "fake_aliyun.py",
            &[
                "--log",
                log.to_str().expect("utf-8"),
                "--access-key-id",
                "LTAI-test",
                "--access-key-secret",
                "secret-test",
                "--invalid-prefix",
                "154",
                "--transient-every",
                "9",
            ],
        );
        let spool = dir.path().join("letters");
        let channels = month_channels(dir.path(), fake_port, &spool);
        let pass = |until: String| {
            let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
                .args(["--db", t.url.expose(), "send", "--until", &until, "--json"])
                .env("ARREARS_SMTP_URL", sink.url())
                .env("ARREARS_CHANNELS", &channels)
                .env("T_ALIYUN_AK", "LTAI-test")
                .env("T_ALIYUN_SK", "secret-test")
                .env("T_ALIYUN_TOKEN", "receipt-token")
                .env_remove("ARREARS_CHANNELS_CRASH")
                .output()
                .expect("arrears send runs");
            assert!(out.status.success(), "[{}] send --until {until}: {}", t.backend, text(&out.stderr));
        };
        let first: chrono::NaiveDate = "2026-11-19".parse().unwrap();
        let mut last = first;
        for k in 0..30 {
            let date = first + chrono::Duration::days(k);
            last = date;
            ok(t, &["batch", "--date", &date.to_string()]);
            let next = date + chrono::Duration::days(1);
            pass(format!("{next}T20:00:00+08:00"));
            pass(format!("{next}T16:00:00-06:00"));
        }
        // Long after the last date: whatever could not go has expired.
        pass(format!("{}T12:00:00Z", last + chrono::Duration::days(4)));

        // E-mail: what the server holds is what the outbox says went, each once.
        let email_sent: BTreeSet<String> =
            rows(&t.db, "SELECT message_id FROM outbox WHERE channel = 'email' AND sent_at IS NOT NULL")
                .await
                .into_iter()
                .map(|r| r[0].clone())
                .collect();
        let received: Vec<String> = sink.messages().into_iter().map(|(id, _)| id).collect();
        let distinct: BTreeSet<String> = received.iter().cloned().collect();
        assert_eq!(received.len(), distinct.len(), "[{}] an e-mail arrived twice", t.backend);
        assert_eq!(distinct, email_sent, "[{}] e-mails received and marked sent differ", t.backend);
        assert!(
            email_sent.len() >= 50,
            "[{}] too few e-mails to mean anything: {}",
            t.backend,
            email_sent.len()
        );
        assert!(
            email_sent.iter().any(|id| id.starts_with("R:")),
            "[{}] no reminder went by e-mail",
            t.backend
        );

        // Texts: what Alibaba took is what the outbox says went, each once.
        let sms_sent: BTreeSet<String> =
            rows(&t.db, "SELECT message_id FROM outbox WHERE channel = 'sms' AND sent_at IS NOT NULL")
                .await
                .into_iter()
                .map(|r| r[0].clone())
                .collect();
        let taken: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["action"] == "SendSms")
            .map(|v| v["out_id"].as_str().expect("out_id").to_string())
            .collect();
        let taken_set: BTreeSet<String> = taken.iter().cloned().collect();
        assert_eq!(taken.len(), taken_set.len(), "[{}] a text went twice", t.backend);
        assert_eq!(taken_set, sms_sent, "[{}] texts taken and marked sent differ", t.backend);
        assert!(sms_sent.len() >= 50, "[{}] too few texts: {}", t.backend, sms_sent.len());

        // Letters: one file per letter printed.
        let letters_sent =
            rows(&t.db, "SELECT message_id FROM outbox WHERE channel = 'letter' AND sent_at IS NOT NULL")
                .await;
        let files: usize = std::fs::read_dir(&spool)
            .map(|days| {
                days.map(|d| pdfs_in(&d.expect("day").path())).sum()
            })
            .unwrap_or(0);
        assert_eq!(files, letters_sent.len(), "[{}] letter files and letters printed differ", t.backend);

        // Nothing of a routed channel is left waiting, and every end that is not a send says why.
        let left = rows(
            &t.db,
            "SELECT message_id, status, send_at FROM outbox \
             WHERE channel IN ('email', 'sms', 'letter') AND status IN ('queued', 'sending')",
        )
        .await;
        assert!(left.is_empty(), "[{}] still waiting: {:?}", t.backend, &left[..left.len().min(5)]);
        let silent = rows(
            &t.db,
            "SELECT message_id, status FROM outbox WHERE channel IN ('email', 'sms', 'letter') \
             AND status IN ('refused', 'failed', 'expired', 'cancelled') AND error = ''",
        )
        .await;
        assert!(
            silent.is_empty(),
            "[{}] ended without a reason: {:?}",
            t.backend,
            &silent[..silent.len().min(5)]
        );
        let ends: BTreeMap<String, usize> =
            rows(&t.db, "SELECT status FROM outbox WHERE channel IN ('email', 'sms', 'letter')")
                .await
                .into_iter()
                .fold(BTreeMap::new(), |mut m, r| {
                    *m.entry(r[0].clone()).or_default() += 1;
                    m
                });
        eprintln!("[{}] thirty dates: {ends:?}", t.backend);
        // A case's history starts with the reminders its loans had before it opened.
        let reminded = rows(&t.db, "SELECT c.case_id, o.message_id FROM outbox o JOIN case_loans cl ON cl.loan_id = o.loan_id \
             JOIN cases c ON c.case_id = cl.case_id WHERE o.case_id IS NULL AND o.message_id LIKE 'R:%' ORDER BY c.case_id LIMIT 1").await;
        assert!(!reminded.is_empty(), "[{}] no borrower in collection was reminded before", t.backend);
        let shown = common::json(t, &["case", "show", &reminded[0][0], "--json"]);
        let ids: Vec<&str> = shown["messages"].as_array().expect("messages").iter().filter_map(|m| m["message_id"].as_str()).collect();
        assert!(ids.contains(&reminded[0][1].as_str()), "[{}] {} not in the history of {}: {ids:?}", t.backend, reminded[0][1], reminded[0][0]);
        // The refused numbers failed at Alibaba and were not tried again.
        assert!(
            ends.get("failed").copied().unwrap_or(0) > 0,
            "[{}] no number was refused: {ends:?}",
            t.backend
        );
    })
    .await;
}
