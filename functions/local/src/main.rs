//! The all-in-one CODITECT licensing server: `cargo run -p local`.
//!
//! Serves every function on `$PORT` (8080) with the embedded default when nothing is configured
//! (SQLite under `./data`, in-process seats, emulator identity for `demo-coditect`, listening on
//! loopback only), or with the backends named by `DATABASE_URL`, `REDIS_URL` and friends (see the
//! README). On SIGTERM it drains requests, then writes every seat event still in the seat store
//! to the audit table before it exits, all within `SHUTDOWN_GRACE_SECONDS`. With `METRICS_ADDRESS`
//! it serves Prometheus text at `/metrics` there.

use std::sync::Arc;

use shared::{config::Config, serving, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log_level, &config.project_id);
    let local = local::build(config.clone()).await?;
    let cleanup = local::spawn_cleanup(&local, &config);
    if let Some(addr) = config.metrics_address {
        local::serve_metrics(addr).await?;
    }
    let reserve = local::audit_drain_reserve(&config);
    let grace_ends = serving::serve_until_signal_keeping(&config, local.app.clone(), reserve).await;
    cleanup.abort();
    let grace_ends = grace_ends?;
    local::drain_audit(&local, grace_ends).await;
    Ok(())
}
