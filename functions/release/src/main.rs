//! The release service: gives seats back. Needs `REDIS_URL` and the lease key (see the README's
//! configuration table); `cargo run -p release`, or everything at once with `cargo run -p local`.

use release::ReleaseState;
use shared::{backends, config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(&config.log_level, &config.project_id);
    let state = ReleaseState {
        seats: backends::seats(&config, false)?,
        leases: backends::lease_verifier(&config).await?,
    };
    serving::serve_until_signal(&config, release::router(state, &config)).await
}
