//! The OpenAPI 3.1 document of the whole API, generated from the wire types.
//!
//! One document describes every function (each Cloud Run service serves a subset of its paths;
//! `local` serves them all but cleanup, which it runs on a timer). Every service answers
//! `GET /openapi.json` with it, and `docs/openapi.json` is the committed copy: the test
//! `tests/tests/openapi.rs` fails when the two differ (regenerate with
//! `cargo run -p admin -- openapi > docs/openapi.json`) or when a routed path is missing from it.
//!
//! The paths are declared in [`paths`] against the types handlers return, so a renamed field
//! changes the document and the drift test names it.

mod paths;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

/// The document's source: paths, schemas, security schemes and tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "CODITECT licensing",
        description = "Registration and floating licenses for the CODITECT command-line tool: sign \
            in with an Identity Platform ID token, register an organisation, acquire a seat per \
            machine, heartbeat it, release it. Every error is `application/problem+json` with a \
            stable `code`.",
        version = "1",
    ),
    paths(
        paths::acquire,
        paths::leave,
        paths::heartbeat,
        paths::release,
        paths::release_by_post,
        paths::return_seat,
        paths::register,
        paths::me,
        paths::auth_config,
        paths::members,
        paths::change_role,
        paths::remove_member,
        paths::invitations,
        paths::invite,
        paths::revoke_invitation,
        paths::license,
        paths::set_policy,
        paths::sessions,
        paths::end_session,
        paths::audit,
        paths::usage,
        paths::billing_checkout,
        paths::billing_portal,
        paths::stripe_webhook,
        paths::jwks,
        paths::cleanup,
        paths::healthz,
        paths::readyz,
        paths::health,
        paths::ready,
        paths::openapi,
    ),
    components(schemas(
        api::ProblemCode,
        api::ProblemDetails,
        paths::Jwks,
        crate::seats::cleanup::CleanupReport,
        crate::seats::cleanup::EventCounts,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "seats", description = "Acquire, heartbeat and release: the seat a running CLI holds."),
        (name = "accounts", description = "Registration and the caller's own view."),
        (name = "tenants", description = "Members, invitations, the license, sessions, the audit trail and the usage report of one organisation (owners and admins for most)."),
        (name = "billing", description = "Stripe: the webhook that sets plans, and Checkout and the Billing Portal for owners and admins."),
        (name = "leases", description = "The public keys that verify leases offline."),
        (name = "tasks", description = "Scheduled work, invoked by Cloud Scheduler through Cloud Run IAM."),
        (name = "service", description = "Health, readiness and this document; every service answers them."),
    ),
)]
struct ApiDoc;

/// The security schemes: an Identity Platform ID token, a lease, Cloud Run IAM (bearer), and
/// Stripe's webhook signature.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "id_token",
            bearer(
                "An Identity Platform ID token (RS256, audience = the project; in emulator mode \
                 the Firebase Auth Emulator's unsigned tokens). A refused token answers 401 \
                 `invalid_token` with `WWW-Authenticate: Bearer`.",
            ),
        );
        components.add_security_scheme(
            "lease",
            bearer(
                "The lease an acquire granted (compact JWS, EdDSA or RS256, keys at \
                 `/.well-known/jwks.json`).",
            ),
        );
        components.add_security_scheme(
            "cloud_run_iam",
            bearer(
                "A Google-signed OIDC identity token of Cloud Scheduler's service account, checked \
                 by Cloud Run IAM before the request reaches the service (`roles/run.invoker`).",
            ),
        );
        components.add_security_scheme(
            "stripe_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Stripe-Signature",
                "Stripe's webhook signature: `t=<unix time>,v1=<hex>`, HMAC-SHA256 of \
                 `\"{t}.{raw body}\"` keyed by the endpoint secret (`STRIPE_WEBHOOK_SECRET`), \
                 accepted within `STRIPE_WEBHOOK_TOLERANCE_SECONDS`. A refused signature answers \
                 400 `invalid_signature`.",
            ))),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as the committed file holds it: pretty-printed JSON with a final newline.
pub fn json() -> String {
    let mut text = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
