//! Valid tokens: what a verified caller carries, and how the tenant claim is checked.

use serde_json::{Value, json};

use crate::key_server::{Fixture, KeyServer, SigningKey};
use crate::{MAX_AGE, claims, with};

#[tokio::test]
async fn a_valid_token_yields_the_caller_with_a_lower_cased_email() {
    let fx = Fixture::start().await;

    let caller = fx
        .verifier
        .verify(&fx.key.sign(&claims("uid-ana")))
        .await
        .expect("a valid token verifies");

    assert_eq!(caller.uid, "uid-ana");
    assert_eq!(caller.email.as_deref(), Some("ana.lima@acme.io"));
    assert!(caller.email_verified);
    assert_eq!(caller.name.as_deref(), Some("Ana Lima"));
    assert_eq!(caller.provider.as_deref(), Some("google.com"));
    assert!(!fx.verifier.is_emulated());
}

#[tokio::test]
async fn an_unverified_email_is_reported_as_unverified() {
    let fx = Fixture::start().await;
    let token = fx
        .key
        .sign(&with(claims("uid-ana"), "email_verified", json!(false)));

    let caller = fx.verifier.verify(&token).await.expect("verifies");

    assert!(!caller.email_verified);
}

#[tokio::test]
async fn a_token_without_a_tenant_passes_when_no_tenant_is_configured() {
    let key = SigningKey::generate("key-1");
    let server = KeyServer::start(&[&key], MAX_AGE).await;
    let verifier = server.verifier(None);
    let token = key.sign(&with(claims("uid-ana"), "firebase.tenant", Value::Null));

    let caller = verifier.verify(&token).await.expect("verifies");

    assert_eq!(caller.uid, "uid-ana");
}

#[tokio::test]
async fn a_token_without_a_tenant_is_refused_when_a_tenant_is_configured() {
    let fx = Fixture::start().await;
    let token = fx
        .key
        .sign(&with(claims("uid-ana"), "firebase.tenant", Value::Null));

    assert!(fx.reason(&token).await.contains("firebase.tenant"));
}
