//! Forgeries: each way a token can be wrong is refused as `Invalid`, with a distinct logged reason
//! naming the failed check.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::tokens::emulator_token;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::key_server::{Fixture, SigningKey};
use crate::{claims, now, with};

/// `claims` without the claim `key`.
fn without(mut claims: serde_json::Value, key: &str) -> serde_json::Value {
    claims
        .as_object_mut()
        .expect("claims are an object")
        .remove(key);
    claims
}

/// Each way a token can be wrong, with the word its refusal reason must contain.
#[derive(Debug, Clone, Copy)]
enum Forgery {
    Expired,
    WrongAudience,
    WrongIssuer,
    IssuedInTheFuture,
    AuthenticatedInTheFuture,
    NoIssuedAt,
    IssuedAtZero,
    NoAuthTime,
    EmptySubject,
    SubjectOf129Characters,
    UnknownKid,
    TamperedPayload,
    UnsignedAlgNone,
    Hs256WithThePublicKeyAsSecret,
    WrongTenant,
}

impl Forgery {
    const ALL: [Self; 15] = [
        Self::Expired,
        Self::WrongAudience,
        Self::WrongIssuer,
        Self::IssuedInTheFuture,
        Self::AuthenticatedInTheFuture,
        Self::NoIssuedAt,
        Self::IssuedAtZero,
        Self::NoAuthTime,
        Self::EmptySubject,
        Self::SubjectOf129Characters,
        Self::UnknownKid,
        Self::TamperedPayload,
        Self::UnsignedAlgNone,
        Self::Hs256WithThePublicKeyAsSecret,
        Self::WrongTenant,
    ];

    /// The forged token; everything but the one defect is valid.
    fn token(self, key: &SigningKey) -> String {
        let valid = claims("uid-ana");
        let hour_from_now = json!(now() + 3600);
        match self {
            Self::Expired => key.sign(&with(valid, "exp", json!(now() - 3600))),
            Self::WrongAudience => key.sign(&with(valid, "aud", json!("someone-elses-project"))),
            Self::WrongIssuer => key.sign(&with(
                valid,
                "iss",
                json!("https://securetoken.google.com/someone-elses-project"),
            )),
            Self::IssuedInTheFuture => key.sign(&with(valid, "iat", hour_from_now)),
            Self::AuthenticatedInTheFuture => key.sign(&with(valid, "auth_time", hour_from_now)),
            Self::NoIssuedAt => key.sign(&without(valid, "iat")),
            Self::IssuedAtZero => key.sign(&with(valid, "iat", json!(0))),
            Self::NoAuthTime => key.sign(&without(valid, "auth_time")),
            Self::EmptySubject => key.sign(&with(valid, "sub", json!(""))),
            Self::SubjectOf129Characters => key.sign(&with(valid, "sub", json!("u".repeat(129)))),
            Self::UnknownKid => key.sign_as("kid-nobody-published", &valid),
            Self::TamperedPayload => {
                let token = key.sign(&valid);
                let parts: Vec<&str> = token.split('.').collect();
                let forged = with(valid, "sub", json!("uid-mallory"));
                let payload = URL_SAFE_NO_PAD.encode(forged.to_string());
                format!("{}.{payload}.{}", parts[0], parts[2])
            }
            Self::UnsignedAlgNone => emulator_token(&valid),
            Self::Hs256WithThePublicKeyAsSecret => {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some(key.kid.clone());
                let secret = EncodingKey::from_secret(key.public_pem.as_bytes());
                jsonwebtoken::encode(&header, &valid, &secret).expect("HS256 token signs")
            }
            Self::WrongTenant => key.sign(&with(valid, "firebase.tenant", json!("other-tenant"))),
        }
    }

