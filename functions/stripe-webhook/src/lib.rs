//! The stripe-webhook function: `POST /api/v1/stripe/webhook`, where Stripe reports subscription
//! changes ([`webhook`]), plus health and readiness (the database).
//!
//! A delivery is verified (`Stripe-Signature` over the raw body), read, and applied by the store
//! in one transaction with its event id, so a redelivery is a no-op and the order of deliveries
//! does not matter (`shared::billing`). Every verified event answers 200, also the ones it cannot
//! map (Stripe would retry a 4xx for days); a database that is down answers 503 so Stripe retries.

mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use shared::backends::Backends;
use shared::config::Config;
use shared::serving::{Readiness, service_router};
use shared::store::Store;

/// The largest delivery accepted, whatever `MAX_BODY_BYTES` says: Stripe's events carry whole
/// objects (a subscription with many items, an invoice with many lines) and reach hundreds of KiB,
/// above the 64 KiB the JSON API needs.
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

/// What the webhook needs.
#[derive(Clone)]
pub struct WebhookState {
    /// Licenses and the processed-event ids.
    pub store: Arc<dyn Store>,
    /// The webhook secrets, the price table and the grace (`config.billing`), the serving
    /// limits.
    pub config: Arc<Config>,
}

impl WebhookState {
    /// The state of the webhook, on `backends`.
    pub async fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(Self {
            store: backends.records().await?,
            config: backends.config().clone(),
        })
    }
}

/// The routes of this function, without the common stack.
pub fn routes(state: WebhookState) -> Router {
    Router::new()
        .route(
            "/api/v1/stripe/webhook",
            post(webhook::receive).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
        )
        .with_state(state)
}

/// The whole service: the webhook, health, readiness (the database) and middleware.
pub fn router(state: WebhookState) -> Router {
    let config = state.config.clone();
    let readiness = Readiness::new().with_database(state.store.clone());
    service_router(routes(state), readiness, &config)
}
