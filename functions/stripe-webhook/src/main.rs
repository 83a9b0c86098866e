//! The stripe-webhook service: `POST /api/v1/stripe/webhook`. Needs `DATABASE_URL` and
//! `STRIPE_WEBHOOK_SECRET`; `cargo run -p stripe-webhook`.

use std::sync::Arc;

use shared::backends::{Backends, Topology};
use shared::{config::Config, serving, telemetry};
use stripe_webhook::WebhookState;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    let backends = Backends::new(config.clone(), Topology::OneFunction);
    let state = WebhookState::new(&backends).await?;
    serving::serve_until_signal(&config, stripe_webhook::router(state)).await
}