    /// A word (or phrase) the refusal reason must contain, naming the failed check.
    fn word(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::WrongAudience => "aud",
            Self::WrongIssuer => "iss",
            Self::IssuedInTheFuture => "iat",
            Self::AuthenticatedInTheFuture => "auth_time",
            Self::NoIssuedAt => "iat None is missing",
            Self::IssuedAtZero => "iat Some(0) is missing or not a time",
            Self::NoAuthTime => "auth_time None is missing",
            Self::EmptySubject => "sub has 0 bytes",
            Self::SubjectOf129Characters => "sub has 129 bytes",
            Self::UnknownKid => "not a current Google key",
            Self::TamperedPayload => "signature",
            Self::UnsignedAlgNone => "none",
            Self::Hs256WithThePublicKeyAsSecret => "HS256",
            Self::WrongTenant => "firebase.tenant",
        }
    }
}

/// Asserts that the forged token is refused as `Invalid` for the right reason.
async fn assert_refused(forgery: Forgery) {
    // Arrange
    let fx = Fixture::start().await;
    let token = forgery.token(&fx.key);
    // Act
    let reason = fx.reason(&token).await;
    // Assert
    assert!(
        reason.contains(forgery.word()),
        "{forgery:?} was refused, but the reason {reason:?} does not say {:?}",
        forgery.word()
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_as_expired() {
    assert_refused(Forgery::Expired).await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_naming_aud() {
    assert_refused(Forgery::WrongAudience).await;
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused_naming_iss() {
    assert_refused(Forgery::WrongIssuer).await;
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused_naming_iat() {
    assert_refused(Forgery::IssuedInTheFuture).await;
}

#[tokio::test]
async fn a_token_authenticated_in_the_future_is_refused_naming_auth_time() {
    assert_refused(Forgery::AuthenticatedInTheFuture).await;
}

/// The Firebase Admin SDKs refuse a token without `iat` or `auth_time`, or with a zero one; a
/// signed token lacking them is no token Identity Platform issued.
#[tokio::test]
async fn a_token_without_iat_or_auth_time_or_with_iat_zero_is_refused() {
    assert_refused(Forgery::NoIssuedAt).await;
    assert_refused(Forgery::IssuedAtZero).await;
    assert_refused(Forgery::NoAuthTime).await;
}

#[tokio::test]
async fn a_token_with_an_empty_sub_is_refused() {
    assert_refused(Forgery::EmptySubject).await;
}

#[tokio::test]
async fn a_token_with_a_129_character_sub_is_refused() {
    assert_refused(Forgery::SubjectOf129Characters).await;
}

#[tokio::test]
async fn a_token_with_a_128_character_sub_passes() {
    let fx = Fixture::start().await;
    let uid = "u".repeat(128);

    let caller = fx
        .verifier
        .verify(&fx.key.sign(&claims(&uid)))
        .await
        .expect("128 bytes (ASCII characters) is the limit, not past it");

    assert_eq!(caller.uid, uid);
}

#[tokio::test]
async fn a_token_naming_an_unknown_kid_is_refused() {
    assert_refused(Forgery::UnknownKid).await;
}

#[tokio::test]
async fn a_tampered_payload_under_the_original_signature_is_refused() {
    assert_refused(Forgery::TamperedPayload).await;
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused_outside_emulator_mode() {
    assert_refused(Forgery::UnsignedAlgNone).await;
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_pem_is_refused() {
    assert_refused(Forgery::Hs256WithThePublicKeyAsSecret).await;
}

#[tokio::test]
async fn a_token_of_another_tenant_is_refused_naming_the_tenant() {
    assert_refused(Forgery::WrongTenant).await;
}

#[tokio::test]
async fn every_refusal_logs_a_distinct_reason_naming_the_failed_check() {
    let fx = Fixture::start().await;

    let mut reasons = Vec::new();
    for forgery in Forgery::ALL {
        let reason = fx.reason(&forgery.token(&fx.key)).await;
        // This is the text the services put in their log line.
        eprintln!("{forgery:?}: {reason}");
        assert!(reason.contains(forgery.word()), "{forgery:?}: {reason:?}");
        reasons.push(reason);
    }

    let distinct: HashSet<&String> = reasons.iter().collect();
    assert_eq!(distinct.len(), Forgery::ALL.len(), "reasons: {reasons:#?}");
    assert!(
        reasons.iter().all(|r| r.len() >= 15),
        "too terse to act on: {reasons:#?}"
    );
}
