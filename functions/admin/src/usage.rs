//! `GET /api/v1/tenants/{tenant_id}/usage`: the usage report of the tenant's license (owners and
//! admins), computed by the store from the audit trail. The period is resolved here (defaults,
//! `to` cut at now, at most 400 days); a period it cannot cover answers 400 `invalid_range`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use shared::api::{ProblemCode, UsagePeriod, UsageQuery, UsageResponse};
use shared::error::{ApiResult, Problem};
use shared::serving::auth::BearerToken;
use shared::serving::{Json, Path, Query};
use uuid::Uuid;

use crate::AdminState;
use crate::access::manager_of;
use crate::license::license_of;

/// The report for the period the query names (owners and admins).
pub(crate) async fn report(
    State(state): State<AdminState>,
    headers: HeaderMap,
    // Before the query: a caller without credentials gets 401, not the query's rules.
    _: BearerToken,
    Path(tenant_id): Path<Uuid>,
    Query(query): Query<UsageQuery>,
) -> ApiResult<Json<UsageResponse>> {
    manager_of(&state, &headers, tenant_id).await?;
    let period = UsagePeriod::resolve(&query, Utc::now()).map_err(|why| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidRange,
            why.to_string(),
        )
    })?;
    let license = license_of(&state, tenant_id).await?;
    let report = state
        .store
        .usage(tenant_id, &period, license.seats())
        .await?;
    Ok(Json(report))
}
