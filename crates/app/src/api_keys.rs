//! API keys (API 密钥) of service accounts: the lender's core banking system books payments
//! through the API with one. A key is shown once when made; only its SHA-256 is stored, and
//! making or revoking one is audited.

use arrears_core::access::{AccessError, Role, check_new_key};
use arrears_store::api_keys::{self as store, ApiKeyRow};
use arrears_store::{Db, StoreError};

use crate::audit::Event;

/// Why a key was not made, revoked or accepted.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// A bad name or a role that may not hold a key.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Not a role at all.
    #[error("unknown role {0:?}: an API key acts for a service account (--role service)")]
    UnknownRole(String),
    /// The name is taken.
    #[error("an API key named {0} exists already (revoked keys keep their names): choose another name")]
    Exists(String),
    /// Nothing to revoke.
    #[error("no API key named {0} is in use")]
    NotInUse(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be recorded (nor was the change).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// What prefixes every key, so that one found in a log or a file is recognised as ours.
pub const KEY_PREFIX: &str = "arrk_";

/// Makes a key named `name` for `role` (a service account) as `actor`; returns the key, which
/// is not stored and cannot be shown again.
pub async fn create(
    db: &Db,
    name: &str,
    role: &str,
    at: &crate::audit::At,
    actor: &str,
) -> Result<String, ApiKeyError> {
    let role: Role = role.parse().map_err(|_| ApiKeyError::UnknownRole(role.to_string()))?;
    check_new_key(name, role)?;
    let key = format!("{KEY_PREFIX}{}", crate::sessions::random_token());
    let mut tx = db.begin().await?;
    if !store::add(&mut tx, name, role, &crate::audit::sha256_hex(&key), &at.to_rfc3339(), actor).await? {
        return Err(ApiKeyError::Exists(name.to_string()));
    }
    let e = Event::new(actor, "apikey.created").entity(format!("apikey:{name}")).fact("role", role.as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(key)
}

/// Revokes the key `name` as `actor`: requests with it are refused from now on.
pub async fn revoke(db: &Db, name: &str, at: &crate::audit::At, actor: &str) -> Result<(), ApiKeyError> {
    let mut tx = db.begin().await?;
    if !store::revoke(&mut tx, name, &at.to_rfc3339()).await? {
        return Err(ApiKeyError::NotInUse(name.to_string()));
    }
    crate::audit::record_all(
        &mut tx,
        at,
        vec![Event::new(actor, "apikey.revoked").entity(format!("apikey:{name}"))],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The name and role of the key in use that `key` is, if it is one.
pub async fn authenticate(db: &Db, key: &str) -> Result<Option<(String, Role)>, StoreError> {
    if !key.starts_with(KEY_PREFIX) {
        return Ok(None);
    }
    store::find(db, &crate::audit::sha256_hex(key)).await
}

/// Every key, by name (never the keys themselves).
pub async fn list(db: &Db) -> Result<Vec<ApiKeyRow>, StoreError> {
    store::list(db).await
}
