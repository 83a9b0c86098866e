//! Who the caller is, and whether they may touch a tenant.

use axum::http::HeaderMap;
use shared::domain::{Role, User};
use shared::error::ApiError;
use shared::identity::Caller;
use shared::serving::auth::bearer_token;
use uuid::Uuid;

use crate::AdminState;

/// The verified caller of the request.
pub(crate) async fn caller(state: &AdminState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    Ok(state.identity.verify(bearer_token(headers)?).await?)
}

/// The caller's membership, or `not_registered` guidance when they have none.
pub(crate) async fn membership(state: &AdminState, headers: &HeaderMap) -> Result<User, ApiError> {
    let caller = caller(state, headers).await?;
    state.store.user_by_uid(&caller.uid).await?.ok_or_else(|| {
        ApiError::NotFound(
            "You are not a member of an organisation yet: register first (POST /api/v1/register)."
                .into(),
        )
    })
}

/// The caller as a member of `tenant_id`. Any other tenant answers `not_found`, exactly as a tenant
/// that does not exist, so tenant ids cannot be probed.
pub(crate) async fn member_of(
    state: &AdminState,
    headers: &HeaderMap,
    tenant_id: Uuid,
) -> Result<User, ApiError> {
    let user = membership(state, headers).await?;
    if user.tenant_id != tenant_id {
        return Err(ApiError::NotFound("No such tenant.".into()));
    }
    Ok(user)
}

/// The caller as an owner or admin of `tenant_id`.
pub(crate) async fn manager_of(
    state: &AdminState,
    headers: &HeaderMap,
    tenant_id: Uuid,
) -> Result<User, ApiError> {
    let user = member_of(state, headers, tenant_id).await?;
    if !user.role.manages_members() {
        return Err(ApiError::Forbidden(
            "Only an owner or admin of your organisation can do this.".into(),
        ));
    }
    Ok(user)
}

/// The caller as an owner of `tenant_id`.
pub(crate) async fn owner_of(
    state: &AdminState,
    headers: &HeaderMap,
    tenant_id: Uuid,
) -> Result<User, ApiError> {
    let user = member_of(state, headers, tenant_id).await?;
    if user.role != Role::Owner {
        return Err(ApiError::Forbidden(
            "Only an owner of your organisation can do this.".into(),
        ));
    }
    Ok(user)
}

/// Whether `actor` may give or take `role`: only owners hand out or take away ownership.
pub(crate) fn may_assign(actor: &User, role: Role) -> Result<(), ApiError> {
    if role == Role::Owner && actor.role != Role::Owner {
        return Err(ApiError::Forbidden(
            "Only an owner can make someone an owner.".into(),
        ));
    }
    Ok(())
}
