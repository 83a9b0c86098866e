//! `/api/v1/tenants/{tenant_id}/members`: list, change role, remove.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use shared::api::{MemberResponse, MembersResponse, RoleChange};
use shared::domain::User;
use shared::error::{ApiError, ApiResult};
use shared::serving::auth::BearerToken;
use shared::serving::{Json, Path};
use uuid::Uuid;

use crate::AdminState;
use crate::access::{manager_of, may_assign, member_of};

/// Every member of the tenant; any member may see who their colleagues are.
pub(crate) async fn list(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant_id): Path<Uuid>,
) -> ApiResult<Json<MembersResponse>> {
    member_of(&state, &headers, tenant_id).await?;
    let members = state.store.members(tenant_id).await?;
    Ok(Json(MembersResponse {
        members: members.iter().map(Into::into).collect(),
    }))
}

/// A member of the tenant, or `not_found`.
async fn member(state: &AdminState, tenant_id: Uuid, user_id: Uuid) -> ApiResult<User> {
    state
        .store
        .member(tenant_id, user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such member.".into()))
}

/// Changes a member's role (owners and admins; only owners grant or revoke ownership; the last
/// owner stays an owner).
pub(crate) async fn change_role(
    State(state): State<AdminState>,
    headers: HeaderMap,
    // Before the body: a caller without credentials gets 401, not the body's rules.
    _: BearerToken,
    Path((tenant_id, user_id)): Path<(Uuid, Uuid)>,
    Json(change): Json<RoleChange>,
) -> ApiResult<Json<MemberResponse>> {
    let actor = manager_of(&state, &headers, tenant_id).await?;
    may_assign(&actor, change.role)?;
    let target = member(&state, tenant_id, user_id).await?;
    may_assign(&actor, target.role)?;
    let user = state
        .store
        .change_role(tenant_id, user_id, change.role)
        .await?;
    tracing::info!(%tenant_id, %user_id, role = %change.role, by = %actor.id, "role changed");
    Ok(Json(MemberResponse {
        member: (&user).into(),
    }))
}

/// Removes a member and releases every seat they hold.
pub(crate) async fn remove(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path((tenant_id, user_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let actor = manager_of(&state, &headers, tenant_id).await?;
    let target = member(&state, tenant_id, user_id).await?;
    may_assign(&actor, target.role)?;
    let removed = state.store.remove_member(tenant_id, user_id).await?;
    let released = match state.store.license_of_tenant(tenant_id).await? {
        Some(license) => state.seats.release_user(license.id, removed.id).await?,
        None => 0,
    };
    tracing::info!(%tenant_id, %user_id, released, by = %actor.id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}
