//! The release function: `DELETE /api/v1/licenses/release` (POST accepted, for clients that cannot
//! send a DELETE on exit).
//!
//! Authorised by the lease alone, answered from the seat store alone. Idempotent: 204 whether the
//! seat was held or already gone. A lease past its offline grace may still give its seat back.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::delete;
use shared::backends::Backends;
use shared::config::Config;
use shared::error::ApiResult;
use shared::leases::verifying::RememberedLeases;
use shared::seats::SeatStore;
use shared::serving::auth::{Expiry, lease_claims};
use shared::serving::{Readiness, service_router};

/// What release needs.
#[derive(Clone)]
pub struct ReleaseState {
    /// Live seats.
    pub seats: Arc<dyn SeatStore>,
    /// Checks leases against the published public keys, each signature once.
    pub leases: Arc<RememberedLeases>,
    /// The serving limits.
    pub config: Arc<Config>,
}

impl ReleaseState {
    /// The state of release, on `backends`: seats and public lease keys, no private key.
    pub async fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(Self {
            seats: backends.seats().await?,
            leases: backends.leases().await?,
            config: backends.config().clone(),
        })
    }
}

/// The routes of this function, without the common stack.
pub fn routes(state: ReleaseState) -> Router {
    Router::new()
        .route("/api/v1/licenses/release", delete(release).post(release))
        .with_state(state)
}

/// The whole service: routes, health, readiness (the seat store only) and middleware.
pub fn router(state: ReleaseState) -> Router {
    let config = state.config.clone();
    let readiness = Readiness::new().with_seats(state.seats.clone());
    service_router(routes(state), readiness, &config)
}

async fn release(State(state): State<ReleaseState>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let (claims, license) = lease_claims(&state.leases, &headers, Expiry::Ignore)?;
    let released = state.seats.release(license, &claims.sid).await?;
    tracing::info!(%license, session = %claims.sid, released, "seat release");
    Ok(StatusCode::NO_CONTENT)
}
