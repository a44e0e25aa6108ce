//! Reminders before and on the due date (还款提醒) and the notice that penalty has started:
//! made by the batch for loans rather than cases, once per instalment, only where a phone or
//! e-mail is on record, never against an opt-out; sent by the dispatcher like any message.

use super::*;

/// `(loan, reminder, due date)` of every reminder in the outbox, from its key.
async fn reminders(t: &TestDb) -> BTreeSet<(String, String, String)> {
    rows(&t.db, "SELECT message_id FROM outbox WHERE message_id LIKE 'R:%'")
        .await
        .into_iter()
        .map(|r| {
            let parts: Vec<&str> = r[0].splitn(4, ':').collect();
            (parts[1].to_string(), parts[2].to_string(), parts[3].to_string())
        })
        .collect()
}

#[tokio::test]
async fn reminders_go_before_and_on_the_due_date_once_and_reach_the_server() {
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 2000, &["2026-11-18"]);
        // A borrower not in collection with an instalment due on the 20th opts out of e-mail
        // (recorded on the 18th, before the batch of the 19th decides).
        let due_20th = "SELECT s.loan_id, s.borrower_id FROM loan_state s JOIN borrowers b ON b.borrower_id = s.borrower_id \
             WHERE s.status = 'active' AND s.next_due_on = '2026-11-20' AND s.next_due_amount > 0 AND b.email <> '' \
             AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.borrower_id = s.borrower_id AND c.status = 'open') \
             ORDER BY s.loan_id";
        let candidates = rows(&t.db, due_20th).await;
        assert!(candidates.len() >= 5, "[{}] too few instalments due on the 20th: {candidates:?}", t.backend);
        let opted = candidates[0][1].clone();
        ok(t, &["contact", "restrict", &opted, "--kind", "opt-out", "--channel", "email", "--note", "no e-mail"]);
        arrears_store::on_pool!(&t.db, p => sqlx::query(
            "UPDATE contact_restrictions SET recorded_on = '2026-11-18' WHERE borrower_id = $1"
        ).bind(&opted).execute(p).await.expect("date the restriction").rows_affected());

        let of_18th = reminders(t).await;
        ok(t, &["batch", "--date", "2026-11-19"]);
        let made: BTreeSet<_> = reminders(t).await.difference(&of_18th).cloned().collect();
        let on = |name: &str, due: &str| -> BTreeSet<String> {
            made.iter().filter(|(_, n, d)| n == name && d == due).map(|(l, _, _)| l.clone()).collect()
        };
        // On the due date: an e-mail for each instalment due on the 20th, but the opted-out borrower's.
        let d0 = on("due_email_d0", "2026-11-20");
        // (Cases the 19th opened count: those borrowers are in collection now.)
        let expected: BTreeSet<String> =
            rows(&t.db, due_20th).await.iter().filter(|c| c[1] != opted).map(|c| c[0].clone()).collect();
        assert!(candidates.iter().any(|c| c[1] == opted), "the opted-out borrower is still due");
        assert_eq!(d0, expected, "[{}] D0 e-mails", t.backend);
        // Three days before: a text for instalments due on the 23rd, to borrowers with a phone.
        let d3 = on("due_sms_d_minus_3", "2026-11-23");
        let due_23rd = rows(&t.db, "SELECT s.loan_id FROM loan_state s JOIN borrowers b ON b.borrower_id = s.borrower_id \
             WHERE s.status = 'active' AND s.next_due_on = '2026-11-23' AND s.next_due_amount > 0 AND b.phone <> '' \
             AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.borrower_id = s.borrower_id AND c.status = 'open')").await;
        assert!(!d3.is_empty(), "[{}] no D-3 texts", t.backend);
        assert_eq!(d3, due_23rd.into_iter().map(|r| r[0].clone()).collect(), "[{}] D-3 texts", t.backend);
        // No reminder for another day, and none is a case's.
        assert!(made.iter().all(|(_, n, d)| n == "penalty_started_sms" || d == "2026-11-20" || d == "2026-11-23"), "{made:?}");
        let cased = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE message_id LIKE 'R:%:due_%' AND case_id IS NOT NULL").await;
        assert_eq!(cased[0][0], "0");
        // The penalty notice: the oldest unpaid instalment's grace days ended on the 19th.
        for (loan, _, due) in made.iter().filter(|(_, n, _)| n == "penalty_started_sms") {
            let r = rows(&t.db, &format!(
                "SELECT CAST(s.dpd AS TEXT), CAST(l.grace_days AS TEXT) FROM loan_state s JOIN loans l ON l.loan_id = s.loan_id WHERE s.loan_id = '{loan}'"
            )).await;
            let (dpd, grace): (i64, i64) = (r[0][0].parse().unwrap(), r[0][1].parse().unwrap());
            assert_eq!(dpd, grace, "[{}] penalty notice for {loan} due {due}", t.backend);
        }

        // The date again decides nothing new.
        let before = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM outbox").await;
        ok(t, &["batch", "--date", "2026-11-19"]);
        assert_eq!(rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM outbox").await, before);
        assert_eq!(reminders(t).await.difference(&of_18th).cloned().collect::<BTreeSet<_>>(), made);

        // Sent on the 20th: each D0 e-mail reaches the server once, naming the due date and the amount.
        let sink = Sink::start(false);
        let channels = channels_file(dir.path(), 60, 50, false);
        // The evening of the 20th in Beijing, then its afternoon in America: each zone's due
        // date in its lawful hours.
        send(t, &sink, &channels, &["--until", "2026-11-20T20:00:00+08:00", "--channel", "email"]);
        send(t, &sink, &channels, &["--until", "2026-11-20T16:00:00-06:00", "--channel", "email"]);
        let received: BTreeMap<String, String> = sink.messages().into_iter().collect();
        for loan in &d0 {
            let id = format!("R:{loan}:due_email_d0:2026-11-20");
            let state = rows(&t.db, &format!("SELECT status, error, send_at FROM outbox WHERE message_id = '{id}'")).await;
            assert!(received.contains_key(&id), "[{}] {id} not received: {state:?}", t.backend);
            let listed = common::json(t, &["message", "list", "--loan", loan, "--json"]);
            let m = listed.as_array().expect("list").iter().find(|m| m["message_id"] == id.as_str()).expect("listed");
            assert_eq!(m["status"], "sent");
            assert!(m["case_id"].is_null(), "{m}");
            // The text as sent names the loan, the due date and what is left to pay of the instalment.
            let text = m["body"].as_str().expect("body");
            assert!(text.contains("2026-11-20") && text.contains(loan.as_str()), "{text}");
            let left = rows(&t.db, &format!("SELECT CAST(next_due_amount AS TEXT) FROM loan_state WHERE loan_id = '{loan}'")).await;
            let minor: i64 = left[0][0].parse().unwrap();
            assert!(text.contains(&format!("{}.{:02}", minor / 100, minor % 100)), "[{}] amount {minor} not in {text}", t.backend);
        }
    })
    .await;
}
