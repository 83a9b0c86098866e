//! ID-token verification as Google documents it for Identity Platform, proven end to end: a test RSA
//! key signs tokens, a local server publishes its JWKS with `Cache-Control: public, max-age=…` (and
//! counts how often it is fetched), and [`IdTokenVerifier`] checks them.
//!
//! Every refusal is an [`IdentityError::Invalid`] whose reason names the failed check: that reason is
//! what the services log (clients only ever see `invalid_token`), so each test asserts on it.
//!
//! Layout: the key and the key server, the tokens, then the tests — valid token, one test per
//! forgery, key rotation / refresh floor / cache, key endpoint failures, emulator mode, and the
//! Cloud Run guard of `shared::backends::identity`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::tokens::{Person, emulator_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use shared::backends;
use shared::config::Config;
use shared::identity::{Caller, IdTokenVerifier, IdentityError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The project the Google-mode tokens are for (not a `demo-` project: that would mean emulator).
const PROJECT: &str = "coditect-test";
/// The Identity Platform tenant the Google-mode verifier requires.
const TENANT: &str = "acme-tenant-x7k2p";
/// The `max-age` the key server sends unless a test says otherwise.
const MAX_AGE: u64 = 3600;

// ---------------------------------------------------------------------------------------------
// The key and the key server
// ---------------------------------------------------------------------------------------------

/// A test RSA key, as Google holds one of its ID-token keys.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    /// The public half as a JWK, as Google publishes it.
    jwk: Value,
    /// The public half as PEM: what an attacker would use as an HMAC secret.
    public_pem: String,
}

impl SigningKey {
    /// A 2048-bit key named `kid`. Generating one takes from seconds to a minute in an unoptimised
    /// build, and every test runs in its own process, so each key is generated once and kept in
    /// the target directory for later test processes.
    fn generate(kid: &str) -> Self {
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("identity-verification-{kid}.pem"));
        let kept = std::fs::read_to_string(&path)
            .ok()
            .and_then(|pem| RsaPrivateKey::from_pkcs1_pem(&pem).ok());
        let private = kept.unwrap_or_else(|| {
            let private =
                RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key generates");
            let pem = private
                .to_pkcs1_pem(LineEnding::LF)
                .expect("private key encodes as PEM");
            // Written aside and renamed, so a concurrent test never reads half a key.
            let partial = path.with_extension(format!("{}.partial", uuid::Uuid::new_v4().simple()));
            std::fs::write(&partial, pem.as_bytes()).expect("write the test key");
            std::fs::rename(&partial, &path).expect("keep the test key");
            private
        });
        Self::from_private(kid, &private)
    }

    fn from_private(kid: &str, private: &RsaPrivateKey) -> Self {
        let public = RsaPublicKey::from(private);
        let pem = private
            .to_pkcs1_pem(LineEnding::LF)
            .expect("private key encodes as PEM");
        Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes())
                .expect("jsonwebtoken reads the key"),
            jwk: json!({
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            }),
            public_pem: public
                .to_public_key_pem(LineEnding::LF)
                .expect("public key encodes as PEM"),
        }
    }

    /// `claims` signed RS256 under this key's own `kid`.
    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// `claims` signed RS256 by this key, naming `kid` in the header.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("token signs")
    }
}

/// What the key server publishes, and how often it has been asked.
struct Published {
    keys: Mutex<Vec<Value>>,
    fetches: AtomicUsize,
    /// When set, every fetch answers 503 (still counted).
    down: AtomicBool,
    max_age: u64,
}

/// A local stand-in for Google's JWKS endpoint; stops when dropped.
struct KeyServer {
    url: String,
    published: Arc<Published>,
    _stop: oneshot::Sender<()>,
}

impl KeyServer {
    /// Serves `keys` on 127.0.0.1:0 with `Cache-Control: public, max-age=<max_age>`.
    async fn start(keys: &[&SigningKey], max_age: u64) -> Self {
        let published = Arc::new(Published {
            keys: Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()),
            fetches: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            max_age,
        });
        let app = Router::new()
            .route("/jwks", get(serve_jwks))
            .with_state(published.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("key server runs");
        });
        Self {
            url,
            published,
            _stop: stop,
        }
    }

    /// Starts publishing `key` too, as Google does before it signs with a new key.
    fn publish(&self, key: &SigningKey) {
        self.published
            .keys
            .lock()
            .expect("keys lock")
            .push(key.jwk.clone());
    }

    /// Makes every later fetch fail (503), or succeed again.
    fn set_down(&self, down: bool) {
        self.published.down.store(down, Ordering::SeqCst);
    }

    /// How many times the key set has been requested.
    fn fetches(&self) -> usize {
        self.published.fetches.load(Ordering::SeqCst)
    }

    /// A verifier of `PROJECT` fetching keys from this server.
    fn verifier(&self, tenant: Option<&str>) -> IdTokenVerifier {
        IdTokenVerifier::google(PROJECT, tenant.map(str::to_owned), &self.url)
            .expect("verifier builds")
    }
}

async fn serve_jwks(State(published): State<Arc<Published>>) -> Response {
    published.fetches.fetch_add(1, Ordering::SeqCst);
    if published.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = published.keys.lock().expect("keys lock").clone();
    let cache_control = format!(
        "public, max-age={}, must-revalidate, no-transform",
        published.max_age
    );
    (
        [(header::CACHE_CONTROL, cache_control)],
        axum::Json(json!({ "keys": keys })),
    )
        .into_response()
}

