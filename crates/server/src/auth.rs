//! Who is asking: login with an argon2-hashed password, server-side sessions in the
//! database (the cookie holds a random token, the table its SHA-256), the CSRF token that
//! goes with each session, and the login rate limit.

use std::net::SocketAddr;
use std::time::Instant;

use arrears_app::sessions;
use arrears_core::access::{Role, Viewer};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::error::{ApiError, Error, PageError};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "arrears_session";
/// The cookie that carries the login form's CSRF token before there is a session.
pub const LOGIN_CSRF_COOKIE: &str = "arrears_login_csrf";
/// The header a changing API call carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct User {
    /// Login name (a collector's is its collector id).
    pub name: String,
    /// The user's role, which decides what they may do and which cases they see.
    pub role: Role,
    /// The user's team; for a collector or supervisor it decides which collectors' cases they see.
    pub team: Option<String>,
    /// Agency of an agency user.
    pub agency: Option<String>,
    /// The session's CSRF token.
    pub csrf: String,
    /// zh or en.
    pub lang: String,
    token_hash: String,
    /// Authenticated by an API key (`Authorization: Bearer`) rather than a session cookie:
    /// no cookie, so no cross-site request to guard against with a CSRF token.
    pub by_key: bool,
}

impl User {
    /// The user as case visibility sees it.
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            role: self.role,
            name: &self.name,
            team: self.team.as_deref(),
            agency: self.agency.as_deref(),
        }
    }

    /// The actor recorded in actions and audit entries.
    pub fn actor(&self) -> String {
        format!("user:{}", self.name)
    }

    /// Checks a CSRF token sent with a form or call, in constant time (nothing to check for a
    /// caller with an API key, which sends no cookie).
    pub fn check_csrf(&self, sent: &str) -> Result<(), Error> {
        if self.by_key {
            return Ok(());
        }
        if constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) { Ok(()) } else { Err(Error::Csrf) }
    }

    pub(crate) fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub use arrears_app::sessions::random_token;

/// What the sessions table keeps of a token (as of an API key: its SHA-256).
fn hash_token(token: &str) -> String {
    arrears_app::audit::sha256_hex(token)
}

pub(crate) fn unix_now() -> i64 {
    crate::service::now().timestamp()
}

/// The value of a cookie in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with the settings every cookie of ours has: not readable by
/// scripts, never sent cross-site, `Secure` when the server is reached over HTTPS.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> String {
    let secure = if state.0.config.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

async fn user_from(parts: &Parts, state: &AppState) -> Result<User, Error> {
    if let Some(key) = bearer(&parts.headers) {
        let (name, role) =
            arrears_app::api_keys::authenticate(state.db(), key).await?.ok_or(Error::Unauthenticated)?;
        return Ok(User {
            name: format!("apikey:{name}"),
            role,
            team: None,
            agency: None,
            csrf: String::new(),
            lang: "zh".into(),
            token_hash: String::new(),
            by_key: true,
        });
    }
    let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(Error::Unauthenticated)?;
    let token_hash = hash_token(token);
    let row = sessions::find(state.db(), &token_hash, unix_now()).await?.ok_or(Error::Unauthenticated)?;
    let role = row.role;
    Ok(User {
        name: row.name,
        role,
        team: row.team,
        agency: row.agency,
        csrf: row.csrf,
        lang: row.lang,
        token_hash,
        by_key: false,
    })
}

/// The key of `Authorization: Bearer KEY`, if the request carries one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim()).filter(|k| !k.is_empty())
}

/// A logged-in user, for the API (401 JSON without a session).
pub struct ApiUser(pub User);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ApiUser(user_from(parts, state).await?))
    }
}

/// A logged-in user, for the pages (to the login page without a session).
pub struct PageUser(pub User);

impl FromRequestParts<AppState> for PageUser {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(PageUser(user_from(parts, state).await?))
    }
}

/// The user if there is a session, without insisting.
pub struct MaybeUser(pub Option<User>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match user_from(parts, state).await {
            Ok(u) => Ok(MaybeUser(Some(u))),
            Err(Error::Unauthenticated) => Ok(MaybeUser(None)),
            Err(e) => Err(e.into()),
        }
    }
}

/// The client's address as the connection shows it ("-" when not served over TCP, as in
/// tests); from a trusted proxy, the last address in `X-Forwarded-For` that is not one.
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
            return Ok(ClientAddr("-".into()));
        };
        let trusted = &state.0.config.trusted_proxies;
        Ok(ClientAddr(client_of(peer, parts.headers.get_all("x-forwarded-for").iter(), trusted).to_string()))
    }
}

/// The client behind `peer`: itself unless it is a trusted proxy; then, reading
/// `X-Forwarded-For` from its end (each proxy appends the address it was reached from), the
/// first address that is not a trusted proxy. A header a client wrote itself is only ever
/// read past trusted proxies, so it cannot choose its address.
fn client_of<'a>(
    peer: std::net::IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a axum::http::HeaderValue>,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> =
        forwarded.filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            // Garbage in the chain: stop at the last proxy we trust.
            Err(_) => return client,
        }
    }
    client
}

