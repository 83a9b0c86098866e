//! The stripe-webhook service (health and readiness only, until billing is built). Needs
//! `DATABASE_URL`; `cargo run -p stripe-webhook`.

use shared::{backends, config::Config, serving, telemetry};
use stripe_webhook::WebhookState;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(&config.log_level, &config.project_id);
    let state = WebhookState {
        store: backends::records(&config).await?,
    };
    serving::serve_until_signal(&config, stripe_webhook::router(state, &config)).await
}
