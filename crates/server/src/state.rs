//! What every handler shares: the database, the content scanner, the login limiter and
//! the settings the server was started with.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrears_content::Scanner;
use arrears_store::Db;
use arrears_store::personal::Keyring;

/// Settings of one server process.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Mark cookies `Secure` and send HSTS: set it whenever the server is reached over HTTPS
    /// (behind a TLS proxy); plain-HTTP loopback use needs it off.
    pub secure_cookies: bool,
    /// The audit signing key file (evidence packages, checkpoints).
    pub audit_key: PathBuf,
    /// The keyring file of the data keys (`--data-key`); `None` resolves it as the command
    /// line does (environment, then the file beside the database).
    pub data_key: Option<PathBuf>,
    /// The configuration folder (templates, queues.toml) strategies are checked against.
    pub config_dir: PathBuf,
    /// How long a session lasts without logging in again.
    pub session_hours: i64,
    /// Failed logins allowed per user name and client address in the window; a client address
    /// and a user name from any address get four times as many. A browser the user has
    /// logged in from before (its device cookie) counts on its own and passes the others.
    pub login_attempts: usize,
    /// The window failed logins are counted in.
    pub login_window: Duration,
    /// The database's URL, for re-evaluating loans at once after a payment booked through the
    /// API (the batch's locks live beside a SQLite file); `None`: the next batch does it.
    pub db_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client: without them every client
    /// behind a proxy has the proxy's address, and shares its login limit.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            secure_cookies: false,
            audit_key: PathBuf::from("arrears.db.audit-key"),
            data_key: None,
            config_dir: PathBuf::from("config"),
            session_hours: 12,
            login_attempts: 5,
            login_window: Duration::from_secs(15 * 60),
            db_url: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Shared state, cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub db: Db,
    pub scanner: Scanner,
    pub config: ServerConfig,
    pub limiter: Mutex<Limiter>,
    /// The data keys, read on first use (a page that shows no personal data never needs them).
    pub keys: Mutex<Option<Arc<Keyring>>>,
}

impl AppState {
    /// State over an open database.
    pub fn new(db: Db, config: ServerConfig) -> AppState {
        AppState(Arc::new(Inner {
            db,
            scanner: Scanner::default(),
            config,
            limiter: Mutex::new(Limiter::default()),
            keys: Mutex::new(None),
        }))
    }

    /// The data keys (masking needs them to open the sealed values).
    pub(crate) fn keys(&self) -> Result<Arc<Keyring>, crate::Error> {
        let mut held = self.0.keys.lock().map_err(|_| crate::Error::internal("keyring lock poisoned"))?;
        if let Some(k) = held.as_ref() {
            return Ok(k.clone());
        }
        let k = Arc::new(
            Keyring::resolve(&self.0.db, self.0.config.data_key.as_deref())
                .map_err(crate::Error::internal)?,
        );
        *held = Some(k.clone());
        Ok(k)
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.0.db
    }
}

/// Failed logins per key (`user:NAME`, `ip:ADDR`) within the window. In memory, per
/// process: behind a load balancer each process limits on its own, which still bounds
/// guessing to a small multiple of the limit.
#[derive(Default)]
pub(crate) struct Limiter {
    failures: HashMap<String, VecDeque<Instant>>,
    /// Hashes of the device cookies each user has logged in with, by user name.
    devices: HashMap<String, std::collections::HashSet<String>>,
}

impl Limiter {
    /// Counts an attempt against every key before the password is checked, unless one of them
    /// is over its limit (then: seconds to wait). Checking and counting under one lock keeps
    /// parallel attempts from all passing the check before any is counted.
    pub fn begin(&mut self, keys: &[(String, usize)], window: Duration, now: Instant) -> Result<(), u64> {
        for (k, limit) in keys {
            if let Some(secs) = self.blocked(k, *limit, window, now) {
                return Err(secs);
            }
        }
        for (k, _) in keys {
            self.fail(k, now);
        }
        Ok(())
    }

    /// Takes back the attempt [`begin`](Self::begin) counted against `key`.
    pub fn take_back(&mut self, key: &str) {
        if let Some(q) = self.failures.get_mut(key) {
            q.pop_back();
        }
    }

    /// Remembers that `user` logged in from the device whose cookie hashes to `device`.
    pub fn remember_device(&mut self, user: &str, device: &str) {
        if self.devices.len() > 100_000 {
            self.devices.clear();
        }
        self.devices.entry(user.to_string()).or_default().insert(device.to_string());
    }

    /// Whether `user` has logged in from that device.
    pub fn knows_device(&self, user: &str, device: &str) -> bool {
        self.devices.get(user).is_some_and(|d| d.contains(device))
    }

    /// Seconds until the key may try again, if it is over its limit now.
    pub fn blocked(&mut self, key: &str, limit: usize, window: Duration, now: Instant) -> Option<u64> {
        let q = self.failures.get_mut(key)?;
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() < limit {
            return None;
        }
        let oldest = *q.front()?;
        Some((window.saturating_sub(now.duration_since(oldest))).as_secs().max(1))
    }

    /// Counts a failure.
    pub fn fail(&mut self, key: &str, now: Instant) {
        if self.failures.len() > 100_000 {
            // Bound the memory an attacker can make us hold: forget keys quiet for a minute.
            self.failures
                .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60)));
        }
        self.failures.entry(key.to_string()).or_default().push_back(now);
    }

    /// Forgets a key's failures (after a successful login).
    pub fn clear(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_the_limit_and_forgets_after_the_window() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let w = Duration::from_secs(60);
        for i in 0..3 {
            assert_eq!(l.blocked("user:a", 3, w, t0), None, "attempt {i}");
            l.fail("user:a", t0);
        }
        assert_eq!(l.blocked("user:a", 3, w, t0 + Duration::from_secs(10)), Some(50));
        assert_eq!(l.blocked("user:b", 3, w, t0), None);
        assert_eq!(l.blocked("user:a", 3, w, t0 + w), None);
        l.fail("user:a", t0 + w);
        l.clear("user:a");
        assert_eq!(l.blocked("user:a", 1, w, t0 + w), None);
    }

    #[test]
    fn an_attempt_is_counted_before_it_is_checked_and_can_be_taken_back() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let w = Duration::from_secs(60);
        let keys = [("pair".to_string(), 2), ("addr".to_string(), 3)];
        assert_eq!(l.begin(&keys, w, t0), Ok(()));
        assert_eq!(l.begin(&keys, w, t0), Ok(()));
        // Two attempts in flight fill the pair's limit before either is judged.
        assert_eq!(l.begin(&keys, w, t0), Err(60));
        l.take_back("pair");
        assert_eq!(l.begin(&keys, w, t0), Ok(()));
        // The address key counted all three; the refused attempt counted nothing.
        assert_eq!(l.blocked("addr", 3, w, t0), Some(60));
        assert!(!l.knows_device("u", "d"));
        l.remember_device("u", "d");
        assert!(l.knows_device("u", "d") && !l.knows_device("v", "d"));
    }
}
