//! The cleanup function: `POST /api/v1/tasks/cleanup`.
//!
//! Invoked every minute by Cloud Scheduler with an OIDC token; the service is not public, so Cloud
//! Run IAM (`roles/run.invoker` for the scheduler's service account only) is what authorises it.
//! Reaps seats whose heartbeats stopped in pools nobody acquires from and drains every license's seat
//! events into the audit trail (see `shared::seats::cleanup`). Safe to run concurrently and to retry.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use shared::backends::Backends;
use shared::config::Config;
use shared::error::{ApiError, ApiResult};
use shared::seats::SeatStore;
use shared::seats::cleanup::{self, CleanupError, CleanupReport};
use shared::serving::{Json, Readiness, service_router};
use shared::store::Store;

/// What cleanup needs.
#[derive(Clone)]
pub struct CleanupState {
    /// Live seats and their event logs.
    pub seats: Arc<dyn SeatStore>,
    /// Where the audit trail is written.
    pub store: Arc<dyn Store>,
    /// The serving limits.
    pub config: Arc<Config>,
}

impl CleanupState {
    /// The state of cleanup, on `backends`.
    pub async fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(Self {
            seats: backends.seats().await?,
            store: backends.records().await?,
            config: backends.config().clone(),
        })
    }
}

/// The routes of this function, without the common stack. The local server does not mount them:
/// it runs the task on a timer instead (no scheduler or IAM stands in front of it).
pub fn routes(state: CleanupState) -> Router {
    Router::new()
        .route("/api/v1/tasks/cleanup", post(run))
        .with_state(state)
}

/// The whole service: routes, health, readiness (database and seat store) and middleware.
pub fn router(state: CleanupState) -> Router {
    let config = state.config.clone();
    let readiness = Readiness::new()
        .with_database(state.store.clone())
        .with_seats(state.seats.clone());
    service_router(routes(state), readiness, &config)
}

async fn run(State(state): State<CleanupState>) -> ApiResult<Json<CleanupReport>> {
    let report = cleanup::run(state.seats.as_ref(), state.store.as_ref())
        .await
        .map_err(unavailable_or_internal)?;
    cleanup::record(&report, false);
    Ok(Json(report))
}

/// A backend that does not answer is a 503 (Cloud Scheduler retries), anything else a 500.
fn unavailable_or_internal(err: CleanupError) -> ApiError {
    if err.is_unavailable() {
        ApiError::Unavailable(format!("cleanup: {err:#}"))
    } else {
        ApiError::Internal(err.into())
    }
}
