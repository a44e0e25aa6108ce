//! The batch lock: at most one process runs a given batch (or shard) at a time.
//!
//! Both kinds are released by the operating system or the server when the
//! holder dies, so a killed batch never leaves a stale lock behind: a file lock
//! (flock) beside a SQLite database, a session advisory lock on PostgreSQL.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use sqlx::Connection as _;

use crate::{Db, DbUrl, StoreError};

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct BatchLock {
    _held: Held,
}

#[derive(Debug)]
enum Held {
    File(#[allow(dead_code, reason = "held only for its lock")] File),
    Postgres(sqlx::PgConnection, i64),
    /// An in-memory database cannot be shared between processes.
    Nothing,
}

/// The file a SQLite URL names, if it names one.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Stable 64-bit key of a lock name (FNV-1a), for PostgreSQL advisory locks.
fn key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Takes the lock called `name` without waiting; `Busy` says who must finish first.
pub async fn acquire(db: &Db, url: &DbUrl, name: &str) -> Result<BatchLock, StoreError> {
    let busy = || {
        StoreError::Busy(format!(
            "another arrears {name} is running on this database; wait for it to finish (a killed run releases the lock)"
        ))
    };
    let held = match db {
        Db::Sqlite(_) => match sqlite_path(url.expose()) {
            Some(db_path) => {
                let mut path = db_path.into_os_string();
                path.push(format!(".{name}.lock"));
                let file =
                    OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| {
                        StoreError::Busy(format!("cannot create the lock file {path:?}: {e}"))
                    })?;
                match file.try_lock() {
                    Ok(()) => Held::File(file),
                    Err(TryLockError::WouldBlock) => return Err(busy()),
                    Err(TryLockError::Error(e)) => {
                        return Err(StoreError::Busy(format!("cannot lock {path:?}: {e}")));
                    }
                }
            }
            None => Held::Nothing,
        },
        Db::Postgres(pool) => {
            // A connection of its own, outside the pool, so the session (and the lock) lives
            // exactly as long as this value.
            let mut conn = pool.acquire().await?.detach();
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(key(name))
                .fetch_one(&mut conn)
                .await?;
            if !got {
                let _ = conn.close().await;
                return Err(busy());
            }
            Held::Postgres(conn, key(name))
        }
    };
    Ok(BatchLock { _held: held })
}

impl BatchLock {
    /// Releases the lock now rather than at drop.
    pub async fn release(self) {
        if let Held::Postgres(mut conn, key) = self._held {
            // Unlock before closing: the server drops a closed session's locks only when its
            // backend has exited, after close() returns, so the next acquire could still
            // find the lock taken (seen as a rare 'batch-finish is running' between dates).
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(key).execute(&mut conn).await;
            let _ = conn.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://a/b.db?mode=rwc"), Some(PathBuf::from("a/b.db")));
        assert_eq!(sqlite_path("sqlite:x.db"), Some(PathBuf::from("x.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_ne!(key("batch"), key("batch-0-of-2"));
    }
}