/// One key, its server, and a verifier requiring `TENANT`.
struct Fixture {
    key: SigningKey,
    server: KeyServer,
    verifier: IdTokenVerifier,
}

impl Fixture {
    async fn start() -> Self {
        Self::with_max_age(MAX_AGE).await
    }

    async fn with_max_age(max_age: u64) -> Self {
        let key = SigningKey::generate("key-1");
        let server = KeyServer::start(&[&key], max_age).await;
        let verifier = server.verifier(Some(TENANT));
        Self {
            key,
            server,
            verifier,
        }
    }

    /// The reason `token` is refused.
    async fn reason(&self, token: &str) -> String {
        invalid_reason(self.verifier.verify(token).await)
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims Identity Platform puts in a fresh token of `uid` for `project` in `TENANT`.
fn claims_for(project: &str, uid: &str) -> Value {
    let now = now();
    json!({
        "iss": format!("https://securetoken.google.com/{project}"),
        "aud": project,
        "sub": uid,
        "user_id": uid,
        "email": "Ana.Lima@Acme.IO",
        "email_verified": true,
        "name": "Ana Lima",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "firebase": { "sign_in_provider": "google.com", "tenant": TENANT },
    })
}

/// Valid claims of `PROJECT`.
fn claims(uid: &str) -> Value {
    claims_for(PROJECT, uid)
}

/// `claims` with `key` set to `value` (a dotted key reaches into `firebase`).
fn with(mut claims: Value, key: &str, value: Value) -> Value {
    match key.split_once('.') {
        Some((outer, inner)) => claims[outer][inner] = value,
        None => claims[key] = value,
    }
    claims
}

/// The reason of an `Invalid` refusal.
#[track_caller]
fn invalid_reason(result: Result<Caller, IdentityError>) -> String {
    match result {
        Err(IdentityError::Invalid(reason)) => reason,
        other => panic!("expected IdentityError::Invalid, got {other:?}"),
    }
}

/// Each way a token can be wrong, with the word its refusal reason must contain.
#[derive(Debug, Clone, Copy)]
enum Forgery {
    Expired,
    WrongAudience,
    WrongIssuer,
    IssuedInTheFuture,
    AuthenticatedInTheFuture,
    EmptySubject,
    SubjectOf129Characters,
    UnknownKid,
    TamperedPayload,
    UnsignedAlgNone,
    Hs256WithThePublicKeyAsSecret,
    WrongTenant,
}

impl Forgery {
    const ALL: [Self; 12] = [
        Self::Expired,
        Self::WrongAudience,
        Self::WrongIssuer,
        Self::IssuedInTheFuture,
        Self::AuthenticatedInTheFuture,
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
            Self::EmptySubject => "sub has 0 characters",
            Self::SubjectOf129Characters => "sub has 129 characters",
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

// ---------------------------------------------------------------------------------------------
// A valid token
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Forgeries: each refused, saying why
// ---------------------------------------------------------------------------------------------

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
        .expect("128 characters is the limit, not past it");

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

// ---------------------------------------------------------------------------------------------
// Google's keys: rotation, refresh floor, cache
// ---------------------------------------------------------------------------------------------

/// Slow by design: the verifier refreshes for an unknown `kid` at most once per 30 s, so the new key
/// can only be picked up once that floor has passed since the last fetch.
#[tokio::test]
async fn a_token_signed_with_a_newly_published_key_verifies_after_one_refresh() {
    // Arrange: keys fetched while only key-1 is published (key-2 is made first: generating it may
    // take longer than the floor).
    let rotated = SigningKey::generate("key-2");
    let fx = Fixture::start().await;
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
    tokio::time::sleep(Duration::from_secs(31)).await;
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

// ---------------------------------------------------------------------------------------------
// Emulator mode
// ---------------------------------------------------------------------------------------------

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
// shared::backends::identity: emulator mode never on Cloud Run
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

#[track_caller]
fn refusal(config: &Config) -> String {
    match backends::identity(config) {
        Ok(_) => panic!("emulator identity must be refused on Cloud Run"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn emulator_mode_of_a_demo_project_is_refused_on_cloud_run() {
    let on_cloud_run = config(&[("K_SERVICE", "licensing-admin")]);

    let reason = refusal(&on_cloud_run);

    assert!(reason.contains("licensing-admin"), "{reason}");
    assert!(reason.contains("emulator mode"), "{reason}");
}

#[test]
fn an_emulator_host_is_refused_on_cloud_run_even_with_a_real_project() {
    let on_cloud_run = config(&[
        ("K_SERVICE", "licensing-acquire"),
        ("GOOGLE_CLOUD_PROJECT", PROJECT),
        ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
    ]);

    let reason = refusal(&on_cloud_run);

    assert!(reason.contains("FIREBASE_AUTH_EMULATOR_HOST"), "{reason}");
}

#[test]
fn a_real_project_on_cloud_run_verifies_google_signed_tokens() {
    let on_cloud_run = config(&[
        ("K_SERVICE", "licensing-acquire"),
        ("GOOGLE_CLOUD_PROJECT", PROJECT),
    ]);

    let verifier = backends::identity(&on_cloud_run).expect("Google mode is allowed");

    assert!(!verifier.is_emulated());
}

#[test]
fn emulator_mode_is_allowed_off_cloud_run() {
    let local = config(&[("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")]);

    let verifier = backends::identity(&local).expect("emulator mode is allowed locally");

    assert!(verifier.is_emulated());
}
