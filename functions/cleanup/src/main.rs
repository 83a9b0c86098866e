//! The cleanup service: reaps abandoned seats and drains seat events into the audit trail, when
//! Cloud Scheduler calls it. Needs `DATABASE_URL` and `REDIS_URL`; `cargo run -p cleanup`.

use std::sync::Arc;

use cleanup::CleanupState;
use shared::backends::{Backends, Topology};
use shared::{config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    let backends = Backends::new(config.clone(), Topology::OneFunction);
    let state = CleanupState::new(&backends).await?;
    serving::serve_until_signal(&config, cleanup::router(state)).await
}
