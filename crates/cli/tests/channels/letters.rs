//! Letters end to end: the batch queues demand and lawyer letters, `arrears send` prints each
//! once as a PDF into the configured folder, with the letterhead, the amounts the case owes
//! and the digest of its content; the audit entry of the print carries the PDF's SHA-256 and
//! is proved by `arrears audit proof`. Read back with poppler's pdftotext.

use super::*;
use sha2::{Digest, Sha256};

/// Runs scripts/install-fonts.sh (a no-op once the fonts and poppler are there).
pub(crate) fn ensure_fonts() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-fonts.sh");
    let status = Command::new("bash").arg(&script).status().expect("bash runs");
    assert!(status.success(), "{} failed", script.display());
}

fn letters_file(dir: &std::path::Path, spool: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("letters.toml");
    let text = format!(
        "[dispatcher]\nbatch = 20\nlease_seconds = 1\ngive_up_after_hours = 72\n[sender]\nlender_zh = \"测试银行\"\nlender_en = \"Test Bank\"\n\
         [channels]\nletter = \"print\"\n\
         [providers.print]\nkind = \"letters\"\ndir = \"{}\"\n\
         letterhead_zh = [\"北京市朝阳区建国路 1 号\", \"电话 010-1234 5678\"]\n\
         letterhead_en = [\"1 Jianguo Road, Beijing\"]\n",
        spool.display()
    );
    std::fs::write(&path, text).expect("write letters.toml");
    path
}

/// The PDF files in a folder (a day's letters; the notes of letters begun are not letters).
pub(crate) fn pdfs_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pdf")))
                .count()
        })
        .unwrap_or(0)
}

fn pdftotext(file: &std::path::Path) -> String {
    let out =
        Command::new("pdftotext").args(["-layout"]).arg(file).arg("-").output().expect("pdftotext runs");
    assert!(out.status.success(), "pdftotext {}: {}", file.display(), text(&out.stderr));
    text(&out.stdout)
}

