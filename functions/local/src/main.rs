//! The all-in-one CODITECT licensing server: `cargo run -p local`.
//!
//! Serves every function on `$PORT` (8080) with the embedded default when nothing is configured
//! (SQLite under `./data`, in-process seats, emulator identity for `demo-coditect`), or with the
//! backends named by `DATABASE_URL`, `REDIS_URL` and friends (see the README).

use std::sync::Arc;

use shared::{config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    let local = local::build(config.clone()).await?;
    let cleanup = local::spawn_cleanup(&local, &config);
    let served = serving::serve_until_signal(&config, local.app).await;
    cleanup.abort();
    served
}
