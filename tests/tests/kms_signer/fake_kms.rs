//! A local stand-in for Cloud KMS and the metadata server, speaking their documented REST wire
//! format (`asymmetricSign`, `publicKey`, the metadata token) with real RSA keys, and able to
//! misbehave in the ways a client must notice.
//!
//! Honest, it does what the KMS reference says: a request whose `digestCrc32c` does not match its
//! digest is refused `400 INVALID_ARGUMENT`; `verifiedDigestCrc32c` is `true` only when the
//! request carried a `digestCrc32c` (false means it did not receive one); every answer names the
//! key version and carries the CRC32C of what it returns.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{Value, json};
use sha2::Sha256;
use shared::leases::kms::{KeyVersionName, KmsEndpoints};

const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// Two RSA keys, generated once per test binary and in parallel: key generation takes seconds in
/// a debug build.
static KEYS: LazyLock<[RsaPrivateKey; 2]> = LazyLock::new(|| {
    let generate = || std::thread::spawn(|| RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048));
    let (first, second) = (generate(), generate());
    let key = |handle: std::thread::JoinHandle<rsa::Result<RsaPrivateKey>>| {
        handle.join().expect("keygen").expect("RSA key")
    };
    [key(first), key(second)]
});

/// A key version name of the fake, `n` = 1 or 2.
pub(crate) fn version(n: usize) -> String {
    format!(
        "projects/demo/locations/global/keyRings/leases/cryptoKeys/lease-signing/cryptoKeyVersions/{n}"
    )
}

/// [`version`] `n`, typed.
pub(crate) fn key_version(n: usize) -> KeyVersionName {
    KeyVersionName::parse(&version(n)).expect("a key version name")
}

/// How the fake answers `asymmetricSign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// As Cloud KMS does.
    Honest,
    /// The next this many answers carry a `signatureCrc32c` that does not match the signature (a
    /// signature corrupted on the way back), then honest ones.
    CorruptSignatures(usize),
    /// `verifiedDigestCrc32c: false`, as KMS answers when the request's checksum did not reach it.
    DigestNotVerified,
    /// A `name` other than the version asked for.
    OtherVersion,
    /// The next this many requests are refused `401 UNAUTHENTICATED` whatever their token (one
    /// revoked or expired early), then answered honestly.
    RefuseTokens(usize),
    /// This HTTP status and a Google error body.
    Fails(u16),
}

/// How the fake answers `publicKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyMode {
    /// As Cloud KMS does.
    Honest,
    /// The key of another version, named as such.
    OtherName,
    /// A `pemCrc32c` that does not match the PEM.
    WrongCrc,
    /// An EC signing key's algorithm name.
    OtherAlgorithm,
    /// No `pemCrc32c` at all.
    NoCrc,
}

/// The fake's state, shared with the test.
pub(crate) struct FakeKms {
    /// Base URLs to hand to `KmsClient::new`.
    pub(crate) endpoints: KmsEndpoints,
    /// How `asymmetricSign` answers now.
    mode: Mutex<Mode>,
    /// How `publicKey` answers now.
    key_mode: Mutex<KeyMode>,
    /// `asymmetricSign` requests received.
    pub(crate) sign_calls: AtomicUsize,
    /// Access tokens handed out.
    pub(crate) tokens_issued: AtomicUsize,
    /// `expires_in` of each access token.
    token_lifetime: u64,
}

impl FakeKms {
    /// Starts the fake on 127.0.0.1:0; its access tokens live `token_lifetime` seconds.
    pub(crate) async fn start(token_lifetime: u64) -> Arc<Self> {
        // Generate the keys before serving, so no request waits on it and times out.
        tokio::task::spawn_blocking(|| LazyLock::force(&KEYS))
            .await
            .expect("keys generated");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let fake = Arc::new(Self {
            endpoints: KmsEndpoints {
                kms_api: base.clone(),
                metadata: base,
            },
            mode: Mutex::new(Mode::Honest),
            key_mode: Mutex::new(KeyMode::Honest),
            sign_calls: AtomicUsize::new(0),
            tokens_issued: AtomicUsize::new(0),
            token_lifetime,
        });
        let app = Router::new()
            .route(
                "/computeMetadata/v1/instance/service-accounts/default/token",
                get(token),
            )
            .fallback(kms)
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    /// Makes `asymmetricSign` answer as `mode` says.
    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.mode.lock().expect("mode lock") = mode;
    }

    /// Makes `publicKey` answer as `mode` says.
    pub(crate) fn set_key_mode(&self, mode: KeyMode) {
        *self.key_mode.lock().expect("mode lock") = mode;
    }