#[tokio::test]
async fn letters_print_once_with_their_amounts_and_a_digest_the_audit_log_proves() {
    ensure_fonts();
    each_backend(async |t: &TestDb| {
        let dir = book_with_batch(t, 3000, &["2026-11-19"]);
        let queued = rows(&t.db, "SELECT o.message_id, o.borrower_id, COALESCE(b.name, '') FROM outbox o \
             JOIN borrowers b ON b.borrower_id = o.borrower_id WHERE o.channel = 'letter' AND o.status = 'queued' \
             ORDER BY o.message_id").await;
        assert!(!queued.is_empty(), "[{}] the batch queued no letter", t.backend);
        // A name with a character outside the BMP (𠮷, U+20BB7) must print.
        let (rare_id, rare_name) = (queued[0][0].clone(), "𠮷田太郎".to_string());
        arrears_store::on_pool!(&t.db, p => sqlx::query(
            "UPDATE outbox SET body = REPLACE(body, $2, $3), params = REPLACE(params, $2, $3) WHERE message_id = $1"
        ).bind(&rare_id).bind(&queued[0][2]).bind(&rare_name).execute(p).await.expect("rename").rows_affected());

        let spool = dir.path().join("letters");
        let config = letters_file(dir.path(), &spool);
        let sink = Sink::start(false);
        // A dispatcher killed right after printing its first batch on the 20th: those letters are
        // on paper, not yet recorded as sent.
        let killed = send_cmd(t, &sink, &config, &["--until", "2026-11-20T10:00:00+08:00", "--channel", "letter"])
            .env("ARREARS_CHANNELS_CRASH", "after_send:1")
            .output()
            .expect("runs");
        assert!(!killed.status.success(), "the crash point did not stop the dispatcher");
        let begun: Vec<String> = std::fs::read_dir(spool.join(".printed"))
            .expect("letters noted before printing")
            .map(|e| e.expect("entry").file_name().to_string_lossy().trim_end_matches(".txt").to_string())
            .collect();
        assert!(!begun.is_empty());
        std::thread::sleep(Duration::from_millis(1200));
        // The next day the rest go out, and the begun ones are recorded as printed on the 20th.
        let counts = send(t, &sink, &config, &["--until", "2026-11-21T10:00:00+08:00", "--channel", "letter"]);
        let printed = rows(&t.db, "SELECT message_id, provider_id, body, case_id, sent_at FROM outbox \
             WHERE channel = 'letter' AND status = 'sent' ORDER BY message_id").await;
        assert_eq!(counts["sent"].as_u64(), Some(printed.len() as u64), "{counts}");
        assert!(!printed.is_empty(), "[{}] nothing printed: {counts}", t.backend);

        for (i, p) in printed.iter().enumerate() {
            let (id, provider_id, body, case_id) = (&p[0], &p[1], &p[2], &p[3]);
            let day = body.lines().find_map(|l| l.strip_prefix("date\t")).expect("the letter's date");
            let file = spool.join(day).join(format!("{id}.pdf"));
            let pdf = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            // The provider reference is the file's SHA-256, and the printed digest is the stored text's.
            assert_eq!(provider_id, &format!("sha256:{}", hex::encode(Sha256::digest(&pdf))));
            let digest = hex::encode(Sha256::digest(body.as_bytes()));
            let read = pdftotext(&file);
            let squeezed: String = read.split_whitespace().collect();
            assert!(squeezed.contains(&digest), "[{}] digest {digest} not printed on {id}", t.backend);
            assert!(read.contains("测试银行") || read.contains("Test Bank"), "{read}");
            assert!(squeezed.contains(id.as_str()), "the reference {id} is printed: {read}");
            // The amounts: what the case's loans owe at the latest close.
            let owed = rows(&t.db, &format!(
                "SELECT CAST(SUM(s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty) AS TEXT) \
                 FROM case_loans cl JOIN loan_state s ON s.loan_id = cl.loan_id WHERE cl.case_id = '{case_id}'"
            )).await;
            let minor: i64 = owed[0][0].parse().expect("a total");
            let total = format!("{}.{:02}", minor / 100, minor % 100);
            assert!(squeezed.contains(&total), "[{}] total {total} not on {id}: {read}", t.backend);
            if id == &rare_id {
                assert!(read.contains("𠮷"), "[{}] 𠮷 did not print: {read}", t.backend);
            }
            // The audit entry of the print names the PDF's hash, and the log proves it.
            if i >= 3 {
                continue;
            }
            let seq = rows(&t.db, &format!(
                "SELECT CAST(e.seq AS TEXT) FROM audit_entities e JOIN audit_entries a ON a.seq = e.seq \
                 WHERE e.entity_id = 'message:{id}' AND a.kind = 'message.sent'"
            )).await;
            assert_eq!(seq.len(), 1, "[{}] one audit entry for the print of {id}", t.backend);
            ok(t, &["audit", "checkpoint"]);
            let proof = common::json(t, &["audit", "proof", &seq[0][0], "--json"]);
            let entry = proof["entry"].as_str().expect("entry");
            assert!(entry.contains(provider_id.trim_start_matches("sha256:")), "{entry}");
            assert!(entry.contains(&digest), "the entry carries the printed digest: {entry}");
        }
        for id in &begun {
            let p = printed.iter().find(|p| &p[0] == id).unwrap_or_else(|| panic!("[{}] begun {id} not recorded", t.backend));
            assert!(p[2].contains("date\t2026-11-20"), "[{}] {id} recorded as another letter: {}", t.backend, p[2]);
        }
        // A second pass prints only what the first deferred (a zone still in its quiet hours):
        // one file per printed letter, and one print entry each in the audit log.
        send(t, &sink, &config, &["--until", "2026-11-21T23:00:00+08:00", "--channel", "letter"]);
        let sent = rows(&t.db, "SELECT message_id FROM outbox WHERE channel = 'letter' AND status = 'sent'").await;
        let files: usize = std::fs::read_dir(&spool)
            .expect("spool")
            .map(|d| pdfs_in(&d.expect("day").path()))
            .sum();
        assert_eq!(files, sent.len(), "[{}] files and letters marked sent differ", t.backend);
        let prints = rows(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM audit_entries a JOIN audit_entities e ON e.seq = a.seq \
             WHERE a.kind = 'message.sent' AND e.entity_id LIKE 'message:%' AND e.entity_id IN \
             (SELECT 'message:' || message_id FROM outbox WHERE channel = 'letter')").await;
        assert_eq!(prints[0][0], sent.len().to_string(), "[{}] one print entry per letter", t.backend);
    })
    .await;
}
