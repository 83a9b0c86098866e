//! The all-in-one server: every function's routes on one port, one set of backends, and the
//! cleanup task on a timer instead of an endpoint (no Cloud Scheduler or Cloud Run IAM stands in
//! front of it). With no configuration it runs on the embedded default: SQLite under `DATA_DIR`,
//! in-process seats, a generated lease key and emulator identity.
//!
//! Stopping, it runs the cleanup task once more ([`drain_audit`]) after the last request: the
//! embedded seat store lives in memory, so an event not drained then would be gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use shared::backends;
use shared::config::Config;
use shared::seats::SeatStore;
use shared::serving::{Readiness, service_router};
use shared::store::Store;
use tokio::task::JoinHandle;

/// The local server, ready to serve.
pub struct Local {
    /// Every function's routes behind the common stack.
    pub app: Router,
    /// The records store, shared by every route.
    pub store: Arc<dyn Store>,
    /// The seat store, shared by every route.
    pub seats: Arc<dyn SeatStore>,
}

/// Builds the backends named by `config` and every function's routes on them.
pub async fn build(config: Arc<Config>) -> anyhow::Result<Local> {
    let store = backends::records(&config).await?;
    let seats = backends::seats(&config, true)?;
    let signer = backends::lease_signer(&config).await?;
    let identity = backends::identity(&config)?;
    let leases = backends::lease_verifier(&config).await?;
    let routes = Router::new()
        .merge(acquire::routes(acquire::AcquireState {
            store: store.clone(),
            seats: seats.clone(),
            signer: signer.clone(),
            identity: identity.clone(),
            licenses: Arc::new(acquire::LicenseCache::new(config.license_cache_ttl)),
            config: config.clone(),
        }))
        .merge(heartbeat::routes(heartbeat::HeartbeatState {
            seats: seats.clone(),
            leases: leases.clone(),
            seat_ttl: config.seat_ttl,
        }))
        .merge(release::routes(release::ReleaseState {
            seats: seats.clone(),
            leases,
        }))
        .merge(stripe_webhook::routes(stripe_webhook::WebhookState {
            store: store.clone(),
            config: config.clone(),
        }))
        .merge(admin::routes(admin::AdminState {
            store: store.clone(),
            seats: seats.clone(),
            identity,
            signer,
            config: config.clone(),
        }));
    let readiness = Readiness::new()
        .with_database(store.clone())
        .with_seats(seats.clone());
    Ok(Local {
        app: service_router(routes, readiness, &config),
        store,
        seats,
    })
}

/// Runs the cleanup task every `config.cleanup_interval` until the process ends.
pub fn spawn_cleanup(local: &Local, config: &Config) -> JoinHandle<()> {
    let (store, seats) = (local.store.clone(), local.seats.clone());
    let interval = config.cleanup_interval;
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match shared::seats::cleanup::run(seats.as_ref(), store.as_ref()).await {
                Ok(report) if report.reaped > 0 || report.audited > 0 => {
                    tracing::info!(
                        reaped = report.reaped,
                        audited = report.audited,
                        "cleanup ran"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cleanup failed; retrying next tick")
                }
            }
        }
    })
}

/// How much of `SHUTDOWN_GRACE_SECONDS` is kept for the last audit drain: a quarter (2 s of the
/// default 8), which drains tens of thousands of events into SQLite. Requests get the rest, and
/// the drain also whatever they leave unused.
pub fn audit_drain_reserve(config: &Config) -> Duration {
    config.shutdown_grace / 4
}

/// Runs the cleanup task one last time, until done or `deadline`: every seat event of the seat
/// store (pending denial counts included) reaches the audit table before the process exits.
/// Cleanup is idempotent, so a periodic run cut off just before is simply finished here.
pub async fn drain_audit(local: &Local, deadline: Instant) {
    let run = shared::seats::cleanup::run(local.seats.as_ref(), local.store.as_ref());
    match tokio::time::timeout_at(deadline.into(), run).await {
        Ok(Ok(report)) => tracing::info!(
            reaped = report.reaped,
            audited = report.audited,
            "last cleanup before stopping ran"
        ),
        Ok(Err(e)) => tracing::error!(
            error = %format!("{e:#}"),
            "last cleanup before stopping failed; seat events not yet audited may be lost"
        ),
        Err(_) => tracing::error!(
            "last cleanup before stopping ran out of the shutdown grace; seat events not yet \
             audited may be lost"
        ),
    }
}
