//! The release service: gives seats back. Needs `REDIS_URL` and the lease key (see the README's
//! configuration table); `cargo run -p release`, or everything at once with `cargo run -p local`.

use std::sync::Arc;

use release::ReleaseState;
use shared::backends::{Backends, Topology};
use shared::{config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    let backends = Backends::new(config.clone(), Topology::OneFunction);
    let state = ReleaseState::new(&backends).await?;
    serving::serve_until_signal(&config, release::router(state)).await
}
