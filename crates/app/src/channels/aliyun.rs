//! SMS through Alibaba Cloud (`dysmsapi`, 2017-05-25), signed with ACS3-HMAC-SHA256, as
//! documented at https://help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature
//! (see docs/channels-design.md §3).
//!
//! SendSms has no idempotency key, so a send whose answer was lost is never simply repeated:
//! the message id travels as `OutId`, and QuerySendDetails tells whether Alibaba has it.

use std::sync::atomic::{AtomicU64, Ordering};

use arrears_core::delivery::Attempted;
use chrono::{FixedOffset, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::config::{AliyunConfig, ChannelsConfig, ConfigError};

const VERSION: &str = "2017-05-25";
const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// The Alibaba SMS account a provider sends through.
pub struct Aliyun {
    client: reqwest::Client,
    endpoint: String,
    host: String,
    key_id: String,
    secret: String,
    sign_name: String,
    /// Our template name → Alibaba's approved template code.
    templates: std::collections::BTreeMap<String, String>,
}

/// An SMS to send.
pub struct Sms<'a> {
    /// Message id (sent as `OutId`).
    pub message_id: &'a str,
    /// The number.
    pub phone: &'a str,
    /// Our template name.
    pub template: &'a str,
    /// The template's values, a JSON object of strings.
    pub params: &'a str,
}

/// RFC 3986 percent-encoding of UTF-8 text: `A-Za-z0-9-_.~` kept, every other byte `%XX`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical query string: names and values encoded, sorted, `k=v` joined by `&`.
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    encoded.sort();
    encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The signature of an RPC-style request: lowercase hex HMAC-SHA256 over the hashed
/// canonical request. `headers` are the signed ones, lowercase names; the body is empty.
pub fn signature(secret: &str, method: &str, query: &str, headers: &[(&str, &str)]) -> (String, String) {
    let mut sorted: Vec<(&str, &str)> = headers.to_vec();
    sorted.sort();
    let canonical_headers: String = sorted.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed: Vec<&str> = sorted.iter().map(|(k, _)| *k).collect();
    let signed = signed.join(";");
    let canonical =
        format!("{method}\n/\n{query}\n{canonical_headers}\n{signed}\n{}", hex::encode(Sha256::digest(b"")));
    let to_sign = format!("{ALGORITHM}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(to_sign.as_bytes());
    (hex::encode(mac.finalize().into_bytes()), signed)
}

/// A nonce no other request of this process (or another process) has used.
fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = format!("{}:{}:{n}", std::process::id(), Utc::now().timestamp_nanos_opt().unwrap_or_default());
    hex::encode(&Sha256::digest(seed.as_bytes())[..16])
}

impl Aliyun {
    /// The account of a provider's settings; its secrets come from the variables it names.
    pub fn new(name: &str, a: &AliyunConfig, config: &ChannelsConfig) -> Result<Aliyun, ConfigError> {
        let key_id = config.secret(name, "access_key_id_env", &a.access_key_id_env)?;
        let secret = config.secret(name, "access_key_secret_env", &a.access_key_secret_env)?;
        let (client, endpoint) = config.http_client(name, &a.endpoint, a.timeout_ms, a.connections)?;
        let host = endpoint.trim_start_matches("http://").to_string();
        Ok(Aliyun {
            client,
            endpoint,
            host,
            key_id,
            secret,
            sign_name: a.sign_name.clone(),
            templates: a.templates.clone(),
        })
    }

