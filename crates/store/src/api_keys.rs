//! API keys of service accounts (table `api_keys`): only each key's SHA-256 is stored.

use arrears_core::access::Role;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRow {
    /// Its name.
    pub name: String,
    /// The role it acts with.
    pub role: Role,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Who made it.
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// Stores a new key; `false` (nothing written) when a key of that name exists, revoked or not.
pub async fn add(
    tx: &mut Tx,
    name: &str,
    role: Role,
    key_hash: &str,
    at: &str,
    by: &str,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO api_keys (name, role, key_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO NOTHING",
    ).bind(name).bind(role.as_str()).bind(key_hash).bind(at).bind(by).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// Revokes the key `name`; `false` when there is no such key in use.
pub async fn revoke(tx: &mut Tx, name: &str, at: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL")
        .bind(name).bind(at).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// The name and role of the key in use whose SHA-256 is `key_hash`.
pub async fn find(db: &Db, key_hash: &str) -> Result<Option<(String, Role)>, StoreError> {
    let row: Option<(String, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    ).bind(key_hash).fetch_optional(p).await?);
    row.map(|(name, role)| Ok((name, crate::stored_enum("api_keys", &role)?))).transpose()
}

/// Every key, by name.
pub async fn list(db: &Db) -> Result<Vec<ApiKeyRow>, StoreError> {
    let rows: Vec<(String, String, String, String, Option<String>)> = on_pool!(db, p => sqlx::query_as(
        "SELECT name, role, created_at, created_by, revoked_at FROM api_keys ORDER BY name",
    ).fetch_all(p).await?);
    rows.into_iter()
        .map(|(name, role, created_at, created_by, revoked_at)| {
            Ok(ApiKeyRow {
                name,
                role: crate::stored_enum("api_keys", &role)?,
                created_at,
                created_by,
                revoked_at,
            })
        })
        .collect()
}
