//! The heartbeat service: keeps seats alive. Needs `REDIS_URL` and the lease key (see the README's
//! configuration table); `cargo run -p heartbeat`, or everything at once with `cargo run -p local`.

use heartbeat::HeartbeatState;
use shared::{backends, config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(&config.log_level, &config.project_id);
    let state = HeartbeatState {
        seats: backends::seats(&config, false)?,
        leases: backends::lease_verifier(&config).await?,
        seat_ttl: config.seat_ttl,
    };
    serving::serve_until_signal(&config, heartbeat::router(state, &config)).await
}
