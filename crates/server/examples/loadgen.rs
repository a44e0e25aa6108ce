//! A small HTTP load generator for the workbench benchmark (`scripts/bench-web.sh`).
//!
//! wrk drives connections as fast as the server answers (a closed loop), which measures
//! saturation, not what a department of collectors sees. Collectors have sessions that ask
//! for a page now and then, so this tool also runs an open loop: every session sends at
//! fixed times, whatever the server is doing, and a request's latency is counted from the
//! time it was due, not from when it could be sent — a late server is not excused by making
//! the next request wait (the coordinated omission wrk2 corrects the same way).
//!
//! Usage: `loadgen ADDR SESSIONS_FILE PAGE RATE SECONDS`
//! - SESSIONS_FILE: one session per line, `cookie<TAB>case_id`; one connection per session.
//! - PAGE: `queue` (`/queue`) or `case` (`/cases/{case_id}`).
//! - RATE: requests per second over all sessions; 0 runs the closed loop.
//!
//! Only std: one thread per session, HTTP/1.1 keep-alive, Content-Length or chunked bodies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    if let Err(e) = run() {
        eprintln!("loadgen: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, file, page, rate, seconds] = args.as_slice() else {
        return Err("usage: loadgen ADDR SESSIONS_FILE queue|case RATE SECONDS".into());
    };
    let rate: f64 = rate.parse().map_err(|_| format!("RATE {rate:?} is not a number"))?;
    let seconds: f64 = seconds.parse().map_err(|_| format!("SECONDS {seconds:?} is not a number"))?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let mut paths = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (cookie, case) = line.split_once('\t').unwrap_or((line, ""));
        let path = match page.as_str() {
            "queue" => "/queue".to_string(),
            "case" if !case.is_empty() => format!("/cases/{case}"),
            "case" => return Err(format!("{file}:{}: no case id after the cookie", n + 1)),
            other => return Err(format!("PAGE {other:?} is neither queue nor case")),
        };
        paths.push((cookie.to_string(), path));
    }
    if paths.is_empty() {
        return Err(format!("{file} holds no session"));
    }
    let sessions = paths.len();
    // Each session sends every `interval`; sessions are spread evenly over it.
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(sessions as f64 / rate));
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = paths
        .into_iter()
        .enumerate()
        .map(|(i, (cookie, path))| {
            let addr = addr.clone();
            let offset = interval.map(|iv| iv.mul_f64(i as f64 / sessions as f64));
            std::thread::spawn(move || session(&addr, &cookie, &path, start, end, interval, offset))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    let mut first_failure = None;
    for w in workers {
        let r = w.join().map_err(|_| "a session thread panicked".to_string())??;
        latencies.extend(r.0);
        failures += r.1;
        first_failure = first_failure.or(r.2);
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(i).map_or(0.0, |d: &Duration| d.as_secs_f64() * 1000.0)
    };
    let mode = if rate > 0.0 { format!("open loop at {rate} req/s") } else { "closed loop".into() };
    println!(
        "{page}: {sessions} sessions, {mode}, {seconds} s: {} requests ({:.0} req/s), {failures} failed; \
         latency ms p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        latencies.len(),
        latencies.len() as f64 / seconds,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        pct(1.0),
    );
    if let Some(what) = first_failure {
        return Err(format!("{failures} requests did not answer 200; the first: {what}"));
    }
    Ok(())
}

/// One session's loop: the latencies it measured, how many requests failed and why the first did.
fn session(
    addr: &str,
    cookie: &str,
    path: &str,
    start: Instant,
    end: Instant,
    interval: Option<Duration>,
    offset: Option<Duration>,
) -> Result<(Vec<Duration>, u64, Option<String>), String> {
    let connect = || -> Result<(TcpStream, BufReader<TcpStream>), String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_nodelay(true).ok();
        let r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
        Ok((s, r))
    };
    let (mut out, mut input) = connect()?;
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\ncookie: {cookie}\r\n\r\n");
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut first_failure = None;
    let mut due = start + offset.unwrap_or_default();
    loop {
        let now = Instant::now();
        if due >= end || (interval.is_none() && now >= end) {
            break;
        }
        if now < due {
            std::thread::sleep(due - now);
        }
        let sent_for = if interval.is_some() { due } else { Instant::now() };
        let status = out
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|_| read_response(&mut input));
        match status {
            Ok(200) => latencies.push(sent_for.elapsed()),
            Ok(status) => {
                failures += 1;
                first_failure.get_or_insert_with(|| format!("GET {path} answered {status}"));
            }
            Err(e) => {
                failures += 1;
                first_failure.get_or_insert_with(|| format!("GET {path}: {e}"));
                (out, input) = connect()?;
            }
        }
        due = match interval {
            Some(iv) => due + iv,
            None => Instant::now(),
        };
    }
    Ok((latencies, failures, first_failure))
}

/// Reads one response (headers and body) and returns its status code.
fn read_response(input: &mut BufReader<TcpStream>) -> Result<u16, String> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| e.to_string())?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        input.read_line(&mut line).map_err(|e| e.to_string())?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<u64>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
            chunked = true;
        }
    }
    if chunked {
        loop {
            line.clear();
            input.read_line(&mut line).map_err(|e| e.to_string())?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| format!("bad chunk size {line:?}"))?;
            // The chunk and the CRLF after it; a last chunk of 0 ends with an empty line.
            std::io::copy(&mut input.by_ref().take(size + 2), &mut std::io::sink())
                .map_err(|e| e.to_string())?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        std::io::copy(&mut input.by_ref().take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
    }
    Ok(status)
}
