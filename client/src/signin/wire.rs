//! The Identity Toolkit and Secure Token REST bodies, as a web app sends and reads them
//! (`identitytoolkit.googleapis.com/v1/accounts:*`, `securetoken.googleapis.com/v1/token`).
//! Google spells them in camelCase (Secure Token in snake_case); the `expiresIn` fields are
//! seconds as a decimal string.

use serde::{Deserialize, Serialize};

/// `accounts:signUp` and `accounts:signInWithPassword`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PasswordRequest<'a> {
    pub(crate) email: &'a str,
    pub(crate) password: &'a str,
    pub(crate) return_secure_token: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<&'a str>,
}

/// `accounts:createAuthUri` for an IdP sign-in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateAuthUriRequest<'a> {
    pub(crate) provider_id: &'a str,
    pub(crate) continue_uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<&'a str>,
}

/// The answer of `accounts:createAuthUri`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateAuthUriResponse {
    /// Where to send the browser: the provider's consent page.
    pub(crate) auth_uri: String,
    /// Ties the redirect back to this request; `signInWithIdp` must send it.
    pub(crate) session_id: String,
}

/// `accounts:signInWithIdp`: the URL the provider redirected to, and the session.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignInWithIdpRequest<'a> {
    pub(crate) request_uri: &'a str,
    pub(crate) session_id: &'a str,
    pub(crate) return_secure_token: bool,
    pub(crate) return_idp_credential: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<&'a str>,
}

/// What every sign-in answers (password, sign-up, IdP).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignInResponse {
    pub(crate) local_id: String,
    #[serde(default)]
    pub(crate) email: Option<String>,
    pub(crate) id_token: String,
    pub(crate) refresh_token: String,
    /// Seconds, as a string.
    pub(crate) expires_in: String,
    /// `signInWithIdp` with `returnIdpCredential` answers a refusal here rather than as an error
    /// (e.g. the email already belongs to another provider's account).
    #[serde(default)]
    pub(crate) error_message: Option<String>,
}

/// The refusal body of both APIs: `{"error": {"code": 400, "message": "EMAIL_NOT_FOUND"}}`
/// (Secure Token answers the same shape).
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

/// The `error` member of a refusal.
#[derive(Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub(crate) message: String,
}

/// `v1/token` with `grant_type=refresh_token` (form-encoded).
#[derive(Serialize)]
pub(crate) struct RefreshRequest<'a> {
    pub(crate) grant_type: &'static str,
    pub(crate) refresh_token: &'a str,
}

/// The answer of `v1/token`.
#[derive(Deserialize)]
pub(crate) struct RefreshResponse {
    pub(crate) id_token: String,
    pub(crate) refresh_token: String,
    /// Seconds, as a string.
    pub(crate) expires_in: String,
    pub(crate) user_id: String,
}
