//! [`LicenseClient`]: the HTTP API in the wire types of `shared::api`, the very structs the servers
//! answer with. Every problem+json answer becomes a [`ClientError::Refused`] carrying its
//! [`ProblemDetails`] and stable [`ProblemCode`], and every answer's `Date` header is remembered
//! ([`LicenseClient::last_server_date`]): it is one of the trusted times that keep a clock set back
//! from extending offline grace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use shared::api::{
    AcquireRequest, AcquireResponse, HeartbeatResponse, LeaveRequest, LeaveResponse, MeResponse,
    ProblemCode, ProblemDetails, QueuedResponse, RegisterRequest, RegisterResponse,
    SessionsResponse, UsageQuery, UsageResponse,
};
use shared::leases::{JwkSet, LeaseVerifier};
use uuid::Uuid;

use crate::home::HomeError;

/// What went wrong talking to the service.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service could not be reached (offline grace applies).
    #[error("the licensing service could not be reached: {0}")]
    Unreachable(String),
    /// The service answered with an error status.
    #[error("{}", refusal_text(*.status, .problem.as_deref()))]
    Refused {
        /// HTTP status.
        status: u16,
        /// The problem body; `None` when the answer was not problem+json (a proxy's error page).
        problem: Option<Box<ProblemDetails>>,
        /// `Retry-After` in seconds, when the service sent one.
        retry_after: Option<u64>,
    },
    /// The service answered something that is not the documented shape, or a lease that does not
    /// verify against the pinned keys.
    #[error("unexpected answer from the licensing service: {0}")]
    Protocol(String),
    /// Waited in the queue as long as allowed ([`crate::seat::WaitOptions::timeout`]) without a
    /// seat; the machine has left the queue.
    #[error(
        "no seat freed within {} of waiting; you were number {} of {} in the queue",
        humantime_words(.waited),
        .last.position,
        .last.queue_length
    )]
    WaitedOut {
        /// How long the machine waited.
        waited: Duration,
        /// Its last place in the queue.
        last: Box<QueuedResponse>,
    },
    /// No sign-in is stored, or it was revoked: `coditect-license login`.
    #[error("{0}")]
    NotSignedIn(String),
    /// A file of the client's home could not be read or written.
    #[error(transparent)]
    Files(#[from] HomeError),
}

/// `d` in whole minutes or seconds, for a sentence.
fn humantime_words(d: &Duration) -> String {
    match d.as_secs() {
        s if s >= 120 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

fn refusal_text(status: u16, problem: Option<&ProblemDetails>) -> String {
    match problem {
        Some(problem) => problem.detail.clone(),
        None => format!("the licensing service answered {status} without an explanation"),
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

    /// The problem body of a refusal.
    pub fn problem(&self) -> Option<&ProblemDetails> {
        match self {
            Self::Refused {
                problem: Some(problem),
                ..
            } => Some(problem),
            _ => None,
        }
    }

    /// `Retry-After` of a refusal.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Refused {
                retry_after: Some(seconds),
                ..
            } => Some(Duration::from_secs(*seconds)),
            _ => None,
        }
    }

    /// Whether this is a transient failure: the service was not reached, failed on its side
    /// (5xx), or asked to slow down (429). Retrying may succeed, and offline grace applies to all
    /// but the 429. A refusal (a 4xx with a problem) is obeyed at once.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Refused { status, .. } => *status >= 500 || *status == 429,
            Self::Protocol(_) | Self::NotSignedIn(_) | Self::Files(_) | Self::WaitedOut { .. } => {
                false
            }
        }
    }

    /// Whether offline grace applies: the service was not reached or failed on its side.
    pub fn allows_offline_grace(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Refused { status, .. } => *status >= 500,
            Self::Protocol(_) | Self::NotSignedIn(_) | Self::Files(_) | Self::WaitedOut { .. } => {
                false
            }
        }
    }
}

/// What an acquire that may wait answered.
#[derive(Debug, Clone, PartialEq)]
pub enum AcquireAnswer {
    /// A seat (200).
    Granted(Box<AcquireResponse>),
    /// No seat yet: the machine's place in the queue (202).
    Queued(Box<QueuedResponse>),
}

/// A client of one service deployment.
#[derive(Debug, Clone)]
pub struct LicenseClient {
    base: String,
    http: reqwest::Client,
    /// The `Date` of the latest answer, whatever its status.
    last_date: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl LicenseClient {
    /// A client of the service at `base_url` (e.g. `http://127.0.0.1:8080`), with a 10 s bound
    /// on every call (connect 5 s).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("coditect-license/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Self::with_http(base_url, http))
    }

    /// A client sharing an existing HTTP client (connection pool).
    pub fn with_http(base_url: &str, http: reqwest::Client) -> Self {
        Self {
            base: crate::home::normalized_url(base_url),
            http,
            last_date: Arc::default(),
        }
    }

