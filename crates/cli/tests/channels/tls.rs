//! TLS to the providers: e-mail by STARTTLS and by SMTPS to aiosmtpd holding a certificate
//! from the test's own authority, and texts to the Twilio fake over HTTPS. The authority is
//! trusted only through `[tls] ca_files`: without it nothing is sent, and a relay that does
//! not offer STARTTLS is never written to in plain text.

use super::*;
use crate::sink::TestCa;

fn tls_channels(dir: &std::path::Path, ca: Option<&TestCa>) -> std::path::PathBuf {
    let path = dir.join("channels-tls.toml");
    let trust = ca.map_or(String::new(), |ca| format!("[tls]\nca_files = [\"{}\"]\n", ca.path("ca.pem")));
    let text = format!(
        "{trust}[dispatcher]\nbatch = 50\nconcurrency = 4\n[sender]\nlender_zh = \"测试银行\"\nlender_en = \"Test Bank\"\n\
         [channels]\nemail = \"smtp\"\n\
         [providers.smtp]\nkind = \"smtp\"\nurl = \"smtp://127.0.0.1:1\"\nfrom = \"催收中心 <collections@bank.example>\"\n\
         timeout_ms = 3000\nconnections = 2\n"
    );
    std::fs::write(&path, text).expect("write channels");
    path
}

/// One pass at `until` (each pass of a test later than the last: a failed attempt waits for
/// its backoff).
fn send_to(t: &TestDb, url: &str, channels: &std::path::Path, until: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
        .args(["--db", t.url.expose(), "send", "--channel", "email", "--until", until, "--json"])
        .env("ARREARS_SMTP_URL", url)
        .env("ARREARS_CHANNELS", channels)
        .env_remove("ARREARS_CHANNELS_CRASH")
        .output()
        .expect("arrears send runs");
    assert!(out.status.success(), "[{}] arrears send: {}", t.backend, text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON counts")
}

async fn errors(t: &TestDb) -> Vec<String> {
    rows(
        &t.db,
        "SELECT DISTINCT error FROM outbox WHERE channel = 'email' AND status = 'queued' AND error <> ''",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

#[tokio::test]
async fn e_mail_goes_by_starttls_and_smtps_only_to_a_trusted_certificate() {
    let ca = TestCa::new();
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 1500, &["2026-11-19"]);
        let starttls = Sink::start_tls(&ca, false);
        let url = format!("smtp://localhost:{}?tls=starttls", starttls.port);

        // Not trusted: nothing is sent, and the error says why.
        let untrusted = send_to(t, &url, &tls_channels(dir.path(), None), "2026-11-20T20:00:00+08:00");
        assert_eq!(untrusted["sent"], 0, "{untrusted}");
        assert!(starttls.messages().is_empty());
        let why = errors(t).await;
        assert!(why.iter().any(|e| e.contains("certificate") || e.contains("UnknownIssuer")), "[{}] {why:?}", t.backend);

        // A relay without STARTTLS is not written to in plain text.
        let plain = Sink::start(false);
        let url_plain = format!("smtp://localhost:{}?tls=starttls", plain.port);
        let refused = send_to(t, &url_plain, &tls_channels(dir.path(), Some(&ca)), "2026-11-20T20:30:00+08:00");
        assert_eq!(refused["sent"], 0, "{refused}");
        assert!(plain.messages().is_empty(), "mail went in plain text");
        assert!(errors(t).await.iter().any(|e| e.contains("does not offer STARTTLS")), "{:?}", errors(t).await);

        // Trusted: some by STARTTLS (one small batch per pass is enough to see it), the rest by SMTPS.
        let trusted = tls_channels(dir.path(), Some(&ca));
        let by_starttls = send_to(t, &url, &trusted, "2026-11-20T21:00:00+08:00");
        assert!(!starttls.messages().is_empty(), "[{}] nothing came by STARTTLS: {by_starttls}", t.backend);
        // Put some back as if never sent, for the second relay.
        let smtps = Sink::start_tls(&ca, true);
        let all = by_status(t).await.get("sent").cloned().unwrap_or_default();
        let moved: Vec<&String> = all.iter().take(3).collect();
        for id in &moved {
            arrears_store::on_pool!(&t.db, p => sqlx::query(
                "UPDATE outbox SET status = 'queued', sent_at = NULL, provider_id = NULL, next_attempt_at = 0 WHERE message_id = $1"
            ).bind(id.as_str()).execute(p).await.expect("requeue").rows_affected());
        }
        let by_smtps = send_to(t, &format!("smtps://localhost:{}", smtps.port), &trusted, "2026-11-20T21:30:00+08:00");
        assert_eq!(by_smtps["sent"], 3, "[{}] {by_smtps}", t.backend);
        let got: BTreeSet<String> = smtps.messages().into_iter().map(|(id, _)| id).collect();
        assert_eq!(got, moved.into_iter().cloned().collect::<BTreeSet<_>>(), "[{}] SMTPS", t.backend);
        let received: Vec<String> = starttls.messages().into_iter().map(|(id, _)| id).collect();
        let distinct: BTreeSet<&String> = received.iter().collect();
        assert_eq!(distinct.len(), received.len(), "[{}] a message arrived twice", t.backend);
        assert_eq!(distinct.into_iter().cloned().collect::<BTreeSet<_>>(), all, "[{}] received and sent differ", t.backend);
    })
    .await;
}

