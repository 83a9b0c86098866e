//! The middleware stack around every service's routes.
//!
//! From the outside in: the observer (request id, trace, timeout, access log and the log line of any
//! 5xx), then the rewriting of axum's plain-text rejections as problem+json ([`super::rejections`]),
//! then the panic catcher and the body limit. Unknown paths and wrong methods answer problem+json
//! like everything else.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use super::health::{Readiness, healthz, openapi, readyz};
use super::rejections::problem_json_rejections;
use crate::config::Config;
use crate::error::{ApiError, InternalErrorText, RefusalReason};
use crate::telemetry;

/// Header carrying the request id, in and out.
const REQUEST_ID: &str = "x-request-id";

/// A response extension marking a request as routine: a heartbeat or a health probe, made by every
/// client or probe over and over. When it succeeds its access line is logged at `debug`, not
/// `info`: Cloud Run's request log already records every request, and at 10 000 sessions
/// heartbeating every 120 s this one line would add 7 million entries (about 1.9 GB) a day to
/// pay for. Refused or failed routine requests are logged like any other.
#[derive(Debug, Clone, Copy)]
pub struct Routine;

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
            config.request_timeout,
            observe,
        ))
}

/// Gives the request an id and a span, bounds its time, and logs how it ended.
async fn observe(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let request_id = incoming_request_id(request.headers())
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        trace = tracing::field::Empty,
    );
    if let Some(trace) = trace_of(request.headers()) {
        span.record("trace", trace);
    }
    let started = Instant::now();
    let handled = telemetry::with_request_id(request_id.clone(), async move {
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Timeout.into_response(),
        }
    });
    let mut response = handled.instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if let Some(InternalErrorText(error)) = response.extensions_mut().remove() {
            tracing::error!(status, latency_ms, error = %error, "request failed");
        } else if let Some(RefusalReason(reason)) = response.extensions_mut().remove() {
            tracing::warn!(status, latency_ms, reason = %reason, "request refused");
        } else if response.extensions().get::<Routine>().is_some() {
            tracing::debug!(status, latency_ms, "request served");
        } else {
            tracing::info!(status, latency_ms, "request served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
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
