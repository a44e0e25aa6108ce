//! A real SMTP server for the e-mail tests: aiosmtpd (from PyPI, installed on first use when
//! missing) writing each message it accepts into a Maildir, optionally through the
//! de-duplicating relay of `tests/channels/dedup_sink.py`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The folder of the Python provider fakes.
pub fn fakes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/channels")
}

/// Installs aiosmtpd for the machine's python3 when it is not there yet.
fn ensure_aiosmtpd() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let have =
            Command::new("python3").args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
        if !have {
            let st = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "aiosmtpd==1.4.6"])
                .status()
                .expect("python3 runs");
            assert!(st.success(), "pip install aiosmtpd==1.4.6 failed");
        }
    });
}

/// A free local port (taken and let go: the server binds it a moment later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// A running SMTP server and its Maildir.
pub struct Sink {
    child: Child,
    /// Its port.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    /// Starts a server: the de-duplicating relay when `dedup`, else aiosmtpd's plain Maildir.
    pub fn start(dedup: bool) -> Sink {
        Sink::start_with(if dedup { "dedup_sink.DedupMailbox" } else { "aiosmtpd.handlers.Mailbox" }, &[])
    }

    /// Starts the relay of `dedup_sink.py` that takes `delay_ms` over each message, dropping
    /// repeats when `dedup` (else storing them, and listing them in `duplicates.log`).
    pub fn start_slow(dedup: bool, delay_ms: u64) -> Sink {
        let delay = delay_ms.to_string();
        let plain = if dedup { "0" } else { "1" };
        Sink::start_with(
            "dedup_sink.DedupMailbox",
            &[("DEDUP_SINK_DELAY_MS", &delay), ("DEDUP_SINK_PLAIN", plain)],
        )
    }

    fn start_with(handler: &str, env: &[(&str, &str)]) -> Sink {
        ensure_aiosmtpd();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", handler])
            .arg(dir.path().join("mail"))
            .env("PYTHONPATH", fakes_dir())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "aiosmtpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sink { child, port, dir }
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received: (X-Arrears-Message-Id, the whole message), in no set order.
    pub fn messages(&self) -> Vec<(String, String)> {
        let new = self.dir.path().join("mail/new");
        let Ok(entries) = std::fs::read_dir(&new) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).expect("a stored message");
                let head = text.split("\n\n").next().unwrap_or_default();
                let id = head
                    .lines()
                    .find_map(|l| l.strip_prefix("X-Arrears-Message-Id: "))
                    .unwrap_or_else(|| panic!("no X-Arrears-Message-Id in {}", e.path().display()))
                    .trim()
                    .to_string();
                (id, text)
            })
            .collect()
    }

    /// Ids the relay of `dedup_sink.py` received again (and dropped, unless plain).
    pub fn repeats(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("mail/duplicates.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