    /// The sign mode for one request, counting down the modes that last for some answers.
    fn take_mode(&self) -> Mode {
        let mut mode = self.mode.lock().expect("mode lock");
        let now = *mode;
        *mode = match now {
            Mode::CorruptSignatures(n) | Mode::RefuseTokens(n) if n <= 1 => Mode::Honest,
            Mode::CorruptSignatures(n) => Mode::CorruptSignatures(n - 1),
            Mode::RefuseTokens(n) => Mode::RefuseTokens(n - 1),
            other => other,
        };
        now
    }
}

async fn token(State(fake): State<Arc<FakeKms>>, headers: HeaderMap) -> Response {
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return (
            StatusCode::FORBIDDEN,
            "Missing Metadata-Flavor:Google header.",
        )
            .into_response();
    }
    let n = fake.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    axum::Json(json!({
        "access_token": format!("ya29.fake-{n}"),
        "expires_in": fake.token_lifetime,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// `POST /v1/{name}:asymmetricSign` and `GET /v1/{name}/publicKey`.
async fn kms(
    State(fake): State<Arc<FakeKms>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    if !bearer.is_some_and(|b| b.starts_with("Bearer ya29.fake-")) {
        return google_error(401, "UNAUTHENTICATED");
    }
    let path = uri.path().strip_prefix("/v1/").unwrap_or_default();
    let sign = path.strip_suffix(":asymmetricSign");
    let public = path.strip_suffix("/publicKey");
    match (method, sign, public) {
        (Method::POST, Some(name), _) => asymmetric_sign(&fake, name, &body),
        (Method::GET, _, Some(name)) => public_key(&fake, name),
        _ => google_error(404, "NOT_FOUND"),
    }
}

fn key_of(name: &str) -> Option<&'static RsaPrivateKey> {
    (1..=2).find(|n| version(*n) == name).map(|n| &KEYS[n - 1])
}

fn asymmetric_sign(fake: &FakeKms, name: &str, body: &[u8]) -> Response {
    fake.sign_calls.fetch_add(1, Ordering::SeqCst);
    let mode = fake.take_mode();
    match mode {
        Mode::Fails(status) => return google_error(status, "INTERNAL"),
        Mode::RefuseTokens(_) => return google_error(401, "UNAUTHENTICATED"),
        _ => {}
    }
    let Some(key) = key_of(name) else {
        return google_error(404, "NOT_FOUND");
    };
    let request: Value = serde_json::from_slice(body).expect("JSON request");
    let digest = STANDARD
        .decode(request["digest"]["sha256"].as_str().expect("digest.sha256"))
        .expect("base64 digest");
    // An int64 field: a decimal string, as Google's own clients send it.
    let sent_crc = request["digestCrc32c"].as_str();
    if sent_crc.is_some_and(|crc| crc != CRC32C.checksum(&digest).to_string()) {
        return google_error(400, "INVALID_ARGUMENT");
    }
    let signature = key
        .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
        .expect("signs");
    let mut crc = u64::from(CRC32C.checksum(&signature));
    let mut signer = name.to_owned();
    match mode {
        Mode::CorruptSignatures(_) => crc += 1,
        Mode::OtherVersion => signer = version(if name == version(1) { 2 } else { 1 }),
        _ => {}
    }
    axum::Json(json!({
        "signature": STANDARD.encode(&signature),
        "signatureCrc32c": crc.to_string(),
        "verifiedDigestCrc32c": sent_crc.is_some() && mode != Mode::DigestNotVerified,
        "name": signer,
        "protectionLevel": "SOFTWARE",
    }))
    .into_response()
}

fn public_key(fake: &FakeKms, name: &str) -> Response {
    let Some(key) = key_of(name) else {
        return google_error(404, "NOT_FOUND");
    };
    let mode = *fake.key_mode.lock().expect("mode lock");
    let (answered_name, answered_key) = match mode {
        KeyMode::OtherName => {
            let other = if name == version(1) { 2 } else { 1 };
            (version(other), &KEYS[other - 1])
        }
        _ => (name.to_owned(), key),
    };
    let pem = answered_key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM");
    let mut answer = json!({
        "pem": pem,
        "algorithm": "RSA_SIGN_PKCS1_2048_SHA256",
        "pemCrc32c": CRC32C.checksum(pem.as_bytes()).to_string(),
        "name": answered_name,
        "protectionLevel": "SOFTWARE",
    });
    match mode {
        KeyMode::WrongCrc => {
            answer["pemCrc32c"] = (u64::from(CRC32C.checksum(pem.as_bytes())) + 1)
                .to_string()
                .into();
        }
        KeyMode::OtherAlgorithm => answer["algorithm"] = "EC_SIGN_P256_SHA256".into(),
        KeyMode::NoCrc => {
            answer
                .as_object_mut()
                .expect("an object")
                .remove("pemCrc32c");
        }
        KeyMode::Honest | KeyMode::OtherName => {}
    }
    axum::Json(answer).into_response()
}

fn google_error(status: u16, code: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    let body = json!({"error": {"code": status.as_u16(), "message": "fake", "status": code}});
    (status, axum::Json(body)).into_response()
}
