//! Stripe events as billing reads them: typed serde structs of only the fields used, and
//! [`interpret`], which turns a verified delivery into a [`BillingEvent`].
//!
//! The state is taken from the event's object (the subscription as it is after the change), never
//! from `previous_attributes`: a delta applied out of order corrupts, a snapshot applied
//! last-writer-wins does not.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::config::BillingConfig;
use crate::domain::Tier;

/// A verified delivery, as the store applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct BillingEvent {
    /// Stripe's event id (`evt_…`): the idempotency key.
    pub id: String,
    /// Stripe's event type (`customer.subscription.updated`, …).
    pub kind: String,
    /// When Stripe created the event: the order of events, which deliveries do not keep.
    pub created: DateTime<Utc>,
    /// What it means for a license.
    pub change: BillingChange,
}

/// What an event means for a license.
#[derive(Debug, Clone, PartialEq)]
pub enum BillingChange {
    /// `checkout.session.completed`: the tenant (`client_reference_id`) now has this Stripe
    /// customer and subscription.
    Link {
        /// The tenant that started Checkout.
        tenant_id: Option<Uuid>,
        /// Stripe's customer.
        customer_id: Option<String>,
        /// Stripe's subscription.
        subscription_id: Option<String>,
    },
    /// `customer.subscription.created|updated|deleted`: the subscription as it now is.
    Subscription {
        /// From the subscription's `metadata.tenant_id` (our Checkout sets it).
        tenant_id: Option<Uuid>,
        /// Stripe's customer, the other way to find the tenant.
        customer_id: Option<String>,
        /// The subscription.
        subscription_id: String,
        /// What it grants.
        terms: SubscriptionTerms,
    },
    /// `invoice.payment_failed` (`paid: false`) or `invoice.paid`: moves the grace.
    Invoice {
        /// Stripe's customer, how the tenant is found.
        customer_id: Option<String>,
        /// Whether the invoice was paid.
        paid: bool,
        /// When the grace a failure starts would end.
        grace_until: DateTime<Utc>,
    },
    /// A known event this service cannot map (a price not in `STRIPE_PRICE_TIERS`); recorded.
    Unmapped {
        /// Why, for the log and the record.
        reason: String,
    },
    /// An event type billing does not use; recorded and answered 200.
    Ignored,
}

/// What a subscription grants, by its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionTerms {
    /// `active` or `trialing`: the plan.
    Granted {
        /// From the item's price.
        tier: Tier,
        /// The item's quantity.
        seats: i32,
    },
    /// `past_due` or `unpaid`: the plan, until the grace ends.
    Grace {
        /// From the item's price.
        tier: Tier,
        /// The item's quantity.
        seats: i32,
        /// When the license is suspended unless paid first (the event's time plus the grace).
        grace_until: DateTime<Utc>,
    },
    /// Deleted, canceled, or never paid (`incomplete`, `incomplete_expired`, `paused`): FREE.
    Ended,
}

/// Why a verified body is not a Stripe event.
#[derive(Debug, thiserror::Error)]
#[error("the body is not a Stripe event: {0}")]
pub struct NotAnEvent(String);

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// An id field Stripe sends as a string, or as the object when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn into_id(self) -> String {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

#[derive(Deserialize)]
struct CheckoutSession {
    client_reference_id: Option<String>,
    customer: Option<Expandable>,
    subscription: Option<Expandable>,
}

#[derive(Deserialize)]
struct Subscription {
    id: String,
    customer: Option<Expandable>,
    status: String,
    #[serde(default)]
    metadata: Metadata,
    items: Items,
}

#[derive(Deserialize, Default)]
struct Metadata {
    tenant_id: Option<String>,
}

#[derive(Deserialize)]
struct Items {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    price: Price,
    quantity: Option<i64>,
}

#[derive(Deserialize)]
struct Price {
    id: String,
    lookup_key: Option<String>,
}

#[derive(Deserialize)]
struct Invoice {
    customer: Option<Expandable>,
}

