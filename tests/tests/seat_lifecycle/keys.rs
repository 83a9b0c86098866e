//! Lease keys pinned from the JWKS on first use, refreshed for an unknown `kid`, and a lease that
//! does not verify never trusted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coditect_license::keys::PinnedKeys;
use coditect_license::{ClientError, Home, LicenseClient};
use integration_tests::server::{Backends, TempDir};

use super::{Machine, owner_on};

integration_tests::on_both_backends!(
    leases_verify_against_keys_pinned_on_disk_and_a_rotation_refreshes_the_pin,
    a_tampered_lease_is_never_trusted,
);

async fn leases_verify_against_keys_pinned_on_disk_and_a_rotation_refreshes_the_pin(
    backends: Backends,
) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 41);
    let seat = machine.acquire(&server.url).await;
    let files = Home::at(&machine.home.0).server(&server.url);
    let pinned: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files.jwks_path()).expect("the keys are pinned"))
            .expect("json");
    assert_eq!(pinned["issuer"], server.config.lease_issuer.as_str());
    let lease = std::fs::read_to_string(files.seat_path()).expect("seat file");
    let lease: serde_json::Value = serde_json::from_str(&lease).expect("json");
    let lease = lease["seat"]["lease"].as_str().expect("a lease").to_owned();

    // The pin holds another key only (the service rotated since): the lease's kid is unknown,
    // so the published keys are fetched again and the lease verifies.
    let mut rotated = pinned.clone();
    rotated["keys"]["keys"][0]["kid"] = "retired-key".into();
    files
        .write_public(&files.jwks_path(), rotated.to_string().as_bytes())
        .expect("pin rewritten");
    let keys = PinnedKeys::new(
        files.clone(),
        LicenseClient::new(&server.url).expect("client"),
    );
    let claims = keys
        .verify(&lease)
        .await
        .expect("verifies after the refresh");
    assert_eq!(claims.sid, seat.grant().session_id);
    let refreshed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files.jwks_path()).expect("pin")).expect("json");
    assert_eq!(
        refreshed["keys"], pinned["keys"],
        "the pin holds the published keys again"
    );

    // Pinned keys verify without the service.
    let server_url = server.url.clone();
    let stopped = server.stop().await;
    let offline = PinnedKeys::new(files, LicenseClient::new(&server_url).expect("client"));
    offline.verify(&lease).await.expect("verified offline");
    drop((seat, stopped));
}

async fn a_tampered_lease_is_never_trusted(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 42);
    let seat = machine.acquire(&server.url).await;
    let home = TempDir::new();
    let files = Home::at(&home.0).server(&server.url);
    let keys = PinnedKeys::new(files, LicenseClient::new(&server.url).expect("client"));

    let granted =
        std::fs::read_to_string(Home::at(&machine.home.0).server(&server.url).seat_path())
            .expect("seat file");
    let granted: serde_json::Value = serde_json::from_str(&granted).expect("json");
    let lease = granted["seat"]["lease"].as_str().expect("lease");
    keys.verify(lease)
        .await
        .expect("the genuine lease verifies");

    let mut parts: Vec<String> = lease.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("json");
    claims["exp"] = (claims["exp"].as_i64().expect("exp") + 86_400 * 365).into();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = parts.join(".");
    let refused = keys.verify(&forged).await.expect_err("a forged lease");
    assert!(matches!(refused, ClientError::Protocol(_)), "{refused:?}");
    assert!(refused.to_string().contains("not trusted"), "{refused}");
    seat.release().await;
}
