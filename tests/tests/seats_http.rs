//! Floating seats over real HTTP against the local server, on the embedded default and on
//! PostgreSQL + Redis: acquire, heartbeat, release, refusals, expiry and its audit trail.

use std::time::Duration;

use integration_tests::api::{self, acquire, heartbeat, machine, register, release, send};
use integration_tests::on_both_backends;
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::domain::{LicenseStatus, Tier};
use shared::store::LicensePlan;
use uuid::Uuid;

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
        "{:?}",
        registered.body
    );
    let tenant = registered.body["tenant"]["id"]
        .as_str()
        .expect("tenant id")
        .parse()
        .expect("uuid");
    Some((server, owner, tenant))
}

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

fn lease(reply: &api::Reply) -> String {
    reply.body["lease"].as_str().expect("a lease").to_owned()
}

async fn a_user_acquires_heartbeats_and_releases_a_seat(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };

    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.body);
    assert_eq!(granted.body["heartbeat_interval_seconds"], 120);
    assert_eq!(granted.body["license"]["max_seats"], 1);
    assert_eq!(granted.body["license"]["seats_in_use"], 1);
    assert!(granted.body["expires_in"].as_i64().expect("expires_in") > 350);
    let lease = lease(&granted);

    let beat = heartbeat(&server.url, &lease).await;
    assert_eq!(beat.status, StatusCode::OK, "{:?}", beat.body);
    assert!(beat.body["expires_in"].as_i64().expect("expires_in") > 350);

    assert_eq!(
        release(&server.url, &lease).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        release(&server.url, &lease).await.status,
        StatusCode::NO_CONTENT,
        "release is idempotent"
    );
    let gone = heartbeat(&server.url, &lease).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.code(), "session_not_found");
    assert_eq!(gone.content_type(), "application/problem+json");
}

async fn the_lease_verifies_offline_with_the_published_keys(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    let client = coditect_license::LicenseClient::new(&server.url).expect("client");
    let grant = client
        .acquire(&owner.token(), &machine(7), "ci-runner", "1.0.0")
        .await
        .expect("granted");
    let verifier = client
        .fetch_verifier(&server.config.lease_issuer)
        .await
        .expect("jwks");
    let claims = verifier
        .verify(&grant.lease)
        .expect("the lease verifies offline");
    assert_eq!(claims.sid, grant.session_id);
    assert_eq!(claims.tenant, tenant.to_string());
    assert_eq!(claims.fph, shared::leases::fingerprint_hash(&machine(7)));
    assert_eq!(claims.hbi, 120);
    assert_eq!(
        claims.exp - claims.iat,
        3600,
        "the lease lasts the offline grace"
    );
    client.heartbeat(&grant.lease).await.expect("heartbeat");
    client.release(&grant.lease).await.expect("release");
}

async fn the_same_machine_gets_its_seat_back_and_a_second_machine_is_refused(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let first = acquire(&server.url, &owner, &machine(1), "laptop").await;
    assert_eq!(first.status, StatusCode::OK);

    let again = acquire(&server.url, &owner, &machine(1), "laptop").await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "a retried acquire is not a second seat"
    );
    assert_eq!(again.body["session_id"], first.body["session_id"]);
    assert_eq!(again.body["renewed"], true);

    let refused = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.code(), "seats_exhausted");
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(refused.body["max_seats"], 1);
    assert_eq!(refused.body["seats_in_use"], 1);
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=360).contains(&retry_after), "{retry_after}");
    let holders = refused.body["holders"]
        .as_array()
        .expect("an owner sees who holds the seats");
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0]["hostname"], "laptop");
    assert_eq!(
        holders[0]["email"],
        owner.email.clone().expect("email").as_str()
    );
}

async fn a_member_is_refused_without_seeing_who_holds_the_seats(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    let member = Person::at("acme.test");
    let invited = send(
        Method::POST,
        &format!("{}/api/v1/tenants/{tenant}/invitations", server.url),
        Some(&owner.token()),
        Some(serde_json::json!({"email": member.email, "role": "MEMBER"})),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{:?}", invited.body);
    assert_eq!(
        register(&server.url, &member).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        acquire(&server.url, &owner, &machine(1), "owner-box")
            .await
            .status,
        StatusCode::OK
    );

    let refused = acquire(&server.url, &member, &machine(2), "member-box").await;
    assert_eq!(refused.code(), "seats_exhausted");
    assert!(refused.body.get("holders").is_none(), "{:?}", refused.body);
}

async fn a_refused_machine_that_waits_retry_after_gets_the_abandoned_seat(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, FAST).await else {
        return;
    };
    assert_eq!(
        acquire(&server.url, &owner, &machine(1), "crashed")
            .await
            .status,
        StatusCode::OK
    );
    let refused = acquire(&server.url, &owner, &machine(2), "waiting").await;
    assert_eq!(refused.code(), "seats_exhausted");
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(
        wait <= 2,
        "the seat frees within the TTL, not later: {wait}"
    );

    tokio::time::sleep(Duration::from_millis(wait * 1000 + 300)).await;

    let granted = acquire(&server.url, &owner, &machine(2), "waiting").await;
    assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.body);
}

