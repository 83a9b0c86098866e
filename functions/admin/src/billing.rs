//! `POST /api/v1/tenants/{tenant_id}/billing/checkout` and `…/billing/portal` (owners and admins):
//! a Stripe Checkout Session to buy a plan, and a Billing Portal session to manage it.
//!
//! The plan itself changes only when Stripe reports the subscription to the webhook; these
//! endpoints only send the buyer to Stripe. Checkout writes the tenant id into
//! `client_reference_id` and the subscription's `metadata.tenant_id`, which is how the webhook
//! finds the tenant.
//!
//! The Stripe client is made per call: these calls are rare (a person clicking "upgrade"), and it
//! keeps the function's state what it is.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use shared::api::{BillingSessionResponse, CheckoutRequest, ProblemCode, Tier};
use shared::billing::stripe_api::{CheckoutSessionParams, StripeApi, StripeApiError};
use shared::error::{ApiError, ApiResult, Problem};
use shared::serving::auth::BearerToken;
use shared::serving::{Json, Path};
use uuid::Uuid;

use crate::AdminState;
use crate::access::manager_of;

/// The most seats one Checkout sells.
const MAX_SEATS: u32 = 10_000;

/// A Checkout Session for `tier` × `seats`; answers its URL.
pub(crate) async fn checkout(
    State(state): State<AdminState>,
    headers: HeaderMap,
    // Before the body: a caller without credentials gets 401, not the body's rules.
    _: BearerToken,
    Path(tenant_id): Path<Uuid>,
    Json(request): Json<CheckoutRequest>,
) -> ApiResult<Json<BillingSessionResponse>> {
    manager_of(&state, &headers, tenant_id).await?;
    let billing = &state.config.billing;
    if request.tier == Tier::Free {
        return Err(ApiError::Validation(
            "FREE needs no checkout; choose a paid tier.".into(),
        ));
    }
    if !(1..=MAX_SEATS).contains(&request.seats) {
        return Err(ApiError::Validation(format!(
            "seats must be between 1 and {MAX_SEATS}."
        )));
    }
    let Some(price) = billing.checkout_prices.get(&request.tier) else {
        let sold: Vec<&str> = billing.checkout_prices.keys().map(|t| t.as_str()).collect();
        return Err(ApiError::Validation(format!(
            "No Stripe price is configured for {}; this server sells: {}.",
            request.tier.as_str(),
            if sold.is_empty() {
                "none".into()
            } else {
                sold.join(", ")
            }
        )));
    };
    let api = stripe_api(&state)?;
    let (Some(success_url), Some(cancel_url)) = (
        billing.checkout_success_url.as_deref(),
        billing.checkout_cancel_url.as_deref(),
    ) else {
        return Err(not_configured(
            "STRIPE_CHECKOUT_SUCCESS_URL and STRIPE_CHECKOUT_CANCEL_URL",
        ));
    };
    let license = state.store.license_of_tenant(tenant_id).await?;
    let customer = license
        .as_ref()
        .and_then(|l| l.stripe_customer_id.as_deref());
    let url = api
        .checkout_session(&CheckoutSessionParams {
            tenant_id: tenant_id.to_string(),
            price,
            quantity: request.seats,
            customer,
            success_url,
            cancel_url,
        })
        .await
        .map_err(stripe_failure)?;
    tracing::info!(%tenant_id, tier = request.tier.as_str(), seats = request.seats, "checkout session created");
    Ok(Json(BillingSessionResponse { url }))
}

/// A Billing Portal session for the tenant's Stripe customer; answers its URL.
pub(crate) async fn portal(
    State(state): State<AdminState>,
    headers: HeaderMap,
    _: BearerToken,
    Path(tenant_id): Path<Uuid>,
) -> ApiResult<Json<BillingSessionResponse>> {
    manager_of(&state, &headers, tenant_id).await?;
    let api = stripe_api(&state)?;
    let license = state.store.license_of_tenant(tenant_id).await?;
    let Some(customer) = license.and_then(|l| l.stripe_customer_id) else {
        return Err(ApiError::Conflict(
            "Your organisation has no Stripe customer yet: subscribe through checkout first \
             (POST …/billing/checkout)."
                .into(),
        ));
    };
    let return_url = state.config.billing.portal_return_url.as_deref();
    let url = api
        .portal_session(&customer, return_url)
        .await
        .map_err(stripe_failure)?;
    Ok(Json(BillingSessionResponse { url }))
}

fn stripe_api(state: &AdminState) -> ApiResult<StripeApi> {
    StripeApi::new(&state.config.billing).ok_or_else(|| not_configured("STRIPE_API_KEY"))
}

fn not_configured(variables: &str) -> ApiError {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ProblemCode::BillingNotConfigured,
        format!("Billing is not configured on this server ({variables}); ask its operator."),
    )
    .into()
}

fn stripe_failure(err: StripeApiError) -> ApiError {
    match err {
        StripeApiError::Unavailable(why) => {
            tracing::warn!(error = %why, "Stripe API unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ProblemCode::Unavailable,
                "Stripe is not answering right now; try again in a minute.",
            )
            .retry_after(30)
            .into()
        }
        refused @ StripeApiError::Refused { .. } => ApiError::Internal(anyhow::Error::new(refused)),
    }
}
