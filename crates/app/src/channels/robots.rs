//! Group robots that departments read: WeCom (企业微信, a key in the URL) and DingTalk (钉钉,
//! signed mode: HMAC-SHA256 over `timestamp\nsecret`), as their documentation describes
//! (docs/channels-design.md §5). Neither has an idempotency key or a lookup, so a push is
//! made at most once.

use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::aliyun::percent_encode;
use super::config::{ChannelsConfig, ConfigError, RobotConfig};

/// A robot, ready to post.
pub struct Robot {
    client: reqwest::Client,
    url: String,
    kind: RobotKind,
}

enum RobotKind {
    Wecom { key: String },
    Dingtalk { token: String, secret: String },
}

/// DingTalk's signature of a timestamp (ms): URL-encoded base64 of HMAC-SHA256 with the
/// secret as key over `timestamp + "\n" + secret`.
pub fn dingtalk_sign(timestamp_ms: i64, secret: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    percent_encode(&base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

impl Robot {
    /// The robot of a provider's settings; its secrets come from the variables it names.
    pub fn new(name: &str, r: &RobotConfig, config: &ChannelsConfig) -> Result<Robot, ConfigError> {
        let kind = match r {
            RobotConfig::Wecom { key_env, .. } => {
                RobotKind::Wecom { key: config.secret(name, "key_env", key_env)? }
            }
            RobotConfig::Dingtalk { token_env, secret_env, .. } => RobotKind::Dingtalk {
                token: config.secret(name, "token_env", token_env)?,
                secret: config.secret(name, "secret_env", secret_env)?,
            },
        };
        let (client, url) = config.http_client(name, r.url(), 10_000, 2)?;
        Ok(Robot { client, url, kind })
    }

    /// Posts one markdown message; `Err` with what the robot or the network said.
    pub async fn post(&self, title: &str, markdown: &str) -> Result<(), String> {
        let (url, body) = match &self.kind {
            RobotKind::Wecom { key } => (
                format!("{}?key={}", self.url, percent_encode(key)),
                serde_json::json!({ "msgtype": "markdown", "markdown": { "content": markdown } }),
            ),
            RobotKind::Dingtalk { token, secret } => {
                // DingTalk refuses a timestamp an hour away from its clock: the wall clock's.
                let ts = Utc::now().timestamp_millis();
                (
                    format!(
                        "{}?access_token={}&timestamp={ts}&sign={}",
                        self.url,
                        percent_encode(token),
                        dingtalk_sign(ts, secret)
                    ),
                    serde_json::json!({ "msgtype": "markdown", "markdown": { "title": title, "text": markdown } }),
                )
            }
        };
        let resp = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| format!("HTTP {status}: {text}"))?;
        // HTTP 200 with a non-zero errcode is a refusal.
        match v["errcode"].as_i64() {
            Some(0) => Ok(()),
            _ => Err(format!("HTTP {status}: {text}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of docs/channels-design.md §5.2, recomputed there with Python's hmac.
    #[test]
    fn dingtalk_signature_matches_the_worked_example() {
        assert_eq!(
            dingtalk_sign(1_700_000_000_000, "SECtest"),
            "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D"
        );
    }
}
