//! The one error type of the HTTP layer, rendered as RFC 9457 problem details.
//!
//! Every failure a client can see has a stable machine `code` (documented in the README) and a
//! sentence saying what to do next. Internal errors keep their text out of the response: the text
//! travels to the logging middleware in a response extension and is logged with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use crate::api::problem::PROBLEM_JSON;
use crate::api::{ProblemCode, ProblemDetails};
use crate::telemetry;

/// A failure of a request, as the client will see it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The bearer token (ID token or lease) is missing, malformed, expired or forged. The reason goes
    /// to the log only: telling a forger which check failed helps the forger.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The caller is known but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Nothing of that id exists for this caller (also when it exists in another tenant).
    #[error("not found: {0}")]
    NotFound(String),
    /// The body or a parameter does not describe a valid request.
    #[error("validation failed: {0}")]
    Validation(String),
    /// The body is not well-formed JSON of the expected shape.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body is larger than the configured limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request conflicts with the current state (already exists, last owner…).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A domain refusal with its own code, status and extension members (no_license,
    /// seats_exhausted…). Built by [`Problem`].
    #[error("{0:?}")]
    Problem(Box<Problem>),
    /// The request ran past the configured timeout.
    #[error("request timed out")]
    Timeout,
    /// A backend the request needs does not answer.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else; its text is logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A refusal with its own code and extension members, for the denials of the seat and license flow.
#[derive(Debug)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// The body: code, sentence and the extension members of that code (seat counts, holders…).
    /// `request_id` is filled in when the response is rendered.
    pub body: ProblemDetails,
    /// `Retry-After` in seconds, when waiting helps.
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A refusal with no extension members.
    pub fn new(status: StatusCode, code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: ProblemDetails::new(status.as_u16(), title(status), code, detail),
            retry_after: None,
        }
    }

    /// Sets extension members of the body.
    pub fn with(mut self, extend: impl FnOnce(&mut ProblemDetails)) -> Self {
        extend(&mut self.body);
        self
    }

    /// Sets `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The 429 `rate_limited` of a call a seat store's limit refused, with `Retry-After`; the
    /// detail is `detail`, given the seconds to wait.
    pub fn rate_limited(
        limited: &crate::seats::Limited,
        detail: impl FnOnce(u64) -> String,
    ) -> Self {
        let wait = limited.retry_after_seconds();
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ProblemCode::RateLimited,
            detail(wait),
        )
        .retry_after(wait)
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::Problem(Box::new(problem))
    }
}

/// The text of an internal error, handed from `into_response` to the logging middleware.
#[derive(Debug, Clone)]
pub struct InternalErrorText(pub String);

/// Why a token was refused, handed to the logging middleware: the log says which check failed,
/// the response does not.
#[derive(Debug, Clone)]
pub struct RefusalReason(pub String);

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Problem(p) => p.status,
            Self::Timeout | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> ProblemCode {
        match self {
            Self::InvalidToken(_) => ProblemCode::InvalidToken,
            Self::Forbidden(_) => ProblemCode::Forbidden,
            Self::NotFound(_) => ProblemCode::NotFound,
            Self::Validation(_) => ProblemCode::ValidationFailed,
            Self::MalformedJson(_) => ProblemCode::MalformedJson,
            Self::UnsupportedMediaType => ProblemCode::UnsupportedMediaType,
            Self::PayloadTooLarge => ProblemCode::PayloadTooLarge,
            Self::MethodNotAllowed => ProblemCode::MethodNotAllowed,
            Self::Conflict(_) => ProblemCode::Conflict,
            Self::Problem(p) => p.body.code,
            Self::Timeout => ProblemCode::Timeout,
            Self::Unavailable(_) => ProblemCode::Unavailable,
            Self::Internal(_) => ProblemCode::Internal,
        }
    }

    /// What the response says: safe for anyone to read.
    fn public_detail(&self) -> String {
        match self {
            Self::InvalidToken(_) => {
                "The bearer token is missing, malformed, expired or not ours; sign in again.".into()
            }
            Self::Forbidden(why) | Self::NotFound(why) | Self::Conflict(why) => why.clone(),
            Self::Validation(why) | Self::MalformedJson(why) => why.clone(),
            Self::UnsupportedMediaType => "Send the body as application/json.".into(),
            Self::PayloadTooLarge => "The request body is larger than this service accepts.".into(),
            Self::MethodNotAllowed => "This path does not accept that method.".into(),
            Self::Problem(p) => p.body.detail.clone(),
            Self::Timeout => "The request took too long; retry it.".into(),
            Self::Unavailable(_) => {
                "A backend this service needs is not answering; retry shortly.".into()
            }
            Self::Internal(_) => {
                "Something went wrong on our side; the request id identifies it in our logs.".into()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (mut body, mut retry_after) = match &self {
            Self::Problem(problem) => (problem.body.clone(), problem.retry_after),
            other => (
                ProblemDetails::new(
                    status.as_u16(),
                    title(status),
                    other.code(),
                    other.public_detail(),
                ),
                None,
            ),
        };
        body.request_id = telemetry::current_request_id();
        if matches!(self, Self::Unavailable(_) | Self::Timeout) {
            retry_after = Some(1);
        }
        let mut response = problem_response(status, &body);
        let headers = response.headers_mut();
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // RFC 6750 §3: a 401 names the scheme it wants and why the token was refused.
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match body.code {
                ProblemCode::LeaseExpired => {
                    r#"Bearer realm="coditect", error="invalid_token", error_description="the lease has passed its offline grace""#
                }
                _ => r#"Bearer realm="coditect", error="invalid_token""#,
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        // Everything below 500 is the client's doing and already visible in the access log line;
        // the cause of a 5xx must reach the log without reaching the response.
        if status.is_server_error() {
            response
                .extensions_mut()
                .insert(InternalErrorText(format!("{self:#}")));
        } else if let Self::InvalidToken(why) = &self {
            response.extensions_mut().insert(RefusalReason(why.clone()));
        }
        response
    }
}

/// A problem body as a response with its status and media type.
pub fn problem_response(status: StatusCode, body: &ProblemDetails) -> Response {
    let json = serde_json::to_string(body).unwrap_or_default();
    let mut response = (status, json).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    // For the access line and the metrics: the code without parsing the body again.
    response.extensions_mut().insert(body.code);
    response
}

/// The `title` of a problem: the status's reason phrase.
fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::NotFound(what) => Self::NotFound(format!("No such {what}.")),
            StoreError::Conflict(why) => Self::Conflict(why),
            StoreError::Unavailable(e) => Self::Unavailable(format!("database: {e:#}")),
            StoreError::Other(e) => Self::Internal(e),
        }
    }
}

impl From<crate::seats::SeatError> for ApiError {
    fn from(err: crate::seats::SeatError) -> Self {
        match err {
            crate::seats::SeatError::Unavailable(e) => Self::Unavailable(format!("seats: {e:#}")),
            crate::seats::SeatError::Other(e) => Self::Internal(e),
        }
    }
}

impl From<crate::identity::IdentityError> for ApiError {
    fn from(err: crate::identity::IdentityError) -> Self {
        match err {
            crate::identity::IdentityError::Invalid(why) => Self::InvalidToken(why),
            crate::identity::IdentityError::KeysUnavailable(why) => Self::Unavailable(why),
        }
    }
}

/// Shorthand for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
