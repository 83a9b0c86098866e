//! The heartbeat function: `PUT /api/v1/licenses/heartbeat`.
//!
//! Authorised by the lease alone (signature, expiry, session id) and answered from the seat store
//! alone: no database, no signing key, so the hot path is one Redis script. A session presents the
//! same lease every interval, so its signature is checked once ([`RememberedLeases`]) and only its
//! expiry every time; a successful heartbeat logs its access line at `debug` ([`Routine`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::put;
use axum::{Extension, Router};
use chrono::{TimeZone, Utc};
use shared::api::{HeartbeatResponse, ProblemCode};
use shared::backends::Backends;
use shared::config::Config;
use shared::error::{ApiResult, Problem};
use shared::leases::verifying::RememberedLeases;
use shared::seats::SeatStore;
use shared::serving::auth::{Expiry, lease_claims};
use shared::serving::{Json, Readiness, Routine, service_router};

/// What heartbeat needs.
#[derive(Clone)]
pub struct HeartbeatState {
    /// Live seats.
    pub seats: Arc<dyn SeatStore>,
    /// Checks leases against the published public keys, each signature once.
    pub leases: Arc<RememberedLeases>,
    /// How far each heartbeat pushes the seat's expiry (`SEAT_TTL_SECONDS`), and the serving
    /// limits.
    pub config: Arc<Config>,
}

impl HeartbeatState {
    /// The state of heartbeat, on `backends`: seats and public lease keys, no private key.
    pub async fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(Self {
            seats: backends.seats().await?,
            leases: backends.leases().await?,
            config: backends.config().clone(),
        })
    }
}

/// The routes of this function, without the common stack.
pub fn routes(state: HeartbeatState) -> Router {
    Router::new()
        .route("/api/v1/licenses/heartbeat", put(heartbeat))
        .with_state(state)
}

/// The whole service: routes, health, readiness (the seat store only) and middleware.
pub fn router(state: HeartbeatState) -> Router {
    let config = state.config.clone();
    let readiness = Readiness::new().with_seats(state.seats.clone());
    service_router(routes(state), readiness, &config)
}

async fn heartbeat(
    State(state): State<HeartbeatState>,
    headers: HeaderMap,
) -> ApiResult<(Extension<Routine>, Json<HeartbeatResponse>)> {
    let (claims, license) = lease_claims(&state.leases, &headers, Expiry::Enforce)?;
    let Some(expires_ms) = state
        .seats
        .heartbeat(license, &claims.sid, state.config.seat_ttl)
        .await?
    else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            ProblemCode::SessionNotFound,
            "This seat has expired or was released; acquire a seat again.",
        )
        .into());
    };
    let now = Utc::now();
    let expires_at = Utc.timestamp_millis_opt(expires_ms).single().unwrap_or(now);
    let body = HeartbeatResponse {
        session_id: claims.sid,
        expires_at,
        expires_in: u64::try_from((expires_at - now).num_seconds()).unwrap_or(0),
    };
    // Logged at debug when it succeeds: the most frequent request of all, and the least telling.
    Ok((Extension(Routine), Json(body)))
}
