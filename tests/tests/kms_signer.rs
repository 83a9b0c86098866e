//! Lease signing with Cloud KMS, against a local server speaking the documented KMS and metadata
//! wire format with real RSA keys: leases verify with the published keys, every integrity check
//! of a sign answer is enforced, the access token is reused, and a failing KMS fails an acquire
//! cleanly.

#[path = "kms_signer/fake_kms.rs"]
mod fake_kms;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fake_kms::{FakeKms, Mode, key_version, version};
use integration_tests::api::{acquire, machine, register, send};
use integration_tests::server::TempDir;
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::api::{AcquireResponse, ProblemCode};
use shared::config::Config;
use shared::leases::kms::KmsClient;
use shared::leases::signing::KmsSigner;
use shared::leases::signing::LeaseSigner;
use shared::leases::verifying::LeaseVerifier;
use shared::leases::{LeaseClaims, fingerprint_hash};

const ISSUER: &str = "coditect-licensing";

fn claims() -> LeaseClaims {
    let now = chrono::Utc::now().timestamp();
    LeaseClaims {
        iss: ISSUER.into(),
        sub: "user".into(),
        tenant: "tenant".into(),
        license: "license".into(),
        tier: "TEAM".into(),
        features: vec!["cloud-sync".into()],
        sid: "session".into(),
        fph: fingerprint_hash("0123456789abcdef"),
        iat: now,
        exp: now + 3600,
        hbi: 120,
        grant: 1,
    }
}

/// A fake KMS (tokens living an hour) and a signer on its version `n`.
async fn signer_on_version(n: usize) -> (Arc<FakeKms>, KmsSigner) {
    let fake = FakeKms::start(3600).await;
    let client = KmsClient::new(fake.endpoints.clone()).expect("client");
    let signer = KmsSigner::connect(client, &key_version(n))
        .await
        .expect("the signer fetches its public key");
    (fake, signer)
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().expect("a header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn a_lease_signed_in_kms_verifies_with_the_published_jwks() {
    let (fake, signer) = signer_on_version(1).await;
    let claims = claims();

    let token = signer.sign(&claims).await.expect("KMS signs");

    let header = header_of(&token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], signer.kid());
    let jwks = serde_json::to_value(signer.jwks()).expect("JWKS serialises");
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"]),
        (&"RSA".into(), &"RS256".into(), &"sig".into())
    );
    assert_eq!(key["kid"], signer.kid());
    let verifier = LeaseVerifier::from_jwks_json(&jwks.to_string(), ISSUER).expect("verifier");
    assert_eq!(verifier.verify(&token).expect("verifies"), claims);
    // What heartbeat and release do with LEASE_PUBLIC_KEYS: fetch the public keys by name.
    let client = KmsClient::new(fake.endpoints.clone()).expect("client");
    let fetched = client
        .public_keys(&[key_version(1)])
        .await
        .expect("public keys");
    let verifier = LeaseVerifier::from_jwks(&fetched, ISSUER).expect("verifier");
    assert!(verifier.verify(&token).is_ok());
}

async fn refused_when(mode: Mode) -> String {
    let (fake, signer) = signer_on_version(1).await;
    fake.set_mode(mode);
    let refused = signer.sign(&claims()).await;
    format!("{:#}", refused.expect_err("no lease is produced"))
}

#[tokio::test]
async fn a_signature_whose_crc32c_does_not_match_is_refused() {
    let why = refused_when(Mode::WrongSignatureCrc).await;
    assert!(why.contains("CRC32C"), "{why}");
}

#[tokio::test]
async fn an_answer_that_did_not_verify_the_digest_crc32c_is_refused() {
    let why = refused_when(Mode::DigestNotVerified).await;
    assert!(why.contains("did not verify the digest"), "{why}");
}

#[tokio::test]
async fn a_signature_by_another_key_version_is_refused() {
    let why = refused_when(Mode::OtherVersion).await;
    assert!(why.contains("cryptoKeyVersions/2"), "{why}");
}

