//! `/api/v1/tenants/{tenant_id}/license`, `…/sessions` and `…/audit`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{TimeZone, Utc};
use shared::api::{
    AuditQuery, AuditResponse, LicenseResponse, MAX_BORROW_SECONDS, QueueEntryView, SeatPolicy,
    SessionView, SessionsResponse,
};
use shared::domain::License;
use shared::error::{ApiError, ApiResult};
use shared::serving::auth::BearerToken;
use shared::serving::{Json, Path, Query};
use uuid::Uuid;

use crate::AdminState;
use crate::access::{manager_of, member_of, owner_of};

/// The tenant's license, or `not_found` when it holds none.
pub(crate) async fn license_of(state: &AdminState, tenant_id: Uuid) -> ApiResult<License> {
    state
        .store
        .license_of_tenant(tenant_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Your organisation holds no license.".into()))
}

/// The license and the seats in use (any member).
pub(crate) async fn show(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant_id): Path<Uuid>,
) -> ApiResult<Json<LicenseResponse>> {
    member_of(&state, &headers, tenant_id).await?;
    let license = license_of(&state, tenant_id).await?;
    let in_use = state.seats.holders(license.id).await?.len();
    Ok(Json(LicenseResponse {
        license: (&license).into(),
        seats_in_use: u32::try_from(in_use).unwrap_or(u32::MAX),
    }))
}

/// Sets the license's seat policies (owners): borrowing for offline use and the per-user cap.
/// Seats already held or borrowed keep their terms; the new policy applies from the next acquire.
pub(crate) async fn set_policy(
    State(state): State<AdminState>,
    headers: HeaderMap,
    // Before the body: a caller without credentials gets 401, not the body's rules.
    _: BearerToken,
    Path(tenant_id): Path<Uuid>,
    Json(policy): Json<SeatPolicy>,
) -> ApiResult<Json<LicenseResponse>> {
    let actor = owner_of(&state, &headers, tenant_id).await?;
    if policy
        .max_borrow_seconds
        .is_some_and(|s| !(1..=MAX_BORROW_SECONDS).contains(&s))
    {
        return Err(ApiError::Validation(
            "max_borrow_seconds must be 1 to 2592000 (30 days), or null to turn borrowing off"
                .into(),
        ));
    }
    if policy
        .max_seats_per_user
        .is_some_and(|n| !(1..=10_000).contains(&n))
    {
        return Err(ApiError::Validation(
            "max_seats_per_user must be 1 to 10000, or null for no cap".into(),
        ));
    }
    let license = state
        .store
        .set_seat_policy(tenant_id, &policy, actor.id, Utc::now())
        .await?;
    let in_use = state.seats.holders(license.id).await?.len();
    Ok(Json(LicenseResponse {
        license: (&license).into(),
        seats_in_use: u32::try_from(in_use).unwrap_or(u32::MAX),
    }))
}

/// A store time (ms) as a timestamp.
fn at(ms: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}

/// The live sessions: who holds a seat on which machine, and who waits in the queue (owners and
/// admins).
pub(crate) async fn sessions(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant_id): Path<Uuid>,
) -> ApiResult<Json<SessionsResponse>> {
    manager_of(&state, &headers, tenant_id).await?;
    let license = license_of(&state, tenant_id).await?;
    let sessions = state
        .seats
        .holders(license.id)
        .await?
        .into_iter()
        .map(|h| SessionView {
            session_id: h.session_id,
            user_id: h.data.user,
            hostname: h.data.hostname,
            client_version: h.data.client_version,
            expires_at: at(h.expires_at_ms),
            borrowed_until: h.borrowed_until_ms.map(at),
        })
        .collect();
    let queue = state
        .seats
        .queue(license.id)
        .await?
        .into_iter()
        .map(|w| QueueEntryView {
            ticket: w.ticket,
            position: w.position,
            user_id: w.data.user,
            hostname: w.data.hostname,
            joined_at: at(w.joined_ms),
        })
        .collect();
    Ok(Json(SessionsResponse {
        sessions,
        max_seats: license.seats(),
        queue,
    }))
}

/// Ends a session (owners and admins): frees a seat held by a machine that is gone.
pub(crate) async fn end_session(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path((tenant_id, session_id)): Path<(Uuid, String)>,
) -> ApiResult<StatusCode> {
    let actor = manager_of(&state, &headers, tenant_id).await?;
    let license = license_of(&state, tenant_id).await?;
    // Session ids are looked up in this tenant's pool only: another tenant's id is simply absent.
    if !state.seats.release(license.id, &session_id).await? {
        return Err(ApiError::NotFound("No such session.".into()));
    }
    tracing::info!(%tenant_id, session = %session_id, by = %actor.id, "session ended by an admin");
    Ok(StatusCode::NO_CONTENT)
}

/// The newest audit events (owners and admins), at most `limit` (default 100, at most 1000).
pub(crate) async fn audit(
    State(state): State<AdminState>,
    headers: HeaderMap,
    // Before the query: a caller without credentials gets 401, not the query's rules.
    _: BearerToken,
    Path(tenant_id): Path<Uuid>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditResponse>> {
    manager_of(&state, &headers, tenant_id).await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let events = state.store.audit_events(tenant_id, limit).await?;
    Ok(Json(AuditResponse {
        events: events.into_iter().map(Into::into).collect(),
    }))
}
