//! Google's keys: rotation under the refresh floor, the cache and its `max-age`, and the key
//! endpoint failing at first use or once keys are cached.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use shared::identity::{IdTokenVerifier, IdentityError, RefreshPolicy};

use crate::key_server::{Fixture, KeyServer, SigningKey};
use crate::{PROJECT, TENANT, claims, invalid_reason};

// ---------------------------------------------------------------------------------------------
// Rotation, refresh floor, cache
// ---------------------------------------------------------------------------------------------

/// The floor between refreshes for unknown `kid`s (30 s in production), shortened here.
const UNKNOWN_KID_FLOOR: Duration = Duration::from_secs(3);

/// The verifier refreshes for an unknown `kid` at most once per floor, so the new key can only be
/// picked up once that floor has passed since the last fetch.
#[tokio::test]
async fn a_token_signed_with_a_newly_published_key_verifies_after_one_refresh() {
    // Arrange: keys fetched while only key-1 is published (key-2 is made first: generating it may
    // take longer than the floor).
    let rotated = SigningKey::generate("key-2");
    let mut fx = Fixture::start().await;
    fx.verifier = fx.server.verifier_with(
        Some(TENANT),
        RefreshPolicy {
            unknown_kid_floor: UNKNOWN_KID_FLOOR,
            ..RefreshPolicy::default()
        },
    );
    fx.verifier
        .verify(&fx.key.sign(&claims("uid-ana")))
        .await
        .expect("key-1 verifies");
    assert_eq!(fx.server.fetches(), 1);
    // Google publishes key-2 and starts signing with it.
    fx.server.publish(&rotated);
    let token = rotated.sign(&claims("uid-ana"));

    // Within the floor the unknown kid causes no fetch and is refused.
    let early = fx.reason(&token).await;
    assert!(early.contains("key-2"), "{early}");
    assert_eq!(fx.server.fetches(), 1);

    // Act: once the floor has passed.
    tokio::time::sleep(UNKNOWN_KID_FLOOR + Duration::from_millis(200)).await;
    let caller = fx.verifier.verify(&token).await;

    // Assert: one refresh, and both keys verify.
    assert_eq!(caller.expect("key-2 verifies after refresh").uid, "uid-ana");
    assert_eq!(fx.server.fetches(), 2);
    fx.verifier
        .verify(&fx.key.sign(&claims("uid-ana")))
        .await
        .expect("key-1 still verifies");
    assert_eq!(fx.server.fetches(), 2);
}

/// `token` with its header naming `kid`: what a forger sends, since the signature is never reached.
fn renamed_kid(token: &str, kid: &str) -> String {
    let (_, rest) = token.split_once('.').expect("a JWT");
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tokens_with_random_unknown_kids_cause_at_most_two_fetches() {
    let fx = Arc::new(Fixture::start().await);
    let signed = fx.key.sign(&claims("uid-mallory"));

    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let fx = fx.clone();
        let token = renamed_kid(&signed, &uuid::Uuid::new_v4().simple().to_string());
        flood.spawn(async move { fx.verifier.verify(&token).await });
    }
    let results = flood.join_all().await;

    for result in results {
        assert!(invalid_reason(result).contains("not a current Google key"));
    }
    let fetches = fx.server.fetches();
    assert!(
        (1..=2).contains(&fetches),
        "50 unknown kids caused {fetches} fetches"
    );
}

#[tokio::test]
async fn repeated_verifications_reuse_the_keys_within_their_max_age() {
    let fx = Fixture::start().await;

    for n in 0..20 {
        fx.verifier
            .verify(&fx.key.sign(&claims(&format!("uid-{n}"))))
            .await
            .expect("verifies");
    }

    assert_eq!(fx.server.fetches(), 1);
}

#[tokio::test]
async fn keys_are_fetched_again_once_their_max_age_has_passed() {
    let fx = Fixture::with_max_age(1).await;
    let token = fx.key.sign(&claims("uid-ana"));
    fx.verifier.verify(&token).await.expect("verifies");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    fx.verifier.verify(&token).await.expect("verifies");

    assert_eq!(fx.server.fetches(), 2);
}

/// `max-age=0` (or a tiny one) would make every token fetch the keys: production caches them for
/// at least a minute whatever the endpoint says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_max_age_does_not_make_every_token_fetch_the_keys() {
    let key = SigningKey::generate("key-1");
    let server = KeyServer::start(&[&key], 0).await;
    let verifier = server.verifier_with(Some(TENANT), RefreshPolicy::default());

    for n in 0..50 {
        verifier
            .verify(&key.sign(&claims(&format!("uid-{n}"))))
            .await
            .expect("verifies");
    }

    assert_eq!(server.fetches(), 1, "keys fetched per token");
}

// ---------------------------------------------------------------------------------------------
// The key endpoint failing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_endpoint_down_at_first_use_makes_keys_unavailable() {
    let fx = Fixture::start().await;
    fx.server.set_down(true);

    let result = fx.verifier.verify(&fx.key.sign(&claims("uid-ana"))).await;

    match result {
        Err(IdentityError::KeysUnavailable(why)) => assert!(why.contains("503"), "{why}"),
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_key_endpoint_at_first_use_makes_keys_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    drop(listener);
    let key = SigningKey::generate("key-1");
    let verifier = IdTokenVerifier::google(PROJECT, None, &url).expect("verifier builds");

    let result = verifier.verify(&key.sign(&claims("uid-ana"))).await;

    assert!(
        matches!(result, Err(IdentityError::KeysUnavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn stale_keys_keep_verifying_while_the_endpoint_is_down_without_a_fetch_per_token() {
    // Arrange: keys cached with max-age 1 s, then the endpoint fails and the keys go stale.
    let fx = Fixture::with_max_age(1).await;
    let token = fx.key.sign(&claims("uid-ana"));
    fx.verifier.verify(&token).await.expect("verifies");
    fx.server.set_down(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Act
    for _ in 0..20 {
        fx.verifier
            .verify(&token)
            .await
            .expect("stale keys still verify Google's signatures");
    }

    // Assert: one failed retry, not one per token.
    assert_eq!(fx.server.fetches(), 2);
}
