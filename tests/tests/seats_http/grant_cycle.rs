//! The seat cycle that works: acquire, heartbeat, release, and a lease that verifies offline.

use integration_tests::api::{acquire, acquire_request, heartbeat, machine, release};
use integration_tests::server::Backends;
use reqwest::StatusCode;
use shared::api::{AcquireResponse, HeartbeatResponse, ProblemCode};

use crate::{lease, owner_on, server_claims};

integration_tests::on_both_backends!(
    a_user_acquires_heartbeats_and_releases_a_seat,
    the_lease_verifies_offline_with_the_published_keys,
    a_second_process_keeps_the_seat_when_the_first_exits,
);

/// Two CLI processes of one user on one machine share the machine's seat: the second acquire
/// renews it and its lease carries grant 2. The first process exiting (its release with grant 1,
/// even once that lease has expired) leaves the seat to the second; the second's release frees it.
async fn a_second_process_keeps_the_seat_when_the_first_exits(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let first = acquire(&server.url, &owner, &machine(1), "laptop").await;
    let second = acquire(&server.url, &owner, &machine(1), "laptop").await;
    let (first, second) = (lease(&first), second.json::<AcquireResponse>());
    assert!(second.renewed);
    let (first_claims, second_claims) = (
        server_claims(&first, &server),
        server_claims(&second.lease, &server),
    );
    assert_eq!(first_claims.sid, second_claims.sid);
    assert_eq!((first_claims.grant, second_claims.grant), (1, 2));
    // The first lease as it is once its offline grace has passed.
    let signer = shared::leases::signing::Ed25519Signer::load(
        server.config.lease_signing_key.file().expect("a key file"),
        false,
    )
    .expect("server key");
    let mut expired_claims = first_claims.clone();
    expired_claims.exp = chrono::Utc::now().timestamp() - 60;
    let expired = shared::leases::signing::LeaseSigner::sign(&signer, &expired_claims)
        .await
        .expect("signs");

    for (what, old) in [
        ("the first lease", &first),
        ("the first lease, expired", &expired),
    ] {
        let gone = release(&server.url, old).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{what}: {}", gone.text);
        let beat = heartbeat(&server.url, &second.lease).await;
        assert_eq!(
            beat.status,
            StatusCode::OK,
            "{what}: the second process lost its seat"
        );
        let other = acquire(&server.url, &owner, &machine(2), "desktop").await;
        assert_eq!(
            other.code(),
            Some(ProblemCode::SeatsExhausted),
            "{what}: the seat was freed: {}",
            other.text
        );
    }

    assert_eq!(
        release(&server.url, &second.lease).await.status,
        StatusCode::NO_CONTENT
    );
    let other = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
}

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
