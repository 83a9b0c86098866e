//! The acquire service: grants floating seats. Configured by environment variables (see the
//! README's configuration table); run it alone with `cargo run -p acquire` (needs `REDIS_URL`), or
//! everything at once with `cargo run -p local`.

use std::sync::Arc;

use acquire::AcquireState;
use shared::backends::{Backends, Topology};
use shared::{config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    let backends = Backends::new(config.clone(), Topology::OneFunction);
    let state = AcquireState::new(&backends).await?;
    serving::serve_until_signal(&config, acquire::router(state)).await
}