    /// One signed RPC call; the JSON answer, or what went wrong and whether the request may
    /// have reached Alibaba.
    async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<serde_json::Value, (String, bool)> {
        let query = canonical_query(params);
        // Alibaba holds the request's time to its own clock (15 minutes either way): the wall
        // clock of this call, whatever time a catch-up pass stands for.
        let date = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = nonce();
        let empty = hex::encode(Sha256::digest(b""));
        let headers = [
            ("host", self.host.as_str()),
            ("x-acs-action", action),
            ("x-acs-content-sha256", empty.as_str()),
            ("x-acs-date", date.as_str()),
            ("x-acs-signature-nonce", nonce.as_str()),
            ("x-acs-version", VERSION),
        ];
        let (sig, signed) = signature(&self.secret, "POST", &query, &headers);
        let mut req = self.client.post(format!("{}/?{query}", self.endpoint));
        for (k, v) in &headers[1..] {
            req = req.header(*k, *v);
        }
        req = req.header(
            "authorization",
            format!("{ALGORITHM} Credential={},SignedHeaders={signed},Signature={sig}", self.key_id),
        );
        let resp = req.send().await.map_err(|e| (e.to_string(), !e.is_connect()))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| (e.to_string(), true))?;
        serde_json::from_slice(&body).map_err(|_| {
            (format!("HTTP {status}: {}", String::from_utf8_lossy(&body)), status.is_server_error())
        })
    }

    /// Sends one SMS: what Alibaba said, as the dispatcher weighs it.
    pub async fn send(&self, sms: &Sms<'_>) -> Attempted {
        let Some(code) = self.templates.get(sms.template) else {
            return Attempted::Permanent {
                error: format!(
                    "template {} has no Alibaba template code ([providers.*.templates])",
                    sms.template
                ),
                bad_address: false,
            };
        };
        let params = [
            ("OutId", sms.message_id),
            ("PhoneNumbers", sms.phone),
            ("SignName", self.sign_name.as_str()),
            ("TemplateCode", code.as_str()),
            ("TemplateParam", sms.params),
        ];
        match self.call("SendSms", &params).await {
            Ok(v) => weigh(&v),
            Err((error, false)) => Attempted::Transient { error, retry_after_ms: None },
            Err((error, true)) => Attempted::Unknown { error },
        }
    }

    /// Whether Alibaba took the message (`OutId`) for this number on the Beijing dates of the
    /// last two days: its BizId, `None` when it did not; an error when it cannot tell.
    pub async fn lookup(&self, message_id: &str, phone: &str) -> Result<Option<String>, String> {
        let beijing = FixedOffset::east_opt(8 * 3600).expect("UTC+8");
        // Alibaba files sends by the Beijing date they reached it: the wall clock's.
        let today = Utc::now().with_timezone(&beijing).date_naive();
        for day in [today, today.pred_opt().unwrap_or(today)] {
            let date = day.format("%Y%m%d").to_string();
            for page in 1..=20u32 {
                let page_text = page.to_string();
                let params = [
                    ("PhoneNumber", phone),
                    ("SendDate", date.as_str()),
                    ("PageSize", "50"),
                    ("CurrentPage", page_text.as_str()),
                ];
                let v = self.call("QuerySendDetails", &params).await.map_err(|(e, _)| e)?;
                if v["Code"] != "OK" {
                    return Err(format!("QuerySendDetails: {v}"));
                }
                let list = v["SmsSendDetailDTOs"]["SmsSendDetailDTO"].as_array().cloned().unwrap_or_default();
                if let Some(found) = list.iter().find(|d| d["OutId"] == message_id) {
                    let biz = found["BizId"].as_str().unwrap_or(message_id);
                    return Ok(Some(biz.to_string()));
                }
                if list.len() < 50 {
                    break;
                }
            }
        }
        Ok(None)
    }
}

/// What a SendSms answer means for the message.
fn weigh(v: &serde_json::Value) -> Attempted {
    let code = v["Code"].as_str().unwrap_or("");
    let error = format!("{code}: {}", v["Message"].as_str().unwrap_or(""));
    match code {
        "OK" => Attempted::Accepted { provider_id: v["BizId"].as_str().unwrap_or("").to_string() },
        // The number itself is wrong.
        "isv.MOBILE_NUMBER_ILLEGAL" | "isv.MOBILE_COUNT_OVER_LIMIT" => {
            Attempted::Permanent { error, bad_address: true }
        }
        // Rate limits and Alibaba's own trouble pass.
        "isv.BUSINESS_LIMIT_CONTROL" | "Throttling.User" | "SignatureNonceUsed" => {
            Attempted::Transient { error, retry_after_ms: None }
        }
        c if c.starts_with("isp.") => Attempted::Transient { error, retry_after_ms: None },
        _ => Attempted::Permanent { error, bad_address: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alibaba's published example (RunInstances), checked here by recomputing it.
    #[test]
    fn signature_matches_alibabas_published_example() {
        let query = canonical_query(&[
            ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
            ("RegionId", "cn-shanghai"),
        ]);
        assert_eq!(query, "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai");
        let empty = hex::encode(Sha256::digest(b""));
        let headers = [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-content-sha256", empty.as_str()),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-version", "2014-05-26"),
        ];
        let (sig, signed) = signature("YourAccessKeySecret", "POST", &query, &headers);
        assert_eq!(sig, "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
        assert_eq!(
            signed,
            "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
        );
    }

    #[test]
    fn encoding_is_rfc_3986_over_utf8() {
        let table = [
            ("a b*c~", "a%20b%2Ac~"),
            ("阿里", "%E9%98%BF%E9%87%8C"),
            ("{\"a\":\"1\"}", "%7B%22a%22%3A%221%22%7D"),
        ];
        for (plain, encoded) in table {
            assert_eq!(percent_encode(plain), encoded);
        }
    }

    #[test]
    fn answers_are_weighed_by_code() {
        let v = |code: &str| serde_json::json!({"Code": code, "Message": "m", "BizId": "9"});
        assert_eq!(weigh(&v("OK")), Attempted::Accepted { provider_id: "9".into() });
        assert!(matches!(
            weigh(&v("isv.MOBILE_NUMBER_ILLEGAL")),
            Attempted::Permanent { bad_address: true, .. }
        ));
        assert!(matches!(weigh(&v("isp.SYSTEM_ERROR")), Attempted::Transient { .. }));
        assert!(matches!(
            weigh(&v("isv.SMS_TEMPLATE_ILLEGAL")),
            Attempted::Permanent { bad_address: false, .. }
        ));
    }
}
