//! The all-in-one server: every function's routes on one port, one set of backends, and the
//! cleanup task on a timer instead of an endpoint (no Cloud Scheduler or Cloud Run IAM stands in
//! front of it). With no configuration it runs on the embedded default: SQLite under `DATA_DIR`,
//! in-process seats, a generated lease key and emulator identity.
//!
//! Stopping, it runs the cleanup task once more ([`drain_audit`]) after the last request: the
//! embedded seat store lives in memory, so an event not drained then would be gone.
//!
//! With `METRICS_ADDRESS` it also serves `GET /metrics` there, the process's
//! [`shared::metrics`] as Prometheus text ([`serve_metrics`]), on a port of its own so the
//! service's port never shows them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use shared::backends::{Backends, Topology};
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
    build_on(&Backends::new(config, Topology::AllInOne)).await
}

/// Every function's routes on `backends` (one records pool, one seat store, one signer for all).
pub async fn build_on(backends: &Backends) -> anyhow::Result<Local> {
    let routes = Router::new()
        .merge(acquire::routes(acquire::AcquireState::new(backends).await?))
        .merge(heartbeat::routes(
            heartbeat::HeartbeatState::new(backends).await?,
        ))
        .merge(release::routes(release::ReleaseState::new(backends).await?))
        .merge(stripe_webhook::routes(
            stripe_webhook::WebhookState::new(backends).await?,
        ))
        .merge(admin::routes(admin::AdminState::new(backends).await?));
    let (store, seats) = (backends.records().await?, backends.seats().await?);
    let readiness = Readiness::new()
        .with_database(store.clone())
        .with_seats(seats.clone());
    Ok(Local {
        app: service_router(routes, readiness, backends.config()),
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
                Ok(report) => shared::seats::cleanup::record(&report, true),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cleanup failed; retrying next tick")
                }
            }
        }
    })
}

/// Serves `GET /metrics` (Prometheus text) on `addr` until the process ends; fails at once when
/// `addr` cannot be bound, so a mistyped address stops the start-up instead of hiding.
pub async fn serve_metrics(addr: std::net::SocketAddr) -> anyhow::Result<JoinHandle<()>> {
    use axum::http::header;
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("METRICS_ADDRESS: cannot listen on {addr}: {e}"))?;
    let app = Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                shared::metrics::global().render(),
            )
        }),
    );
    tracing::info!(%addr, "serving metrics at /metrics");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    }))
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
        Ok(Ok(report)) => {
            shared::seats::cleanup::record(&report, false);
            tracing::info!("last cleanup before stopping ran");
        }
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
