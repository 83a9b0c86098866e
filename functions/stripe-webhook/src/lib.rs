//! The stripe-webhook function. Its endpoint (`POST /api/v1/stripe/webhook`: verify
//! `Stripe-Signature`, record the event id for idempotency, set plan and seats) is not built yet; the
//! service serves health and readiness so the deployment is complete.

use std::sync::Arc;

use axum::Router;
use shared::backends::Backends;
use shared::config::Config;
use shared::serving::{Readiness, service_router};
use shared::store::Store;

/// What the webhook needs.
#[derive(Clone)]
pub struct WebhookState {
    /// Licenses and the processed-event ids.
    pub store: Arc<dyn Store>,
    /// The serving limits.
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

/// The routes of this function, without the common stack (none yet).
pub fn routes(_state: WebhookState) -> Router {
    Router::new()
}

/// The whole service: health, readiness (the database) and middleware.
pub fn router(state: WebhookState) -> Router {
    let config = state.config.clone();
    let readiness = Readiness::new().with_database(state.store.clone());
    service_router(routes(state), readiness, &config)
}
