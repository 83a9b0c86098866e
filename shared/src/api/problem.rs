//! RFC 9457 problem details: the body of every error, with a stable machine [`ProblemCode`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every machine code an error can carry. A client branches on these, never on the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// Missing, malformed, forged or expired ID token or lease (401).
    InvalidToken,
    /// A genuine lease past its offline grace, on heartbeat: acquire again (401).
    LeaseExpired,
    /// The caller has no organisation, or it holds no license (403).
    NoLicense,
    /// The license is suspended (billing) and grants no seat (403).
    LicenseSuspended,
    /// The license was canceled and grants no seat (403).
    LicenseCanceled,
    /// The license is past its expiry and grants no seat (403).
    LicenseExpired,
    /// Every seat is held; `Retry-After` says when one may free (409).
    SeatsExhausted,
    /// The caller already holds as many seats on their other machines as the license lets one
    /// person hold (`policy.max_seats_per_user`); `holders` lists them (409).
    UserSeatLimit,
    /// The license does not allow borrowing, or not for that long (403).
    BorrowNotAllowed,
    /// Heartbeat of a seat that expired or was released: acquire again (404).
    SessionNotFound,
    /// Too many calls from this machine, or from this license's machines without a seat: wait
    /// `Retry-After` seconds and try again (429). Nothing changed: no seat taken, none freed.
    RateLimited,
    /// The caller's role may not do this (403).
    Forbidden,
    /// A Stripe webhook delivery's `Stripe-Signature` is missing, malformed, stale or does not
    /// match a configured secret (400); nothing was changed.
    InvalidSignature,
    /// Checkout or the Billing Portal is not configured on this server: the detail names the
    /// missing variable (503).
    BillingNotConfigured,
    /// Sign-in is not configured on this server (`IDENTITY_API_KEY`): the detail names the missing
    /// variable (503).
    SignInNotConfigured,
    /// No such path or resource, also any other tenant's resource (404).
    NotFound,
    /// The change conflicts with the current state: a duplicate, the last owner (409).
    Conflict,
    /// The body is JSON of the wrong shape, or a field is invalid (422).
    ValidationFailed,
    /// The body is not JSON (400).
    MalformedJson,
    /// A report's period is empty, not yet begun, or longer than one report covers (400): the
    /// detail says which; `GET …/usage` covers at most 400 days.
    InvalidRange,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// The body is larger than the service accepts (413).
    PayloadTooLarge,
    /// The path does not accept that method (405).
    MethodNotAllowed,
    /// A backend does not answer; retry after `Retry-After` (503).
    Unavailable,
    /// The request ran past the service's time limit; retry (503).
    Timeout,
    /// The request body was still arriving when the time limit passed: send it whole (408); the
    /// connection is closed.
    BodyTimeout,
    /// A bug on our side; the request id finds it in the logs (500).
    Internal,
}