#[tokio::test]
async fn texts_reach_twilio_over_https_only_with_a_trusted_certificate() {
    let ca = TestCa::new();
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 1500, &["2026-11-19"]);
        let log = dir.path().join("twilio-tls.jsonl");
        let (cert, key) = (ca.path("server.pem"), ca.path("server.key"));
        let (_fake, port) = crate::sms::start_fake_with(
            "fake_twilio.py",
            &["--log", log.to_str().expect("utf-8"), "--account-sid", "ACtest", "--auth-token", "twilio-token"],
            &[("FAKE_TLS_CERT", &cert), ("FAKE_TLS_KEY", &key)],
        );
        let channels = |trust: bool| {
            let path = dir.path().join(format!("channels-https-{trust}.toml"));
            let tls = if trust { format!("[tls]\nca_files = [\"{}\"]\n", ca.path("ca.pem")) } else { String::new() };
            std::fs::write(
                &path,
                format!(
                    "{tls}[dispatcher]\nbatch = 20\n[sender]\nlender_en = \"Test Bank\"\nlender_zh = \"测试银行\"\n\
                     [channels]\nsms = \"twilio\"\n[providers.twilio]\nkind = \"twilio\"\nendpoint = \"https://localhost:{port}\"\n\
                     account_sid_env = \"T_TWILIO_SID\"\nauth_token_env = \"T_TWILIO_TOKEN\"\nfrom = \"+15005550006\"\ntimeout_ms = 3000\n"
                ),
            )
            .expect("write");
            path
        };
        let send = |trust: bool, until: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
                .args(["--db", t.url.expose(), "send", "--channel", "sms", "--until", until, "--json"])
                .env("ARREARS_CHANNELS", channels(trust))
                .env("T_TWILIO_SID", "ACtest")
                .env("T_TWILIO_TOKEN", "twilio-token")
                .output()
                .expect("runs");
            assert!(out.status.success(), "{}", text(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
        };
        let creates = || -> usize {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v["action"] == "Messages.create")
                .count()
        };
        // Untrusted: no request reaches Twilio.
        let refused = send(false, "2026-11-20T13:00:00Z");
        assert_eq!(refused["sent"], 0, "{refused}");
        assert_eq!(creates(), 0);
        // Trusted: every text sent is one Twilio took.
        send(true, "2026-11-20T14:00:00Z");
        let sent = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE channel = 'sms' AND sent_at IS NOT NULL").await;
        let sent: usize = sent[0][0].parse().expect("count");
        assert!(sent >= 2, "[{}] too few texts over HTTPS", t.backend);
        assert_eq!(creates(), sent, "[{}] texts taken and marked sent differ", t.backend);
    })
    .await;
}

#[tokio::test]
async fn e_mail_authenticates_to_a_relay_after_starttls() {
    let ca = TestCa::new();
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 1500, &["2026-11-19"]);
        let relay = Sink::start_auth(&ca, "collections", "s3cret-Pa55");
        let url = format!("smtp://localhost:{}?tls=starttls", relay.port);
        let channels = tls_channels(dir.path(), Some(&ca));
        let text = std::fs::read_to_string(&channels).expect("channels");
        std::fs::write(
            &channels,
            format!("{text}username_env = \"T_SMTP_USER\"\npassword_env = \"T_SMTP_PASSWORD\"\n"),
        )
        .expect("write");
        let pass = |password: &str, until: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
                .args(["--db", t.url.expose(), "send", "--channel", "email", "--until", until, "--json"])
                .env("ARREARS_SMTP_URL", &url)
                .env("ARREARS_CHANNELS", &channels)
                .env("T_SMTP_USER", "collections")
                .env("T_SMTP_PASSWORD", password)
                .output()
                .expect("runs");
            assert!(out.status.success(), "{}", crate::common::text(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
        };
        // A wrong password: the relay refuses the session, nothing is sent, the error says so.
        let refused = pass("wrong", "2026-11-20T20:00:00+08:00");
        assert_eq!(refused["sent"], 0, "{refused}");
        assert!(relay.messages().is_empty());
        let why = errors(t).await;
        assert!(why.iter().any(|e| e.contains("AUTH") && e.contains("535")), "[{}] {why:?}", t.backend);
        // The right one: every message due goes, once.
        pass("s3cret-Pa55", "2026-11-20T21:00:00+08:00");
        let received: Vec<String> = relay.messages().into_iter().map(|(id, _)| id).collect();
        let distinct: BTreeSet<String> = received.iter().cloned().collect();
        assert_eq!(received.len(), distinct.len(), "[{}] a message arrived twice", t.backend);
        let sent = by_status(t).await.get("sent").cloned().unwrap_or_default();
        assert!(!sent.is_empty(), "[{}] nothing sent", t.backend);
        assert_eq!(distinct, sent, "[{}] received and sent differ", t.backend);
    })
    .await;
}
