//! The cleanup service: reaps abandoned seats and drains seat events into the audit trail, when
//! Cloud Scheduler calls it. Needs `DATABASE_URL` and `REDIS_URL`; `cargo run -p cleanup`.

use cleanup::CleanupState;
use shared::{backends, config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(&config.log_level, &config.project_id);
    let state = CleanupState {
        seats: backends::seats(&config, false)?,
        store: backends::records(&config).await?,
    };
    serving::serve_until_signal(&config, cleanup::router(state, &config)).await
}