async fn an_abandoned_session_expires_and_its_expiry_reaches_the_audit_trail(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    let session = granted.body["session_id"]
        .as_str()
        .expect("session")
        .to_owned();

    tokio::time::sleep(Duration::from_millis(2300)).await;
    let late = heartbeat(&server.url, &lease(&granted)).await;
    assert_eq!(
        late.code(),
        "session_not_found",
        "an expired seat is not revived"
    );
    let report = server.cleanup().await;
    assert_eq!(report.reaped, 1);

    let audit = send(
        Method::GET,
        &format!("{}/api/v1/tenants/{tenant}/audit", server.url),
        Some(&owner.token()),
        None,
    )
    .await;
    assert_eq!(audit.status, StatusCode::OK, "{:?}", audit.body);
    let actions: Vec<(&str, &str)> = audit.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["session_id"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("seat.acquired", session.as_str())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("seat.expired", session.as_str())),
        "{actions:?}"
    );
    assert_eq!(
        server.cleanup().await.audited,
        0,
        "a second cleanup adds nothing"
    );
}

async fn releases_and_denials_reach_the_audit_trail(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    acquire(&server.url, &owner, &machine(2), "desktop").await;
    release(&server.url, &lease(&granted)).await;
    server.cleanup().await;

    let audit = send(
        Method::GET,
        &format!("{}/api/v1/tenants/{tenant}/audit", server.url),
        Some(&owner.token()),
        None,
    )
    .await;
    let events = audit.body["events"].as_array().expect("events").clone();
    let action = |name: &str| events.iter().filter(|e| e["action"] == name).count();
    assert_eq!(action("seat.acquired"), 1);
    assert_eq!(action("seat.denied"), 1);
    assert_eq!(action("seat.released"), 1);
    let denied = events
        .iter()
        .find(|e| e["action"] == "seat.denied")
        .expect("denial");
    assert_eq!(denied["detail"]["reason"], "seats_exhausted");
    assert_eq!(denied["detail"]["hostname"], "desktop");
}

async fn refused_licenses_answer_their_own_codes_and_are_audited(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };

    let stranger = Person::at("nowhere.test");
    let unregistered = acquire(&server.url, &stranger, &machine(1), "box").await;
    assert_eq!(
        (unregistered.status, unregistered.code()),
        (StatusCode::FORBIDDEN, "no_license")
    );

    set_plan(&server, tenant, 5, LicenseStatus::Suspended, None).await;
    let suspended = acquire(&server.url, &owner, &machine(1), "box").await;
    assert_eq!(
        (suspended.status, suspended.code()),
        (StatusCode::FORBIDDEN, "license_suspended")
    );

    set_plan(&server, tenant, 5, LicenseStatus::Active, Some(-1)).await;
    let expired = acquire(&server.url, &owner, &machine(1), "box").await;
    assert_eq!(
        (expired.status, expired.code()),
        (StatusCode::FORBIDDEN, "license_expired")
    );

    set_plan(&server, tenant, 5, LicenseStatus::Canceled, None).await;
    assert_eq!(
        acquire(&server.url, &owner, &machine(1), "box")
            .await
            .code(),
        "license_canceled"
    );

    let audit = server
        .local
        .store
        .audit_events(tenant, 10)
        .await
        .expect("audit");
    let reasons: Vec<&Value> = audit.iter().map(|e| &e.detail.0["reason"]).collect();
    for reason in ["license_suspended", "license_expired", "license_canceled"] {
        assert!(
            reasons.iter().any(|r| *r == reason),
            "{reason} missing from {reasons:?}"
        );
    }
}

