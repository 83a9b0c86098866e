//! `/api/v1/tenants/{tenant_id}/license`, `…/sessions` and `…/audit`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{TimeZone, Utc};
use shared::api::{AuditQuery, AuditResponse, LicenseResponse, SessionView, SessionsResponse};
use shared::domain::License;
use shared::error::{ApiError, ApiResult};
use shared::serving::auth::BearerToken;
use shared::serving::{Json, Path, Query};
use uuid::Uuid;

use crate::AdminState;
use crate::access::{manager_of, member_of};

async fn license_of(state: &AdminState, tenant_id: Uuid) -> ApiResult<License> {
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

/// The live sessions: who holds a seat on which machine (owners and admins).
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
            expires_at: Utc
                .timestamp_millis_opt(h.expires_at_ms)
                .single()
                .unwrap_or_else(Utc::now),
        })
        .collect();
    Ok(Json(SessionsResponse {
        sessions,
        max_seats: license.seats(),
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
