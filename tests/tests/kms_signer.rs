//! Lease signing with Cloud KMS, against a local server speaking the documented KMS and metadata
//! wire format with real RSA keys: leases verify with the published keys, every integrity check
//! of a sign and a public-key answer is enforced, a corrupted signature is asked for again a
//! bounded number of times, a refused access token is replaced, the token is otherwise reused, and
//! a failing KMS fails an acquire cleanly — also the first grant of a seat, whose retry gets that
//! same seat.

#[path = "kms_signer/fake_kms.rs"]
mod fake_kms;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fake_kms::{FakeKms, KeyMode, Mode, key_version, version};
use integration_tests::api::{acquire, machine, register, send};
use integration_tests::server::TempDir;
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::api::{AcquireResponse, ProblemCode};
use shared::config::Config;
use shared::leases::kms::{KmsClient, SIGN_ATTEMPTS};
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
        bor: None,
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
async fn a_corrupted_signature_is_asked_for_again_and_one_good_answer_signs() {
    let (fake, signer) = signer_on_version(1).await;
    fake.set_mode(Mode::CorruptSignatures(1));

    let token = signer
        .sign(&claims())
        .await
        .expect("the second answer signs");

    assert_eq!(fake.sign_calls.load(Ordering::SeqCst), 2);
    let verifier = LeaseVerifier::from_jwks(&signer.jwks(), ISSUER).expect("verifier");
    assert!(verifier.verify(&token).is_ok());
}

#[tokio::test]
async fn signatures_that_keep_failing_their_crc32c_are_refused_after_a_bounded_retry() {
    let (fake, signer) = signer_on_version(1).await;
    fake.set_mode(Mode::CorruptSignatures(100));

    let refused = signer.sign(&claims()).await;

    let why = format!("{:#}", refused.expect_err("no lease is produced"));
    assert!(why.contains("CRC32C"), "{why}");
    assert_eq!(fake.sign_calls.load(Ordering::SeqCst), SIGN_ATTEMPTS);
}

#[tokio::test]
async fn a_refused_access_token_is_dropped_and_the_call_made_again_with_a_fresh_one() {
    let (fake, signer) = signer_on_version(1).await;
    assert_eq!(
        fake.tokens_issued.load(Ordering::SeqCst),
        1,
        "connect's token"
    );

    // One 401: a fresh token and one more call sign.
    fake.set_mode(Mode::RefuseTokens(1));
    signer.sign(&claims()).await.expect("the retry signs");
    assert_eq!(fake.tokens_issued.load(Ordering::SeqCst), 2);
    assert_eq!(fake.sign_calls.load(Ordering::SeqCst), 2);

    // Two: the retry is refused too, and the call fails; the refused token is not kept, so the
    // next signature fetches a third.
    fake.set_mode(Mode::RefuseTokens(2));
    let refused = signer.sign(&claims()).await;
    let why = format!("{:#}", refused.expect_err("no lease is produced"));
    assert!(why.contains("401"), "{why}");
    assert_eq!(fake.tokens_issued.load(Ordering::SeqCst), 3);
    signer.sign(&claims()).await.expect("signs");
    assert_eq!(fake.tokens_issued.load(Ordering::SeqCst), 4);
    assert_eq!(fake.sign_calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_public_key_answer_failing_a_check_is_refused() {
    let fake = FakeKms::start(3600).await;
    let client = KmsClient::new(fake.endpoints.clone()).expect("client");
    for (mode, expected) in [
        (KeyMode::OtherName, "cryptoKeyVersions/2"),
        (KeyMode::WrongCrc, "does not match its pemCrc32c"),
        (KeyMode::OtherAlgorithm, "EC_SIGN_P256_SHA256"),
        (KeyMode::NoCrc, "without pemCrc32c"),
    ] {
        fake.set_key_mode(mode);

        let refused = client.public_keys(&[key_version(1)]).await;

        let why = format!("{:#}", refused.expect_err("no key is used"));
        assert!(why.contains(expected), "{mode:?}: {why}");
    }
    fake.set_key_mode(KeyMode::Honest);
    assert!(client.public_keys(&[key_version(1)]).await.is_ok());
}

/// The fake follows the KMS reference where it matters to the client: a wrong `digestCrc32c` is
/// an error answer, and `verifiedDigestCrc32c` is false only when none was sent.
#[tokio::test]
async fn the_fake_answers_a_wrong_or_missing_digest_crc32c_as_kms_documents() {
    let fake = FakeKms::start(3600).await;
    let http = reqwest::Client::new();
    let token: Value = http
        .get(format!(
            "{}/computeMetadata/v1/instance/service-accounts/default/token",
            fake.endpoints.metadata
        ))
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    let bearer = token["access_token"].as_str().expect("a token").to_owned();
    let sign = |body: Value| {
        http.post(format!(
            "{}/v1/{}:asymmetricSign",
            fake.endpoints.kms_api,
            version(1)
        ))
        .bearer_auth(&bearer)
        .json(&body)
        .send()
    };
    let digest = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);

    let wrong = sign(serde_json::json!({"digest": {"sha256": digest}, "digestCrc32c": "1"}))
        .await
        .expect("answers");
    let missing = sign(serde_json::json!({"digest": {"sha256": digest}}))
        .await
        .expect("answers");

    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let wrong: Value = wrong.json().await.expect("JSON");
    assert_eq!(wrong["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(missing.status(), StatusCode::OK);
    let missing: Value = missing.json().await.expect("JSON");
    assert_eq!(missing["verifiedDigestCrc32c"], false);
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
async fn acquire_signs_with_kms_and_answers_503_unavailable_when_kms_fails() {
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

/// acquire takes the seat before it signs the lease: when signing fails on a fresh grant the seat
/// is held with no lease out. The client's retry must get that very seat back (a renewal), never a
/// second one, and meanwhile nobody else can take it.
#[tokio::test]
async fn a_fresh_grant_whose_signing_fails_is_the_same_seat_on_the_retry() {
    let fake = FakeKms::start(3600).await;
    let data_dir = TempDir::new();
    let url = serve_signing_with(&fake, &data_dir).await;
    let owner = Person::at("acme.test");
    assert_eq!(register(&url, &owner).await.status, StatusCode::CREATED);

    // The first acquire of the FREE license's one seat: taken, then signing fails.
    fake.set_mode(Mode::Fails(500));
    let refused = acquire(&url, &owner, &machine(1), "laptop").await;
    assert_eq!(
        refused.code(),
        Some(ProblemCode::Unavailable),
        "{}",
        refused.text
    );
    let other = acquire(&url, &owner, &machine(2), "desktop").await;
    assert_eq!(
        other.code(),
        Some(ProblemCode::SeatsExhausted),
        "the seat is held for the machine whose lease failed: {}",
        other.text
    );

    // KMS answers again: the retry is the same seat, renewed.
    fake.set_mode(Mode::Honest);
    let retried = acquire(&url, &owner, &machine(1), "laptop").await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    let grant: AcquireResponse = retried.json();
    assert!(grant.renewed, "the seat taken before signing failed");
    assert_eq!(grant.license.seats_in_use, 1, "never a second seat");
}
