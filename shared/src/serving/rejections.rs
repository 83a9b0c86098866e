//! The last word on client errors: any 4xx that leaves the routes without a JSON body is one of
//! axum's own plain-text rejections, and is rewritten as problem+json with the code of its status.
//!
//! Our extractors ([`super::Json`], [`super::Path`], [`super::Query`]) and the router's fallbacks
//! already answer problem+json; this layer catches what slips past them: a handler that takes the
//! raw body (`Bytes`, `String`) and so answers axum's `Failed to buffer the request body: length
//! limit exceeded` when a body (sized or chunked) passes `DefaultBodyLimit`, and any extractor added
//! later without a mapping. The status and every header but the body's own (`Allow` on a 405)
//! are kept; axum's text goes to the log as the refusal reason, never to the client.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ProblemCode;
use crate::error::{ApiError, PROBLEM_JSON, Problem, RefusalReason};

/// The most of a rejection's text read for the log; axum's are one line.
const MAX_REJECTION_TEXT: usize = 1024;

/// Rewrites a framework's non-JSON client error as problem+json.
pub(super) async fn problem_json_rejections(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if !response.status().is_client_error() || is_json(response.headers().get(header::CONTENT_TYPE))
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_REJECTION_TEXT).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    let mut rewritten = as_problem(parts.status).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    let extensions = rewritten.extensions_mut();
    extensions.extend(parts.extensions);
    if extensions.get::<RefusalReason>().is_none() {
        extensions.insert(RefusalReason(format!(
            "rejected before the handler: {}",
            text.trim()
        )));
    }
    rewritten
}

/// Whether a body of this type is already JSON (ours are problem+json or application/json).
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON) || v.starts_with("application/json"))
}

/// The problem for a framework rejection of `status`.
fn as_problem(status: StatusCode) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::NOT_FOUND => ApiError::NotFound("No such path.".into()),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::Validation("The request is not valid for this path.".into())
        }
        // axum's other 400s are bodies that could not be read or parsed.
        StatusCode::BAD_REQUEST => {
            ApiError::MalformedJson("The request body could not be read.".into())
        }
        other => Problem::new(
            other,
            ProblemCode::ValidationFailed,
            "The request is not valid for this path.",
        )
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_plain_text_413_becomes_a_problem_and_a_json_answer_is_left_alone() {
        let app = Router::new()
            .route("/raw", post(|_: Bytes| async { "ok" }))
            .route(
                "/ours",
                post(|| async { ApiError::Validation("no".into()) }),
            )
            .layer(DefaultBodyLimit::max(4))
            .layer(axum::middleware::from_fn(problem_json_rejections));
        let send = |path: &str| {
            Request::post(path)
                .body(Body::from("far too long"))
                .expect("request")
        };

        let raw = app.clone().oneshot(send("/raw")).await.expect("answers");
        let ours = app.oneshot(send("/ours")).await.expect("answers");

        assert_eq!(raw.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(raw.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert!(raw.extensions().get::<RefusalReason>().is_some());
        assert_eq!(ours.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = axum::body::to_bytes(ours.into_body(), 4096)
            .await
            .expect("body");
        let problem: crate::api::ProblemDetails = serde_json::from_slice(&body).expect("problem");
        assert_eq!(problem.detail, "no", "our own problem is not rewritten");
    }
}
