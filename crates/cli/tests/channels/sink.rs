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

    /// A plain Maildir server that speaks TLS with `ca`'s server certificate: from the first
    /// byte (`implicit`, SMTPS) or after STARTTLS, which it then requires before any mail.
    pub fn start_tls(ca: &TestCa, implicit: bool) -> Sink {
        let (cert, key) = (ca.path("server.pem"), ca.path("server.key"));
        let flags = if implicit { ["--smtpscert", "--smtpskey"] } else { ["--tlscert", "--tlskey"] };
        Sink::start_args("aiosmtpd.handlers.Mailbox", &[], &[flags[0], &cert, flags[1], &key])
    }

    /// A relay as a bank sets one up (tests/channels/auth_sink.py): STARTTLS with `ca`'s
    /// server certificate required, then AUTH as `user` with `password`.
    pub fn start_auth(ca: &TestCa, user: &str, password: &str) -> Sink {
        ensure_aiosmtpd();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("python3")
            .arg(fakes_dir().join("auth_sink.py"))
            .args(["--port", &port.to_string(), "--maildir"])
            .arg(dir.path().join("mail"))
            .args(["--cert", &ca.path("server.pem"), "--key", &ca.path("server.key")])
            .args(["--user", user, "--password", password])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 auth_sink.py starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "auth_sink did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sink { child, port, dir }
    }

    fn start_with(handler: &str, env: &[(&str, &str)]) -> Sink {
        Sink::start_args(handler, env, &[])
    }

    fn start_args(handler: &str, env: &[(&str, &str)], extra: &[&str]) -> Sink {
        ensure_aiosmtpd();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(extra)
            .args(["-c", handler])
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

/// A certificate authority of the test's own and a server certificate it signed for
/// `localhost` and 127.0.0.1 (openssl), in a temporary folder.
pub struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    /// Makes the authority and the server's certificate and key.
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = |args: &[&str]| {
            let out =
                Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl runs");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=arrears test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.path().join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write ext");
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        TestCa { dir }
    }

    /// A file of it (`ca.pem`, `server.pem`, `server.key`).
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}
