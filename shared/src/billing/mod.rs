//! Billing with Stripe: who pays for which plan, and how Stripe's webhook deliveries change a
//! license.
//!
//! The webhook function verifies a delivery ([`signature`]), reads it ([`event::interpret`]) and
//! hands it to the store (`Store::apply_billing_event`), which records the event id and applies
//! [`state::BillingState::apply`] in one transaction, so a redelivery is a no-op and the order of
//! deliveries does not matter. Admin's Checkout and Billing Portal endpoints call Stripe through
//! [`stripe_api`].
//!
//! # Layout
//!
//! - [`config`]: `BillingConfig`, the billing variables.
//! - [`signature`]: `Stripe-Signature` verification (and the header for tests).
//! - [`event`]: the fields of Stripe events billing reads, and what each event means.
//! - [`state`]: what a license remembers of billing, and the order-safe state machine.
//! - [`stripe_api`]: Checkout Sessions and Billing Portal sessions over Stripe's form API.

pub mod config;
pub mod event;
pub mod signature;
pub mod state;
pub mod stripe_api;

pub use config::BillingConfig;
pub use event::{BillingChange, BillingEvent, SubscriptionTerms, interpret};
pub use state::{Applied, BillingState, EventMark};
