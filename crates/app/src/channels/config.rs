//! `config/channels.toml`: which provider sends each channel, the providers' settings and
//! the dispatcher's timing. Secrets are read from the environment variables the file names.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Environment variable naming a channels file to use instead of the shipped one.
pub const CHANNELS_ENV: &str = "ARREARS_CHANNELS";
/// Environment variable whose SMTP URL replaces the configured relay's.
pub const SMTP_URL_ENV: &str = "ARREARS_SMTP_URL";

/// The channels file shipped with arrears.
const SHIPPED: &str = include_str!("../../../../config/channels.toml");

/// The channels file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("channels file {path} ({CHANNELS_ENV}): {detail}")]
    Read {
        /// Where.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The file is not valid.
    #[error("channels file {path}: {detail}")]
    Invalid {
        /// Where.
        path: String,
        /// What is wrong, with line and column.
        detail: String,
    },
    /// A secret's environment variable is not set.
    #[error(
        "provider {provider}: environment variable {var} is not set (named by {field} in {path}); its messages stay queued"
    )]
    MissingSecret {
        /// The provider.
        provider: String,
        /// The variable.
        var: String,
        /// The setting that names it.
        field: String,
        /// The channels file.
        path: String,
    },
}

/// The dispatcher's timing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatcherConfig {
    /// How long a claim holds a message.
    pub lease_seconds: u64,
    /// Messages claimed at a time.
    pub batch: u32,
    /// Messages in flight at once.
    pub concurrency: u32,
    /// A message not sent this long after it was due expires.
    pub give_up_after_hours: u32,
    /// First retry ceiling.
    pub backoff_base_ms: u64,
    /// Largest retry ceiling.
    pub backoff_cap_ms: u64,
    /// How often `arrears serve` runs a pass.
    pub interval_seconds: u64,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            lease_seconds: 60,
            batch: 200,
            concurrency: 8,
            give_up_after_hours: 24,
            backoff_base_ms: 1_000,
            backoff_cap_ms: 600_000,
            interval_seconds: 10,
        }
    }
}

/// Who the messages come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderConfig {
    /// The lender's name in Chinese (`{lender}`).
    pub lender_zh: String,
    /// The lender's name in English.
    pub lender_en: String,
}

/// One provider's settings, by kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ProviderConfig {
    /// E-mail through an SMTP relay.
    Smtp(SmtpConfig),
    /// SMS through Alibaba Cloud (dysmsapi).
    Aliyun(AliyunConfig),
    /// SMS through Twilio.
    Twilio(TwilioConfig),
    /// The voice robot or an outside dialer: the day's call lists written as files.
    #[serde(rename = "voice_files")]
    VoiceFiles {
        /// The folder the lists go in (`DIR/YYYY-MM-DD/QUEUE/…{csv,json}`).
        dir: String,
    },
    /// Letters printed as PDF into a folder (`DIR/YYYY-MM-DD/MESSAGE_ID.pdf`).
    Letters(LettersConfig),
    /// A WeCom group robot (for departments).
    Wecom {
        /// The webhook URL without its key (`http://host/cgi-bin/webhook/send`).
        url: String,
        /// Variable holding the robot's key.
        key_env: String,
    },
    /// A DingTalk custom robot in signed mode (for departments).
    Dingtalk {
        /// The webhook URL without its token (`http://host/robot/send`).
        url: String,
        /// Variable holding the access token.
        token_env: String,
        /// Variable holding the signing secret (`SEC…`).
        secret_env: String,
    },
}

/// What TLS trusts besides the web's public roots.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM files of certificate authorities (a bank's own relay or gateway).
    #[serde(default)]
    pub ca_files: Vec<String>,
}

/// Where letters are printed, and what heads them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LettersConfig {
    /// The folder the print room or mail house collects from.
    pub dir: String,
    /// Lines under the lender's name (address, telephone), in Chinese.
    #[serde(default)]
    pub letterhead_zh: Vec<String>,
    /// The same in English.
    #[serde(default)]
    pub letterhead_en: Vec<String>,
    /// Font files in fallback order (`path` or `path.ttc#index`); empty: the Debian fonts
    /// that scripts/install-fonts.sh installs (`ARREARS_LETTER_FONTS` also overrides them).
    #[serde(default)]
    pub fonts: Vec<String>,
    /// What printing and posting one letter costs, in minor units (for the channel report).
    #[serde(default)]
    pub cost_per_message_minor: i64,
    /// The currency of the cost.
    #[serde(default)]
    pub cost_currency: String,
}

