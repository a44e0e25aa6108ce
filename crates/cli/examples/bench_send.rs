//! Dispatcher throughput: N queued e-mails, SMS or letters sent by one pass (to a local server,
//! or printed as PDF into a folder), with every send-time check and record of the real
//! dispatcher. Prints messages/s and peak memory.
//!
//! `cargo run --release -p arrears-cli --example bench_send -- [MESSAGES] [DB_URL] [email|sms|letter]`
//! (default 100000 e-mails on a fresh SQLite file). The servers are minimal ones in this
//! process on their own thread, so that the figure is the dispatcher's, not a Python fake's:
//! SMTP (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), and an HTTP/1.1 keep-alive endpoint that
//! answers every request as Alibaba answers an accepted SendSms (the signature is checked by
//! the Python fake in the tests, not here).

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
    let url = args
        .next()
        .filter(|u| u != "-")
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let channel = args.next().unwrap_or_else(|| "email".into());
    anyhow::ensure!(
        ["email", "sms", "letter"].contains(&channel.as_str()),
        "channel {channel:?}: email, sms or letter"
    );
    let db = Db::open(&DbUrl::new(url.clone())).await?;
    let keys = Keyring::ephemeral();

    let started = Instant::now();
    fill(&db, &keys, n, &channel).await?;
    if db.backend() == "postgres" {
        // As autovacuum would soon after the batch: without statistics the planner reads
        // the whole outbox for each claimed batch's contact history.
        arrears_store::on_pool!(&db, p => sqlx::raw_sql("ANALYZE").execute(p).await?.rows_affected());
    }
    eprintln!("queued {n} {channel} messages in {:.1}s", started.elapsed().as_secs_f64());

    let received = Arc::new(AtomicU64::new(0));
    let spool = dir.path().join("letters");
    let provider = if channel == "letter" {
        // PDF letters into a folder, with the fonts scripts/install-fonts.sh installs.
        format!(
            "[channels]\nletter = \"print\"\n[providers.print]\nkind = \"letters\"\ndir = \"{}\"\n",
            spool.display()
        )
    } else if channel == "email" {
        let port = sink(received.clone())?;
        format!(
            "[channels]\nemail = \"smtp\"\n[providers.smtp]\nkind = \"smtp\"\nurl = \"smtp://127.0.0.1:{port}\"\n\
             from = \"催收中心 <collections@bank.example>\"\nconnections = 16\n"
        )
    } else {
        // SAFETY of the environment: set before any other thread reads it.
        unsafe {
            std::env::set_var("BENCH_AK", "ak");
            std::env::set_var("BENCH_SK", "sk");
        }
        let port = sms_endpoint(received.clone())?;
        format!(
            "[channels]\nsms = \"aliyun\"\n[providers.aliyun]\nkind = \"aliyun\"\nendpoint = \"http://127.0.0.1:{port}\"\n\
             access_key_id_env = \"BENCH_AK\"\naccess_key_secret_env = \"BENCH_SK\"\nsign_name = \"测试银行\"\n\
             connections = 16\ntemplates = {{ reminder_soft = \"SMS_1\" }}\n"
        )
    };
    let config = ChannelsConfig::parse(
        &format!(
            "[dispatcher]\nbatch = 500\nconcurrency = 16\n[sender]\nlender_zh = \"测试银行\"\nlender_en = \"Test Bank\"\n{provider}"
        ),
        "bench",
    )?;
    let clock: arrears_app::audit::Clock = Arc::new(|| chrono::Local::now().fixed_offset());
    let mut d = Dispatcher::new(&db, config, keys, Some(&channel), owner_name(&clock()))?;
    let until = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+08:00")?.to_utc();
    let started = Instant::now();
    let report = d.pass(Some(until), Some(&channel), &clock).await?;
    let secs = started.elapsed().as_secs_f64();
    let got = if channel == "letter" {
        std::fs::read_dir(&spool)?
            .map(|d| {
                let entries = std::fs::read_dir(d?.path())?;
                Ok(entries
                    .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pdf")))
                    .count())
            })
            .sum::<std::io::Result<usize>>()? as u64
    } else {
        received.load(Ordering::Relaxed)
    };
    println!(
        "{{\"channel\": \"{channel}\", \"messages\": {n}, \"sent\": {}, \"received\": {got}, \"seconds\": {secs:.2}, \"messages_per_second\": {:.0}, \"peak_rss_mib\": {:.0}, \"db\": \"{}\"}}",
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

/// N borrowers (sealed phone and e-mail, Beijing time), each with an open case and a queued
/// message of `channel` due at 08:00 on 20 Nov.
async fn fill(db: &Db, keys: &Keyring, n: usize, channel: &str) -> anyhow::Result<()> {
    let template = match channel {
        "sms" => "reminder_soft",
        "letter" => "demand_letter",
        _ => "overdue_notice",
    };
    for start in (0..n).step_by(500) {
        let end = (start + 500).min(n);
        let mut b = Vec::new();
        let mut c = Vec::new();
        let mut o = Vec::new();
        for i in start..end {
            let email = keys.seal(Field::Email, &format!("b{i}@example.cn"))?;
            let bidx = keys.blind(Field::Email, &format!("b{i}@example.cn"));
            let phone_plain = format!("138{i:08}");
            let phone = keys.seal(Field::Phone, &phone_plain)?;
            let pidx = keys.blind(Field::Phone, &phone_plain);
            b.push(format!(
                "('B{i:07}', 'person', '张三{i}', '', '{phone}', '{email}', 'Asia/Shanghai', 'zh', 1, {i}, '{bidx}', '{pidx}')"
            ));
            c.push(format!("('C{i:07}', 'B{i:07}', '2026-11-19', 'open')"));
            o.push(format!(
                "('T{i:07}', 'T{i:07}', 'C{i:07}', 'B{i:07}', '{channel}', '{template}', 'zh', \
                 '2026-11-20T00:00:00+00:00', 'queued', '2026-11-19', \
                 '张三{i}您好：\n\n您在我行的借款已逾期26天，逾期金额5473.67元。请及时还款。【{{lender}}】', \
                 '{{\"name\":\"张三{i}\",\"dpd\":\"26\",\"overdue\":\"5473.67\"}}')"
            ));
        }
        let sql = format!(
            "INSERT INTO borrowers (borrower_id, kind, name, national_id, phone, email, timezone, language, import_id, src_line, email_bidx, phone_bidx) VALUES {};\
             INSERT INTO cases (case_id, borrower_id, opened_on, status) VALUES {};\
             INSERT INTO outbox (message_id, task_id, case_id, borrower_id, channel, template, language, send_at, status, created_on, body, params) VALUES {};",
            b.join(","),
            c.join(","),
            o.join(",")
        );
        arrears_store::on_pool!(db, p => sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(p).await?.rows_affected());
    }
    Ok(())
}

/// Serves each connection of a new local port with `handle` on a thread of its own (so that
/// the server does not share the dispatcher's runtime); returns the port.
fn serve<F, Fut>(received: Arc<AtomicU64>, handle: F) -> anyhow::Result<u16>
where
    F: Fn(tokio::net::TcpStream, Arc<AtomicU64>) -> Fut + Send + Copy + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((sock, _)) = listener.accept().await else { continue };
                let _ = sock.set_nodelay(true);
                tokio::spawn(handle(sock, received.clone()));
            }
        });
    });
    Ok(port)
}

/// A minimal SMTP server: EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; counts messages.
fn sink(received: Arc<AtomicU64>) -> anyhow::Result<u16> {
    serve(received, |sock, received| async move {
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
    })
}

/// A minimal HTTP/1.1 keep-alive server answering every request as Alibaba answers an
/// accepted SendSms.
fn sms_endpoint(received: Arc<AtomicU64>) -> anyhow::Result<u16> {
    use tokio::io::AsyncReadExt;
    serve(received, |mut sock, received| async move {
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        loop {
            // One request: the head up to the blank line (SendSms has no body).
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
            buf.drain(..end);
            let n = received.fetch_add(1, Ordering::Relaxed);
            let body =
                format!("{{\"Code\":\"OK\",\"Message\":\"OK\",\"BizId\":\"{n}\",\"RequestId\":\"r{n}\"}}");
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if sock.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    })
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