async fn lowering_the_seats_evicts_nobody_and_refuses_until_under_the_cap(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[("LICENSE_CACHE_SECONDS", "0")]).await
    else {
        return;
    };
    set_plan(&server, tenant, 3, LicenseStatus::Active, None).await;
    let mut leases = Vec::new();
    for n in 1..=3 {
        let granted = acquire(&server.url, &owner, &machine(n), "box").await;
        assert_eq!(granted.status, StatusCode::OK);
        leases.push(lease(&granted));
    }

    set_plan(&server, tenant, 1, LicenseStatus::Active, None).await;
    for lease in &leases {
        assert_eq!(
            heartbeat(&server.url, lease).await.status,
            StatusCode::OK,
            "nobody is evicted"
        );
    }
    assert_eq!(
        acquire(&server.url, &owner, &machine(9), "new")
            .await
            .code(),
        "seats_exhausted"
    );
    release(&server.url, &leases[0]).await;
    release(&server.url, &leases[1]).await;
    assert_eq!(
        acquire(&server.url, &owner, &machine(9), "new")
            .await
            .code(),
        "seats_exhausted",
        "1 live = 1 seat: still full"
    );
    release(&server.url, &leases[2]).await;
    assert_eq!(
        acquire(&server.url, &owner, &machine(9), "new")
            .await
            .status,
        StatusCode::OK
    );
}

async fn bad_leases_are_refused_with_clear_codes(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    let good = lease(&granted);

    for (name, token) in [
        ("malformed", "not-a-jwt".to_owned()),
        ("tampered", {
            let mut parts: Vec<&str> = good.split('.').collect();
            let forged = base64_claims_with(&good, "sid", "0000");
            parts[1] = &forged;
            parts.join(".")
        }),
    ] {
        let beat = heartbeat(&server.url, &token).await;
        assert_eq!(
            (beat.status, beat.code()),
            (StatusCode::UNAUTHORIZED, "invalid_token"),
            "{name}"
        );
        let gone = release(&server.url, &token).await;
        assert_eq!(gone.code(), "invalid_token", "{name}");
    }
    let missing = send(
        Method::PUT,
        &format!("{}/api/v1/licenses/heartbeat", server.url),
        None,
        None,
    )
    .await;
    assert_eq!(missing.code(), "invalid_token");
    let wrong_method = send(
        Method::GET,
        &format!("{}/api/v1/licenses/heartbeat", server.url),
        Some(&good),
        None,
    )
    .await;
    assert_eq!(
        (wrong_method.status, wrong_method.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );

    // A genuine lease naming another license reaches only that license's pool: nothing there.
    let signer =
        shared::leases::signer::Ed25519Signer::load(&server.config.lease_signing_key, false)
            .expect("server key");
    let mut claims = server_claims(&good, &server);
    claims.license = Uuid::new_v4().to_string();
    let other = shared::leases::signer::LeaseSigner::sign(&signer, &claims)
        .await
        .expect("signs");
    assert_eq!(
        heartbeat(&server.url, &other).await.code(),
        "session_not_found"
    );
    assert_eq!(
        release(&server.url, &other).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        heartbeat(&server.url, &good).await.status,
        StatusCode::OK,
        "the real seat is untouched"
    );
}

async fn malformed_acquire_requests_answer_problems(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let url = format!("{}/api/v1/licenses/acquire", server.url);
    let no_token = send(
        Method::POST,
        &url,
        None,
        Some(serde_json::json!({"fingerprint": machine(1), "hostname": "h"})),
    )
    .await;
    assert_eq!(
        (no_token.status, no_token.code()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let missing = send(
        Method::POST,
        &url,
        Some(&owner.token()),
        Some(serde_json::json!({"hostname": "h"})),
    )
    .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let short = send(
        Method::POST,
        &url,
        Some(&owner.token()),
        Some(serde_json::json!({"fingerprint": "ab", "hostname": "h"})),
    )
    .await;
    assert_eq!(short.code(), "validation_failed");
    assert!(
        short.body["detail"]
            .as_str()
            .expect("detail")
            .contains("fingerprint")
    );
    let text = reqwest::Client::new()
        .post(&url)
        .bearer_auth(owner.token())
        .body("fingerprint=x")
        .send()
        .await
        .expect("answer");
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// The claims of `lease` as the server signed them.
fn server_claims(lease: &str, server: &TestServer) -> shared::leases::LeaseClaims {
    let signer =
        shared::leases::signer::Ed25519Signer::load(&server.config.lease_signing_key, false)
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

on_both_backends!(
    a_user_acquires_heartbeats_and_releases_a_seat,
    the_lease_verifies_offline_with_the_published_keys,
    the_same_machine_gets_its_seat_back_and_a_second_machine_is_refused,
    a_member_is_refused_without_seeing_who_holds_the_seats,
    a_refused_machine_that_waits_retry_after_gets_the_abandoned_seat,
    an_abandoned_session_expires_and_its_expiry_reaches_the_audit_trail,
    releases_and_denials_reach_the_audit_trail,
    refused_licenses_answer_their_own_codes_and_are_audited,
    lowering_the_seats_evicts_nobody_and_refuses_until_under_the_cap,
    bad_leases_are_refused_with_clear_codes,
    malformed_acquire_requests_answer_problems,
);
