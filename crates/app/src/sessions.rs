//! Workbench sessions: started at login, found on every request, ended at logout. The server
//! keeps the cookie and the clock (unix seconds come in from it); the table is `sessions`.

use arrears_store::sessions as store;
pub use arrears_store::sessions::SessionRow;
use arrears_store::{Db, StoreError};

/// A session to start: the token's hash (never the token), its user, CSRF token and language.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// SHA-256 of the cookie's token.
    pub token_hash: &'a str,
    /// The user logged in.
    pub user_id: i64,
    /// The session's CSRF token, sent back with every changing request.
    pub csrf: &'a str,
    /// `zh` or `en`.
    pub lang: &'a str,
}

/// Starts a session at `now` (unix seconds) lasting `hours`.
pub async fn start(db: &Db, s: &NewSession<'_>, now: i64, hours: i64) -> Result<(), StoreError> {
    store::create_session(db, s.token_hash, s.user_id, s.csrf, now, now + hours * 3600, s.lang).await
}

/// The live session of a token's hash at `now`, with its user; `None` when it ended or expired.
pub async fn find(db: &Db, token_hash: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
    store::session(db, token_hash, now).await
}

/// Ends a session (and sweeps the expired ones).
pub async fn end(db: &Db, token_hash: &str, now: i64) -> Result<(), StoreError> {
    store::end_session(db, token_hash, now).await
}

/// Remembers the language a session chose.
pub async fn set_language(db: &Db, token_hash: &str, lang: &str) -> Result<(), StoreError> {
    store::set_session_lang(db, token_hash, lang).await
}

/// 32 random bytes as hex, from the operating system's generator: session and CSRF tokens,
/// API keys.
pub fn random_token() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}
