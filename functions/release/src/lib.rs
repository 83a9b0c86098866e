//! The release function: `DELETE /api/v1/licenses/release` (POST accepted, for clients that cannot
//! send a DELETE on exit), and `POST /api/v1/licenses/return`, which gives back a borrowed seat.
//!
//! Authorised by the lease alone, answered from the seat store alone. Idempotent: 204 whether the
//! seat was held or already gone. A lease past its offline grace may still give its seat back.
//!
//! A borrowed seat is held without its program running, so an ordinary release (a program
//! exiting on the borrowing machine) leaves it held, still answering 204; only a return frees it
//! before its borrow ends. A return of a seat that is not borrowed releases it.
//!
//! Releases of a seat that is already gone are rate-limited per machine (user + fingerprint hash
//! of the lease, `RELEASE_RATE_PER_MACHINE`): past the limit they answer 429 `rate_limited` with
//! `Retry-After`. A release that frees a seat is never limited.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, post};
use shared::backends::Backends;
use shared::config::Config;
use shared::error::{ApiResult, Problem};
use shared::leases::verifying::RememberedLeases;
use shared::seats::{ReleaseRequest, Released, SeatStore};
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
        .route("/api/v1/licenses/return", post(give_back))
        .with_state(state)
}

/// The whole service: routes, health, readiness (the seat store only) and middleware.
pub fn router(state: ReleaseState) -> Router {
    let config = state.config.clone();
    let readiness = Readiness::new().with_seats(state.seats.clone());
    service_router(routes(state), readiness, &config)
}

async fn release(State(state): State<ReleaseState>, headers: HeaderMap) -> ApiResult<StatusCode> {
    free(&state, &headers, false).await
}

/// Gives a borrowed seat back before its borrow ends.
async fn give_back(State(state): State<ReleaseState>, headers: HeaderMap) -> ApiResult<StatusCode> {
    free(&state, &headers, true).await
}

async fn free(
    state: &ReleaseState,
    headers: &HeaderMap,
    ends_borrow: bool,
) -> ApiResult<StatusCode> {
    let (claims, license) = lease_claims(&state.leases, headers, Expiry::Ignore)?;
    let limits = state.config.rate_limits;
    let request = ReleaseRequest {
        license_id: license,
        machine: format!("{}:{}", claims.sub, claims.fph),
        session_id: claims.sid,
        limit: limits.release(),
        grant: claims.grant,
        ends_borrow,
    };
    let released = state.seats.release_from(&request).await?;
    tracing::info!(%license, session = %request.session_id, ?released, ends_borrow, "seat release");
    match released {
        Released::Freed | Released::Gone | Released::Superseded | Released::Borrowed => {
            Ok(StatusCode::NO_CONTENT)
        }
        Released::Limited(limited) => Err(Problem::rate_limited(&limited, |wait| {
            format!(
                "This seat is already free, and this machine released seats that were already \
                 free more than {} times in {} s; wait {wait} s (Retry-After) before trying again.",
                limits.release_per_machine,
                limits.window.as_secs()
            )
        })
        .into()),
    }
}
