//! [`IdentityToolkit`]: the Identity Toolkit and Secure Token REST APIs as a web app calls them,
//! at the endpoints and with the public API key the licensing service hands out
//! (`GET /api/v1/auth/config`), so the CLI needs only the service's URL.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::AuthConfigResponse;

use super::errors::SignInError;
use super::wire::{
    CreateAuthUriRequest, CreateAuthUriResponse, ErrorBody, PasswordRequest, RefreshRequest,
    RefreshResponse, SignInResponse, SignInWithIdpRequest,
};
use crate::http::{ClientError, LicenseClient};

/// The tokens a sign-in or a refresh grants.
#[derive(Clone)]
pub struct TokenGrant {
    /// Identity Platform's uid (the ID token's `sub`).
    pub uid: String,
    /// The account's email, when the answer names it (a refresh does not).
    pub email: Option<String>,
    /// The ID token the licensing service accepts.
    pub id_token: String,
    /// Exchanged for new ID tokens; as good as a password for this account.
    pub refresh_token: String,
    /// How long the ID token lives.
    pub expires_in: Duration,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("uid", &self.uid)
            .field("email", &self.email)
            .field("id_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The Identity Toolkit and Secure Token APIs of one deployment's project.
#[derive(Debug, Clone)]
pub struct IdentityToolkit {
    /// The licensing client's connection pool.
    http: reqwest::Client,
    /// Endpoints, API key, tenant, as the licensing service gave them.
    config: AuthConfigResponse,
}

impl IdentityToolkit {
    /// Asks the licensing service how to sign in (`GET /api/v1/auth/config`).
    pub async fn discover(client: &LicenseClient) -> Result<Self, ClientError> {
        let call = client.http().get(client.url("/api/v1/auth/config"));
        let config: AuthConfigResponse = client.json(call).await?;
        Ok(Self::new(client.http().clone(), config))
    }

    /// The APIs described by `config`, called with `http`.
    pub fn new(http: reqwest::Client, config: AuthConfigResponse) -> Self {
        Self { http, config }
    }

    /// How this deployment signs in.
    pub fn config(&self) -> &AuthConfigResponse {
        &self.config
    }

    /// The origin of the Firebase Auth Emulator (`http://127.0.0.1:9099`), when the APIs are its.
    pub fn emulator_origin(&self) -> Option<&str> {
        self.config.emulator.then(|| {
            self.config
                .identity_toolkit_url
                .trim_end_matches('/')
                .trim_end_matches("/identitytoolkit.googleapis.com")
        })
    }

    /// Creates an email and password account (`accounts:signUp`) and signs it in.
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<TokenGrant, SignInError> {
        let body = PasswordRequest {
            email,
            password,
            return_secure_token: true,
            tenant_id: self.config.tenant_id.as_deref(),
        };
        self.accounts("signUp", &body).await.and_then(grant)
    }

    /// Signs in with email and password (`accounts:signInWithPassword`).
    pub async fn sign_in_with_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<TokenGrant, SignInError> {
        let body = PasswordRequest {
            email,
            password,
            return_secure_token: true,
            tenant_id: self.config.tenant_id.as_deref(),
        };
        self.accounts("signInWithPassword", &body)
            .await
            .and_then(grant)
    }

    /// Where to send the browser to sign in with `provider_id`, returning to `continue_uri`
    /// (`accounts:createAuthUri`): the provider's page and the session id `signInWithIdp` needs.
    pub async fn create_auth_uri(
        &self,
        provider_id: &str,
        continue_uri: &str,
    ) -> Result<(String, String), SignInError> {
        let body = CreateAuthUriRequest {
            provider_id,
            continue_uri,
            tenant_id: self.config.tenant_id.as_deref(),
        };
        let answer: CreateAuthUriResponse = self.accounts("createAuthUri", &body).await?;
        Ok((answer.auth_uri, answer.session_id))
    }

    /// Finishes an IdP sign-in with the URL the provider redirected to
    /// (`accounts:signInWithIdp`).
    pub async fn sign_in_with_idp(
        &self,
        request_uri: &str,
        session_id: &str,
    ) -> Result<TokenGrant, SignInError> {
        let body = SignInWithIdpRequest {
            request_uri,
            session_id,
            return_secure_token: true,
            return_idp_credential: true,
            tenant_id: self.config.tenant_id.as_deref(),
        };
        let answer: SignInResponse = self.accounts("signInWithIdp", &body).await?;
        if let Some(message) = &answer.error_message {
            return Err(SignInError::refused(message));
        }
        grant(answer)
    }

    /// Exchanges a refresh token for a new ID token (Secure Token `v1/token`).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenGrant, SignInError> {
        refresh(
            &self.http,
            &self.config.secure_token_url,
            &self.config.api_key,
            refresh_token,
        )
        .await
    }

    async fn accounts<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        body: &B,
    ) -> Result<T, SignInError> {
        let url = format!(
            "{}/v1/accounts:{method}",
            self.config.identity_toolkit_url.trim_end_matches('/')
        );
        let call = self
            .http
            .post(url)
            .query(&[("key", self.config.api_key.as_str())])
            .json(body);
        answer(call).await
    }
}

/// Exchanges `refresh_token` at the Secure Token API at `base` with `api_key`.
pub(crate) async fn refresh(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    refresh_token: &str,
) -> Result<TokenGrant, SignInError> {
    let call = http
        .post(format!("{}/v1/token", base.trim_end_matches('/')))
        .query(&[("key", api_key)])
        .form(&RefreshRequest {
            grant_type: "refresh_token",
            refresh_token,
        });
    let answer: RefreshResponse = answer(call).await?;
    Ok(TokenGrant {
        uid: answer.user_id,
        email: None,
        id_token: answer.id_token,
        refresh_token: answer.refresh_token,
        expires_in: seconds(&answer.expires_in)?,
    })
}

/// Sends `call`; a refusal becomes [`SignInError::Refused`] with its sentence.
async fn answer<T: DeserializeOwned>(call: reqwest::RequestBuilder) -> Result<T, SignInError> {
    let response = call
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .map_err(|e| SignInError::Unreachable(e.to_string()))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| SignInError::Unreachable(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| SignInError::Protocol(e.to_string()));
    }
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) if !body.error.message.is_empty() => {
            Err(SignInError::refused(&body.error.message))
        }
        _ if status.is_server_error() => Err(SignInError::Unreachable(format!(
            "Identity Platform answered {status}"
        ))),
        _ => Err(SignInError::Protocol(format!(
            "Identity Platform answered {status}: {}",
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(200)
                .collect::<String>()
        ))),
    }
}

fn grant(answer: SignInResponse) -> Result<TokenGrant, SignInError> {
    Ok(TokenGrant {
        expires_in: seconds(&answer.expires_in)?,
        uid: answer.local_id,
        email: answer.email,
        id_token: answer.id_token,
        refresh_token: answer.refresh_token,
    })
}

fn seconds(text: &str) -> Result<Duration, SignInError> {
    text.trim()
        .parse()
        .map(Duration::from_secs)
        .map_err(|_| SignInError::Protocol(format!("expiresIn {text:?} is not a number")))
}
