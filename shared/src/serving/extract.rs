//! `Path` and `Query` extractors whose rejections are problem+json, like [`super::Json`]'s.
//!
//! A path segment that does not parse (a tenant id that is not a UUID) is `not_found`: no resource
//! has that name, and the answer reveals nothing about which ids exist. A query string that does not
//! parse is `validation_failed`, naming the parameter.

use axum::extract::FromRequestParts;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::extract::Path` answering `not_found` when a segment does not parse.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => {
                Err(ApiError::NotFound("No such resource.".into()))
            }
            Err(other) => Err(ApiError::Internal(anyhow::anyhow!(
                "path parameters unavailable: {}",
                other.body_text()
            ))),
        }
    }
}

/// `axum::extract::Query` answering `validation_failed` when the query string does not parse.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::Validation(
                format!("The query string is invalid: {}", e.body_text()),
            )),
            Err(other) => Err(ApiError::Validation(other.body_text())),
        }
    }
}
