//! `GET /api/v1/auth/config`: how a client signs in to this deployment (no authentication), so
//! the CLI needs only the server's URL.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use shared::api::{AuthConfigResponse, ProblemCode, SignInProvider};
use shared::error::{ApiError, ApiResult, Problem};
use shared::serving::Json;

use crate::AdminState;

/// The project, its public Web API key, the Identity Toolkit and Secure Token endpoints, the
/// providers, and whether this is the demo sign-in. Cacheable for five minutes.
pub(crate) async fn auth_config(State(state): State<AdminState>) -> ApiResult<impl IntoResponse> {
    let config = &state.config;
    let Some(api_key) = config.sign_in.api_key.clone() else {
        return Err(ApiError::from(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::SignInNotConfigured,
            "Sign-in is not configured on this server (IDENTITY_API_KEY); ask its operator.",
        )));
    };
    let demo_sign_in = config.demo_sign_in();
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(AuthConfigResponse {
            project_id: config.project_id.clone(),
            tenant_id: config.identity_tenant.clone(),
            api_key,
            identity_toolkit_url: config.sign_in.identity_toolkit_url.clone(),
            secure_token_url: config.sign_in.secure_token_url.clone(),
            providers: if demo_sign_in {
                Vec::new()
            } else {
                SignInProvider::ALL.to_vec()
            },
            emulator: config.sign_in.emulator,
            demo_sign_in,
        }),
    ))
}
