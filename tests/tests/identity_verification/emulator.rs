//! Emulator mode: unsigned emulator tokens pass the same claim checks, and
//! `Backends::identity` never allows emulator mode on Cloud Run.

use integration_tests::tokens::{Person, emulator_token};
use serde_json::json;
use std::sync::Arc;

use shared::backends::{Backends, Topology};
use shared::config::Config;
use shared::identity::IdTokenVerifier;

use crate::{PROJECT, TENANT, claims_for, invalid_reason, now, with};

const EMULATOR_PROJECT: &str = integration_tests::tokens::PROJECT;

#[tokio::test]
async fn unsigned_emulator_tokens_with_correct_claims_pass_in_emulator_mode() {
    let verifier = IdTokenVerifier::emulator(EMULATOR_PROJECT, None);
    let person = Person::at("Acme.IO");

    let caller = verifier.verify(&person.token()).await.expect("verifies");

    assert!(verifier.is_emulated());
    assert_eq!(caller.uid, person.uid);
    assert_eq!(
        caller.email,
        person.email.map(|e| e.to_lowercase()),
        "lower-cased"
    );
    assert!(caller.email_verified);
}

#[tokio::test]
async fn emulator_mode_applies_the_same_claim_checks() {
    let verifier = IdTokenVerifier::emulator(EMULATOR_PROJECT, Some(TENANT.into()));
    let valid = claims_for(EMULATOR_PROJECT, "uid-ana");
    verifier
        .verify(&emulator_token(&valid))
        .await
        .expect("the valid emulator token passes");
    let cases = [
        (with(valid.clone(), "exp", json!(now() - 3600)), "expired"),
        (with(valid.clone(), "aud", json!("other-project")), "aud"),
        (
            with(
                valid.clone(),
                "iss",
                json!("https://securetoken.google.com/other-project"),
            ),
            "iss",
        ),
        (with(valid.clone(), "iat", json!(now() + 3600)), "iat"),
        (with(valid.clone(), "sub", json!("")), "sub"),
        (
            with(valid.clone(), "firebase.tenant", json!("other-tenant")),
            "firebase.tenant",
        ),
    ];

    for (claims, word) in cases {
        let reason = invalid_reason(verifier.verify(&emulator_token(&claims)).await);
        assert!(reason.contains(word), "{word}: {reason}");
    }
}

#[tokio::test]
async fn emulator_mode_refuses_what_is_not_a_jwt() {
    let verifier = IdTokenVerifier::emulator(EMULATOR_PROJECT, None);

    let reason = invalid_reason(verifier.verify("not-a-token").await);

    assert!(reason.contains("three-part"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// Backends::identity: emulator mode never on Cloud Run
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("test configuration parses")
}

/// The ID-token verifier a service configured with `config` builds.
async fn identity_of(config: &Config) -> anyhow::Result<Arc<IdTokenVerifier>> {
    Backends::new(Arc::new(config.clone()), Topology::OneFunction)
        .identity()
        .await
}

async fn refusal(config: &Config) -> String {
    match identity_of(config).await {
        Ok(_) => panic!("emulator identity must be refused on Cloud Run"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn emulator_mode_of_a_demo_project_is_refused_on_cloud_run() {
    let on_cloud_run = config(&[("K_SERVICE", "licensing-admin")]);

    let reason = refusal(&on_cloud_run).await;

    assert!(reason.contains("licensing-admin"), "{reason}");
    assert!(reason.contains("emulator mode"), "{reason}");
}

#[tokio::test]
async fn an_emulator_host_is_refused_on_cloud_run_even_with_a_real_project() {
    let on_cloud_run = config(&[
        ("K_SERVICE", "licensing-acquire"),
        ("GOOGLE_CLOUD_PROJECT", PROJECT),
        ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
    ]);

    let reason = refusal(&on_cloud_run).await;

    assert!(reason.contains("FIREBASE_AUTH_EMULATOR_HOST"), "{reason}");
}

#[tokio::test]
async fn a_real_project_on_cloud_run_verifies_google_signed_tokens() {
    let on_cloud_run = config(&[
        ("K_SERVICE", "licensing-acquire"),
        ("GOOGLE_CLOUD_PROJECT", PROJECT),
    ]);

    let verifier = identity_of(&on_cloud_run)
        .await
        .expect("Google mode is allowed");

    assert!(!verifier.is_emulated());
}

#[tokio::test]
async fn emulator_mode_is_allowed_off_cloud_run() {
    let local = config(&[("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")]);

    let verifier = identity_of(&local)
        .await
        .expect("emulator mode is allowed locally");

    assert!(verifier.is_emulated());
}
