//! Bounces: delivery status notifications, as Postfix writes them into the Maildir of the
//! bounce addresses, read by `arrears channel import-bounces`: a permanent failure marks the
//! e-mail bounced, a mailbox that does not exist marks the address invalid, anything else is
//! reported and changes nothing; a second import changes nothing.

use super::*;

fn dsn(id: &str, action: &str, status: &str) -> String {
    include_str!("../../../../tests/channels/postfix_dsn.eml")
        .replace("{LEFT}", &id.replace(':', "."))
        .replace("{ID}", id)
        .replace("{ACTION}", action)
        .replace("{STATUS}", status)
}

#[tokio::test]
async fn bounces_mark_messages_bounced_and_unknown_mailboxes_invalid_once() {
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 1500, &["2026-11-19"]);
        let sink = Sink::start(false);
        let channels = channels_file(dir.path(), 60, 50, false);
        send(t, &sink, &channels, &["--until", "2026-11-20T20:00:00+08:00", "--channel", "email"]);
        let sent = rows(&t.db, "SELECT o.message_id, o.borrower_id FROM outbox o WHERE o.channel = 'email' AND o.status = 'sent' \
             AND o.case_id IS NOT NULL ORDER BY o.message_id").await;
        assert!(sent.len() >= 3, "[{}] too few e-mails sent: {sent:?}", t.backend);
        let (gone, full, late) = (&sent[0], &sent[1], &sent[2]);

        let maildir = dir.path().join("bounces");
        std::fs::create_dir_all(maildir.join("new")).expect("maildir");
        let files = [
            ("1.a", dsn(&gone[0], "failed", "5.1.1")),
            ("2.b", dsn(&full[0], "failed", "5.2.2")),
            ("3.c", dsn(&late[0], "delayed", "4.4.7")),
            ("4.d", "From: someone@example.com\nSubject: Out of office\nContent-Type: text/plain\n\nAway.\n".to_string()),
            ("5.e", dsn("T:no-such-message", "failed", "5.1.1")),
        ];
        for (name, text) in &files {
            std::fs::write(maildir.join("new").join(name), text).expect("write");
        }
        let r = common::json(t, &["channel", "import-bounces", maildir.to_str().expect("utf-8"), "--json"]);
        assert_eq!(r["files"], 5, "{r}");
        assert_eq!(r["bounced"], 2, "{r}");
        assert_eq!(r["invalid_addresses"], 1, "{r}");
        assert_eq!(r["not_failures"], 1, "{r}");
        let unreadable: Vec<String> = r["unreadable"].as_array().expect("list").iter().map(|u| u.as_str().unwrap().to_string()).collect();
        assert_eq!(unreadable.len(), 2, "{unreadable:?}");
        assert!(unreadable.iter().any(|u| u.starts_with("4.d: not a delivery status notification")), "{unreadable:?}");
        assert!(unreadable.iter().any(|u| u.starts_with("5.e:") && u.contains("T:no-such-message")), "{unreadable:?}");

        let status = |id: &str| {
            let id = id.to_string();
            async move { rows(&t.db, &format!("SELECT status, error FROM outbox WHERE message_id = '{id}'")).await.remove(0) }
        };
        let g = status(&gone[0]).await;
        assert_eq!(g[0], "bounced");
        assert!(g[1].contains("5.1.1") && g[1].contains("User unknown"), "{g:?}");
        assert_eq!(status(&full[0]).await[0], "bounced");
        assert_eq!(status(&late[0]).await[0], "sent");
        // Only the mailbox that does not exist is invalid, and the strategy sees it.
        let invalid = rows(&t.db, "SELECT borrower_id, field, message_id FROM invalid_contact_points").await;
        assert_eq!(invalid, vec![vec![gone[1].clone(), "email".to_string(), gone[0].clone()]]);
        let validity = arrears_store::contact_points::validity_of_open_cases(&t.db, &arrears_store::batch_chunks::KeyRange::ALL).await.expect("validity");
        let borrower: arrears_core::id::BorrowerId = gone[1].parse().expect("id");
        assert_eq!(validity.get(&borrower).map(|v| v.1), Some(false), "[{}] e-mail still valid", t.backend);
        // Each bounce is an audit entry.
        let entries = rows(&t.db, "SELECT e.entity_id FROM audit_entries a JOIN audit_entities e ON e.seq = a.seq \
             WHERE a.kind = 'message.bounced' ORDER BY e.entity_id").await;
        let named: BTreeSet<String> = entries.into_iter().map(|r| r[0].clone()).collect();
        assert!(named.contains(&format!("message:{}", gone[0])) && named.contains(&format!("message:{}", full[0])), "{named:?}");

        // The files moved to cur/; a second import reads nothing and changes nothing.
        assert_eq!(std::fs::read_dir(maildir.join("new")).expect("new").count(), 0);
        assert_eq!(std::fs::read_dir(maildir.join("cur")).expect("cur").count(), 5);
        let again = common::json(t, &["channel", "import-bounces", maildir.to_str().expect("utf-8"), "--json"]);
        assert_eq!(again["files"], 0, "{again}");
        // The same report delivered twice (a second copy in new/) is applied once.
        std::fs::write(maildir.join("new").join("6.f"), dsn(&gone[0], "failed", "5.1.1")).expect("write");
        let twice = common::json(t, &["channel", "import-bounces", maildir.to_str().expect("utf-8"), "--json"]);
        assert_eq!((twice["bounced"].as_u64(), twice["repeated"].as_u64()), (Some(0), Some(1)), "{twice}");
        // The dispatcher reads the Maildir its relay names at the start of each pass.
        std::fs::write(maildir.join("new").join("7.g"), dsn(&late[0], "failed", "5.1.1")).expect("write");
        let file = std::fs::read_to_string(&channels).expect("channels");
        std::fs::write(&channels, format!("{file}bounce_maildir = \"{}\"\n", maildir.display())).expect("write");
        let pass = send(t, &sink, &channels, &["--until", "2026-11-20T20:30:00+08:00", "--channel", "email"]);
        assert_eq!(pass["bounced"], 1, "{pass}");
        assert_eq!(status(&late[0]).await[0], "bounced");
        // A folder that is not a Maildir is an error naming it.
        let out = common::arrears(t, &["channel", "import-bounces", dir.path().join("nowhere").to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("nowhere"), "{}", text(&out.stderr));
    })
    .await;
}
