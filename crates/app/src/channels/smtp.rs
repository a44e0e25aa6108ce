//! E-mail through an SMTP relay (lettre, pooled connections). Every message carries
//! `X-Arrears-Message-Id`, so that a relay that keeps one copy per id can drop a repeat and a
//! reader can match a mail to its row.

use std::time::Duration;

use arrears_core::delivery::Attempted;
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{ChannelsConfig, ConfigError, SmtpConfig};

/// The header that names the message.
pub const MESSAGE_ID_HEADER: &str = "X-Arrears-Message-Id";

/// A relay, ready to send.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
    /// Whether the relay drops a repeat of a message id (so a resend is harmless).
    pub deduplicates: bool,
}

/// An e-mail to send.
pub struct Email<'a> {
    /// Message id (the outbox's).
    pub message_id: &'a str,
    /// Recipient address.
    pub to: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// Plain text.
    pub text: &'a str,
}

impl Smtp {
    /// The relay of a provider's settings; `name` is the provider's name in the file.
    pub fn new(name: &str, s: &SmtpConfig, config: &ChannelsConfig) -> Result<Smtp, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid {
            path: config.path.clone(),
            detail: format!("[providers.{name}] {detail}"),
        };
        let rest = s.url.strip_prefix("smtp://").ok_or_else(|| {
            invalid(format!(
                "url {:?}: only plain smtp://host:port is built in (TLS relays need the `tls` build, not yet done)",
                s.url
            ))
        })?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| invalid(format!("url {:?}: bad port", s.url)))?),
            None => (rest, 25),
        };
        if host.is_empty() {
            return Err(invalid(format!("url {:?}: no host", s.url)));
        }
        let from: Mailbox = s.from.parse().map_err(|e| invalid(format!("from {:?}: {e}", s.from)))?;
        let domain = from.email.domain().to_string();
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(Duration::from_millis(s.timeout_ms)))
            .pool_config(PoolConfig::new().max_size(s.connections.max(1)));
        if let Some(user_var) = &s.username_env {
            let user = config.secret(name, "username_env", user_var)?;
            let password = match &s.password_env {
                Some(v) => config.secret(name, "password_env", v)?,
                None => String::new(),
            };
            b = b.credentials(Credentials::new(user, password));
        }
        Ok(Smtp { transport: b.build(), from, domain, deduplicates: s.relay_deduplicates })
    }

    /// Sends one e-mail: what the relay said, as the dispatcher weighs it.
    pub async fn send(&self, e: &Email<'_>) -> Attempted {
        let to: Mailbox = match e.to.parse() {
            Ok(m) => m,
            Err(err) => {
                return Attempted::Permanent {
                    error: format!("e-mail address {:?}: {err}", e.to),
                    bad_address: true,
                };
            }
        };
        // Task ids hold ':', which a Message-ID's left part may not (RFC 5322 dot-atom).
        let left: String = e
            .message_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '.' })
            .collect();
        let message_id = format!("<{left}@{}>", self.domain);
        // The envelope sender names the message too, so that a bounce can be matched (VERP).
        let envelope = match format!("bounce+{left}@{}", self.domain)
            .parse()
            .ok()
            .and_then(|bounce| Envelope::new(Some(bounce), vec![to.email.clone()]).ok())
        {
            Some(env) => env,
            None => Envelope::new(Some(self.from.email.clone()), vec![to.email.clone()])
                .expect("a recipient is given"),
        };
        let header =
            HeaderValue::new(HeaderName::new_from_ascii_str(MESSAGE_ID_HEADER), e.message_id.to_string());
        let html = format!("<html><body><p>{}</p></body></html>", html_paragraphs(e.text));
        let built = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(e.subject)
            .message_id(Some(message_id.clone()))
            .raw_header(header)
            .envelope(envelope)
            .multipart(MultiPart::alternative_plain_html(e.text.to_string(), html));
        let email = match built {
            Ok(m) => m,
            Err(err) => {
                return Attempted::Permanent { error: format!("e-mail not built: {err}"), bad_address: false };
            }
        };
        match self.transport.send(email).await {
            Ok(_) => Attempted::Accepted { provider_id: message_id },
            Err(err) => weigh(&err),
        }
    }
}

/// What an SMTP error means for the message.
fn weigh(err: &lettre::transport::smtp::Error) -> Attempted {
    let error = err.to_string();
    if err.is_permanent() {
        // 550/551/553: the mailbox does not exist or its name is not allowed.
        let code = err.status().map(|c| c.to_string()).unwrap_or_default();
        let bad_address = matches!(code.as_str(), "550" | "551" | "553");
        return Attempted::Permanent { error, bad_address };
    }
    if err.is_transient() {
        return Attempted::Transient { error, retry_after_ms: None };
    }
    // The connection could not be made: nothing reached the relay.
    if error.starts_with("Connection error") {
        return Attempted::Transient { error, retry_after_ms: None };
    }
    // A timeout or a broken connection mid-session: the relay may have taken the message.
    Attempted::Unknown { error }
}

/// The text as HTML paragraphs (blank lines part them, a line break stays one), escaped.
fn html_paragraphs(text: &str) -> String {
    let escape = |line: &str| {
        let mut out = String::with_capacity(line.len());
        for ch in line.chars() {
            match ch {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
        out
    };
    text.split("\n\n")
        .map(|para| para.lines().map(escape).collect::<Vec<_>>().join("<br>"))
        .collect::<Vec<_>>()
        .join("</p><p>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_escaped_paragraphs() {
        assert_eq!(html_paragraphs("a <b>\n\nc & d\ne"), "a &lt;b&gt;</p><p>c &amp; d<br>e");
    }
}
