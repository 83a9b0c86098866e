//! The bodies of `GET /healthz` and `GET /readyz` (a failing readiness answers a problem naming the
//! backends in `failing`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a health or readiness probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// `/healthz`: the process is up.
    Ok,
    /// `/readyz`: every backend the service needs answers.
    Ready,
}

/// 200 of `/healthz` and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` or `ready`.
    pub status: HealthStatus,
}