/// The cookie that marks a browser a user has logged in from before.
pub const DEVICE_COOKIE: &str = "arrears_device";

/// A new session: the cookie token and its CSRF token.
pub struct NewSession {
    /// Goes in the cookie.
    pub token: String,
    /// Goes in forms and the `x-csrf-token` header.
    pub csrf: String,
    /// The role logged in.
    pub role: Role,
    /// Goes in the device cookie: the browser logs in on its own limit from now on.
    pub device: String,
}

/// Checks the password (with the rate limit) and opens a session. `device` is the device
/// cookie the browser sent, if any.
///
/// Failed attempts count per user name and address, so that guessing stays slow without
/// handing outsiders a switch: an address (a proxy's, unless `trusted_proxies` names it) or
/// a user name from many addresses gets four times the limit, and a browser the user has
/// logged in from before counts on its own, so that its owner still gets in while an
/// attacker is locked out.
pub async fn login(
    state: &AppState,
    name: &str,
    password: &str,
    client: &str,
    device: Option<&str>,
    lang: &str,
) -> Result<NewSession, Error> {
    let cfg = &state.0.config;
    let device_hash = device.map(hash_token);
    let (keys, reset) = {
        let mut l = state.0.limiter.lock().map_err(|_| Error::internal("login limiter poisoned"))?;
        let known = device_hash.as_deref().filter(|d| l.knows_device(name, d));
        let n = cfg.login_attempts;
        let (keys, reset) = match known {
            Some(d) => (vec![(format!("device:{d}"), n)], format!("device:{d}")),
            None => (
                vec![
                    (format!("user+ip:{name}|{client}"), n),
                    (format!("ip:{client}"), n * 4),
                    (format!("user:{name}"), n * 4),
                ],
                format!("user+ip:{name}|{client}"),
            ),
        };
        l.begin(&keys, cfg.login_window, Instant::now()).map_err(Error::TooManyAttempts)?;
        (keys, reset)
    };
    let checked = arrears_app::personal::authenticate_user(state.db(), name, password).await;
    let user = match checked {
        Ok(u) => u,
        Err(
            arrears_app::personal::PersonalDataError::BadCredentials(_)
            | arrears_app::personal::PersonalDataError::Disabled(_),
        ) => {
            return Err(Error::BadRequest("用户名或密码错误 / wrong user name or password".into()));
        }
        Err(e) => {
            // Not a wrong password: the attempt does not count.
            if let Ok(mut l) = state.0.limiter.lock() {
                keys.iter().for_each(|(k, _)| l.take_back(k));
            }
            return Err(e.into());
        }
    };
    // A cookie this server made is kept; anything else (made up, or from an older scheme) is
    // replaced, so that a guessable value never becomes a known device.
    let device = match device {
        Some(d) if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) => d.to_string(),
        _ => random_token(),
    };
    if let Ok(mut l) = state.0.limiter.lock() {
        keys.iter().for_each(|(k, _)| l.take_back(k));
        l.clear(&reset);
        l.remember_device(name, &hash_token(&device));
    }
    let role = user.role;
    let token = random_token();
    let csrf = random_token();
    let now = unix_now();
    let lang = if lang == "en" { "en" } else { "zh" };
    let token_hash = hash_token(&token);
    let s = sessions::NewSession { token_hash: &token_hash, user_id: user.user_id, csrf: &csrf, lang };
    sessions::start(state.db(), &s, now, cfg.session_hours).await?;
    Ok(NewSession { token, csrf, role, device })
}

/// Ends the session.
pub async fn logout(state: &AppState, user: &User) -> Result<(), Error> {
    sessions::end(state.db(), user.token_hash(), unix_now()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_read_past_trusted_proxies_only() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // (peer, X-Forwarded-For headers, client)
        let table: [(&str, &[&str], &str); 7] = [
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            ("10.0.0.1", &[], "10.0.0.1"),
            ("10.0.0.1", &["198.51.100.1"], "198.51.100.1"),
            ("10.0.0.1", &["6.6.6.6, 198.51.100.1, 10.0.0.2"], "198.51.100.1"),
            ("10.0.0.1", &["6.6.6.6", "198.51.100.1"], "198.51.100.1"),
            ("10.0.0.1", &["198.51.100.1, junk, 10.0.0.2"], "10.0.0.2"),
            ("10.0.0.1", &["2001:db8::1"], "2001:db8::1"),
        ];
        for (peer, headers, want) in table {
            let values: Vec<axum::http::HeaderValue> = headers.iter().map(|h| h.parse().unwrap()).collect();
            assert_eq!(client_of(ip(peer), values.iter(), &proxies), ip(want), "{peer} {headers:?}");
        }
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(axum::http::header::COOKIE, "a=1; arrears_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
