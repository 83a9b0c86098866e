//! Billing configuration: the webhook secrets, the price → tier table, the grace of an unpaid
//! subscription and the Stripe API settings of Checkout and the Billing Portal.
//!
//! Read once at start-up by [`BillingConfig::from_lookup`] (called from `Config::from_lookup`), with
//! the same rules as the rest of the configuration: unset means the default, set but malformed
//! stops start-up with a message naming the variable. Every variable is in the README's
//! configuration table.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{ConfigError, Secret, Vars};
use crate::domain::Tier;

/// The Stripe API used when `STRIPE_API_BASE` is unset.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// Everything billing reads from the environment.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// The endpoint secrets that sign webhook deliveries (`STRIPE_WEBHOOK_SECRET`, comma-separated
    /// `whsec_…` values): while a secret rolls, Stripe signs with both and either verifies.
    pub webhook_secrets: Vec<Secret>,
    /// How old a signed timestamp may be, or how far ahead (`STRIPE_WEBHOOK_TOLERANCE_SECONDS`,
    /// default 300, Stripe's own): a captured delivery cannot be replayed later.
    pub webhook_tolerance: Duration,
    /// Which tier a Stripe price grants (`STRIPE_PRICE_TIERS`, `price=TIER` pairs where `price` is
    /// a price id or a lookup key).
    pub price_tiers: BTreeMap<String, Tier>,
    /// The price Checkout sells for each tier (`STRIPE_CHECKOUT_PRICES`, `TIER=price_id` pairs);
    /// unset, the first `price_…` id of `STRIPE_PRICE_TIERS` that grants the tier.
    pub checkout_prices: BTreeMap<Tier, String>,
    /// How long a `past_due` or `unpaid` subscription keeps its plan before the license is
    /// suspended (`BILLING_GRACE_DAYS`, default 7).
    pub grace: chrono::Duration,
    /// The secret API key Checkout and the Billing Portal are called with (`STRIPE_API_KEY`);
    /// `None` leaves them unconfigured.
    pub api_key: Option<Secret>,
    /// Where the Stripe API is (`STRIPE_API_BASE`, default `https://api.stripe.com`); tests point
    /// it at a local server.
    pub api_base: String,
    /// How long a Stripe API call may take before the request answers 503
    /// (`STRIPE_API_TIMEOUT_SECONDS`, default 5, below the request timeout).
    pub api_timeout: Duration,
    /// Where Checkout sends the buyer after paying (`STRIPE_CHECKOUT_SUCCESS_URL`).
    pub checkout_success_url: Option<String>,
    /// Where Checkout sends a buyer who gives up (`STRIPE_CHECKOUT_CANCEL_URL`).
    pub checkout_cancel_url: Option<String>,
    /// Where the Billing Portal's "return" link leads (`STRIPE_PORTAL_RETURN_URL`); unset, the
    /// Checkout success URL.
    pub portal_return_url: Option<String>,
}

impl BillingConfig {
    /// Reads billing's variables through `lookup` (the process environment in production).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_vars(&Vars(lookup))
    }

    /// Reads billing's variables, as part of [`crate::config::Config`].
    pub(crate) fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let webhook_secrets = vars
            .list("STRIPE_WEBHOOK_SECRET")
            .into_iter()
            .map(Secret::new)
            .collect();
        let price_tiers = match vars.string("STRIPE_PRICE_TIERS") {
            Some(list) => pairs("STRIPE_PRICE_TIERS", &list, |price, tier| {
                Ok((price.to_owned(), paid_tier("STRIPE_PRICE_TIERS", tier)?))
            })?,
            None => BTreeMap::new(),
        };
        let checkout_prices = match vars.string("STRIPE_CHECKOUT_PRICES") {
            Some(list) => pairs("STRIPE_CHECKOUT_PRICES", &list, |tier, price| {
                Ok((paid_tier("STRIPE_CHECKOUT_PRICES", tier)?, price.to_owned()))
            })?,
            None => {
                let mut inverted = BTreeMap::new();
                for (price, tier) in &price_tiers {
                    if price.starts_with("price_") {
                        inverted.entry(*tier).or_insert_with(|| price.clone());
                    }
                }
                inverted
            }
        };
        let grace_days: u32 = vars.parsed("BILLING_GRACE_DAYS", 7)?;
        let checkout_success_url = url(vars, "STRIPE_CHECKOUT_SUCCESS_URL")?;
        Ok(Self {
            webhook_secrets,
            webhook_tolerance: vars.seconds("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)?,
            price_tiers,
            checkout_prices,
            grace: chrono::Duration::days(i64::from(grace_days)),
            api_key: vars
                .string("STRIPE_API_KEY")
                .map(|key| Secret::new(key.trim())),
            api_base: match url(vars, "STRIPE_API_BASE")? {
                Some(base) => base.trim_end_matches('/').to_owned(),
                None => STRIPE_API_BASE.into(),
            },
            api_timeout: vars.positive_seconds("STRIPE_API_TIMEOUT_SECONDS", 5)?,
            checkout_cancel_url: url(vars, "STRIPE_CHECKOUT_CANCEL_URL")?,
            portal_return_url: url(vars, "STRIPE_PORTAL_RETURN_URL")?
                .or_else(|| checkout_success_url.clone()),
            checkout_success_url,
        })
    }

    /// The tier a subscription item's price grants: by price id first, then by lookup key.
    pub fn tier_of(&self, price_id: &str, lookup_key: Option<&str>) -> Option<Tier> {
        self.price_tiers
            .get(price_id)
            .or_else(|| lookup_key.and_then(|key| self.price_tiers.get(key)))
            .copied()
    }
}

