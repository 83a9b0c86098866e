//! A local stand-in for Cloud KMS and the metadata server, speaking their documented REST wire
//! format (`asymmetricSign`, `publicKey`, the metadata token) with real RSA keys, and able to
//! misbehave in the ways a client must notice.

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
    /// A `signatureCrc32c` that does not match the signature.
    WrongSignatureCrc,
    /// `verifiedDigestCrc32c: false`.
    DigestNotVerified,
    /// A `name` other than the version asked for.
    OtherVersion,
    /// This HTTP status and a Google error body.
    Fails(u16),
}

/// The fake's state, shared with the test.
pub(crate) struct FakeKms {
    /// Base URLs to hand to `KmsClient::new`.
    pub(crate) endpoints: KmsEndpoints,
    /// How `asymmetricSign` answers now.
    mode: Mutex<Mode>,
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
        (Method::GET, _, Some(name)) => public_key(name),
        _ => google_error(404, "NOT_FOUND"),
    }
}

fn key_of(name: &str) -> Option<&'static RsaPrivateKey> {
    (1..=2).find(|n| version(*n) == name).map(|n| &KEYS[n - 1])
}

fn asymmetric_sign(fake: &FakeKms, name: &str, body: &[u8]) -> Response {
    let mode = *fake.mode.lock().expect("mode lock");
    if let Mode::Fails(status) = mode {
        return google_error(status, "INTERNAL");
    }
    let Some(key) = key_of(name) else {
        return google_error(404, "NOT_FOUND");
    };
    let request: Value = serde_json::from_slice(body).expect("JSON request");
    let digest = STANDARD
        .decode(request["digest"]["sha256"].as_str().expect("digest.sha256"))
        .expect("base64 digest");
    let sent_crc = request["digestCrc32c"]
        .as_str()
        .expect("digestCrc32c as a string");
    let verified = sent_crc == CRC32C.checksum(&digest).to_string();
    let signature = key
        .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
        .expect("signs");
    let mut crc = u64::from(CRC32C.checksum(&signature));
    let mut signer = name.to_owned();
    match mode {
        Mode::WrongSignatureCrc => crc += 1,
        Mode::OtherVersion => signer = version(if name == version(1) { 2 } else { 1 }),
        _ => {}
    }
    axum::Json(json!({
        "signature": STANDARD.encode(&signature),
        "signatureCrc32c": crc.to_string(),
        "verifiedDigestCrc32c": verified && mode != Mode::DigestNotVerified,
        "name": signer,
        "protectionLevel": "SOFTWARE",
    }))
    .into_response()
}

fn public_key(name: &str) -> Response {
    let Some(key) = key_of(name) else {
        return google_error(404, "NOT_FOUND");
    };
    let pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM");
    axum::Json(json!({
        "pem": pem,
        "algorithm": "RSA_SIGN_PKCS1_2048_SHA256",
        "pemCrc32c": CRC32C.checksum(pem.as_bytes()).to_string(),
        "name": name,
        "protectionLevel": "SOFTWARE",
    }))
    .into_response()
}

fn google_error(status: u16, code: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    let body = json!({"error": {"code": status.as_u16(), "message": "fake", "status": code}});
    (status, axum::Json(body)).into_response()
}
