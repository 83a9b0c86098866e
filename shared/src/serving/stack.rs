//! The middleware stack around every service's routes.
//!
//! From the outside in: the observer (request id, trace, timeout, metrics, and the access line,
//! [`super::access_log`]; a body still arriving at the timeout is the client's 408 `body_timeout`,
//! [`super::body_watch`]), then the rewriting of axum's plain-text rejections as problem+json ([`super::rejections`]),
//! then the panic catcher and the body limit. Unknown paths and wrong methods answer problem+json
//! like everything else.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use super::access_log::{Admit, Kind, Repeats, Severity};
use super::body_watch::BodyWait;
use super::health::{Readiness, healthz, openapi, readyz};
use super::rejections::problem_json_rejections;
use crate::api::ProblemCode;
use crate::config::Config;
use crate::error::{ApiError, InternalErrorText, Problem, RefusalReason};
use crate::{metrics, telemetry};

/// Header carrying the request id, in and out.
const REQUEST_ID: &str = "x-request-id";

/// A response extension marking a request as routine: a heartbeat or a health probe, made by every
/// client or probe over and over. When it succeeds its access line is logged at `debug`, not
/// `info`: Cloud Run's request log already records every request, and at 10 000 sessions
/// heartbeating every 120 s this one line would add 7 million entries (about 1.9 GB) a day to
/// pay for. Refused or failed routine requests are logged like any other.
#[derive(Debug, Clone, Copy)]
pub struct Routine;

/// A request's time limit (`REQUEST_TIMEOUT_SECONDS` from its start), in its extensions. A
/// handler that waits on purpose — acquire's long poll of the queue — moves it on by the time it
/// means to wait, so the limit still bounds everything else the request does.
#[derive(Debug, Clone)]
pub struct TimeLimit {
    deadline: Arc<std::sync::Mutex<tokio::time::Instant>>,
}

impl TimeLimit {
    fn new(deadline: tokio::time::Instant) -> Self {
        Self {
            deadline: Arc::new(std::sync::Mutex::new(deadline)),
        }
    }

    /// Gives the request `by` more time.
    pub fn extend(&self, by: Duration) {
        *self
            .deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += by;
    }

    fn deadline(&self) -> tokio::time::Instant {
        *self
            .deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs `request` until it answers or its [`TimeLimit`] passes (`None`).
async fn within_limit(limit: TimeLimit, run: impl Future<Output = Response>) -> Option<Response> {
    tokio::pin!(run);
    loop {
        let deadline = limit.deadline();
        tokio::select! {
            response = &mut run => return Some(response),
            () = tokio::time::sleep_until(deadline) => {
                if limit.deadline() <= deadline {
                    return None;
                }
            }
        }
    }
}

/// Wraps a service's `routes` with health, readiness and the common middleware.
pub fn service_router(routes: Router, readiness: Readiness, config: &Config) -> Router {
    // `/health` and `/ready` are the same probes for callers that go through Cloud Run's public
    // URL, whose front end reserves some paths ending in `z`; the container probes use the others.
    let health = Router::new()
        .route("/healthz", get(healthz))
        .route("/health", get(healthz))
        .route("/readyz", get(readyz))
        .route("/ready", get(readyz))
        .route("/openapi.json", get(openapi))
        .with_state(readiness);
    routes
        .merge(health)
        .fallback(|| async { ApiError::NotFound("No such path.".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
            },
        ))
        .layer(middleware::from_fn(problem_json_rejections))
        .layer(middleware::from_fn_with_state(
            Observer {
                timeout: config.request_timeout,
                repeats: Repeats::start(),
            },
            observe,
        ))
}

/// What the observer needs: the request time limit and the repeat counts of its access lines.
#[derive(Clone)]
struct Observer {
    timeout: Duration,
    repeats: Arc<Repeats>,
}

/// Gives the request an id and a span, bounds its time, counts it, and logs how it ended.
async fn observe(State(observer): State<Observer>, request: Request, next: Next) -> Response {
    let request_id = incoming_request_id(request.headers())
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %request.uri().path(),
        route = %route,
        trace = tracing::field::Empty,
    );
    if let Some(trace) = trace_of(request.headers()) {
        span.record("trace", trace);
    }
    let started = Instant::now();
    let body = BodyWait::default();
    let mut request = request.map(|inner| body.watch(inner));
    let timeout = observer.timeout;
    let limit = TimeLimit::new(tokio::time::Instant::now() + timeout);
    request.extensions_mut().insert(limit.clone());
    let handled = telemetry::with_request_id(request_id.clone(), async move {
        match within_limit(limit, next.run(request)).await {
            Some(response) => response,
            // Handlers read their whole body before anything else, so a request still waiting
            // for its body was slowed by its client, not by us.
            None if body.waiting_for_client() => body_timeout(timeout),
            None => ApiError::Timeout.into_response(),
        }
    });
    let mut response = handled.instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency = started.elapsed();
    let code = response.extensions().get::<ProblemCode>().copied();
    metrics::global().request(
        &method,
        &route,
        status,
        code.map(ProblemCode::as_str),
        latency,
    );
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let (severity, why) = if let Some(InternalErrorText(error)) = response.extensions_mut().remove()
    {
        (Severity::Failed, error)
    } else if let Some(RefusalReason(reason)) = response.extensions_mut().remove() {
        (Severity::Refused, reason)
    } else if response.extensions().get::<Routine>().is_some() {
        (Severity::Routine, String::new())
    } else {
        (Severity::Served, String::new())
    };
    let success = response.status().is_success() || response.status().is_redirection();
    let kind = Kind {
        method,
        route,
        status,
        code,
    };
    if success || observer.repeats.admit(&kind, severity, Instant::now()) == Admit::Log {
        // `count` on a non-success lets a log-based metric add up aggregated lines exactly.
        let count = (!success).then_some(1);
        let code = code.map(ProblemCode::as_str);
        span.in_scope(|| match severity {
            Severity::Failed => {
                tracing::error!(status, code, latency_ms, count, error = %why, "request failed");
            }
            Severity::Refused => {
                tracing::warn!(status, code, latency_ms, count, reason = %why, "request refused");
            }
            Severity::Routine => tracing::debug!(status, code, latency_ms, count, "request served"),
            Severity::Served => tracing::info!(status, code, latency_ms, count, "request served"),
        });
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The answer to a request whose body did not arrive within the time limit: the client's fault
/// (408, logged as a refusal), and the connection is closed, as its unread body cannot be skipped.
fn body_timeout(timeout: Duration) -> Response {
    let mut response = ApiError::from(Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        ProblemCode::BodyTimeout,
        "The request body did not arrive in time; send the whole body at once.",
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response.extensions_mut().insert(RefusalReason(format!(
        "the request body was still arriving after {} s",
        timeout.as_secs()
    )));
    response
}

/// The trace id from Cloud Run's or W3C's trace header.
fn trace_of(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    telemetry::trace_id(header("x-cloud-trace-context"), header("traceparent"))
}

/// A caller's own request id, kept when it is short and printable (it lands in logs).
fn incoming_request_id(headers: &HeaderMap) -> Option<String> {
    let id = headers.get(REQUEST_ID)?.to_str().ok()?;
    let sane = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    sane.then(|| id.to_owned())
}