/// A Twilio account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    /// The API: `https://api.twilio.com` (or `http://host:port` of a local stand-in).
    pub endpoint: String,
    /// Variable holding the Account SID.
    pub account_sid_env: String,
    /// Variable holding the auth token (it also signs the status callbacks).
    pub auth_token_env: String,
    /// The number or sender the texts come from (E.164).
    pub from: String,
    /// This server's public receipts URL (`https://…/api/v1/channels/NAME/receipts`), given
    /// to Twilio as each message's StatusCallback; callbacks are verified against it.
    #[serde(default)]
    pub status_callback: Option<String>,
    /// Give up on a call after this long.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Connections kept open.
    #[serde(default = "default_connections")]
    pub connections: u32,
    /// What one message costs, in minor units of `cost_currency` (for the channel report).
    #[serde(default)]
    pub cost_per_message_minor: i64,
    /// The currency of the cost.
    #[serde(default)]
    pub cost_currency: String,
}

/// A group robot's settings, borrowed from its provider entry.
pub enum RobotConfig<'a> {
    /// WeCom.
    Wecom {
        /// Webhook URL.
        url: &'a str,
        /// Variable holding the key.
        key_env: &'a str,
    },
    /// DingTalk.
    Dingtalk {
        /// Webhook URL.
        url: &'a str,
        /// Variable holding the token.
        token_env: &'a str,
        /// Variable holding the secret.
        secret_env: &'a str,
    },
}

impl RobotConfig<'_> {
    /// The webhook URL.
    pub fn url(&self) -> &str {
        match self {
            RobotConfig::Wecom { url, .. } | RobotConfig::Dingtalk { url, .. } => url,
        }
    }
}

impl ProviderConfig {
    /// The robot settings of a robot provider.
    pub fn robot(&self) -> Option<RobotConfig<'_>> {
        match self {
            ProviderConfig::Wecom { url, key_env } => Some(RobotConfig::Wecom { url, key_env }),
            ProviderConfig::Dingtalk { url, token_env, secret_env } => {
                Some(RobotConfig::Dingtalk { url, token_env, secret_env })
            }
            _ => None,
        }
    }
}

/// Where a department hears of the early-warning alerts its rules name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentConfig {
    /// Robot providers to post to.
    #[serde(default)]
    pub robots: Vec<String>,
    /// Addresses to e-mail.
    #[serde(default)]
    pub emails: Vec<String>,
    /// The SMTP provider the e-mails go through.
    #[serde(default)]
    pub email_provider: Option<String>,
}

/// An Alibaba Cloud SMS account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliyunConfig {
    /// The API: `https://dysmsapi.aliyuncs.com` (or `http://host:port` of a local stand-in).
    pub endpoint: String,
    /// Variable holding the AccessKey id.
    pub access_key_id_env: String,
    /// Variable holding the AccessKey secret.
    pub access_key_secret_env: String,
    /// The approved signature (签名) the texts go out under.
    pub sign_name: String,
    /// Our template name → the approved Alibaba template code (SMS_…).
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// Variable holding the token that receipts must carry (`…/receipts?token=`): Alibaba
    /// does not sign its SmsReport push, so the receipt URL configured in its console holds
    /// a secret instead. Without one, receipts are refused.
    #[serde(default)]
    pub receipt_token_env: Option<String>,
    /// Give up on a call after this long.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Connections kept open.
    #[serde(default = "default_connections")]
    pub connections: u32,
    /// What one message costs, in minor units of `cost_currency` (for the channel report).
    #[serde(default)]
    pub cost_per_message_minor: i64,
    /// The currency of the cost.
    #[serde(default)]
    pub cost_currency: String,
}

