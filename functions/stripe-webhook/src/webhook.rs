//! `POST /api/v1/stripe/webhook`: verify, read, apply.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use shared::api::{ProblemCode, WebhookOutcome, WebhookResponse};
use shared::billing::{self, BillingChange, signature};
use shared::error::{ApiError, ApiResult, Problem};
use shared::serving::Json;

use crate::WebhookState;

/// The header Stripe signs deliveries in.
const STRIPE_SIGNATURE: &str = "stripe-signature";

/// Receives one delivery. The body is taken as bytes: the signature covers them exactly.
pub(crate) async fn receive(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<WebhookResponse>> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::Validation("The request body could not be read.".into()),
    })?;
    let billing = &state.config.billing;
    let header = headers
        .get(STRIPE_SIGNATURE)
        .map(|value| value.to_str().unwrap_or_default());
    let now = Utc::now();
    if let Err(refusal) = signature::verify(
        header,
        &body,
        &billing.webhook_secrets,
        billing.webhook_tolerance,
        now,
    ) {
        // Without a secret nothing verifies: a server that does no billing refuses every
        // delivery, and the log says why (Stripe retries a refused delivery for days either way).
        let unconfigured = billing.webhook_secrets.is_empty();
        tracing::warn!(
            reason = %refusal,
            secret_configured = !unconfigured,
            "Stripe webhook delivery refused{}",
            if unconfigured { "; STRIPE_WEBHOOK_SECRET is not set" } else { "" }
        );
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidSignature,
            "The Stripe-Signature header is missing, malformed, too old or does not match this \
             endpoint's secret; nothing was changed.",
        )
        .into());
    }
    let event = billing::interpret(&body, billing).map_err(|e| {
        tracing::warn!(error = %e, "a signed Stripe delivery is not an event");
        Problem::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::ValidationFailed,
            "The body is signed but is not a Stripe event (id, type, created, data.object).",
        )
    })?;
    let outcome = state.store.apply_billing_event(&event, now).await?;
    match (&event.change, outcome) {
        (BillingChange::Unmapped { reason }, _) => {
            tracing::warn!(event = %event.id, kind = %event.kind, %reason, "Stripe event not mapped; recorded");
        }
        (_, WebhookOutcome::Unmatched) => {
            tracing::warn!(event = %event.id, kind = %event.kind, "Stripe event names no known tenant; recorded");
        }
        (_, outcome) => {
            tracing::info!(event = %event.id, kind = %event.kind, outcome = outcome.as_str(), "Stripe event processed");
        }
    }
    Ok(Json(WebhookResponse { outcome }))
}
