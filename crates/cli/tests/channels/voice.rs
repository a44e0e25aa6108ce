//! The voice robot's call lists and the results it sends back: lists per day and queue with
//! each call's allowed window in the borrower's local time; results logged as actions through
//! the contact policy, a call outside the window recorded as a violation.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::{generated_book, ok, rows, text};
use crate::support::{TestDb, each_backend};

#[tokio::test]
async fn call_lists_carry_their_windows_and_results_come_back_as_checked_actions() {
    each_backend(async |t: &TestDb| {
        let (dir, book) = generated_book(3000, 7, "2026-11-19");
        ok(t, &["import", book.to_str().expect("utf-8")]);
        ok(t, &["batch", "--date", "2026-11-19"]);
        let lists = dir.path().join("calls");
        let channels = dir.path().join("channels-voice.toml");
        std::fs::write(
            &channels,
            format!(
                "[channels]\nvoice_bot = \"dialer\"\n[providers.dialer]\nkind = \"voice_files\"\ndir = \"{}\"\n",
                lists.display()
            ),
        )
        .expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_arrears"))
            .args(["--db", t.url.expose(), "send", "--channel", "voice_bot", "--until", "2026-11-20T10:00:00+08:00", "--json"])
            .env("ARREARS_CHANNELS", &channels)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let sent: BTreeSet<String> =
            rows(&t.db, "SELECT message_id FROM outbox WHERE channel = 'voice_bot' AND status = 'sent'").await.into_iter().map(|r| r[0].clone()).collect();
        assert!(sent.len() >= 2, "[{}] too few calls: {sent:?}", t.backend);

        // Every listed call once, with its window: 10:00 (the pass) to 22:00 Beijing time.
        let folder = lists.join("2026-11-20").join("voice_reminder");
        let mut listed = Vec::new();
        for entry in std::fs::read_dir(&folder).expect("the day's queue folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                let lines: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("JSON");
                assert!(path.with_extension("csv").exists(), "{} has no CSV beside it", path.display());
                listed.extend(lines);
            }
        }
        let ids: Vec<String> = listed.iter().map(|l| l["message_id"].as_str().expect("id").to_string()).collect();
        assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), sent);
        assert_eq!(ids.len(), sent.len(), "a call listed twice");
        let beijing: Vec<&serde_json::Value> = listed.iter().filter(|l| l["timezone"] == "Asia/Shanghai").collect();
        assert!(!beijing.is_empty());
        for l in &beijing {
            assert_eq!((l["window_from"].as_str(), l["window_until"].as_str()), (Some("10:00"), Some("22:00")), "{l}");
            assert!(l["number_ref"].as_str().is_some_and(|r| r.starts_with("bidx:")), "{l}");
            assert!(l["number_masked"].as_str().is_some_and(|m| m.contains('*')), "{l}");
            assert!(l["script"].as_str().is_some_and(|s| !s.is_empty() && !s.contains('{')), "{l}");
        }

        // Results: one inside the window, one at 22:30 (a violation), then bad input.
        let (inside, late) = (beijing[0]["message_id"].as_str().expect("id"), beijing[1]["message_id"].as_str().expect("id"));
        let results = dir.path().join("results.csv");
        std::fs::write(
            &results,
            format!(
                "message_id,called_at,outcome,note\n{inside},2026-11-20T10:30:00+08:00,no_answer,robot\n{late},2026-11-20T22:30:00+08:00,no_answer,robot\n"
            ),
        )
        .expect("write");
        let actions_before = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM actions").await[0][0].clone();
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, format!("message_id,called_at,outcome\n{inside},2026-11-20T10:30:00+08:00,no_answer\nT:nobody,2026-11-20T10:31:00+08:00,no_answer\n")).expect("write");
        let out = crate::common::arrears(t, &["channel", "import-calls", bad.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("bad.csv:3:") && text(&out.stderr).contains("T:nobody"), "{}", text(&out.stderr));
        assert_eq!(rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM actions").await[0][0], actions_before, "a rejected file logged something");

        let r = crate::common::json(t, &["channel", "import-calls", results.to_str().expect("utf-8"), "--json"]);
        assert_eq!((r["logged"].as_u64(), r["violations"].as_u64()), (Some(1), Some(1)), "{r}");
        let logged = rows(&t.db, "SELECT CAST(allowed AS TEXT), policy FROM actions WHERE channel = 'voice_bot' ORDER BY at_utc").await;
        assert_eq!(logged.len(), 2);
        assert_eq!(logged[0][0], "1");
        assert_eq!(logged[1][0], "0");
        assert!(logged[1][1].contains("CN-TIME-01"), "{:?}", logged[1]);
        // Read twice, nothing changes.
        let again = crate::common::json(t, &["channel", "import-calls", results.to_str().expect("utf-8"), "--json"]);
        assert_eq!(again["repeated"].as_u64(), Some(2), "{again}");
        assert_eq!(rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM actions WHERE channel = 'voice_bot'").await[0][0], "2");
    })
    .await;
}
