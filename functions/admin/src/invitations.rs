//! `/api/v1/tenants/{tenant_id}/invitations`: invite an email, list, revoke.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use shared::api::{InvitationRequest, InvitationResponse, InvitationsResponse};
use shared::error::{ApiError, ApiResult};
use shared::identity::claim_text::is_hidden;
use shared::serving::auth::BearerToken;
use shared::serving::{Json, Path};
use shared::store::NewInvitation;
use uuid::Uuid;

use crate::AdminState;
use crate::access::{manager_of, may_assign};

/// The tenant's invitations (owners and admins).
pub(crate) async fn list(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(tenant_id): Path<Uuid>,
) -> ApiResult<Json<InvitationsResponse>> {
    manager_of(&state, &headers, tenant_id).await?;
    let now = Utc::now();
    let invitations = state.store.invitations(tenant_id).await?;
    Ok(Json(InvitationsResponse {
        invitations: invitations.iter().map(|i| i.view(now)).collect(),
    }))
}

/// Invites an email; whoever signs in with that email, verified, joins at registration.
pub(crate) async fn create(
    State(state): State<AdminState>,
    headers: HeaderMap,
    // Before the body: a caller without credentials gets 401, not the body's rules.
    _: BearerToken,
    Path(tenant_id): Path<Uuid>,
    Json(request): Json<InvitationRequest>,
) -> ApiResult<(StatusCode, Json<InvitationResponse>)> {
    let actor = manager_of(&state, &headers, tenant_id).await?;
    may_assign(&actor, request.role)?;
    // The length counts the email as sent, as the OpenAPI document's `maxLength` does.
    let sent_length = request.email.chars().count();
    let email = request.email.trim().to_lowercase();
    if sent_length > 254 || !plausible_email(&email) {
        return Err(ApiError::Validation("email is not an email address".into()));
    }
    let now = Utc::now();
    let invitation = state
        .store
        .create_invitation(&NewInvitation {
            tenant_id,
            email,
            role: request.role,
            invited_by: actor.id,
            now,
            expires_at: now + Duration::days(state.config.invitation_ttl_days.into()),
        })
        .await?;
    tracing::info!(%tenant_id, invitation = %invitation.id, by = %actor.id, "invitation created");
    Ok((
        StatusCode::CREATED,
        Json(InvitationResponse {
            invitation: invitation.view(now),
        }),
    ))
}

/// Withdraws a pending invitation.
pub(crate) async fn revoke(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path((tenant_id, invitation_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    manager_of(&state, &headers, tenant_id).await?;
    state
        .store
        .revoke_invitation(tenant_id, invitation_id, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One `@`, something on each side, a dot in the domain, no spaces, a sane length.
fn plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || is_hidden(c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::plausible_email;

    #[test]
    fn plausible_emails_pass_and_junk_does_not() {
        assert!(plausible_email("ana@acme.io"));
        assert!(!plausible_email("ana"));
        assert!(!plausible_email("ana@localhost"));
        assert!(!plausible_email("a na@acme.io"));
        assert!(!plausible_email("@acme.io"));
        assert!(!plausible_email("ana@acme\u{202e}oi.evil"));
    }
}
