//! `GET /api/v1/auth/config`: how a client signs in to this deployment, so the CLI needs only the
//! server's URL. Everything in it is public: a web app ships the same values in its page.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A way to sign in that Identity Platform offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum SignInProvider {
    /// Email and password.
    #[serde(rename = "password")]
    Password,
    /// Google, through the browser.
    #[serde(rename = "google.com")]
    Google,
    /// GitHub, through the browser.
    #[serde(rename = "github.com")]
    GitHub,
}

impl SignInProvider {
    /// Every provider, in the order a menu offers them.
    pub const ALL: &'static [Self] = &[Self::Google, Self::GitHub, Self::Password];

    /// Identity Platform's provider id (`password`, `google.com`, `github.com`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Google => "google.com",
            Self::GitHub => "github.com",
        }
    }
}

impl std::fmt::Display for SignInProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 200 of `GET /api/v1/auth/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "project_id": "coditect-prod",
    "tenant_id": null,
    "api_key": "AIzaSyExampleExampleExampleExample000",
    "identity_toolkit_url": "https://identitytoolkit.googleapis.com",
    "secure_token_url": "https://securetoken.googleapis.com",
    "providers": ["google.com", "github.com", "password"],
    "emulator": false,
    "demo_sign_in": false
}))]
pub struct AuthConfigResponse {
    /// The Identity Platform project: the ID tokens' audience.
    pub project_id: String,
    /// The Identity Platform tenant sign-ins must name (`tenantId`), when multi-tenancy is on.
    pub tenant_id: Option<String>,
    /// The project's public Web API key (`?key=` of every Identity Toolkit call). Not a secret:
    /// it identifies the project, it authorises nothing.
    pub api_key: String,
    /// Base URL of the Identity Toolkit API (`{url}/v1/accounts:signInWithPassword`, …).
    pub identity_toolkit_url: String,
    /// Base URL of the Secure Token API (`{url}/v1/token` exchanges a refresh token).
    pub secure_token_url: String,
    /// The providers offered; empty for the demo sign-in.
    pub providers: Vec<SignInProvider>,
    /// The identity endpoints are a Firebase Auth Emulator's, whose Google and GitHub sign-in is its
    /// own fake-account page rather than the real providers.
    pub emulator: bool,
    /// Emulator mode without an emulator (the embedded default): the server accepts unsigned
    /// emulator-format tokens, so a client mints its own for the email a person types. Never true
    /// where tokens are verified.
    pub demo_sign_in: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_spelled_as_identity_platform_names_them() {
        for provider in SignInProvider::ALL {
            assert_eq!(
                serde_json::to_value(provider).expect("serializes"),
                serde_json::Value::from(provider.as_str())
            );
        }
    }
}
