//! Channel figures (渠道效果): per channel and template, what was sent, delivered, failed,
//! refused, what it cost, and how often a payment or a promise followed.

use arrears_store::Db;
use arrears_store::outbox::ChannelFigures;

use super::config::{ChannelsConfig, ProviderConfig};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChannelLine {
    /// The counts.
    #[serde(flatten)]
    pub figures: ChannelFigures,
    /// What the sent ones cost, in minor units of `cost_currency` (the provider's
    /// `cost_per_message_minor` × sent).
    pub cost_minor: i64,
    /// The currency of the cost ('' when no cost is configured).
    pub cost_currency: String,
    /// Delivered over sent, in basis points (10000 = all).
    pub delivery_rate_bp: i64,
    /// Responded over sent, in basis points.
    pub response_rate_bp: i64,
}

/// The report, with responses counted within `days` days of sending.
pub async fn report(
    db: &Db,
    config: &ChannelsConfig,
    days: u32,
) -> Result<Vec<ChannelLine>, arrears_store::StoreError> {
    let figures = arrears_store::outbox::figures(db, days).await?;
    Ok(figures
        .into_iter()
        .map(|f| {
            let (per, currency) = match config.providers.get(&f.provider) {
                Some(ProviderConfig::Smtp(s)) => (s.cost_per_message_minor, s.cost_currency.clone()),
                Some(ProviderConfig::Aliyun(a)) => (a.cost_per_message_minor, a.cost_currency.clone()),
                Some(ProviderConfig::Twilio(t)) => (t.cost_per_message_minor, t.cost_currency.clone()),
                Some(ProviderConfig::Letters(l)) => (l.cost_per_message_minor, l.cost_currency.clone()),
                _ => (0, String::new()),
            };
            let rate = |n: i64| if f.sent == 0 { 0 } else { n * 10_000 / f.sent };
            ChannelLine {
                cost_minor: per * f.sent,
                cost_currency: currency,
                delivery_rate_bp: rate(f.delivered),
                response_rate_bp: rate(f.responded),
                figures: f,
            }
        })
        .collect())
}
