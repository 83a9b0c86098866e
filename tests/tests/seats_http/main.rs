//! Floating seats over real HTTP against the local server, on the embedded default and on
//! PostgreSQL + Redis: acquire, heartbeat, release, refusals, expiry and its audit trail.
//!
//! Each body is written once as `async fn name(backends: Backends)`;
//! `integration_tests::on_both_backends!` turns it into `<concern>::embedded::name` and
//! `<concern>::real::name`.
//!
//! Layout: this file holds the helpers every concern uses (`FAST`, `owner_on`, `set_plan`, `lease`
//! and the lease-forging `server_claims` / `base64_claims_with`); then one module per concern:
//! `grant_cycle` (acquire, heartbeat, release, offline verification), `refusals` (a full pool and
//! refused licenses), `expiry_audit` (abandoned seats and the audit trail), `bad_input` (bad
//! leases and malformed requests), `rate_limits` (429 `rate_limited` on storms, never on a
//! well-behaved client), `policies` (borrowed seats and the per-user cap) and `queue` (waiting
//! for a seat, leaving the queue).
//!
//! Run: `REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo nextest run -p integration-tests --test seats_http`

use integration_tests::api::{self, register};
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::StatusCode;
use serde_json::Value;
use shared::api::{AcquireResponse, RegisterResponse};
use shared::domain::{LicenseStatus, Tier};
use shared::store::LicensePlan;
use uuid::Uuid;

mod bad_input;
mod expiry_audit;
mod grant_cycle;
mod policies;
mod queue;
mod rate_limits;
mod refusals;

/// Short seats, no license cache: plan changes and expiries show within the test.
const FAST: &[(&str, &str)] = &[
    ("SEAT_TTL_SECONDS", "2"),
    ("HEARTBEAT_INTERVAL_SECONDS", "1"),
    ("LICENSE_CACHE_SECONDS", "0"),
];

/// An owner registered on a fresh server.
async fn owner_on(backends: Backends, vars: &[(&str, &str)]) -> Option<(TestServer, Person, Uuid)> {
    let server = TestServer::start(backends, vars).await?;
    let owner = Person::at("acme.test");
    let registered = register(&server.url, &owner).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let tenant = registered.json::<RegisterResponse>().tenant.id;
    Some((server, owner, tenant))
}

/// `GET /api/v1/tenants/{tenant}/{what}` as `person`, which must answer 200 with a `T`.
async fn tenant_view<T: serde::de::DeserializeOwned>(
    server: &TestServer,
    person: &Person,
    tenant: Uuid,
    what: &str,
) -> T {
    let reply = api::send(
        reqwest::Method::GET,
        &format!("{}/api/v1/tenants/{tenant}/{what}", server.url),
        Some(&person.token()),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.text);
    reply.json()
}

/// The tenant's live sessions and queue, as `person` (an owner or admin) reads them.
async fn sessions_of(
    server: &TestServer,
    person: &Person,
    tenant: Uuid,
) -> shared::api::SessionsResponse {
    tenant_view(server, person, tenant, "sessions").await
}

/// The tenant's audit trail, newest first, as `person` (an owner or admin) reads it.
async fn audit_of(
    server: &TestServer,
    person: &Person,
    tenant: Uuid,
) -> shared::api::AuditResponse {
    tenant_view(server, person, tenant, "audit").await
}

/// Replaces the license plan of `tenant` directly in the store.
async fn set_plan(
    server: &TestServer,
    tenant: Uuid,
    max_seats: i32,
    status: LicenseStatus,
    expires_in_days: Option<i64>,
) {
    let now = chrono::Utc::now();
    let plan = LicensePlan {
        tier: Tier::Team,
        max_seats,
        features: vec!["cloud-sync".into()],
        status,
        expires_at: expires_in_days.map(|d| now + chrono::Duration::days(d)),
    };
    server
        .local
        .store
        .update_license(tenant, &plan, now)
        .await
        .expect("plan updates");
}

/// The lease a grant carries.
fn lease(reply: &api::Reply) -> String {
    reply.json::<AcquireResponse>().lease
}

/// The claims of `lease` as the server signed them.
fn server_claims(lease: &str, server: &TestServer) -> shared::leases::LeaseClaims {
    let signer = shared::leases::signing::Ed25519Signer::load(
        server.config.lease_signing_key.file().expect("a key file"),
        false,
    )
    .expect("key");
    signer
        .verifier(&server.config.lease_issuer)
        .expect("verifier")
        .verify(lease)
        .expect("genuine")
}

/// The payload of `lease` with `claim` replaced, base64url-encoded, signature untouched.
fn base64_claims_with(lease: &str, claim: &str, value: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = lease.split('.').nth(1).expect("payload");
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
    claims[claim] = value.into();
    URL_SAFE_NO_PAD.encode(claims.to_string())
}
