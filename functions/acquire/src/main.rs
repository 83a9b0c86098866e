//! The acquire service: grants floating seats. Configured by environment variables (see the
//! README's configuration table); run it alone with `cargo run -p acquire` (needs `REDIS_URL`), or
//! everything at once with `cargo run -p local`.

use std::sync::Arc;

use acquire::{AcquireState, LicenseCache};
use shared::{backends, config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    let state = AcquireState {
        store: backends::records(&config).await?,
        seats: backends::seats(&config, false)?,
        signer: backends::lease_signer(&config).await?,
        identity: backends::identity(&config)?,
        licenses: Arc::new(LicenseCache::new(config.license_cache_ttl)),
        config: config.clone(),
    };
    serving::serve_until_signal(&config, acquire::router(state)).await
}
