//! `GET /healthz` says the process is up; `GET /readyz` says the backends it needs answer
//! (`/health` and `/ready` are their aliases for callers through Cloud Run's public URL).
//! `GET /openapi.json` serves the API's OpenAPI document.
//!
//! Cloud Run's liveness probe must not depend on the database (a database outage would otherwise
//! restart every instance), so only `/readyz` touches backends, each with a short timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::api::{HealthResponse, HealthStatus, ProblemCode, ProblemDetails};
use crate::error::problem_response;

use super::Routine;
use crate::seats::SeatStore;
use crate::store::Store;

/// How long one backend may take to answer a readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

type ProbeFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type Probe = Arc<dyn Fn() -> ProbeFuture + Send + Sync>;

/// The backends a service depends on, each with a check that it answers.
#[derive(Clone, Default)]
pub struct Readiness {
    probes: Vec<(&'static str, Probe)>,
}

impl Readiness {
    /// A service with no backends (always ready).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a backend named `name` (shown in the 503 body) checked by `probe`.
    pub fn with<F, Fut>(mut self, name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.probes
            .push((name, Arc::new(move || Box::pin(probe()) as ProbeFuture)));
        self
    }

    /// Adds the records database, as `database`.
    pub fn with_database(self, store: Arc<dyn Store>) -> Self {
        self.with("database", move || {
            let store = store.clone();
            async move { Ok(store.ping().await?) }
        })
    }

    /// Adds the seat store, as `seats`.
    pub fn with_seats(self, seats: Arc<dyn SeatStore>) -> Self {
        self.with("seats", move || {
            let seats = seats.clone();
            async move { Ok(seats.ping().await?) }
        })
    }

    /// Checks every backend concurrently, each bounded by the probe timeout; the failing ones by
    /// name, in the order they were added. A probe that panics counts as failing.
    pub async fn failing(&self) -> Vec<(&'static str, String)> {
        let checks: Vec<_> = self
            .probes
            .iter()
            .map(|(name, probe)| {
                let check = tokio::time::timeout(PROBE_TIMEOUT, probe());
                (*name, tokio::spawn(check))
            })
            .collect();
        let mut failing = Vec::new();
        for (name, check) in checks {
            match check.await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => failing.push((name, format!("{e:#}"))),
                Ok(Err(_)) => failing.push((name, "timed out".to_owned())),
                Err(e) => failing.push((name, format!("probe failed: {e}"))),
            }
        }
        failing
    }
}

pub(super) async fn healthz() -> Response {
    let body = HealthResponse {
        status: HealthStatus::Ok,
    };
    (Extension(Routine), Json(body)).into_response()
}

pub(super) async fn readyz(State(readiness): State<Readiness>) -> Response {
    let failing = readiness.failing().await;
    if failing.is_empty() {
        let body = HealthResponse {
            status: HealthStatus::Ready,
        };
        return (Extension(Routine), Json(body)).into_response();
    }
    for (backend, error) in &failing {
        tracing::warn!(backend, error = %error, "readiness probe failed");
    }
    // Name the backend, not its error text: the text can carry hosts and user names.
    let names: Vec<String> = failing.iter().map(|(name, _)| (*name).to_owned()).collect();
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let mut body = ProblemDetails::new(
        status.as_u16(),
        "Service Unavailable",
        ProblemCode::Unavailable,
        format!("Not ready: {} not answering.", names.join(", ")),
    );
    body.failing = Some(names);
    body.request_id = crate::telemetry::current_request_id();
    let mut response = problem_response(status, &body);
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(1));
    response
}

/// The OpenAPI document, rendered once per process.
pub(super) async fn openapi() -> Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(crate::api::openapi::json).clone();
    (
        Extension(Routine),
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn slow(delay: Duration, answer: anyhow::Result<()>) -> impl Fn() -> ProbeFuture {
        let answer = answer.map_err(|e| e.to_string());
        move || {
            let answer = answer.clone();
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                answer.map_err(anyhow::Error::msg)
            })
        }
    }

    #[tokio::test]
    async fn backends_are_probed_at_once_not_one_after_another() {
        let delay = Duration::from_millis(600);
        let readiness = Readiness::new()
            .with("database", slow(delay, Ok(())))
            .with("seats", slow(delay, Err(anyhow::anyhow!("refused"))));
        let started = Instant::now();
        let failing = readiness.failing().await;
        let took = started.elapsed();
        assert_eq!(failing, vec![("seats", "refused".to_owned())]);
        // One-after-another would take two delays; at once, one (the margin absorbs a stall).
        assert!(
            took < delay * 2 - Duration::from_millis(150),
            "took {took:?}"
        );
    }
}