#[tokio::test]
async fn a_kms_server_error_is_an_error_not_a_lease() {
    let why = refused_when(Mode::Fails(503)).await;
    assert!(why.contains("503"), "{why}");
}

#[tokio::test]
async fn the_access_token_is_fetched_once_and_reused() {
    let (fake, signer) = signer_on_version(1).await;

    for _ in 0..3 {
        signer.sign(&claims()).await.expect("KMS signs");
    }

    assert_eq!(fake.tokens_issued.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_within_a_minute_of_expiry_is_fetched_again() {
    let fake = FakeKms::start(30).await;
    let client = KmsClient::new(fake.endpoints.clone()).expect("client");
    let signer = KmsSigner::connect(client, &key_version(1))
        .await
        .expect("signer");

    signer.sign(&claims()).await.expect("KMS signs");

    assert_eq!(fake.tokens_issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_retired_version_is_published_and_accepted_but_never_signs() {
    let (fake, old) = signer_on_version(1).await;
    let old_lease = old.sign(&claims()).await.expect("v1 signs");
    let client = KmsClient::new(fake.endpoints.clone()).expect("client");
    let new = KmsSigner::connect(client.clone(), &key_version(2))
        .await
        .expect("v2 signer")
        .also_publishing(client.public_keys(&[key_version(1)]).await.expect("v1 key"));

    let new_lease = new.sign(&claims()).await.expect("v2 signs");

    assert_eq!(new.jwks().keys.len(), 2);
    assert_eq!(header_of(&new_lease)["kid"], new.kid());
    assert_ne!(new.kid(), old.kid());
    let verifier = LeaseVerifier::from_jwks(&new.jwks(), ISSUER).expect("verifier");
    assert!(verifier.verify(&old_lease).is_ok());
}

/// Every function on one port, configured as a deployment is (`LEASE_SIGNING_KEY` a KMS key
/// version, `LEASE_PUBLIC_KEYS` the published ones) but with KMS and the metadata server at `fake`,
/// on SQLite and in-process seats.
async fn serve_signing_with(fake: &FakeKms, data_dir: &TempDir) -> String {
    let metadata_host = fake
        .endpoints
        .metadata
        .trim_start_matches("http://")
        .to_owned();
    let vars = [
        ("DATA_DIR", data_dir.0.display().to_string()),
        ("LEASE_SIGNING_KEY", version(1)),
        ("LEASE_PUBLIC_KEYS", version(1)),
        ("CLOUD_KMS_ENDPOINT", fake.endpoints.kms_api.clone()),
        ("GCE_METADATA_HOST", metadata_host),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("a deployment's configuration");
    let local = local::build(Arc::new(config)).await.expect("builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, local.app).await });
    url
}

#[tokio::test]
async fn acquire_signs_with_kms_and_answers_500_when_kms_fails() {
    let fake = FakeKms::start(3600).await;
    let data_dir = TempDir::new();
    let url = serve_signing_with(&fake, &data_dir).await;
    let owner = Person::at("acme.test");
    assert_eq!(register(&url, &owner).await.status, StatusCode::CREATED);

    let granted = acquire(&url, &owner, &machine(1), "laptop").await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    let jwks = send(
        Method::GET,
        &format!("{url}/.well-known/jwks.json"),
        None,
        None,
    )
    .await;
    let verifier = LeaseVerifier::from_jwks_json(&jwks.text, ISSUER).expect("verifier");
    let lease = granted.json::<AcquireResponse>().lease;
    assert!(verifier.verify(&lease).is_ok());

    fake.set_mode(Mode::Fails(500));
    // The same machine again: the seat is its own, so only the signing stands in the way.
    let refused = acquire(&url, &owner, &machine(1), "laptop").await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text
    );
    assert_eq!(refused.code(), Some(ProblemCode::Unavailable));
    // Raw on purpose: the problem type ignores members it does not name, so only the JSON object
    // shows that no lease slipped into the refusal.
    assert!(refused.json::<Value>().get("lease").is_none());
}
