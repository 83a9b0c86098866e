//! The Identity Toolkit and Secure Token REST bodies, as a web app sends and reads them
//! (`identitytoolkit.googleapis.com/v1/accounts:*`, `securetoken.googleapis.com/v1/token`).
//! Google spells them in camelCase (Secure Token in snake_case); the `expiresIn` fields are
//! seconds as a decimal string.

use serde::{Deserialize, Serialize};

/// `accounts:signUp` and `accounts:signInWithPassword`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PasswordRequest<'a> {
    /// The account's email.
    pub(crate) email: &'a str,
    /// Its password (sent to Identity Platform only, never stored).
    pub(crate) password: &'a str,
    /// Asks for an ID token and a refresh token in the answer.
    pub(crate) return_secure_token: bool,
    /// The Identity Platform tenant, when multi-tenancy is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<&'a str>,
}

/// `accounts:createAuthUri` for an IdP sign-in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateAuthUriRequest<'a> {
    /// `google.com` or `github.com`.
    pub(crate) provider_id: &'a str,
    /// Where the provider sends the browser back: the loopback listener, with the state nonce.
    pub(crate) continue_uri: &'a str,
    /// The Identity Platform tenant, when multi-tenancy is on.
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
    /// The whole URL the provider redirected to (its code or token in the query or fragment).
    pub(crate) request_uri: &'a str,
    /// `createAuthUri`'s session, which ties the redirect to that request.
    pub(crate) session_id: &'a str,
    /// Asks for an ID token and a refresh token in the answer.
    pub(crate) return_secure_token: bool,
    /// Answers an account conflict in the body (`errorMessage`) rather than as an error.
    pub(crate) return_idp_credential: bool,
    /// The Identity Platform tenant, when multi-tenancy is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<&'a str>,
}

/// What every sign-in answers (password, sign-up, IdP).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignInResponse {
    /// The account's uid.
    pub(crate) local_id: String,
    /// The account's email; a GitHub account may have none.
    #[serde(default)]
    pub(crate) email: Option<String>,
    /// The ID token the licensing service accepts.
    pub(crate) id_token: String,
    /// Exchanged for later ID tokens.
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
    /// What was refused.
    pub(crate) error: ErrorDetail,
}

/// The `error` member of a refusal.
#[derive(Deserialize)]
pub(crate) struct ErrorDetail {
    /// The code, sometimes with an explanation: `WEAK_PASSWORD : Password should be …`.
    #[serde(default)]
    pub(crate) message: String,
}

/// `v1/token` with `grant_type=refresh_token` (form-encoded).
#[derive(Serialize)]
pub(crate) struct RefreshRequest<'a> {
    /// Always `refresh_token`.
    pub(crate) grant_type: &'static str,
    /// The stored refresh token.
    pub(crate) refresh_token: &'a str,
}

/// The answer of `v1/token`.
#[derive(Deserialize)]
pub(crate) struct RefreshResponse {
    /// The new ID token.
    pub(crate) id_token: String,
    /// The refresh token to keep (Identity Platform may hand out a new one).
    pub(crate) refresh_token: String,
    /// Seconds, as a string.
    pub(crate) expires_in: String,
    /// The account's uid, checked against the stored one.
    pub(crate) user_id: String,
}
