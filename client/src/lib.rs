//! Client SDK of the CODITECT floating-license service.
//!
//! [`LicenseClient`] speaks the HTTP API (acquire, heartbeat, release, the lease JWKS) in the wire
//! types of `shared::api`, the very structs the servers answer with, and turns every problem+json
//! answer into a [`ClientError::Refused`] carrying its [`ProblemDetails`] and stable [`ProblemCode`]. Leases are
//! checked offline with [`shared::leases::verifying::LeaseVerifier`], the very code the servers use.
//!
//! Offline grace: a caller that cannot reach the service (a [`ClientError::Unreachable`] or a 5xx)
//! may keep running while its last lease verifies; a refusal (`seats_exhausted`,
//! `license_expired`, …) is obeyed at once.

use std::time::Duration;

pub use shared::api::{
    AcquireRequest, AcquireResponse, HeartbeatResponse, ProblemCode, ProblemDetails,
};
pub use shared::leases::LeaseClaims;
pub use shared::leases::verifying::{LeaseError, LeaseVerifier};

/// What went wrong talking to the service.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service could not be reached (offline grace applies).
    #[error("service unreachable: {0}")]
    Unreachable(String),
    /// The service answered with an error status.
    #[error("{status} {}", refusal_text(.problem.as_deref()))]
    Refused {
        /// HTTP status.
        status: u16,
        /// The problem body; `None` when the answer was not problem+json (a proxy's error page).
        problem: Option<Box<ProblemDetails>>,
        /// `Retry-After` in seconds, when the service sent one.
        retry_after: Option<u64>,
    },
    /// The service answered something that is not the documented shape.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

fn refusal_text(problem: Option<&ProblemDetails>) -> String {
    match problem {
        Some(problem) => format!("{}: {}", problem.code, problem.detail),
        None => "without a problem body".to_owned(),
    }
}

impl ClientError {
    /// The problem code of a refusal.
    pub fn code(&self) -> Option<ProblemCode> {
        match self {
            Self::Refused {
                problem: Some(problem),
                ..
            } => Some(problem.code),
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
    ) -> Result<AcquireResponse, ClientError> {
        let body = AcquireRequest {
            fingerprint: fingerprint.to_owned(),
            hostname: hostname.to_owned(),
            client_version: Some(client_version.to_owned()),
        };
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
    pub async fn heartbeat(&self, lease: &str) -> Result<HeartbeatResponse, ClientError> {
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
    let problem = response.json::<ProblemDetails>().await.ok().map(Box::new);
    Err(ClientError::Refused {
        status: status.as_u16(),
        problem,
        retry_after,
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