    /// The deployment's URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The HTTP client (for calls of other services, such as Identity Platform).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The `Date` header of the latest answer of the service, if it sent one.
    pub fn last_server_date(&self) -> Option<DateTime<Utc>> {
        *self.last_date.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a seat for this machine, signed in with `id_token`.
    pub async fn acquire(
        &self,
        id_token: &str,
        request: &AcquireRequest,
    ) -> Result<AcquireResponse, ClientError> {
        let call = self
            .http
            .post(self.url("/api/v1/licenses/acquire"))
            .bearer_auth(id_token)
            .json(request);
        self.json(call).await
    }

    /// Asks for a seat as [`Self::acquire`] does, but with `request.wait_seconds` set waits in the
    /// license's queue: the call lasts up to that long (the HTTP timeout is stretched to match),
    /// and answers the seat or the machine's place.
    pub async fn acquire_or_wait(
        &self,
        id_token: &str,
        request: &AcquireRequest,
    ) -> Result<AcquireAnswer, ClientError> {
        let wait = Duration::from_secs(request.wait_seconds.unwrap_or(0));
        let call = self
            .http
            .post(self.url("/api/v1/licenses/acquire"))
            .bearer_auth(id_token)
            .timeout(wait + Duration::from_secs(10))
            .json(request);
        let response = self.send(call).await?;
        let queued = response.status() == reqwest::StatusCode::ACCEPTED;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(error_chain(&e)))?;
        let decoded = if queued {
            serde_json::from_slice(&bytes).map(|q| AcquireAnswer::Queued(Box::new(q)))
        } else {
            serde_json::from_slice(&bytes).map(|g| AcquireAnswer::Granted(Box::new(g)))
        };
        decoded.map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Takes this machine's `ticket` out of the queue; whether it was waiting.
    pub async fn leave(&self, id_token: &str, request: &LeaveRequest) -> Result<bool, ClientError> {
        let call = self
            .http
            .post(self.url("/api/v1/licenses/leave"))
            .bearer_auth(id_token)
            .json(request);
        Ok(self.json::<LeaveResponse>(call).await?.left)
    }

    /// Keeps the seat of `lease` alive.
    pub async fn heartbeat(&self, lease: &str) -> Result<HeartbeatResponse, ClientError> {
        let call = self
            .http
            .put(self.url("/api/v1/licenses/heartbeat"))
            .bearer_auth(lease);
        self.json(call).await
    }

    /// Gives the seat of `lease` back (idempotent).
    pub async fn release(&self, lease: &str) -> Result<(), ClientError> {
        let call = self
            .http
            .delete(self.url("/api/v1/licenses/release"))
            .bearer_auth(lease);
        self.send(call).await.map(drop)
    }

    /// Returns a borrowed seat before its borrow ends (releases a seat that is not borrowed).
    pub async fn give_back(&self, lease: &str) -> Result<(), ClientError> {
        let call = self
            .http
            .post(self.url("/api/v1/licenses/return"))
            .bearer_auth(lease);
        self.send(call).await.map(drop)
    }

    /// The caller's membership, organisation and license.
    pub async fn me(&self, id_token: &str) -> Result<MeResponse, ClientError> {
        self.json(self.http.get(self.url("/api/v1/me")).bearer_auth(id_token))
            .await
    }

    /// Registers the caller: creates an organisation named `tenant_name` (or after the email's
    /// domain), joins one by invitation, or answers the existing membership.
    pub async fn register(
        &self,
        id_token: &str,
        tenant_name: Option<&str>,
    ) -> Result<RegisterResponse, ClientError> {
        let body = RegisterRequest {
            tenant_name: tenant_name.map(str::to_owned),
        };
        let call = self
            .http
            .post(self.url("/api/v1/register"))
            .bearer_auth(id_token)
            .json(&body);
        self.json(call).await
    }

    /// Who holds the seats of `tenant` (owners and admins).
    pub async fn sessions(
        &self,
        id_token: &str,
        tenant: Uuid,
    ) -> Result<SessionsResponse, ClientError> {
        let call = self
            .http
            .get(self.url(&format!("/api/v1/tenants/{tenant}/sessions")))
            .bearer_auth(id_token);
        self.json(call).await
    }

    /// The usage report of `tenant`'s license over the period `query` names (owners and admins;
    /// a member is refused 403 `forbidden`, a period it cannot cover 400 `invalid_range`).
    pub async fn usage(
        &self,
        id_token: &str,
        tenant: Uuid,
        query: &UsageQuery,
    ) -> Result<UsageResponse, ClientError> {
        let call = self
            .http
            .get(self.url(&format!("/api/v1/tenants/{tenant}/usage")))
            .query(query)
            .bearer_auth(id_token);
        self.json(call).await
    }

    /// The lease keys the service publishes now.
    pub async fn jwks(&self) -> Result<JwkSet, ClientError> {
        self.json(self.http.get(self.url("/.well-known/jwks.json")))
            .await
    }

    /// A verifier trusting the keys the service publishes now, for leases issued by `issuer`.
    /// [`crate::keys::PinnedKeys`] is what a long-lived client uses: keys pinned on disk.
    pub async fn fetch_verifier(&self, issuer: &str) -> Result<LeaseVerifier, ClientError> {
        let jwks = self.jwks().await?;
        LeaseVerifier::from_jwks(&jwks, issuer).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `path` on this deployment.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `call` and decodes a successful answer as `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        call: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        self.send(call)
            .await?
            .json()
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Sends `call`, remembers the answer's `Date`, and turns an error status into a
    /// [`ClientError::Refused`].
    pub async fn send(
        &self,
        call: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let response = call
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(error_chain(&e)))?;
        self.remember_date(response.headers());
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let problem = response.json::<ProblemDetails>().await.ok().map(Box::new);
        Err(ClientError::Refused {
            status: status.as_u16(),
            problem,
            retry_after,
        })
    }

    fn remember_date(&self, headers: &reqwest::header::HeaderMap) {
        let date = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&Utc));
        if let Some(date) = date {
            let mut last = self.last_date.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_none_or(|seen| date > seen) {
                *last = Some(date);
            }
        }
    }
}

/// An error with its causes, which is where reqwest says what actually failed (refused, DNS…).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