impl ProblemCode {
    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidToken => "invalid_token",
            Self::LeaseExpired => "lease_expired",
            Self::NoLicense => "no_license",
            Self::LicenseSuspended => "license_suspended",
            Self::LicenseCanceled => "license_canceled",
            Self::LicenseExpired => "license_expired",
            Self::SeatsExhausted => "seats_exhausted",
            Self::UserSeatLimit => "user_seat_limit",
            Self::BorrowNotAllowed => "borrow_not_allowed",
            Self::SessionNotFound => "session_not_found",
            Self::RateLimited => "rate_limited",
            Self::Forbidden => "forbidden",
            Self::InvalidSignature => "invalid_signature",
            Self::BillingNotConfigured => "billing_not_configured",
            Self::SignInNotConfigured => "sign_in_not_configured",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::ValidationFailed => "validation_failed",
            Self::MalformedJson => "malformed_json",
            Self::InvalidRange => "invalid_range",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::BodyTimeout => "body_timeout",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer (`application/problem+json`). The extension members after `request_id` appear
/// only on the codes that name them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:coditect:problem:seats_exhausted",
    "title": "Conflict",
    "status": 409,
    "code": "seats_exhausted",
    "detail": "All 5 seats of your organisation's license are in use. The next seat frees by 2026-12-01T10:06:00Z unless its holder is still working; close the CLI on another machine or ask an owner for more seats.",
    "request_id": "0193a6f2c1e07b5c9d3e4f5a6b7c8d9e",
    "max_seats": 5,
    "seats_in_use": 5,
    "next_seat_frees_at": "2026-12-01T10:06:00Z"
}))]
pub struct ProblemDetails {
    /// `urn:coditect:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// The stable machine code.
    pub code: ProblemCode,
    /// One sentence for a person: what happened and what to do next.
    pub detail: String,
    /// The request's id, also in the `x-request-id` header and on every log line of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `seats_exhausted`: the license's seat count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seats: Option<u32>,
    /// `seats_exhausted`: seats held now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats_in_use: Option<u32>,
    /// `seats_exhausted`: when the soonest-expiring seat frees unless its holder heartbeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_seat_frees_at: Option<DateTime<Utc>>,
    /// `seats_exhausted`: machines waiting in the license's queue (the free seats, if any, are
    /// theirs; `wait_seconds` joins the queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_length: Option<u32>,
    /// `seats_exhausted`, for owners and admins: who holds the seats, on which machines;
    /// `user_seat_limit`: the caller's own seats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holders: Option<Vec<SeatHolder>>,
    /// `license_expired`: when the license ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<DateTime<Utc>>,
    /// `unavailable` from `/readyz`: the backends that do not answer (`database`, `seats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing: Option<Vec<String>>,
}

impl ProblemDetails {
    /// A problem with `status`, `code` and `detail`, and no extension members.
    pub fn new(status: u16, title: &str, code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:coditect:problem:{code}"),
            title: title.to_owned(),
            status,
            code,
            detail: detail.into(),
            request_id: None,
            max_seats: None,
            seats_in_use: None,
            next_seat_frees_at: None,
            queue_length: None,
            holders: None,
            expired_at: None,
            failing: None,
        }
    }
}

/// Who holds a seat, as a denial shows it to owners and admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeatHolder {
    /// The member holding the seat.
    pub user_id: Uuid,
    /// Their email, when the identity provider gave one.
    pub email: Option<String>,
    /// The machine's name, as its CLI reported it.
    pub hostname: String,
    /// When the seat frees unless its holder heartbeats.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serializes_as_its_wire_spelling() {
        let codes = [
            ProblemCode::InvalidToken,
            ProblemCode::LeaseExpired,
            ProblemCode::NoLicense,
            ProblemCode::LicenseSuspended,
            ProblemCode::LicenseCanceled,
            ProblemCode::LicenseExpired,
            ProblemCode::SeatsExhausted,
            ProblemCode::UserSeatLimit,
            ProblemCode::BorrowNotAllowed,
            ProblemCode::SessionNotFound,
            ProblemCode::RateLimited,
            ProblemCode::Forbidden,
            ProblemCode::InvalidSignature,
            ProblemCode::BillingNotConfigured,
            ProblemCode::SignInNotConfigured,
            ProblemCode::NotFound,
            ProblemCode::Conflict,
            ProblemCode::ValidationFailed,
            ProblemCode::MalformedJson,
            ProblemCode::InvalidRange,
            ProblemCode::UnsupportedMediaType,
            ProblemCode::PayloadTooLarge,
            ProblemCode::MethodNotAllowed,
            ProblemCode::Unavailable,
            ProblemCode::Timeout,
            ProblemCode::BodyTimeout,
            ProblemCode::Internal,
        ];
        for code in codes {
            let wire = serde_json::to_value(code).expect("serializes");
            assert_eq!(wire, serde_json::Value::from(code.as_str()));
            let back: ProblemCode = serde_json::from_value(wire).expect("deserializes");
            assert_eq!(back, code);
        }
    }
}
