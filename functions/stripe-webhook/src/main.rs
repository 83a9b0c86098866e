//! The stripe-webhook service: `POST /api/v1/stripe/webhook`. Needs `DATABASE_URL` and
//! `STRIPE_WEBHOOK_SECRET`; `cargo run -p stripe-webhook`.

use shared::{backends, config::Config, serving, telemetry};
use stripe_webhook::WebhookState;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = std::sync::Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    let state = WebhookState {
        store: backends::records(&config).await?,
        config: config.clone(),
    };
    serving::serve_until_signal(&config, stripe_webhook::router(state)).await
}
