//! The key and the key server: a test RSA key as Google holds one, a local JWKS endpoint that
//! counts its fetches and can be taken down, and the `Fixture` most tests start from.

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
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use shared::identity::{IdTokenVerifier, RefreshPolicy};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::{MAX_AGE, PROJECT, TENANT, invalid_reason};

/// A test RSA key, as Google holds one of its ID-token keys.
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    encoding: EncodingKey,
    /// The public half as a JWK, as Google publishes it.
    jwk: Value,
    /// The public half as PEM: what an attacker would use as an HMAC secret.
    pub(crate) public_pem: String,
}

impl SigningKey {
    /// A 2048-bit key named `kid`. Generating one takes from seconds to a minute in an unoptimised
    /// build, and every test runs in its own process, so each key is generated once and kept in
    /// the target directory for later test processes.
    pub(crate) fn generate(kid: &str) -> Self {
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
    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// `claims` signed RS256 by this key, naming `kid` in the header.
    pub(crate) fn sign_as(&self, kid: &str, claims: &Value) -> String {
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
pub(crate) struct KeyServer {
    url: String,
    published: Arc<Published>,
    _stop: oneshot::Sender<()>,
}

impl KeyServer {
    /// Serves `keys` on 127.0.0.1:0 with `Cache-Control: public, max-age=<max_age>`.
    pub(crate) async fn start(keys: &[&SigningKey], max_age: u64) -> Self {
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
    pub(crate) fn publish(&self, key: &SigningKey) {
        self.published
            .keys
            .lock()
            .expect("keys lock")
            .push(key.jwk.clone());
    }

    /// Makes every later fetch fail (503), or succeed again.
    pub(crate) fn set_down(&self, down: bool) {
        self.published.down.store(down, Ordering::SeqCst);
    }

    /// How many times the key set has been requested.
    pub(crate) fn fetches(&self) -> usize {
        self.published.fetches.load(Ordering::SeqCst)
    }

    /// A verifier of `PROJECT` fetching keys from this server, keys cached for at least 1 s (so
    /// the `max-age` tests need not wait for production's 60 s floor).
    pub(crate) fn verifier(&self, tenant: Option<&str>) -> IdTokenVerifier {
        self.verifier_with(
            tenant,
            RefreshPolicy {
                min_max_age: Duration::from_secs(1),
                ..RefreshPolicy::default()
            },
        )
    }

    /// A verifier of `PROJECT` fetching keys from this server as `policy` allows.
    pub(crate) fn verifier_with(
        &self,
        tenant: Option<&str>,
        policy: RefreshPolicy,
    ) -> IdTokenVerifier {
        IdTokenVerifier::google_with(PROJECT, tenant.map(str::to_owned), &self.url, policy)
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
pub(crate) struct Fixture {
    pub(crate) key: SigningKey,
    pub(crate) server: KeyServer,
    pub(crate) verifier: IdTokenVerifier,
}

impl Fixture {
    pub(crate) async fn start() -> Self {
        Self::with_max_age(MAX_AGE).await
    }

    pub(crate) async fn with_max_age(max_age: u64) -> Self {
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
    pub(crate) async fn reason(&self, token: &str) -> String {
        invalid_reason(self.verifier.verify(token).await)
    }
}
