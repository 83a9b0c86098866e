//! The bodies of billing: the Stripe webhook's answer, and Checkout and the Billing Portal of
//! `/api/v1/tenants/{tenant_id}/billing/…`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::Tier;

/// What a webhook delivery did. Every outcome answers 200, so Stripe stops retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// The license's terms (tier, seats, status, grace) changed; an audit event names the event.
    Changed,
    /// Applied, but the terms were already so (a link, or the same plan again).
    Unchanged,
    /// Older than what the license already reflects (Stripe delivers out of order); ignored.
    Stale,
    /// This event id was processed before: a redelivery, and a no-op.
    Duplicate,
    /// No tenant or plan could be found for it (no `metadata.tenant_id`, an unknown customer, a
    /// price not in `STRIPE_PRICE_TIERS`); recorded and logged.
    Unmatched,
    /// An event type billing does not use; recorded.
    Ignored,
}

impl WebhookOutcome {
    /// The outcome as recorded beside the event id.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
            Self::Unmatched => "unmatched",
            Self::Ignored => "ignored",
        }
    }
}

/// 200 of `POST /api/v1/stripe/webhook`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"outcome": "changed"}))]
pub struct WebhookResponse {
    /// What the delivery did.
    pub outcome: WebhookOutcome,
}

/// `POST …/billing/checkout`: the plan to buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tier": "TEAM", "seats": 10}))]
pub struct CheckoutRequest {
    /// A paid tier with a Stripe price configured (`STRIPE_CHECKOUT_PRICES`).
    pub tier: Tier,
    /// Seats to buy, 1 to 10 000: the subscription item's quantity.
    #[serde(deserialize_with = "super::whole::required")]
    #[schema(minimum = 1, maximum = 10000)]
    pub seats: u32,
}

/// 200 of `…/billing/checkout` and `…/billing/portal`: where to send the buyer's browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"url": "https://checkout.stripe.com/c/pay/cs_test_a1b2"}))]
pub struct BillingSessionResponse {
    /// The Stripe-hosted page (Checkout or the Billing Portal); valid for a short time.
    pub url: String,
}
