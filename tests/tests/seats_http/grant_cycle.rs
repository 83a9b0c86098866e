//! The seat cycle that works: acquire, heartbeat, release, and a lease that verifies offline.

use integration_tests::api::{acquire, acquire_request, heartbeat, machine, release};
use integration_tests::server::Backends;
use reqwest::StatusCode;
use shared::api::{AcquireResponse, HeartbeatResponse, ProblemCode};

use crate::{lease, owner_on};

integration_tests::on_both_backends!(
    a_user_acquires_heartbeats_and_releases_a_seat,
    the_lease_verifies_offline_with_the_published_keys,
);

async fn a_user_acquires_heartbeats_and_releases_a_seat(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };

    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    let grant: AcquireResponse = granted.json();
    assert_eq!(grant.heartbeat_interval_seconds, 120);
    assert_eq!(grant.license.max_seats, 1);
    assert_eq!(grant.license.seats_in_use, 1);
    assert!(grant.expires_in > 350);
    let lease = lease(&granted);

    let beat = heartbeat(&server.url, &lease).await;
    assert_eq!(beat.status, StatusCode::OK, "{}", beat.text);
    assert!(beat.json::<HeartbeatResponse>().expires_in > 350);

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
    assert_eq!(gone.code(), Some(ProblemCode::SessionNotFound));
    assert_eq!(gone.content_type(), "application/problem+json");
}

async fn the_lease_verifies_offline_with_the_published_keys(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    let client = coditect_license::LicenseClient::new(&server.url).expect("client");
    let grant = client
        .acquire(
            &owner.token(),
            &acquire_request(&machine(7), "ci-runner", "1.0.0"),
        )
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
