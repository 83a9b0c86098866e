//! `POST /api/v1/register` and `GET /api/v1/me`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use shared::api::{MeResponse, RegisterRequest, RegisterResponse};
use shared::error::{ApiError, ApiResult};
use shared::identity::claim_text;
use shared::serving::{Json, Object};
use shared::store::{LicensePlan, Registration, RegistrationOutcome};

use crate::AdminState;
use crate::access::{caller, membership};

/// Turns the signed-in caller into a member: 201 when this call created the tenant or joined an
/// invitation, 200 when they were already a member.
pub(crate) async fn register(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    let caller = caller(&state, &headers).await?;
    // The body is optional: an empty one, or `null`, means "name the organisation for me".
    let body: RegisterRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RegisterRequest::default()
    } else {
        serde_json::from_slice::<Option<Object<RegisterRequest>>>(&body)
            .map_err(|e| match e.classify() {
                serde_json::error::Category::Data => ApiError::Validation(e.to_string()),
                _ => ApiError::MalformedJson(e.to_string()),
            })?
            .map(|Object(request)| request)
            .unwrap_or_default()
    };
    // The length counts the name as sent, in characters, as the OpenAPI document's `maxLength`
    // and the store's `length(name) <= 200` do.
    let sent_length = body.tenant_name.as_deref().map_or(0, |n| n.chars().count());
    let tenant_name = match body.tenant_name.map(|n| n.trim().to_owned()) {
        Some(name)
            if name.is_empty()
                || sent_length > MAX_TENANT_NAME_CHARS
                || name.chars().any(claim_text::is_hidden) =>
        {
            return Err(ApiError::Validation(
                "tenant_name must be 1 to 200 printable characters, without control or \
                 bidirectional formatting characters"
                    .into(),
            ));
        }
        Some(name) => name,
        None => default_tenant_name(caller.email.as_deref(), caller.name.as_deref()),
    };
    let now = Utc::now();
    let free_until = state
        .config
        .free_license_days
        .map(|days| now + Duration::days(days.into()));
    let registered = state
        .store
        .register(&Registration {
            firebase_uid: caller.uid.clone(),
            email: caller.email.clone(),
            email_verified: caller.email_verified,
            display_name: caller.name.clone(),
            tenant_name,
            starting_plan: LicensePlan::free(free_until),
            now,
        })
        .await?;
    let status = match registered.outcome {
        RegistrationOutcome::Existing => StatusCode::OK,
        RegistrationOutcome::CreatedTenant | RegistrationOutcome::JoinedByInvitation => {
            tracing::info!(tenant = %registered.tenant.id, user = %registered.user.id, outcome = ?registered.outcome, "registered");
            StatusCode::CREATED
        }
    };
    let joined = registered.outcome == RegistrationOutcome::JoinedByInvitation;
    Ok((
        status,
        Json(RegisterResponse {
            tenant: (&registered.tenant).into(),
            user: (&registered.user).into(),
            license: (&registered.license).into(),
            joined_by_invitation: joined,
        }),
    ))
}

/// Most characters of a tenant name (the store's rule counts characters, not bytes).
const MAX_TENANT_NAME_CHARS: usize = 200;

/// The organisation name of a first sign-in without one: the email's domain, else the person's
/// name, cut to [`MAX_TENANT_NAME_CHARS`] characters at a character boundary. The caller's email
/// and name are already free of control and bidi characters ([`claim_text`]); an email may hold a
/// domain longer than a tenant name may be.
fn default_tenant_name(email: Option<&str>, name: Option<&str>) -> String {
    let named = match (
        email
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.trim())
            .filter(|d| !d.is_empty()),
        name.map(str::trim).filter(|n| !n.is_empty()),
    ) {
        (Some(domain), _) => domain.to_owned(),
        (None, Some(name)) => format!("{name}'s organisation"),
        (None, None) => "My organisation".to_owned(),
    };
    claim_text::truncate_chars(&named, MAX_TENANT_NAME_CHARS)
        .trim_end()
        .to_owned()
}

/// The caller, their tenant, role and license, and the seats in use now.
pub(crate) async fn me(
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> ApiResult<Json<MeResponse>> {
    let user = membership(&state, &headers).await?;
    let tenant = state
        .store
        .tenant(user.tenant_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Your organisation no longer exists.".into()))?;
    let license = state.store.license_of_tenant(user.tenant_id).await?;
    let seats_in_use = match &license {
        Some(license) => state.seats.holders(license.id).await?.len(),
        None => 0,
    };
    Ok(Json(MeResponse {
        user: (&user).into(),
        role: user.role,
        tenant: (&tenant).into(),
        license: license.as_ref().map(Into::into),
        seats_in_use: u32::try_from(seats_in_use).unwrap_or(u32::MAX),
    }))
}

#[cfg(test)]
mod tests {
    use super::default_tenant_name;

    #[test]
    fn a_tenant_is_named_after_the_email_domain_then_the_person() {
        assert_eq!(
            default_tenant_name(Some("ana@acme.io"), Some("Ana")),
            "acme.io"
        );
        assert_eq!(default_tenant_name(None, Some("Ana")), "Ana's organisation");
        assert_eq!(default_tenant_name(None, None), "My organisation");
    }

    #[test]
    fn a_default_name_longer_than_a_tenant_name_is_cut_at_a_character_boundary() {
        let domain = format!("{}.io", "é".repeat(247));
        let named = default_tenant_name(Some(&format!("a@{domain}")), None);
        assert_eq!(named.chars().count(), 200);
        assert!(domain.starts_with(&named));
        let long_name = "n".repeat(200);
        assert_eq!(
            default_tenant_name(None, Some(&long_name)).chars().count(),
            200
        );
    }
}
