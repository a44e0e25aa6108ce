//! Workbench sessions (table `sessions`): the cookie's token hash, its user and role, its
//! language, and when it ends.

use arrears_core::access::Role;

use crate::{Db, StoreError, on_pool};

/// A live session with the user it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The user's id.
    pub user_id: i64,
    /// Login name.
    pub name: String,
    /// The user's role, parsed where it is read.
    pub role: Role,
    /// The user's team, which with their role decides which cases they see.
    pub team: Option<String>,
    /// Agency of an agency user.
    pub agency: Option<String>,
    /// The session's CSRF token.
    pub csrf: String,
    /// zh or en.
    pub lang: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Stores a new session under the hash of its token.
pub async fn create_session(
    db: &Db,
    token_hash: &str,
    user_id: i64,
    csrf: &str,
    now: i64,
    expires_at: i64,
    lang: &str,
) -> Result<(), StoreError> {
    let sql = "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at, lang) \
               VALUES ($1, $2, $3, $4, $5, $6)";
    on_pool!(db, p => { sqlx::query(sql).bind(token_hash).bind(user_id).bind(csrf).bind(now).bind(expires_at)
        .bind(lang).execute(p).await?; });
    Ok(())
}

/// The session with that token hash, if it has not expired and its user is not disabled.
pub async fn session(db: &Db, token_hash: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
    type Row = (i64, String, String, Option<String>, Option<String>, String, String, i64);
    let sql = "SELECT u.user_id, u.name, u.role, u.team, u.agency, s.csrf, s.lang, s.expires_at \
               FROM sessions s JOIN users u ON u.user_id = s.user_id \
               WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled";
    let row: Option<Row> =
        on_pool!(db, p => sqlx::query_as(sql).bind(token_hash).bind(now).fetch_optional(p).await?);
    row.map(|(user_id, name, role, team, agency, csrf, lang, expires_at)| {
        let role = crate::people::parse_role(&name, &role)?;
        Ok(SessionRow { user_id, name, role, team, agency, csrf, lang, expires_at })
    })
    .transpose()
}

/// Ends a session (logout), and every expired one while at it.
pub async fn end_session(db: &Db, token_hash: &str, now: i64) -> Result<(), StoreError> {
    let sql = "DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2";
    on_pool!(db, p => { sqlx::query(sql).bind(token_hash).bind(now).execute(p).await?; });
    Ok(())
}

/// Remembers the language a session chose.
pub async fn set_session_lang(db: &Db, token_hash: &str, lang: &str) -> Result<(), StoreError> {
    let sql = "UPDATE sessions SET lang = $2 WHERE token_hash = $1";
    on_pool!(db, p => { sqlx::query(sql).bind(token_hash).bind(lang).execute(p).await?; });
    Ok(())
}
