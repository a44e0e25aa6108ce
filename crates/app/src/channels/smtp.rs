//! E-mail through an SMTP relay (lettre's SMTP client over our own pool of connections).
//! Every message carries `X-Arrears-Message-Id`, so that a relay that keeps one copy per id
//! can drop a repeat and a reader can match a mail to its row.
//!
//! The pool is ours rather than lettre's transport because lettre writes the body and the
//! final `CRLF.CRLF` as two writes and then waits for the reply: with Nagle's algorithm on,
//! the second write waits for the relay's delayed ACK (40 ms on Linux), a stall per message
//! that caps a connection at 25 messages a second. Our sockets set `TCP_NODELAY`.

use std::time::Duration;

use arrears_core::delivery::Attempted;
use lettre::Message;
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use tokio::sync::Mutex;

use super::config::{ChannelsConfig, ConfigError, SmtpConfig};

/// The header that names the message.
pub const MESSAGE_ID_HEADER: &str = "X-Arrears-Message-Id";

/// How the session with the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// Plain SMTP (a relay on the same host or network).
    Plain,
    /// Plain first, then STARTTLS, which the relay must offer.
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
}

/// A relay, ready to send.
pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    tls: super::tls::Tls,
    timeout: Duration,
    credentials: Option<Credentials>,
    /// Open connections not in use.
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    from: Mailbox,
    domain: String,
    /// Whether the relay drops a repeat of a message id (so a resend is harmless).
    pub deduplicates: bool,
    /// Where the bounces come back (a Maildir).
    pub bounce_maildir: Option<std::path::PathBuf>,
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
        let (scheme, rest) =
            s.url.split_once("://").ok_or_else(|| invalid(format!("url {:?}: not a URL", s.url)))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let security = match (scheme, query) {
            ("smtp", "") => Security::Plain,
            ("smtp", "tls=starttls") => Security::StartTls,
            ("smtps", "") => Security::Implicit,
            _ => {
                return Err(invalid(format!(
                    "url {:?}: use smtp://host:port (plain), smtp://host:port?tls=starttls or smtps://host:port",
                    s.url
                )));
            }
        };
        let rest = rest.trim_end_matches('/');
        let default_port = if security == Security::Implicit { 465 } else { 25 };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| invalid(format!("url {:?}: bad port", s.url)))?),
            None => (rest, default_port),
        };
        if host.is_empty() {
            return Err(invalid(format!("url {:?}: no host", s.url)));
        }
        let from: Mailbox = s.from.parse().map_err(|e| invalid(format!("from {:?}: {e}", s.from)))?;
        let domain = from.email.domain().to_string();
        let mut credentials = None;
        if let Some(user_var) = &s.username_env {
            let user = config.secret(name, "username_env", user_var)?;
            let password = match &s.password_env {
                Some(v) => config.secret(name, "password_env", v)?,
                None => String::new(),
            };
            credentials = Some(Credentials::new(user, password));
        }
        Ok(Smtp {
            host: host.to_string(),
            port,
            security,
            tls: super::tls::Tls::load(config)?,
            timeout: Duration::from_millis(s.timeout_ms),
            credentials,
            idle: Mutex::new(Vec::new()),
            from,
            domain,
            deduplicates: s.relay_deduplicates,
            bounce_maildir: s.bounce_maildir.as_ref().map(std::path::PathBuf::from),
        })
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
                return Attempted::Permanent {
                    error: format!("e-mail not built: {err}"),
                    bad_address: false,
                };
            }
        };
        let mut conn = match self.idle.lock().await.pop() {
            Some(c) => c,
            None => match self.connect().await {
                Ok(c) => c,
                // Nothing reached the relay.
                Err(error) => return Attempted::Transient { error, retry_after_ms: None },
            },
        };
        let sent = tokio::time::timeout(self.timeout, conn.send(email.envelope(), &email.formatted())).await;
        match sent {
            Ok(Ok(_)) => {
                self.idle.lock().await.push(conn);
                Attempted::Accepted { provider_id: message_id }
            }
            Ok(Err(err)) => {
                let weighed = weigh(&err);
                // A refused message leaves the session usable; anything else closes it.
                if (err.is_permanent() || err.is_transient()) && !conn.has_broken() {
                    let _ = tokio::time::timeout(
                        self.timeout,
                        conn.command(lettre::transport::smtp::commands::Rset),
                    )
                    .await;
                    self.idle.lock().await.push(conn);
                } else {
                    conn.abort().await;
                }
                weighed
            }
            // The relay may have taken it: the outcome is unknown.
            Err(_) => {
                Attempted::Unknown { error: format!("no answer from the SMTP relay in {:?}", self.timeout) }
            }
        }
    }

    /// A new session with the relay: TCP with no Nagle delay, TLS as the URL asks (from the
    /// first byte, or by STARTTLS), EHLO, and AUTH when configured.
    async fn connect(&self) -> Result<AsyncSmtpConnection, String> {
        let relay = format!("{}:{}", self.host, self.port);
        let opened = async {
            let tcp = tokio::net::TcpStream::connect(&relay)
                .await
                .map_err(|e| format!("connecting to {relay}: {e}"))?;
            tcp.set_nodelay(true).map_err(|e| format!("{relay}: {e}"))?;
            let hello = ClientId::default();
            let stream: Box<dyn lettre::transport::smtp::client::AsyncTokioStream> = match self.security {
                Security::Implicit => Box::new(self.tls.wrap(&self.host, tcp).await?),
                Security::Plain | Security::StartTls => Box::new(tcp),
            };
            let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &hello)
                .await
                .map_err(|e| format!("SMTP greeting from {relay}: {e}"))?;
            if self.security == Security::StartTls {
                // Never fall back to plain text: a relay that does not offer STARTTLS is refused.
                if !conn.can_starttls() {
                    return Err(format!("{relay} does not offer STARTTLS"));
                }
                let params = self.tls.starttls(&self.host)?;
                conn.starttls(params, &hello).await.map_err(|e| format!("STARTTLS with {relay}: {e}"))?;
            }
            if let Some(c) = &self.credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                    .await
                    .map_err(|e| format!("SMTP AUTH at {relay}: {e}"))?;
            }
            Ok(conn)
        };
        tokio::time::timeout(self.timeout, opened)
            .await
            .map_err(|_| format!("connecting to {relay}: no answer in {:?}", self.timeout))?
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