/// An SMTP relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtp://host:port`, `smtps://host:port` or `smtp://host:port?tls=starttls`.
    pub url: String,
    /// The From mailbox.
    pub from: String,
    /// Variable holding the user name, when the relay asks for one.
    #[serde(default)]
    pub username_env: Option<String>,
    /// Variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Give up on a command after this long.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Connections kept open to the relay.
    #[serde(default = "default_connections")]
    pub connections: u32,
    /// Whether the relay keeps one copy per `X-Arrears-Message-Id`.
    #[serde(default)]
    pub relay_deduplicates: bool,
    /// The Maildir the mail server delivers the bounce addresses (`bounce+…@domain`) into:
    /// each pass of the dispatcher reads the delivery status notifications there first.
    #[serde(default)]
    pub bounce_maildir: Option<String>,
    /// What one message costs, in minor units of `cost_currency` (for the channel report).
    #[serde(default)]
    pub cost_per_message_minor: i64,
    /// The currency of the cost.
    #[serde(default)]
    pub cost_currency: String,
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_connections() -> u32 {
    4
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsConfig {
    /// The dispatcher's timing.
    #[serde(default)]
    pub dispatcher: DispatcherConfig,
    /// Who the messages come from.
    #[serde(default)]
    pub sender: SenderConfig,
    /// Channel code → provider name.
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
    /// Provider name → settings.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Department code (as alert rules name them) → where its alerts go.
    #[serde(default)]
    pub departments: BTreeMap<String, DepartmentConfig>,
    /// Certificate authorities trusted beside the web's public roots.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Contact-policy pack (the borrower's jurisdiction, `cn`, `us`) → channel → provider: the
    /// pack's messages of that channel go through that provider instead of `[channels]`'s.
    #[serde(default)]
    pub routes: BTreeMap<String, BTreeMap<String, String>>,
    /// Where it was read from.
    #[serde(skip)]
    pub path: String,
}

impl ChannelsConfig {
    /// The file named by `ARREARS_CHANNELS`, else the shipped one; `ARREARS_SMTP_URL`
    /// replaces every SMTP relay's URL.
    pub fn load() -> Result<ChannelsConfig, ConfigError> {
        let mut c = match std::env::var_os(CHANNELS_ENV).filter(|p| !p.is_empty()) {
            Some(path) => {
                let shown = std::path::Path::new(&path).display().to_string();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError::Read { path: shown.clone(), detail: e.to_string() })?;
                ChannelsConfig::parse(&text, &shown)?
            }
            None => ChannelsConfig::parse(SHIPPED, "config/channels.toml (built in)")?,
        };
        if let Some(url) = std::env::var(SMTP_URL_ENV).ok().filter(|u| !u.is_empty()) {
            for p in c.providers.values_mut() {
                if let ProviderConfig::Smtp(s) = p {
                    s.url = url.clone();
                }
            }
        }
        Ok(c)
    }

    /// Reads a channels file; `path` names it in errors. Every channel must name a
    /// configured provider of a kind that can send it.
    pub fn parse(text: &str, path: &str) -> Result<ChannelsConfig, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid { path: path.to_string(), detail };
        let mut c: ChannelsConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        c.path = path.to_string();
        let fits = |channel: &str, provider: &str, at: &str| -> Result<(), ConfigError> {
            let Some(p) = c.providers.get(provider) else {
                return Err(invalid(format!("{at} {channel} = {provider:?}: no [providers.{provider}]")));
            };
            let fits = match p {
                ProviderConfig::Smtp(_) => channel == "email",
                ProviderConfig::Aliyun(_) | ProviderConfig::Twilio(_) => channel == "sms",
                ProviderConfig::VoiceFiles { .. } => channel == "voice_bot",
                ProviderConfig::Letters(_) => channel == "letter",
                ProviderConfig::Wecom { .. } | ProviderConfig::Dingtalk { .. } => false,
            };
            if !fits {
                return Err(invalid(format!("{at} {channel}: provider {provider} cannot send {channel}")));
            }
            Ok(())
        };
        for (channel, provider) in &c.channels {
            fits(channel, provider, "[channels]")?;
        }
        for (pack, routes) in &c.routes {
            for (channel, provider) in routes {
                let at = format!("[routes.{pack}]");
                // A pack's route replaces the channel's own: there must be one to replace, and
                // the call lists (voice_bot) go to one folder for every pack.
                if !matches!(channel.as_str(), "sms" | "email" | "letter") {
                    return Err(invalid(format!(
                        "{at} {channel}: only sms, email and letter can be routed by pack"
                    )));
                }
                if !c.channels.contains_key(channel) {
                    return Err(invalid(format!(
                        "{at} {channel}: [channels] has no {channel} provider for the other packs"
                    )));
                }
                fits(channel, provider, &at)?;
            }
        }
        for (name, d) in &c.departments {
            for r in &d.robots {
                if c.providers.get(r).and_then(ProviderConfig::robot).is_none() {
                    return Err(invalid(format!(
                        "[departments.{name}] robots: {r:?} is not a wecom or dingtalk provider"
                    )));
                }
            }
            match (&d.email_provider, d.emails.is_empty()) {
                (Some(p), _) if !matches!(c.providers.get(p), Some(ProviderConfig::Smtp(_))) => {
                    return Err(invalid(format!(
                        "[departments.{name}] email_provider: {p:?} is not an smtp provider"
                    )));
                }
                (None, false) => {
                    return Err(invalid(format!("[departments.{name}] emails need an email_provider")));
                }
                _ => {}
            }
        }
        if c.dispatcher.batch == 0 || c.dispatcher.concurrency == 0 || c.dispatcher.lease_seconds == 0 {
            return Err(invalid(
                "[dispatcher] batch, concurrency and lease_seconds must be at least 1".into(),
            ));
        }
        Ok(c)
    }

    /// The HTTP client of a provider and its endpoint (without a trailing slash): `http://`,
    /// or `https://` through rustls with the web's roots and `[tls] ca_files`; connections
    /// kept open and written at once (no Nagle delay: each request is a few small writes).
    pub(crate) fn http_client(
        &self,
        provider: &str,
        endpoint: &str,
        timeout_ms: u64,
        connections: u32,
    ) -> Result<(reqwest::Client, String), ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid {
            path: self.path.clone(),
            detail: format!("[providers.{provider}] {detail}"),
        };
        if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
            return Err(invalid(format!("{endpoint:?}: the endpoint is an http:// or https:// URL")));
        }
        let tls = super::tls::Tls::load(self)?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(timeout_ms))
            .pool_max_idle_per_host(connections as usize)
            .tcp_nodelay(true)
            .tls_backend_preconfigured((*tls.client).clone())
            .build()
            .map_err(|e| invalid(format!("HTTP client: {e}")))?;
        Ok((client, endpoint.trim_end_matches('/').to_string()))
    }

    /// The value of a secret's variable, or the startup error naming it.
    pub fn secret(&self, provider: &str, field: &str, var: &str) -> Result<String, ConfigError> {
        std::env::var(var).map_err(|_| ConfigError::MissingSecret {
            provider: provider.to_string(),
            var: var.to_string(),
            field: field.to_string(),
            path: self.path.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_reads_and_sends_email_over_smtp() {
        let c = ChannelsConfig::parse(SHIPPED, "shipped").unwrap();
        assert_eq!(c.channels.get("email").map(String::as_str), Some("smtp"));
        assert!(matches!(c.providers.get("smtp"), Some(ProviderConfig::Smtp(_))));
        assert_eq!(c.dispatcher.lease_seconds, 60);
    }

    #[test]
    fn bad_files_say_what_and_where() {
        let e = ChannelsConfig::parse("[channels]\nemail = \"nope\"\n", "x.toml").unwrap_err();
        assert_eq!(e.to_string(), "channels file x.toml: [channels] email = \"nope\": no [providers.nope]");
        let e = ChannelsConfig::parse(
            "[channels]\nsms = \"m\"\n[providers.m]\nkind = \"smtp\"\nurl = \"smtp://h\"\nfrom = \"a@b\"\n",
            "x.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("provider m cannot send sms"), "{e}");
        // Pack routes replace a channel's provider: the channel needs one, and the provider must fit.
        let smtp = "[providers.m]\nkind = \"smtp\"\nurl = \"smtp://h\"\nfrom = \"a@b\"\n";
        let table = [
            (
                "[routes.us]\nemail = \"m\"\n",
                "[routes.us] email: [channels] has no email provider for the other packs",
            ),
            (
                "[channels]\nemail = \"m\"\n[routes.us]\nsms = \"m\"\n",
                "[routes.us] sms: [channels] has no sms provider",
            ),
            (
                "[channels]\nemail = \"m\"\n[routes.us]\nemail = \"z\"\n",
                "[routes.us] email = \"z\": no [providers.z]",
            ),
            (
                "[channels]\nemail = \"m\"\n[routes.us]\nvoice_bot = \"m\"\n",
                "only sms, email and letter can be routed by pack",
            ),
        ];
        for (body, want) in table {
            let e = ChannelsConfig::parse(&format!("{body}{smtp}"), "x.toml").unwrap_err();
            assert!(e.to_string().contains(want), "{body}: {e}");
        }
        let ok = ChannelsConfig::parse(
            &format!("[channels]\nemail = \"m\"\n[routes.us]\nemail = \"m\"\n{smtp}"),
            "x.toml",
        );
        assert!(ok.is_ok(), "{ok:?}");
        let e = ChannelsConfig::parse("[dispatcher]\nlease = 3\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("unknown field `lease`") && e.to_string().contains("line 2"), "{e}");
    }
}
