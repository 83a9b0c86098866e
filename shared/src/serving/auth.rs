//! Reading credentials from requests: the bearer token, and the lease that authorises heartbeat and
//! release.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::leases::LeaseClaims;
use crate::leases::verifying::LeaseError;
use crate::leases::verifying::RememberedLeases;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::InvalidToken("no Authorization header".into()))?
        .to_str()
        .map_err(|_| ApiError::InvalidToken("Authorization header is not text".into()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::InvalidToken("Authorization is not `Bearer <token>`".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::InvalidToken(
            "Authorization is not `Bearer <token>`".into(),
        ));
    }
    Ok(token.trim())
}

/// The bearer token of a request, as an extractor. Placed before a body extractor it refuses a
/// request without credentials (401) before its body is read, so a caller who is not signed in
/// learns nothing about the body's rules.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        bearer_token(&parts.headers).map(|token| Self(token.to_owned()))
    }
}

/// Whether an expired (but genuine) lease is still good enough for the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Heartbeat: an expired lease means the client must acquire again.
    Enforce,
    /// Release: giving a seat back is harmless, so a client back from a long offline spell may.
    Ignore,
}

/// The verified lease of the request and the license it names.
pub fn lease_claims(
    leases: &RememberedLeases,
    headers: &HeaderMap,
    expiry: Expiry,
) -> Result<(LeaseClaims, Uuid), ApiError> {
    let token = bearer_token(headers)?;
    let verified = match expiry {
        Expiry::Enforce => leases.verify(token),
        Expiry::Ignore => leases.verify_ignoring_expiry(token),
    };
    let claims = verified.map_err(|e| match e {
        LeaseError::Expired => ApiError::from(Problem::new(
            axum::http::StatusCode::UNAUTHORIZED,
            crate::api::ProblemCode::LeaseExpired,
            "The lease has passed its offline grace; acquire a seat again.",
        )),
        LeaseError::Invalid(why) => ApiError::InvalidToken(format!("lease: {why}")),
    })?;
    let license = claims
        .license
        .parse()
        .map_err(|_| ApiError::InvalidToken("lease: license is not a uuid".into()))?;
    Ok((claims, license))
}
