//! How clients sign in to this deployment (`GET /api/v1/auth/config`): the project's public Web API
//! key and where the Identity Toolkit and Secure Token APIs answer — Google's, or the Firebase Auth
//! Emulator's when `FIREBASE_AUTH_EMULATOR_HOST` is set.

use super::Vars;

/// Google's Identity Toolkit API (sign-up, password and IdP sign-in).
pub const IDENTITY_TOOLKIT_URL: &str = "https://identitytoolkit.googleapis.com";

/// Google's Secure Token API (refresh token → ID token).
pub const SECURE_TOKEN_URL: &str = "https://securetoken.googleapis.com";

/// The API key the Firebase Auth Emulator accepts (any value works; the Firebase tools use this).
pub const EMULATOR_API_KEY: &str = "fake-api-key";

/// What a client needs to sign in, besides the project id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInConfig {
    /// The project's public Web API key (`IDENTITY_API_KEY`; `fake-api-key` in emulator mode).
    /// Not a secret: every web app ships it. `None` outside emulator mode when unset: sign-in
    /// discovery then answers 503 `sign_in_not_configured`.
    pub api_key: Option<String>,
    /// Base URL of the Identity Toolkit API.
    pub identity_toolkit_url: String,
    /// Base URL of the Secure Token API.
    pub secure_token_url: String,
    /// The endpoints are the Firebase Auth Emulator's.
    pub emulator: bool,
}

impl SignInConfig {
    /// Reads `IDENTITY_API_KEY`, given the emulator host and whether identity is emulated.
    pub(super) fn from_vars(vars: &Vars<'_>, emulator_host: Option<&str>, emulated: bool) -> Self {
        let api_key = vars
            .string("IDENTITY_API_KEY")
            .map(|key| key.trim().to_owned())
            .or_else(|| emulated.then(|| EMULATOR_API_KEY.to_owned()));
        match emulator_host {
            Some(host) => {
                let host = host
                    .trim()
                    .trim_start_matches("http://")
                    .trim_end_matches('/');
                Self {
                    api_key,
                    identity_toolkit_url: format!("http://{host}/identitytoolkit.googleapis.com"),
                    secure_token_url: format!("http://{host}/securetoken.googleapis.com"),
                    emulator: true,
                }
            }
            None => Self {
                api_key,
                identity_toolkit_url: IDENTITY_TOOLKIT_URL.into(),
                secure_token_url: SECURE_TOKEN_URL.into(),
                emulator: false,
            },
        }
    }
}