/// Reads a verified body: `Err` when it is not an event at all (400), otherwise the event with
/// what it means, `Unmapped` or `Ignored` included (both recorded and answered 200).
pub fn interpret(body: &[u8], config: &BillingConfig) -> Result<BillingEvent, NotAnEvent> {
    let event: Event = serde_json::from_slice(body).map_err(|e| NotAnEvent(e.to_string()))?;
    let created = DateTime::from_timestamp(event.created, 0)
        .ok_or_else(|| NotAnEvent("created is out of range".into()))?;
    let object = event.data.object;
    let malformed = |e: serde_json::Error| NotAnEvent(format!("{}: {e}", event.kind));
    let change = match event.kind.as_str() {
        "checkout.session.completed" => {
            let session: CheckoutSession = serde_json::from_value(object).map_err(malformed)?;
            BillingChange::Link {
                tenant_id: session.client_reference_id.as_deref().and_then(tenant),
                customer_id: session.customer.map(Expandable::into_id),
                subscription_id: session.subscription.map(Expandable::into_id),
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let subscription: Subscription = serde_json::from_value(object).map_err(malformed)?;
            let deleted = event.kind == "customer.subscription.deleted";
            subscription_change(subscription, deleted, created, config)
        }
        "invoice.payment_failed" | "invoice.paid" => {
            let invoice: Invoice = serde_json::from_value(object).map_err(malformed)?;
            BillingChange::Invoice {
                customer_id: invoice.customer.map(Expandable::into_id),
                paid: event.kind == "invoice.paid",
                grace_until: created + config.grace,
            }
        }
        _ => BillingChange::Ignored,
    };
    Ok(BillingEvent {
        id: event.id,
        kind: event.kind,
        created,
        change,
    })
}

fn subscription_change(
    subscription: Subscription,
    deleted: bool,
    created: DateTime<Utc>,
    config: &BillingConfig,
) -> BillingChange {
    let granted = matches!(subscription.status.as_str(), "active" | "trialing");
    let in_grace = matches!(subscription.status.as_str(), "past_due" | "unpaid");
    let terms = if deleted || !(granted || in_grace) {
        SubscriptionTerms::Ended
    } else {
        let Some(item) = subscription.items.data.first() else {
            return BillingChange::Unmapped {
                reason: format!("subscription {} has no items", subscription.id),
            };
        };
        let Some(tier) = config.tier_of(&item.price.id, item.price.lookup_key.as_deref()) else {
            return BillingChange::Unmapped {
                reason: format!(
                    "price {} (lookup key {:?}) is not in STRIPE_PRICE_TIERS",
                    item.price.id, item.price.lookup_key
                ),
            };
        };
        let seats = i32::try_from(item.quantity.unwrap_or(1).max(0)).unwrap_or(i32::MAX);
        if granted {
            SubscriptionTerms::Granted { tier, seats }
        } else {
            SubscriptionTerms::Grace {
                tier,
                seats,
                grace_until: created + config.grace,
            }
        }
    };
    BillingChange::Subscription {
        tenant_id: subscription.metadata.tenant_id.as_deref().and_then(tenant),
        customer_id: subscription.customer.map(Expandable::into_id),
        subscription_id: subscription.id,
        terms,
    }
}

/// A tenant id as our Checkout writes it; anything else names no tenant.
fn tenant(text: &str) -> Option<Uuid> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config() -> BillingConfig {
        BillingConfig::from_lookup(&|name| {
            (name == "STRIPE_PRICE_TIERS").then(|| "price_pro=PRO,team_monthly=TEAM".to_owned())
        })
        .expect("config")
    }

    fn subscription_event(kind: &str, status: &str, price: &str, quantity: i64) -> Vec<u8> {
        json!({
            "id": "evt_1", "object": "event", "type": kind, "created": 1_800_000_000,
            "data": {"object": {
                "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
                "metadata": {"tenant_id": "0193a6f2-c1e0-7b5c-9d3e-4f5a6b7c8d9e"},
                "items": {"object": "list", "data": [
                    {"price": {"id": price, "lookup_key": "team_monthly"}, "quantity": quantity}
                ]}
            }}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn an_active_subscription_grants_its_price_tier_and_quantity() {
        let event = interpret(
            &subscription_event("customer.subscription.updated", "active", "price_pro", 5),
            &config(),
        )
        .expect("an event");
        assert_eq!(event.id, "evt_1");
        let BillingChange::Subscription {
            tenant_id,
            customer_id,
            terms,
            ..
        } = event.change
        else {
            panic!("a subscription change: {:?}", event.change);
        };
        assert_eq!(
            tenant_id,
            Some(Uuid::parse_str("0193a6f2-c1e0-7b5c-9d3e-4f5a6b7c8d9e").expect("a UUID"))
        );
        assert_eq!(customer_id.as_deref(), Some("cus_1"));
        assert_eq!(
            terms,
            SubscriptionTerms::Granted {
                tier: Tier::Pro,
                seats: 5
            }
        );
    }

    #[test]
    fn a_lookup_key_maps_a_price_and_past_due_starts_the_grace() {
        let event = interpret(
            &subscription_event("customer.subscription.updated", "past_due", "price_x", 3),
            &config(),
        )
        .expect("an event");
        let BillingChange::Subscription { terms, .. } = event.change else {
            panic!("a subscription change");
        };
        assert_eq!(
            terms,
            SubscriptionTerms::Grace {
                tier: Tier::Team,
                seats: 3,
                grace_until: event.created + chrono::Duration::days(7)
            }
        );
    }

    #[test]
    fn deleted_and_unpaid_statuses_end_the_plan() {
        for (kind, status) in [
            ("customer.subscription.deleted", "canceled"),
            ("customer.subscription.deleted", "active"),
            ("customer.subscription.updated", "incomplete_expired"),
            ("customer.subscription.updated", "canceled"),
        ] {
            let event = interpret(&subscription_event(kind, status, "price_pro", 5), &config())
                .expect("an event");
            assert!(
                matches!(
                    event.change,
                    BillingChange::Subscription {
                        terms: SubscriptionTerms::Ended,
                        ..
                    }
                ),
                "{kind} {status}: {:?}",
                event.change
            );
        }
    }

    #[test]
    fn an_unknown_price_is_unmapped_and_an_unknown_type_ignored() {
        let mut config = config();
        config.price_tiers.clear();
        let event = interpret(
            &subscription_event("customer.subscription.created", "active", "price_pro", 1),
            &config,
        )
        .expect("an event");
        assert!(matches!(event.change, BillingChange::Unmapped { .. }));
        let other =
            json!({"id": "evt_2", "type": "charge.refunded", "created": 1, "data": {"object": {}}});
        let event = interpret(other.to_string().as_bytes(), &config).expect("an event");
        assert_eq!(event.change, BillingChange::Ignored);
    }

    #[test]
    fn checkout_links_the_customer_and_invoices_move_the_grace() {
        let checkout = json!({"id": "evt_3", "type": "checkout.session.completed", "created": 5,
            "data": {"object": {"id": "cs_1", "client_reference_id": "0193a6f2-c1e0-7b5c-9d3e-4f5a6b7c8d9e",
                "customer": {"id": "cus_9"}, "subscription": "sub_9"}}});
        let event = interpret(checkout.to_string().as_bytes(), &config()).expect("an event");
        assert!(
            matches!(event.change, BillingChange::Link { tenant_id: Some(_), customer_id: Some(ref c), subscription_id: Some(ref s) } if c == "cus_9" && s == "sub_9")
        );
        let failed = json!({"id": "evt_4", "type": "invoice.payment_failed", "created": 5,
            "data": {"object": {"id": "in_1", "customer": "cus_9"}}});
        let event = interpret(failed.to_string().as_bytes(), &config()).expect("an event");
        // The grace a failure starts ends the configured week after the event was created (5).
        assert_eq!(
            event.change,
            BillingChange::Invoice {
                customer_id: Some("cus_9".into()),
                paid: false,
                grace_until: DateTime::from_timestamp(5 + 7 * 86_400, 0).expect("in range"),
            }
        );
    }

    #[test]
    fn a_body_that_is_not_an_event_is_refused() {
        for body in [
            &b"not json"[..],
            br#"{"hello": "world"}"#,
            br#"{"id": "evt_1", "type": "customer.subscription.updated", "created": 1, "data": {"object": {"id": "sub_1"}}}"#,
        ] {
            assert!(interpret(body, &config()).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
