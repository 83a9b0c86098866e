//! The Cloud KMS REST calls a lease signer and verifier need, authenticated with the access token
//! of the instance's service account from the metadata server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde_json::json;
use tokio::sync::Mutex;

use super::KeyVersionName;
use super::wire::{CRC32C, PublicKeyResponse, SignCheck, SignResponse, TokenResponse};
use crate::config::Secret;

/// The Cloud KMS API.
pub const KMS_API: &str = "https://cloudkms.googleapis.com";
/// The metadata server of Cloud Run (and every Google compute product).
pub const METADATA_SERVER: &str = "http://metadata.google.internal";
/// How long before its expiry a cached access token is replaced.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Sign calls per signature at most: KMS asks callers to retry a signature whose CRC32C does not
/// match "a limited number of times", and a 401 (a token revoked or expired early) is retried
/// once with a fresh token. Each call is bounded by the client's 5 s timeout.
pub const SIGN_ATTEMPTS: usize = 3;

/// Where the Cloud KMS API and the metadata server answer; tests serve both locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsEndpoints {
    /// Base URL of the KMS API, without `/v1` ([`KMS_API`] in production).
    pub kms_api: String,
    /// Base URL of the metadata server, without `/computeMetadata` ([`METADATA_SERVER`]).
    pub metadata: String,
}

impl KmsEndpoints {
    /// Google's own endpoints, as on Cloud Run.
    pub fn google() -> Self {
        Self {
            kms_api: KMS_API.into(),
            metadata: METADATA_SERVER.into(),
        }
    }
}

/// A Cloud KMS REST client acting as the instance's service account. Clones share the token.
#[derive(Clone)]
pub struct KmsClient {
    /// HTTP client with short timeouts: a stuck KMS call must not hold an acquire for long.
    http: reqwest::Client,
    /// Where to send requests.
    endpoints: KmsEndpoints,
    /// The cached access token; the lock also makes concurrent callers share one fetch.
    token: Arc<Mutex<Option<CachedToken>>>,
}

/// An access token and when to stop using it.
struct CachedToken {
    /// The bearer token (never logged).
    value: Secret,
    /// [`TOKEN_MARGIN`] before its expiry.
    refresh_at: Instant,
}

impl KmsClient {
    /// A client for `endpoints` ([`KmsEndpoints::google`] in production).
    pub fn new(endpoints: KmsEndpoints) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .context("building the Cloud KMS HTTP client")?;
        Ok(Self {
            http,
            endpoints,
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// The public key of `version` as an `RS256` JWK.
    pub async fn public_jwk(&self, version: &str) -> anyhow::Result<Jwk> {
        let url = format!("{}/v1/{version}/publicKey", self.endpoints.kms_api);
        let request = self.http.get(url).bearer_auth(self.access_token().await?);
        let key: PublicKeyResponse = self
            .send(request)
            .await
            .map_err(anyhow::Error::from)
            .with_context(|| format!("fetching the public key of {version}"))?;
        key.to_jwk(version)
    }

    /// The public keys of `versions`, in order.
    pub async fn public_keys(&self, versions: &[KeyVersionName]) -> anyhow::Result<JwkSet> {
        let mut keys = Vec::with_capacity(versions.len());
        for version in versions {
            keys.push(self.public_jwk(version.as_str()).await?);
        }
        Ok(JwkSet { keys })
    }

    /// The PKCS#1 v1.5 signature of a SHA-256 `digest` by `version`, checked end to end; a
    /// corrupted answer or a refused token is retried, at most [`SIGN_ATTEMPTS`] calls in all.
    pub(crate) async fn sign_digest(
        &self,
        version: &str,
        digest: &[u8],
    ) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}/v1/{version}:asymmetricSign", self.endpoints.kms_api);
        let body = json!({
            "digest": { "sha256": STANDARD.encode(digest) },
            "digestCrc32c": CRC32C.checksum(digest).to_string(),
        });
        let mut token_refused = false;
        for attempt in 1..=SIGN_ATTEMPTS {
            let last = attempt == SIGN_ATTEMPTS;
            let request = self.http.post(&url).bearer_auth(self.access_token().await?);
            let signed: SignResponse = match self.send(request.json(&body)).await {
                Ok(signed) => signed,
                // The cached token was dropped: one more call with a fresh one.
                Err(Failure::Unauthorized(_)) if !token_refused && !last => {
                    token_refused = true;
                    continue;
                }
                Err(failure) => {
                    return Err(anyhow::Error::from(failure))
                        .with_context(|| format!("signing with {version}"));
                }
            };
            match signed.checked_signature(version) {
                Ok(signature) => return Ok(signature),
                Err(SignCheck::Corrupted) if !last => {
                    tracing::warn!(
                        version,
                        attempt,
                        "a KMS signature did not match its CRC32C; signing again"
                    );
                }
                Err(SignCheck::Corrupted) => bail!(
                    "the signature by {version} did not match its CRC32C in {SIGN_ATTEMPTS} \
                     answers: corrupted in transit"
                ),
                Err(SignCheck::Refused(why)) => return Err(why),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Sends `request` and parses a 2xx JSON answer; any other status is an error carrying the
    /// start of the body (for the log). A 401 drops the cached token so the next call fetches one.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let response = request
            .send()
            .await
            .context("Cloud KMS unreachable")
            .map_err(Failure::Other)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let answered = anyhow::anyhow!("Cloud KMS answered {status}: {}", truncated(&body));
            if status == reqwest::StatusCode::UNAUTHORIZED {
                *self.token.lock().await = None;
                return Err(Failure::Unauthorized(answered));
            }
            return Err(Failure::Other(answered));
        }
        response
            .json()
            .await
            .context("Cloud KMS answer is not the expected JSON")
            .map_err(Failure::Other)
    }

    /// The cached access token, or a fresh one from the metadata server.
    async fn access_token(&self) -> anyhow::Result<String> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.expose().to_owned());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.expose().to_owned();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self) -> anyhow::Result<CachedToken> {
        let url = format!(
            "{}/computeMetadata/v1/instance/service-accounts/default/token",
            self.endpoints.metadata
        );
        let fetched_at = Instant::now();
        let response = self
            .http
            .get(url)
            .header("Metadata-Flavor", "Google")
            .send()
            .await
            .context("metadata server unreachable (is this running on Google Cloud?)")?;
        let status = response.status();
        ensure!(
            status.is_success(),
            "metadata server answered {status} for a token"
        );
        let token: TokenResponse = response.json().await.context("metadata token answer")?;
        let lifetime = Duration::from_secs(token.expires_in).saturating_sub(TOKEN_MARGIN);
        Ok(CachedToken {
            value: Secret::new(token.access_token),
            refresh_at: fetched_at + lifetime,
        })
    }
}

/// A KMS call that did not answer what was asked.
#[derive(Debug)]
enum Failure {
    /// 401: the token was refused (and dropped from the cache).
    Unauthorized(anyhow::Error),
    /// Anything else.
    Other(anyhow::Error),
}

impl From<Failure> for anyhow::Error {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Unauthorized(e) | Failure::Other(e) => e,
        }
    }
}

/// The start of an error body, enough for the log.
fn truncated(text: &str) -> &str {
    text.char_indices()
        .nth(300)
        .map_or(text, |(end, _)| &text[..end])
}
