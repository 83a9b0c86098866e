//! The two Stripe API calls admin makes: a Checkout Session (subscription mode) and a Billing
//! Portal session. Stripe's API takes form-encoded bodies and answers JSON; the calls are typed
//! reqwest requests of only the documented parameters used, not a Stripe client crate (the
//! async-stripe 1.0 client crates compile for minutes for two calls).
//!
//! A call that does not answer within `STRIPE_API_TIMEOUT_SECONDS`, fails to connect or answers
//! 5xx/429 is [`StripeApiError::Unavailable`] (the request answers 503); any other refusal is our
//! misconfiguration (a wrong key or price) and [`StripeApiError::Refused`] (500, logged).

use serde::Deserialize;

use super::config::BillingConfig;
use crate::config::Secret;

/// Why a Stripe call failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeApiError {
    /// Stripe did not answer, or answered that it cannot now: retrying later may work.
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
    /// Stripe refused the request (wrong key, unknown price…): our configuration is wrong.
    #[error("Stripe refused the request ({status}): {message}")]
    Refused {
        /// Stripe's HTTP status.
        status: u16,
        /// Stripe's `error.message`.
        message: String,
    },
}

/// A Checkout Session to create.
#[derive(Debug, Clone)]
pub struct CheckoutSessionParams<'a> {
    /// The tenant: `client_reference_id` and the subscription's `metadata.tenant_id`.
    pub tenant_id: String,
    /// The Stripe price of the tier.
    pub price: &'a str,
    /// Seats: the line item's quantity.
    pub quantity: u32,
    /// The tenant's Stripe customer, reused when known.
    pub customer: Option<&'a str>,
    /// Where Checkout returns after payment.
    pub success_url: &'a str,
    /// Where Checkout returns when abandoned.
    pub cancel_url: &'a str,
}

/// The part of a session object (Checkout or Portal) we read.
#[derive(Debug, Deserialize)]
struct Session {
    url: String,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

/// The Stripe API at `STRIPE_API_BASE`, authorised by `STRIPE_API_KEY`.
pub struct StripeApi {
    /// The HTTP client, bounded by `STRIPE_API_TIMEOUT_SECONDS`.
    http: reqwest::Client,
    /// `https://api.stripe.com` or a test server.
    base: String,
    /// The secret key.
    key: Secret,
}

impl StripeApi {
    /// The API of `config`; `None` when `STRIPE_API_KEY` is unset.
    pub fn new(config: &BillingConfig) -> Option<Self> {
        let key = config.api_key.clone()?;
        let http = reqwest::Client::builder()
            .timeout(config.api_timeout)
            .connect_timeout(config.api_timeout)
            .build()
            .ok()?;
        Some(Self {
            http,
            base: config.api_base.clone(),
            key,
        })
    }

    /// Creates a Checkout Session in subscription mode and returns its URL
    /// (`POST /v1/checkout/sessions`).
    pub async fn checkout_session(
        &self,
        request: &CheckoutSessionParams<'_>,
    ) -> Result<String, StripeApiError> {
        let mut form: Vec<(&str, String)> = vec![
            ("mode", "subscription".into()),
            ("line_items[0][price]", request.price.into()),
            ("line_items[0][quantity]", request.quantity.to_string()),
            ("client_reference_id", request.tenant_id.clone()),
            ("metadata[tenant_id]", request.tenant_id.clone()),
            (
                "subscription_data[metadata][tenant_id]",
                request.tenant_id.clone(),
            ),
            ("success_url", request.success_url.into()),
            ("cancel_url", request.cancel_url.into()),
        ];
        if let Some(customer) = request.customer {
            form.push(("customer", customer.into()));
        }
        self.post("/v1/checkout/sessions", &form).await
    }

    /// Creates a Billing Portal session for `customer` and returns its URL
    /// (`POST /v1/billing_portal/sessions`).
    pub async fn portal_session(
        &self,
        customer: &str,
        return_url: Option<&str>,
    ) -> Result<String, StripeApiError> {
        let mut form: Vec<(&str, String)> = vec![("customer", customer.into())];
        if let Some(url) = return_url {
            form.push(("return_url", url.into()));
        }
        self.post("/v1/billing_portal/sessions", &form).await
    }

    async fn post(&self, path: &str, form: &[(&str, String)]) -> Result<String, StripeApiError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.key.expose())
            .form(form)
            .send()
            .await
            .map_err(|e| StripeApiError::Unavailable(without_url(&e)))?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(StripeApiError::Unavailable(format!(
                "{path} answered {status}"
            )));
        }
        let text = response
            .text()
            .await
            .map_err(|e| StripeApiError::Unavailable(without_url(&e)))?;
        if !status.is_success() {
            let message = serde_json::from_str::<ErrorBody>(&text)
                .ok()
                .and_then(|body| body.error.message)
                .unwrap_or_else(|| "no error message".into());
            return Err(StripeApiError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_str::<Session>(&text)
            .map(|session| session.url)
            .map_err(|e| StripeApiError::Refused {
                status: status.as_u16(),
                message: format!("the answer has no session url: {e}"),
            })
    }
}

/// A transport error's text, naming the kind of failure (the URL in it carries no secret).
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("the Stripe API {kind}: {err}")
}