/// Parses `a=b` pairs separated by commas, naming `name` in every error.
fn pairs<K: Ord, V>(
    name: &'static str,
    list: &str,
    parse: impl Fn(&str, &str) -> Result<(K, V), ConfigError>,
) -> Result<BTreeMap<K, V>, ConfigError> {
    let mut map = BTreeMap::new();
    for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((left, right)) = pair.split_once('=') else {
            return Err(ConfigError::Malformed {
                name,
                value: pair.into(),
                reason: "expected comma-separated key=value pairs".into(),
            });
        };
        let (key, value) = parse(left.trim(), right.trim())?;
        map.insert(key, value);
    }
    Ok(map)
}

/// A tier a subscription can sell: any but FREE, which is what a tenant without one has.
fn paid_tier(name: &'static str, text: &str) -> Result<Tier, ConfigError> {
    match text.to_uppercase().parse::<Tier>() {
        Ok(Tier::Free) | Err(_) => Err(ConfigError::Malformed {
            name,
            value: text.into(),
            reason: "expected a paid tier: PRO, TEAM or ENTERPRISE".into(),
        }),
        Ok(tier) => Ok(tier),
    }
}

/// An `http(s)://` URL, or unset.
fn url(vars: &Vars<'_>, name: &'static str) -> Result<Option<String>, ConfigError> {
    match vars.string(name) {
        Some(value) if !(value.starts_with("https://") || value.starts_with("http://")) => {
            Err(ConfigError::Malformed {
                name,
                value,
                reason: "expected an http:// or https:// URL".into(),
            })
        }
        other => Ok(other.map(|v| v.trim().to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<BillingConfig, ConfigError> {
        BillingConfig::from_lookup(&|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn unset_billing_has_no_secrets_no_prices_and_a_week_of_grace() {
        let config = config(&[]).expect("defaults parse");
        assert!(config.webhook_secrets.is_empty());
        assert!(config.price_tiers.is_empty());
        assert_eq!(config.webhook_tolerance, Duration::from_secs(300));
        assert_eq!(config.grace, chrono::Duration::days(7));
        assert_eq!(config.api_base, STRIPE_API_BASE);
        assert!(config.api_key.is_none());
    }

    #[test]
    fn several_webhook_secrets_are_read_and_never_printed() {
        let config = config(&[("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new")]).expect("parses");
        let secrets: Vec<&str> = config.webhook_secrets.iter().map(Secret::expose).collect();
        assert_eq!(secrets, ["whsec_old", "whsec_new"]);
        assert!(!format!("{config:?}").contains("whsec_"));
    }

    #[test]
    fn prices_map_to_tiers_by_id_or_lookup_key_and_checkout_sells_the_ids() {
        let config =
            config(&[("STRIPE_PRICE_TIERS", "price_1Pro=PRO, team_monthly=team")]).expect("parses");
        assert_eq!(config.tier_of("price_1Pro", None), Some(Tier::Pro));
        assert_eq!(
            config.tier_of("price_other", Some("team_monthly")),
            Some(Tier::Team)
        );
        assert_eq!(config.tier_of("price_other", Some("nope")), None);
        assert_eq!(
            config.checkout_prices.get(&Tier::Pro).map(String::as_str),
            Some("price_1Pro")
        );
        assert!(
            !config.checkout_prices.contains_key(&Tier::Team),
            "a lookup key is not a price id Checkout can sell"
        );
    }

    #[test]
    fn checkout_prices_can_be_named_explicitly() {
        let config = config(&[
            ("STRIPE_PRICE_TIERS", "team_monthly=TEAM"),
            ("STRIPE_CHECKOUT_PRICES", "TEAM=price_team"),
        ])
        .expect("parses");
        assert_eq!(
            config.checkout_prices.get(&Tier::Team).map(String::as_str),
            Some("price_team")
        );
    }

    #[test]
    fn malformed_billing_variables_name_themselves() {
        for (name, value) in [
            ("STRIPE_PRICE_TIERS", "price_1"),
            ("STRIPE_PRICE_TIERS", "price_1=GOLD"),
            ("STRIPE_PRICE_TIERS", "price_1=FREE"),
            ("STRIPE_CHECKOUT_PRICES", "price_1=PRO"),
            ("BILLING_GRACE_DAYS", "a week"),
            ("STRIPE_WEBHOOK_TOLERANCE_SECONDS", "-1"),
            ("STRIPE_API_BASE", "api.stripe.com"),
            ("STRIPE_API_TIMEOUT_SECONDS", "0"),
        ] {
            let err = config(&[(name, value)]).expect_err("must fail");
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
