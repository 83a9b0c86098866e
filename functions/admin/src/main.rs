//! The admin service: registration, membership, invitations, license views and the lease JWKS.
//! `cargo run -p admin` serves it (needs `REDIS_URL`); `cargo run -p admin -- migrate` applies the
//! database migrations to `DATABASE_URL` and exits (the deploy's migrate step);
//! `cargo run -p admin -- openapi` prints the OpenAPI document (`docs/openapi.json`).

use std::sync::Arc;

use admin::AdminState;
use anyhow::bail;
use shared::backends::{Backends, Topology};
use shared::{config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1);
    if command.as_deref() == Some("openapi") {
        // Needs no configuration: the document is the code's.
        print!("{}", shared::api::openapi::json());
        return Ok(());
    }
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    match command.as_deref() {
        None => {}
        Some("migrate") => return admin::migrate(&config).await,
        Some(other) => bail!("unknown command {other:?}; the commands are `migrate` and `openapi`"),
    }
    let backends = Backends::new(config.clone(), Topology::OneFunction);
    let state = AdminState::new(&backends).await?;
    serving::serve_until_signal(&config, admin::router(state)).await
}
