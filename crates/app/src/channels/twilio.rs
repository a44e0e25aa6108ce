//! SMS through Twilio Programmable Messaging, as documented
//! (https://www.twilio.com/docs/messaging/api/message-resource; docs/channels-design.md §4):
//! HTTP Basic auth, a form body, status callbacks signed with `X-Twilio-Signature`.
//!
//! Creating a message is not idempotent (Twilio error 20500), and a message has no field of
//! ours; so the text ends with a short reference of the message id, and a send whose answer
//! was lost is settled by listing the number's messages of the day and matching it.

use arrears_core::delivery::Attempted;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::aliyun::percent_encode;
use super::config::{ChannelsConfig, ConfigError, TwilioConfig};

/// A Twilio account, ready to send.
pub struct Twilio {
    client: reqwest::Client,
    endpoint: String,
    account_sid: String,
    auth_token: String,
    from: String,
    status_callback: Option<String>,
}

/// The reference a text carries: the first ten hex digits of the message id's SHA-256.
pub fn short_ref(message_id: &str) -> String {
    hex::encode(&Sha256::digest(message_id.as_bytes())[..5])
}

/// `X-Twilio-Signature` of a request: Base64 of HMAC-SHA1, keyed with the auth token, over
/// the full URL followed by each POST parameter's name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac =
        <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A number as Twilio takes it (E.164): `+` and the digits of an international number as
/// stored (`+1 352-966-0210` is `+13529660210`); anything else as it is, for Twilio to refuse.
pub fn e164(phone: &str) -> String {
    let p = phone.trim();
    match p.strip_prefix('+') {
        Some(rest) => format!("+{}", rest.chars().filter(char::is_ascii_digit).collect::<String>()),
        None => p.to_string(),
    }
}

/// A form body (`application/x-www-form-urlencoded`).
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Twilio {
    /// The account of a provider's settings; its secrets come from the variables it names.
    pub fn new(name: &str, t: &TwilioConfig, config: &ChannelsConfig) -> Result<Twilio, ConfigError> {
        let account_sid = config.secret(name, "account_sid_env", &t.account_sid_env)?;
        let auth_token = config.secret(name, "auth_token_env", &t.auth_token_env)?;
        let (client, endpoint) = config.http_client(name, &t.endpoint, t.timeout_ms, t.connections)?;
        Ok(Twilio {
            client,
            endpoint,
            account_sid,
            auth_token,
            from: t.from.clone(),
            status_callback: t.status_callback.clone(),
        })
    }

    fn messages_url(&self) -> String {
        format!("{}/2010-04-01/Accounts/{}/Messages.json", self.endpoint, self.account_sid)
    }

    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.account_sid, self.auth_token);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }

    /// The text as sent: ours, then the message's reference.
    pub fn text(body: &str, message_id: &str) -> String {
        format!("{body} (ref {})", short_ref(message_id))
    }

    /// Sends one SMS (`text` as [`Twilio::text`] made it): what Twilio said, as the
    /// dispatcher weighs it.
    pub async fn send(&self, message_id: &str, to: &str, text: &str) -> Attempted {
        let callback =
            self.status_callback.as_ref().map(|u| format!("{u}?mid={}", percent_encode(message_id)));
        let to = e164(to);
        let mut pairs = vec![("To", to.as_str()), ("From", self.from.as_str()), ("Body", text)];
        if let Some(c) = &callback {
            pairs.push(("StatusCallback", c.as_str()));
        }
        let sent = self
            .client
            .post(self.messages_url())
            .header("authorization", self.basic())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs))
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Attempted::Transient { error: e.to_string(), retry_after_ms: None };
            }
            Err(e) => return Attempted::Unknown { error: e.to_string() },
        };
        let status = resp.status();
        let retry_after_ms = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| s * 1000);
        let answer = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Attempted::Unknown { error: e.to_string() },
        };
        let v: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        let error = format!("HTTP {status}: {} {}", v["code"], v["message"].as_str().unwrap_or(""));
        match status.as_u16() {
            200 | 201 => match v["sid"].as_str() {
                Some(sid) => Attempted::Accepted { provider_id: sid.to_string() },
                None => {
                    Attempted::Unknown { error: format!("no sid in {}", String::from_utf8_lossy(&answer)) }
                }
            },
            429 | 500..=599 => Attempted::Transient { error, retry_after_ms },
            // 21211 invalid number, 21614 not a mobile: the number is wrong.
            _ if matches!(v["code"].as_i64(), Some(21211 | 21614)) => {
                Attempted::Permanent { error, bad_address: true }
            }
            _ => Attempted::Permanent { error, bad_address: false },
        }
    }

    /// Whether Twilio has the message: its sid, found among the number's messages sent since
    /// `since` by the reference in the text; `None` when it has not.
    pub async fn lookup(
        &self,
        message_id: &str,
        to: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, String> {
        let reference = format!("(ref {})", short_ref(message_id));
        let url = format!(
            "{}?To={}&DateSent%3E={}",
            self.messages_url(),
            percent_encode(&e164(to)),
            since.format("%Y-%m-%d")
        );
        let resp = self
            .client
            .get(url)
            .header("authorization", self.basic())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| format!("HTTP {status}: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("HTTP {status}: {e}"))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {v}"));
        }
        let found = v["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["body"].as_str().is_some_and(|b| b.ends_with(&reference)));
        Ok(found.and_then(|m| m["sid"].as_str()).map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's published example (docs/channels-design.md §4.2, recomputed there).
    #[test]
    fn signature_matches_twilios_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn numbers_go_out_in_e164() {
        for (stored, sent) in [
            ("+1 352-966-0210", "+13529660210"),
            ("+86 138 0013 8000", "+8613800138000"),
            ("13800138000", "13800138000"),
        ] {
            assert_eq!(e164(stored), sent);
        }
    }

    #[test]
    fn the_reference_is_short_and_stable() {
        assert_eq!(short_ref("T:1").len(), 10);
        assert_eq!(short_ref("T:1"), short_ref("T:1"));
        assert_ne!(short_ref("T:1"), short_ref("T:2"));
        assert!(Twilio::text("Pay", "T:1").ends_with(&format!("(ref {})", short_ref("T:1"))));
    }
}
