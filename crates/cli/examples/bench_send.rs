//! Dispatcher throughput: N queued e-mails sent by one pass to a local SMTP server, with every
//! send-time check and record of the real dispatcher. Prints messages/s and peak memory.
//!
//! `cargo run --release -p arrears-cli --example bench_send -- [MESSAGES] [DB_URL]`
//! (default 100000 on a fresh SQLite file). The SMTP server is a minimal one in this process
//! on its own thread (it speaks EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT and counts the
//! messages it accepts), so that the figure is the dispatcher's, not a Python sink's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arrears_app::channels::config::ChannelsConfig;
use arrears_app::channels::{Dispatcher, owner_name};
use arrears_store::personal::{Field, Keyring};
use arrears_store::{Db, DbUrl};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let url = args.next().unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let db = Db::open(&DbUrl::new(url.clone())).await?;
    let keys = Keyring::ephemeral();

    let started = Instant::now();
    fill(&db, &keys, n).await?;
    if db.backend() == "postgres" {
        // As autovacuum would soon after the batch: without statistics the planner reads
        // the whole outbox for each claimed batch's contact history.
        arrears_store::on_pool!(&db, p => sqlx::raw_sql("ANALYZE").execute(p).await?.rows_affected());
    }
    eprintln!("queued {n} e-mails in {:.1}s", started.elapsed().as_secs_f64());

    let received = Arc::new(AtomicU64::new(0));
    let port = sink(received.clone())?;
    let config = ChannelsConfig::parse(
        &format!(
            "[dispatcher]\nbatch = 500\nconcurrency = 16\n[sender]\nlender_zh = \"测试银行\"\nlender_en = \"Test Bank\"\n\
             [channels]\nemail = \"smtp\"\n[providers.smtp]\nkind = \"smtp\"\nurl = \"smtp://127.0.0.1:{port}\"\n\
             from = \"催收中心 <collections@bank.example>\"\nconnections = 16\n"
        ),
        "bench",
    )?;
    let mut d = Dispatcher::new(&db, config, keys, Some("email"), owner_name())?;
    let until = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+08:00")?.to_utc();
    let started = Instant::now();
    let report = d.pass(Some(until), Some("email")).await?;
    let secs = started.elapsed().as_secs_f64();
    let got = received.load(Ordering::Relaxed);
    println!(
        "{{\"messages\": {n}, \"sent\": {}, \"received\": {got}, \"seconds\": {secs:.2}, \"messages_per_second\": {:.0}, \"peak_rss_mib\": {:.0}, \"db\": \"{}\"}}",
        report.sent,
        report.sent as f64 / secs,
        peak_rss_mib(),
        db.backend()
    );
    anyhow::ensure!(
        report.sent as usize == n && got as usize == n,
        "not every message went: {report:?}, {got}"
    );
    Ok(())
}

/// N borrowers (sealed e-mail, Beijing time), each with an open case and a queued e-mail due
/// at 08:00 on 20 Nov.
async fn fill(db: &Db, keys: &Keyring, n: usize) -> anyhow::Result<()> {
    for start in (0..n).step_by(500) {
        let end = (start + 500).min(n);
        let mut b = Vec::new();
        let mut c = Vec::new();
        let mut o = Vec::new();
        for i in start..end {
            let email = keys.seal(Field::Email, &format!("b{i}@example.cn"))?;
            let bidx = keys.blind(Field::Email, &format!("b{i}@example.cn"));
            b.push(format!(
                "('B{i:07}', 'person', '张三{i}', '', '', '{email}', 'Asia/Shanghai', 'zh', 1, {i}, '{bidx}')"
            ));
            c.push(format!("('C{i:07}', 'B{i:07}', '2026-11-19', 'open')"));
            o.push(format!(
                "('T{i:07}', 'T{i:07}', 'C{i:07}', 'B{i:07}', 'email', 'overdue_notice', 'zh', \
                 '2026-11-20T00:00:00+00:00', 'queued', '2026-11-19', \
                 '张三{i}您好：\n\n您在我行的借款已逾期26天，逾期金额5473.67元。请及时还款。【{{lender}}】')"
            ));
        }
        let sql = format!(
            "INSERT INTO borrowers (borrower_id, kind, name, national_id, phone, email, timezone, language, import_id, src_line, email_bidx) VALUES {};\
             INSERT INTO cases (case_id, borrower_id, opened_on, status) VALUES {};\
             INSERT INTO outbox (message_id, task_id, case_id, borrower_id, channel, template, language, send_at, status, created_on, body) VALUES {};",
            b.join(","),
            c.join(","),
            o.join(",")
        );
        arrears_store::on_pool!(db, p => sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(p).await?.rows_affected());
    }
    Ok(())
}

/// A minimal SMTP server on its own thread; returns its port.
fn sink(received: Arc<AtomicU64>) -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((sock, _)) = listener.accept().await else { continue };
                let received = received.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let mut in_data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                received.fetch_add(1, Ordering::Relaxed);
                                let _ = w.write_all(b"250 OK\r\n").await;
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                let _ = w.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 OK\r\n",
                        };
                        if w.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    });
    Ok(port)
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
