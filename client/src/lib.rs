//! Client SDK of the CODITECT floating-license service.
//!
//! [`LicenseClient`] speaks the HTTP API (acquire, heartbeat, release, the lease JWKS) and turns
//! every problem+json answer into a [`ClientError::Refused`] carrying its stable `code`. Leases are
//! checked offline with [`shared::leases::verify::LeaseVerifier`], the very code the servers use.
//!
//! Offline grace: a caller that cannot reach the service (a [`ClientError::Unreachable`] or a 5xx)
//! may keep running while its last lease verifies; a refusal (`seats_exhausted`,
//! `license_expired`, …) is obeyed at once.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
pub use shared::leases::LeaseClaims;
pub use shared::leases::verify::{LeaseError, LeaseVerifier};

/// What went wrong talking to the service.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service could not be reached (offline grace applies).
    #[error("service unreachable: {0}")]
    Unreachable(String),
    /// The service answered with a problem.
    #[error("{status} {code}: {detail}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stable problem code (`seats_exhausted`, `session_not_found`, …).
        code: String,
        /// The sentence for a person.
        detail: String,
        /// `Retry-After` in seconds, when the service sent one.
        retry_after: Option<u64>,
        /// The whole problem body, for its extension members.
        body: Value,
    },
    /// The service answered something that is not the documented shape.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The problem code of a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether offline grace applies: the service was not reached or failed on its side.
    pub fn allows_offline_grace(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Refused { status, .. } => *status >= 500,
            Self::Protocol(_) => false,
        }
    }
}

/// A granted seat.
#[derive(Debug, Clone, Deserialize)]
pub struct Grant {
    /// The session id.
    pub session_id: String,
    /// The signed lease: send it to heartbeat and release; verify it offline.
    pub lease: String,
    /// How often to heartbeat.
    pub heartbeat_interval_seconds: u64,
    /// When the seat frees without a heartbeat (RFC 3339).
    pub expires_at: String,
    /// Whether this is the seat this user already held on this machine.
    #[serde(default)]
    pub renewed: bool,
    /// The license, as the service describes it.
    pub license: Value,
}

/// A successful heartbeat.
#[derive(Debug, Clone, Deserialize)]
pub struct Heartbeat {
    /// New expiry (RFC 3339).
    pub expires_at: String,
    /// Seconds until then.
    pub expires_in: i64,
}

/// A client of one service deployment.
#[derive(Debug, Clone)]
pub struct LicenseClient {
    base: String,
    http: reqwest::Client,
}

impl LicenseClient {
    /// A client of the service at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Self::with_http(base_url, http))
    }

    /// A client sharing an existing HTTP client (connection pool).
    pub fn with_http(base_url: &str, http: reqwest::Client) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// Asks for a seat for this machine, signed in with `id_token`.
    pub async fn acquire(
        &self,
        id_token: &str,
        fingerprint: &str,
        hostname: &str,
        client_version: &str,
    ) -> Result<Grant, ClientError> {
        let body = serde_json::json!({
            "fingerprint": fingerprint,
            "hostname": hostname,
            "client_version": client_version,
        });
        let response = self
            .http
            .post(format!("{}/api/v1/licenses/acquire", self.base))
            .bearer_auth(id_token)
            .json(&body)
            .send()
            .await;
        json(checked(response).await?).await
    }

    /// Keeps the seat of `lease` alive.
    pub async fn heartbeat(&self, lease: &str) -> Result<Heartbeat, ClientError> {
        let response = self
            .http
            .put(format!("{}/api/v1/licenses/heartbeat", self.base))
            .bearer_auth(lease)
            .send()
            .await;
        json(checked(response).await?).await
    }

    /// Gives the seat of `lease` back (idempotent).
    pub async fn release(&self, lease: &str) -> Result<(), ClientError> {
        let response = self
            .http
            .delete(format!("{}/api/v1/licenses/release", self.base))
            .bearer_auth(lease)
            .send()
            .await;
        checked(response).await.map(drop)
    }

    /// A verifier trusting the keys the service publishes now. A CLI should pin these (ship them
    /// or store them at first use) rather than fetch them on every start.
    pub async fn fetch_verifier(&self, issuer: &str) -> Result<LeaseVerifier, ClientError> {
        let response = self
            .http
            .get(format!("{}/.well-known/jwks.json", self.base))
            .send()
            .await;
        let text = checked(response)
            .await?
            .text()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        LeaseVerifier::from_jwks_json(&text, issuer)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }
}

async fn checked(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, ClientError> {
    let response = response.map_err(|e| ClientError::Unreachable(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Err(ClientError::Refused {
        status: status.as_u16(),
        code: text("code"),
        detail: text("detail"),
        retry_after,
        body: body.clone(),
    })
}

async fn json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, ClientError> {
    response
        .json()
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))
}
